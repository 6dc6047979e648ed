"""What the SkyBox simulator does where SkyBox's documentation is silent: one setting per open question.

Nothing here has been seen on a live account; each field names the open question it answers (the
numbering of the plugin README's "Open questions" table) so the plugin's tests can run under every
reading, not just the one we guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

__all__ = ["VARIANTS", "Faults", "SimSettings"]


@dataclass
class Faults:
    """Injected misbehaviour; rates are probabilities per request (0..1), times seconds."""

    latency: float = 0.0  # added before every answer
    error_rate: float = 0.0  # answer 500/503 before acting
    timeout_rate: float = 0.0  # act, then hold the answer for ``hang_seconds`` (a write that happened)
    hang_seconds: float = 10.0
    outage: bool = False  # every call answers 503 (SkyBox down)
    methods: tuple[str, ...] = ()  # limit error/timeout faults to these verbs; empty means all
    delete_hold_status: int = 0  # answer every DELETE /holds/{id} with this status, doing nothing (0: act)


@dataclass
class SimSettings:
    # Q9: search answers a bare JSON list (the generated client, i.e. SkyBox's spec) or {rows, rowCount}.
    # The default is the envelope because live SkyBox is known to answer it where the spec says a bare list
    # (issue 22); the plugin reads both, and the tests run both.
    envelope: Literal["rows", "list"] = "rows"
    # Q9: the number of the first page, and the largest ``limit`` honoured.
    first_page: Literal[0, 1] = 1
    max_limit: int = 100
    # Q1: SkyBox frees a hold's tickets by itself at ``expiryDate``.
    holds_expire: bool = False
    # Q2: a hold of part of a listing moves its tickets to a new listing ("split") or lowers the
    # listing's ``quantity`` ("lower_quantity").
    partial_holds: Literal["lower_quantity", "split"] = "lower_quantity"
    # Q6: invoicing held tickets needs ``force=true``; and whether the sale ends the hold.
    force_required: bool = True
    invoice_ends_hold: bool = True
    # Q4: a second hold, invoice or customer with an ``externalRef`` already used is refused with 400.
    refuse_duplicate_external_ref: bool = False
    # Q5: ``externalRef`` filters match by substring (True) or exactly (False); both are case-blind.
    external_ref_substring: bool = True
    # Q5: removed holds (released, expired, invoiced) are left out of ``GET /holds`` answers.
    hide_removed_holds: bool = False
    # Q3: DELETE of a hold already gone answers 404 (True) or 200 (False).
    delete_gone_hold_404: bool = True
    # Q13: writing ticket files gives the listing a new ``exchangePosId`` (the model says it does).
    new_pos_id_on_upload: bool = True
    # Q10: each endpoint allows ``rate_limit`` calls per ``rate_interval`` seconds (0: unlimited); over it
    # answers 429, with ``Retry-After`` when ``retry_after`` is set.
    rate_limit: int = 0
    rate_interval: float = 1.0
    retry_after: bool = True
    # Q14: the shape of a 400 body: {"message"}, {"errors": [{field, message}]} or plain text.
    error_body: Literal["message", "errors", "text"] = "message"
    # Q12: ``GET /assets/{fileName}`` answers base64 as plain text or as a JSON string.
    asset_encoding: Literal["text", "json"] = "text"
    # Where live SkyBox differs from its spec: ``GET /invoices/{id}/lines/{lineId}/tickets`` is declared to
    # answer one ``Ticket`` ("object", the spec's letter: the line's first ticket) but answers every ticket
    # of the line ("list", the default: a line of three seats has three tickets, and files need each).
    line_tickets: Literal["list", "object"] = "list"
    # ``Hold.seats`` is a free string in the model: seats listed one by one ("5,6,7") or runs as ranges ("5-7").
    hold_seats: Literal["list", "ranges"] = "list"
    # How ``GET /inventory/exchange_pos_id/{id}`` refuses an id it never gave (the spec declares only 200 and
    # 401): 404, or 400 as a bad id.
    unknown_pos_id_status: Literal[404, 400] = 404
    # Tests: check every answer against SkyBox's models (``simulator/spec.py``) and record any mismatch in
    # ``SimState.spec_mismatches``; request bodies SkyBox's models refuse are refused (400) either way.
    spec_check: bool = False
    faults: Faults = field(default_factory=Faults)

    def describe(self) -> str:
        default = SimSettings()
        changed = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                   if f.name != "faults" and getattr(self, f.name) != getattr(default, f.name)]
        return ",".join(changed) or "defaults"


#: The readings the plugin's tests run under: the defaults, then each open question flipped.
VARIANTS: dict[str, SimSettings] = {
    "defaults": SimSettings(),
    "bare-list-pages-from-0": SimSettings(envelope="list", first_page=0),
    "small-pages": SimSettings(max_limit=2),
    "holds-expire": SimSettings(holds_expire=True),
    "partial-hold-splits": SimSettings(partial_holds="split"),
    "no-force-needed-hold-survives-sale": SimSettings(force_required=False, invoice_ends_hold=False),
    "duplicate-ref-refused-exact-match": SimSettings(refuse_duplicate_external_ref=True, external_ref_substring=False),
    "removed-holds-hidden": SimSettings(hide_removed_holds=True, holds_expire=True),
    "delete-gone-200-errors-list": SimSettings(delete_gone_hold_404=False, error_body="errors"),
    "text-errors-json-assets-one-line-ticket": SimSettings(error_body="text", asset_encoding="json",
                                                           line_tickets="object"),
    "pos-id-stable": SimSettings(new_pos_id_on_upload=False),
    "hold-seats-as-ranges-unknown-id-400": SimSettings(hold_seats="ranges", unknown_pos_id_status=400),
    "rate-limited-with-retry-after": SimSettings(rate_limit=10, retry_after=True),
    "rate-limited-without-retry-after": SimSettings(rate_limit=10, retry_after=False),
}

