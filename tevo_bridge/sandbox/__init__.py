"""The sandbox: an offline TEvo (signed API, buyer driver, fault injection) on a loopback port.

Its own package, high in the layers and imported by no daemon code, because it plays the other party: it is
written from TEvo's documented rules rather than from the bridge's code, so the end-to-end tests, the demo and
plugin authors (``tevo-bridge sandbox serve``) exercise the bridge against TEvo's behaviour, not against itself.
"""
