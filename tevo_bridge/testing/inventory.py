"""Inventory to seed a POS with: the contract suite's ticket groups, and generated stock for demos.

Every row with e-tickets gets a real PDF drawn by ``make_ticket_pdf``, written next to the store,
so ``pos_ticket_files`` can be checked page by page.
"""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from tevo_bridge.pos.inventory import InventoryRow
from tevo_bridge.testing.ticket_pdfs import make_ticket_pdf

__all__ = ["UNKNOWN_REMOTE_ID", "contract_inventory", "generate_inventory", "with_ticket_pdf"]

#: A remote id that no inventory here contains.
UNKNOWN_REMOTE_ID = "NO-SUCH-GROUP"


def with_ticket_pdf(row: InventoryRow, pdf_dir: Path, *, cover: bool = True, advert: bool = True) -> InventoryRow:
    """``row`` with a PDF of its seats written to ``pdf_dir`` (absolute path) and its page map."""
    pdf, pages = make_ticket_pdf(row.event, row.venue, row.occurs_at, row.section, row.row, row.seats, cover, advert)
    pdf_dir.mkdir(parents=True, exist_ok=True)
    path = pdf_dir / f"{row.remote_id}.pdf"
    path.write_bytes(pdf)
    return replace(row, eticket_pdf=str(path.resolve()), eticket_pages=pages)


def contract_inventory(pdf_dir: Path) -> list[InventoryRow]:
    """The ticket groups the contract suite expects, matching the remote ids of the sample orders.

    - ``88213`` (office_sale_eticket): 4 e-tickets, the PDF has a cover and an advert page;
    - ``88507`` (client_sale_fraud_approved): 6 e-tickets, one page per seat and nothing else;
    - ``91508`` (mobile_transfer_tbd): 4 TM mobile tickets, one claim link per seat;
    - ``90417`` and ``90422`` (multi_item_fedex): 10 and 4 physical tickets, no files.
    Every group's ``min_price`` is below what the sample orders pay.
    """
    knicks = InventoryRow(
        "88213",
        "Boston Celtics at New York Knicks",
        "Madison Square Garden",
        "2026-12-11T19:30:00Z",
        "112",
        "8",
        ("5", "6", "7", "8"),
        4,
        Decimal("200.00"),
    )
    hamilton = InventoryRow(
        "88507",
        "Hamilton",
        "Richard Rodgers Theatre",
        "2026-12-19T20:00:00Z",
        "Orchestra",
        "K",
        ("105", "106", "107", "108", "109", "110"),
        6,
        Decimal("350.00"),
    )
    lakers_seats = ("9", "10", "11", "12")
    return [
        with_ticket_pdf(knicks, pdf_dir),
        with_ticket_pdf(hamilton, pdf_dir, cover=False, advert=False),
        InventoryRow(
            "91508",
            "Los Angeles Lakers at Golden State Warriors",
            "Chase Center",
            "2026-12-25T17:00:00Z",
            "112",
            "14",
            lakers_seats,
            4,
            Decimal("400.00"),
            format="TM_mobile",
            transfer_links=tuple(f"https://tickets.example/claim/91508-{seat}" for seat in lakers_seats),
            transfer_source="TM",
        ),
        InventoryRow(
            "90417",
            "Philadelphia Eagles at Dallas Cowboys",
            "AT&T Stadium",
            "2027-01-03T15:25:00Z",
            "C117",
            "12",
            tuple(str(s) for s in range(1, 11)),
            10,
            Decimal("250.00"),
            format="Physical",
        ),
        InventoryRow(
            "90422",
            "Philadelphia Eagles at Dallas Cowboys",
            "AT&T Stadium",
            "2027-01-03T15:25:00Z",
            "C118",
            "14",
            ("7", "8", "9", "10"),
            4,
            Decimal("250.00"),
            format="Physical",
        ),
    ]


_EVENTS = (
    ("Boston Celtics at New York Knicks", "Madison Square Garden"),
    ("Hamilton", "Richard Rodgers Theatre"),
    ("Los Angeles Lakers at Golden State Warriors", "Chase Center"),
    ("Philadelphia Eagles at Dallas Cowboys", "AT&T Stadium"),
    ("Wicked", "Gershwin Theatre"),
)


def generate_inventory(pdf_dir: Path, groups: int, seed: int) -> list[InventoryRow]:
    """``groups`` plausible ticket groups, the same for the same ``seed``.

    Remote ids are ``DEMO-0001``…; most groups are e-tickets with a PDF (some with cover and
    advert pages), the rest TM mobile with claim links, or physical.
    """
    rng = random.Random(seed)
    rows = []
    for n in range(1, groups + 1):
        event, venue = rng.choice(_EVENTS)
        first = rng.randint(1, 20)
        seats = tuple(str(first + i) for i in range(rng.randint(2, 8)))
        row = InventoryRow(
            remote_id=f"DEMO-{n:04d}",
            event=event,
            venue=venue,
            occurs_at=f"2027-0{rng.randint(1, 9)}-{rng.randint(10, 28)}T19:30:00Z",
            section=str(rng.randint(100, 330)),
            row=rng.choice("ABCDEFGHJK"),
            seats=seats,
            quantity=len(seats),
            min_price=Decimal(rng.randrange(5000, 40000, 500)) / 100,
            format=rng.choices(("Eticket", "TM_mobile", "Physical"), weights=(6, 2, 2))[0],
        )
        if row.format == "Eticket":
            extras = rng.random() < 0.5
            row = with_ticket_pdf(row, pdf_dir, cover=extras, advert=extras)
        elif row.format == "TM_mobile":
            links = tuple(f"https://tickets.example/claim/{row.remote_id}-{seat}" for seat in seats)
            row = replace(row, transfer_links=links, transfer_source="TM")
        rows.append(row)
    return rows
