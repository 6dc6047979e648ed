"""The test kit for POS plugin authors: a pytest plugin, sample TEvo data and the contract suite.

``tevo_bridge.testing.contract.PosContract`` is the suite; ``pytest_plugin`` its fixtures (loaded
automatically through the ``pytest11`` entry point); ``samples`` the TEvo-shaped orders;
``inventory`` and ``ticket_pdfs`` what to seed a POS with.
"""
