"""What the daemon can deliver, decided before an order is accepted: settings per delivery type, ticket files."""

from __future__ import annotations

import pytest

from tests.fulfillment.conftest import PICKUP
from tevo_bridge.config import FulfillmentSettings, LocalPickupSettings
from tevo_bridge.fulfillment.capability import FEDEX, LOCAL_PICKUP, missing_settings
from tevo_bridge.fulfillment.pages import TicketFileProblem, select_pages
from tevo_bridge.pos.types import TicketFile
from tevo_bridge.testing.ticket_pdfs import make_ticket_pdf

# Seats 5-8 of a real PDF with a cover (page 1) and an advert (page 6).
PDF, PAGES = make_ticket_pdf("Knicks at Celtics", "TD Garden", "2026-12-11T19:30:00Z", "112", "8", ["5", "6", "7", "8"])


def settings(tmp_path, airbill_dir=None, **pickup) -> FulfillmentSettings:
    return FulfillmentSettings(airbill_dir=airbill_dir or tmp_path / "airbills",
                               local_pickup=LocalPickupSettings(**{**PICKUP, **pickup}))


# Settings per delivery type ---------------------------------------------------------------------


def test_complete_settings_miss_nothing(tmp_path):
    assert missing_settings(settings(tmp_path)) == {}


def test_default_settings_cannot_do_local_pickup_and_say_which_keys_to_set(tmp_path):
    missing = missing_settings(FulfillmentSettings(airbill_dir=tmp_path))

    assert set(missing) == {LOCAL_PICKUP}
    assert missing[LOCAL_PICKUP] == (
        "local pickup orders cannot be fulfilled: [fulfillment.local_pickup] contact_name, phone_number, "
        "street_address, locality, region, postal_code, time_range are empty, and TEvo needs them to tell the buyer "
        'where and when to collect. Fix: set them in that section, e.g. contact_name = "Box Office Window 3".')


def test_one_blank_pickup_key_is_named_alone(tmp_path):
    message = missing_settings(settings(tmp_path, time_range="   "))[LOCAL_PICKUP]

    assert "[fulfillment.local_pickup] time_range is empty" in message


def test_an_airbill_dir_that_does_not_exist_yet_is_fine_and_is_not_created(tmp_path):
    assert missing_settings(settings(tmp_path, tmp_path / "new" / "airbills")) == {}
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(("where", "problem"), [
    ("a-file", "is a file, not a folder"),
    ("a-file/airbills", "cannot be created: {tmp}/a-file is a file"),
])
def test_an_airbill_dir_that_cannot_hold_files_rules_out_fedex(tmp_path, where, problem):
    (tmp_path / "a-file").write_text("not a folder")

    missing = missing_settings(settings(tmp_path, tmp_path / where))

    assert set(missing) == {FEDEX}
    assert missing[FEDEX] == (f"FedEx orders cannot be fulfilled: [fulfillment] airbill_dir = {tmp_path / where} "
                              f"{problem.format(tmp=tmp_path)}, so their airbills cannot be saved. Fix: point "
                              "airbill_dir at a folder this user can write.")


# Ticket files -------------------------------------------------------------------------------------
# The check before accepting (fulfillment/precheck.py) is ``select_pages`` itself, the very one fulfilment makes
# before uploading: what it refuses is what a person must fix.


def ticket_files_problem(files, seats, quantity):
    try:
        select_pages(files, seats, item_id=0, quantity=quantity)
    except TicketFileProblem as problem:
        return problem.problem
    return None


def test_files_with_a_page_for_every_seat_are_deliverable():
    assert PAGES == {"5": 2, "6": 3, "7": 4, "8": 5}
    assert ticket_files_problem([TicketFile(PDF, PAGES, name="t.pdf")], ["6", "7"], 2) is None


def test_without_seats_from_tevo_the_named_pages_must_make_the_quantity():
    assert ticket_files_problem([TicketFile(PDF, PAGES)], [], 4) is None
    assert ticket_files_problem([TicketFile(PDF, PAGES)], [], 5) == "4 ticket page(s) for a quantity of 5"


@pytest.mark.parametrize(("files", "seats", "problem"), [
    ([TicketFile(PDF[:200], PAGES, name="cut.pdf")], ["5"], "file 1 (cut.pdf) is not a readable PDF"),
    ([TicketFile(PDF, {"5": 2})], ["5", "6"], "no page for seat(s) 6 in the POS's ticket files"),
    ([TicketFile(PDF, {"5": 2, "6": 9}, name="t.pdf")], ["5", "6"], "seat 6 is on page 9 of file 1 (t.pdf), which "
                                                                     "has 6 page(s)"),
    ([TicketFile(PDF, {"5": 2, "6": 2})], ["5", "6"], "seats 5 and 6 share page 2 of file 1"),
    ([], ["5"], "the POS returned no ticket files"),
])
def test_undeliverable_files_say_what_is_wrong(files, seats, problem):
    assert ticket_files_problem(files, seats, len(seats)).startswith(problem)
