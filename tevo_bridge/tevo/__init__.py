"""The TEvo API as the daemon sees it: the signed client, the payload models, typed errors and request signing.

Its own package because TEvo is one of the two outside parties (the POS is the other): everything that knows
TEvo's wire format, quirks and failure modes (docs/tevo-api.md) lives here, below intake and the pipeline, so
those decide by typed models and error classes, never by JSON shapes or error messages.
"""
