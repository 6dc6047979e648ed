"""The project's own system on loopback ports: the TEvo sandbox, the daemon and a SQLite POS mirroring it.

``stack()`` starts it for the end-to-end tests, the reliability suite, the benchmarks and ``tevo-bridge
demo``; ``seed`` fills the SQLite POS. Its own package, at the top of the layers (docs/architecture.md):
it reaches the daemon, the sandbox and a plugin distribution, which the kit plugin authors get
(``tevo_bridge.testing``) must not.
"""
