"""TEvo writes money as Ruby BigDecimal strings: ``"245.0"``, ``"1283.7"`` (fixtures README)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def money(value: Decimal) -> str:
    text = format(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize(), "f")
    return text if "." in text else text + ".0"
