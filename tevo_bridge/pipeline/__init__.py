"""The pipeline: what happens to an order once intake has queued it (worker, processor, state-machine rules).

Its own package because it is the one place order state changes: a job re-fetches the order from TEvo and takes
every step the facts allow, so intake stays a thin recorder and fulfillment (the layer above) only delivers.
``rules`` is pure and ``pos_args`` the single translation into the POS contract's types, which keeps both testable
without I/O.
"""
