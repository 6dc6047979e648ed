"""Intake: where TEvo's calls arrive (Order Integration, webhooks) and the poller that finds what they missed.

Its own package because it faces the open internet and answers on TEvo's clock: every request is authenticated and
size-capped, and only what must be answered now (a hold, within its budget, failing closed) is done here; the rest
is recorded and queued for the pipeline (a layer above, docs/architecture.md "Layers"), so a slow POS or TEvo
call never holds an HTTP answer.
"""
