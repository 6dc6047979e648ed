"""tevo."""
