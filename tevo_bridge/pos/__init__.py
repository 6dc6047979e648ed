"""The POS plugin contract: hook specs, the values they exchange, and the host that calls them."""
