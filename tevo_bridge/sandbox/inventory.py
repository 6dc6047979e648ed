"""What the simulated buyers can buy: the seller's listings as TEvo sees them.

The sandbox does not own the seller's stock (the POS does), so the driver is
handed these listings and can deliberately order more than they hold or pay
less than they ask, to exercise the bridge's rejections.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

ETICKET = "Eticket"
PHYSICAL = "Physical"
TM_MOBILE = "TM_mobile"
FORMATS = (ETICKET, PHYSICAL, TM_MOBILE)


@dataclass(frozen=True)
class TicketGroupSpec:
    """One listing.  ``remote_id`` is the POS's id for it (docs/tevo-api.md §3.4)."""

    remote_id: str
    ticket_group_id: int
    event_name: str
    venue: str
    occurs_at: str
    section: str
    row: str
    seats: list[str]
    wholesale_price: Decimal
    retail_price: Decimal
    format: str = ETICKET
    event_id: int = 0
    venue_locality: str = "New York"
    venue_region: str = "NY"
    external_notes: str = ""
    in_hand: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, not {self.format!r}")
        if not self.seats:
            raise ValueError(f"ticket group {self.remote_id} has no seats")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["wholesale_price"] = str(self.wholesale_price)
        data["retail_price"] = str(self.retail_price)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TicketGroupSpec:
        values = dict(data)
        values["wholesale_price"] = Decimal(str(values["wholesale_price"]))
        values["retail_price"] = Decimal(str(values["retail_price"]))
        values["seats"] = [str(s) for s in values["seats"]]
        values["remote_id"] = str(values["remote_id"])
        return cls(**values)


def demo_inventory() -> list[TicketGroupSpec]:
    """The listings of the TEvo fixtures in tests/fixtures, plus a few more so every scenario finds a group."""
    d = Decimal
    return [
        TicketGroupSpec("88213", 318004512, "Boston Celtics at New York Knicks", "Madison Square Garden",
                        "2026-12-11T19:30:00Z", "112", "8", ["5", "6"], d("245.0"), d("289.0"), ETICKET, 2871456,
                        external_notes="PDF e-tickets. Instant download."),
        TicketGroupSpec("88507", 318061937, "Hamilton", "Richard Rodgers Theatre", "2026-12-19T20:00:00Z",
                        "Orchestra", "K", ["105", "106", "107"], d("349.0"), d("389.0"), ETICKET, 2904471,
                        external_notes="Center orchestra. E-tickets delivered by email."),
        TicketGroupSpec("88640", 318070115, "New York Rangers at New Jersey Devils", "Prudential Center",
                        "2027-01-08T19:00:00Z", "Mezz 14", "3", ["1", "2", "3", "4"], d("128.0"), d("151.0"),
                        ETICKET, 2911087, venue_locality="Newark", venue_region="NJ",
                        external_notes="PDF e-tickets."),
        TicketGroupSpec("88702", 318081244, "Billy Joel", "Madison Square Garden", "2027-01-15T20:00:00Z", "204",
                        "3", ["11", "12", "13", "14", "15", "16"], d("188.0"), d("219.0"), ETICKET, 2915530,
                        external_notes="PDF e-tickets."),
        TicketGroupSpec("88731", 318090412, "Boston Red Sox at New York Yankees", "Yankee Stadium",
                        "2027-04-09T19:05:00Z", "214B", "9", ["1", "2", "3", "4"], d("96.0"), d("118.0"), ETICKET,
                        2930118, venue_locality="Bronx", external_notes="PDF e-tickets."),
        TicketGroupSpec("88755", 318094870, "The Lion King", "Minskoff Theatre", "2027-02-06T14:00:00Z",
                        "Orchestra", "M", ["101", "102", "103", "104", "105", "106"], d("162.0"), d("189.0"),
                        ETICKET, 2921764, external_notes="PDF e-tickets."),
        TicketGroupSpec("90417", 318127706, "Philadelphia Eagles at Dallas Cowboys", "AT&T Stadium",
                        "2027-01-03T15:25:00Z", "C117", "12", ["3", "4"], d("312.0"), d("359.0"), PHYSICAL,
                        2866310, venue_locality="Arlington", venue_region="TX",
                        external_notes="Hard tickets. Ships FedEx."),
        TicketGroupSpec("90422", 318127741, "Philadelphia Eagles at Dallas Cowboys", "AT&T Stadium",
                        "2027-01-03T15:25:00Z", "C118", "14", ["7", "8", "9", "10"], d("298.0"), d("339.0"),
                        PHYSICAL, 2866310, venue_locality="Arlington", venue_region="TX",
                        external_notes="Hard tickets. Ships FedEx."),
        TicketGroupSpec("90455", 318131002, "New York Giants at Philadelphia Eagles", "Lincoln Financial Field",
                        "2027-01-10T13:00:00Z", "M11", "22", ["1", "2", "3", "4"], d("205.0"), d("239.0"), PHYSICAL,
                        2866402, venue_locality="Philadelphia", venue_region="PA",
                        external_notes="Hard tickets. Ships FedEx."),
        TicketGroupSpec("90871", 318155220, "Wicked", "Gershwin Theatre", "2026-12-30T19:00:00Z",
                        "Front Mezzanine", "C", ["107", "108"], d("210.0"), d("249.0"), PHYSICAL, 2899834,
                        external_notes="Hard tickets. Local pickup in Midtown available."),
        TicketGroupSpec("91508", 318233019, "Los Angeles Lakers at Golden State Warriors", "Chase Center",
                        "2026-12-25T17:00:00Z", "112", "14", ["9", "10"], d("415.0"), d("479.0"), TM_MOBILE,
                        2873092, venue_locality="San Francisco", venue_region="CA",
                        external_notes="Mobile transfer only.", in_hand=False),
        TicketGroupSpec("91522", 318233187, "Golden State Warriors at Los Angeles Lakers", "Crypto.com Arena",
                        "2027-01-21T19:30:00Z", "PR9", "4", ["1", "2", "3", "4"], d("265.0"), d("309.0"), TM_MOBILE,
                        2873377, venue_locality="Los Angeles", venue_region="CA",
                        external_notes="Mobile transfer only.", in_hand=False),
    ]


_EVENTS = [
    ("Boston Celtics at New York Knicks", "Madison Square Garden", "New York", "NY"),
    ("Hamilton", "Richard Rodgers Theatre", "New York", "NY"),
    ("Philadelphia Eagles at Dallas Cowboys", "AT&T Stadium", "Arlington", "TX"),
    ("Los Angeles Lakers at Golden State Warriors", "Chase Center", "San Francisco", "CA"),
    ("Wicked", "Gershwin Theatre", "New York", "NY"),
    ("Boston Red Sox at New York Yankees", "Yankee Stadium", "Bronx", "NY"),
    ("Billy Joel", "Madison Square Garden", "New York", "NY"),
    ("Chicago Cubs at St. Louis Cardinals", "Busch Stadium", "St. Louis", "MO"),
]


def generated_inventory(groups: int, seed: int = 0, first_remote_id: int = 70000) -> list[TicketGroupSpec]:
    """Many listings for long runs (demo, benchmarks): the demo listings first, then seeded random ones.

    Formats are mixed so every scenario finds stock: mostly e-tickets, then physical (FedEx, pickup)
    and mobile.  Each listing has 4 to 8 seats.
    """
    import random

    rng = random.Random(seed)
    listings = demo_inventory()[:groups]
    formats = [ETICKET] * 6 + [PHYSICAL] * 3 + [TM_MOBILE] * 2
    for n in range(len(listings), groups):
        event, venue, locality, region = _EVENTS[n % len(_EVENTS)]
        first_seat = rng.randint(1, 20)
        seats = [str(first_seat + i) for i in range(rng.randint(4, 8))]
        wholesale = Decimal(rng.randint(60, 450))
        fmt = formats[n % len(formats)]
        listings.append(TicketGroupSpec(
            str(first_remote_id + n), 400000000 + n, event, venue, f"2027-{1 + n % 12:02d}-{1 + n % 27:02d}T19:30:00Z",
            f"{100 + rng.randint(1, 30)}", str(rng.randint(1, 25)), seats, wholesale,
            (wholesale * Decimal("1.15")).quantize(Decimal("1")), fmt, 3000000 + n, venue_locality=locality,
            venue_region=region, in_hand=fmt != TM_MOBILE,
        ))
    return listings
