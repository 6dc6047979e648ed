"""E-tickets end to end against the fake TEvo: right pages, right ids, crash-safe (docs/tevo-api.md §4, §9)."""

from __future__ import annotations

import copy

import pytest

from tests.conftest import load_fixture
from tests.fulfillment.conftest import CLIENT_ITEM, CLIENT_ORDER, ETICKET_ITEM, ETICKET_ORDER, FIVE_PAGES, TWO_PAGES
from tests.fulfillment.fake_tevo import ProcessDied, page_text
from tests.fulfillment.test_pages import encrypted
from tevo_bridge.fulfillment.etickets import batches
from tevo_bridge.pipeline.processor import StepFailed
from tevo_bridge.pos.errors import CannotSupply, PosError, PosTimeout
from tevo_bridge.pos.types import TicketFile


def seats_delivered(fake, item_id: int) -> list[str]:
    return [next(line for line in page_text(p).splitlines() if line.startswith("SEAT")) for p in fake.delivered[item_id]]


async def test_per_page_delivers_exactly_the_three_seat_pages_in_seat_order(fake, run):
    state, _ = await run(CLIENT_ORDER)

    assert (state, seats_delivered(fake, CLIENT_ITEM)) == ("done", ["SEAT 105", "SEAT 106", "SEAT 107"])


async def test_per_page_uploads_one_single_page_file_per_ticket_then_finalizes_them_all(fake, run):
    await run(CLIENT_ORDER)

    (add,) = fake.calls_to("items.add_etickets")
    (finalize,) = fake.calls_to("items.finalize_etickets")
    assert (len(add.body["files"]), finalize.body) == (3, {"keep_pages": [1, 2, 3]})


async def test_item_urls_use_the_items_id_not_its_order_item_id(fake, run):
    await run(CLIENT_ORDER)

    paths = {c.path for c in fake.calls if "/items/" in c.path}
    assert paths == {f"/orders/{CLIENT_ORDER}/items/{CLIENT_ITEM}/add_etickets",
                     f"/orders/{CLIENT_ORDER}/items/{CLIENT_ITEM}/finalize_etickets"}


def bulky_tickets(seats: list[str]) -> bytes:
    """One page per seat, each padded with incompressible noise to about 5 KB."""
    import io
    import random

    from reportlab.pdfgen import canvas

    noise = random.Random(6)
    buffer = io.BytesIO()
    drawing = canvas.Canvas(buffer, invariant=1, pageCompression=1)
    for seat in seats:
        drawing.drawString(72, 720, f"SEAT {seat}")
        for line in range(40):
            drawing.drawString(72, 700 - 12 * line, "".join(noise.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
                                                            for _ in range(110)))
        drawing.showPage()
    drawing.save()
    return buffer.getvalue()


def test_batches_keep_each_body_under_the_limit_and_send_an_oversized_page_alone():
    pages = [b"a" * 3000, b"b" * 3000, b"c" * 9000, b"d" * 300]

    assert [len(batch) for batch in batches(pages, 10_000)] == [2, 1, 1]


async def test_uploads_are_batched_under_the_size_limit_and_page_numbers_run_on(fake, host, run):
    host.files[CLIENT_ITEM] = [TicketFile(bulky_tickets(["105", "106", "107"]), {"105": 1, "106": 2, "107": 3})]
    limit = 10_000  # the smallest allowed; each bulky page is about 7 KB in base64

    state, _ = await run(CLIENT_ORDER, max_upload_bytes=limit)

    adds = fake.calls_to("items.add_etickets")
    assert state == "done"
    assert [len(a.body["files"]) for a in adds] == [1, 1, 1] and all(a.size <= limit for a in adds)
    assert fake.calls_to("items.finalize_etickets")[0].body == {"keep_pages": [1, 2, 3]}
    assert seats_delivered(fake, CLIENT_ITEM) == ["SEAT 105", "SEAT 106", "SEAT 107"]


async def test_single_file_delivers_one_pdf_named_by_order_item_id(fake, run):
    state, _ = await run(CLIENT_ORDER, eticket_method="single_file")

    (deliver,) = fake.calls_to("orders.deliver_etickets")
    assert state == "done"
    assert [e["item_id"] for e in deliver.body["etickets"]] == [760139]  # order_item_id, not items[].id
    assert seats_delivered(fake, CLIENT_ITEM) == ["SEAT 105", "SEAT 106", "SEAT 107"]
    assert not fake.calls_to("items.add_etickets")


async def test_two_page_order_is_done_and_tevo_completes_it(fake, run):
    state, _ = await run(ETICKET_ORDER)

    assert (state, seats_delivered(fake, ETICKET_ITEM)) == ("done", ["SEAT 5", "SEAT 6"])
    assert fake.orders[ETICKET_ORDER]["seller_state"] == "completed"


async def test_an_item_already_finalized_at_tevo_is_not_uploaded_again(fake, host, run):
    await run(CLIENT_ORDER)
    fake.orders[CLIENT_ORDER]["seller_state"] = "accepted"  # keep the order open to look at the item itself
    fake.calls.clear()
    host.asked.clear()

    state, _ = await run(CLIENT_ORDER)

    assert (state, [c.endpoint for c in fake.calls], host.asked) == ("done", [], [])


# Crash and doubt (§4 step 4, §9) ----------------------------------------------------------------------


async def test_crash_between_add_and_finalize_resumes_without_duplicate_pages(fake, run):
    fake.fail("items.add_etickets", when="after", error="die")  # the upload lands, then the process dies
    with pytest.raises(ProcessDied):
        await run(CLIENT_ORDER)
    assert fake.item(CLIENT_ITEM)["eticket_pdf_pages"] == 3

    state, _ = await run(CLIENT_ORDER)  # a new process

    assert state == "done"
    assert [c.endpoint for c in fake.calls if c.endpoint != "orders.show" and c.endpoint != "items.show"] == [
        "items.add_etickets", "items.remove_etickets", "items.add_etickets", "items.finalize_etickets"]
    assert seats_delivered(fake, CLIENT_ITEM) == ["SEAT 105", "SEAT 106", "SEAT 107"]


async def test_finalize_whose_answer_is_lost_is_resolved_by_refetching_the_item(fake, run):
    fake.fail("items.finalize_etickets", when="after")  # TEvo finalized, the answer never arrived

    state, _ = await run(CLIENT_ORDER)

    assert (state, len(fake.calls_to("items.finalize_etickets")), len(fake.calls_to("items.show"))) == ("done", 1, 1)


async def test_finalize_that_never_reached_tevo_removes_and_starts_the_item_again(fake, run):
    fake.fail("items.finalize_etickets", when="before")

    state, _ = await run(CLIENT_ORDER)

    assert state == "done"
    assert [c.endpoint for c in fake.calls if c.endpoint.startswith("items.") and c.endpoint != "items.show"] == [
        "items.add_etickets", "items.finalize_etickets", "items.remove_etickets", "items.add_etickets",
        "items.finalize_etickets"]
    assert seats_delivered(fake, CLIENT_ITEM) == ["SEAT 105", "SEAT 106", "SEAT 107"]


async def test_refused_finalize_removes_and_starts_the_item_again(fake, run):
    fake.fail("items.finalize_etickets", when="before", error="refuse")

    state, _ = await run(CLIENT_ORDER)

    assert (state, len(fake.calls_to("items.remove_etickets"))) == ("done", 1)


async def test_finalize_refused_twice_goes_to_review_with_nothing_finalized(fake, run):
    fake.fail("items.finalize_etickets", when="before", error="refuse")
    fake.fail("items.finalize_etickets", when="before", error="refuse")

    state, reason = await run(CLIENT_ORDER)

    assert (state, fake.item(CLIENT_ITEM)["eticket_finalized"]) == ("needs_review", False)
    assert reason.startswith(f"item {CLIENT_ITEM}: TEvo refused the e-tickets twice")


async def test_upload_lost_twice_is_left_to_the_pipeline_to_retry(fake, run):
    fake.fail("items.add_etickets", when="before")
    fake.fail("items.add_etickets", when="before")

    with pytest.raises(StepFailed, match=f"item {CLIENT_ITEM}: e-tickets not confirmed"):
        await run(CLIENT_ORDER)


async def test_deliver_whose_answer_is_lost_is_resolved_by_refetching_the_item(fake, run):
    fake.fail("orders.deliver_etickets", when="after")

    state, _ = await run(CLIENT_ORDER, eticket_method="single_file")

    assert (state, len(fake.calls_to("orders.deliver_etickets"))) == ("done", 1)


async def test_single_file_after_an_unfinished_per_page_upload_clears_it_first(fake, run):
    fake.fail("items.add_etickets", when="after", error="die")
    with pytest.raises(ProcessDied):
        await run(CLIENT_ORDER)

    state, _ = await run(CLIENT_ORDER, eticket_method="single_file")

    assert (state, len(fake.calls_to("items.remove_etickets"))) == ("done", 1)


# Files a person must fix --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ([TicketFile(b"%PDF-1.7 garbage", {"105": 2, "106": 3, "107": 4}, "x.pdf")], "is not a readable PDF"),
        ([TicketFile(encrypted(FIVE_PAGES), {"105": 2, "106": 3, "107": 4}, "x.pdf")], "is encrypted"),
        ([TicketFile(FIVE_PAGES, {"105": 2, "106": 3}, "x.pdf")], "no page for seat(s) 107"),
        ([TicketFile(TWO_PAGES, {"105": 1, "106": 2, "107": 3}, "x.pdf")], "seat 107 is on page 3"),
    ],
    ids=["corrupt", "encrypted", "missing-seat", "short"],
)
async def test_bad_files_send_the_order_to_review_naming_the_item_and_upload_nothing(fake, host, run, files, problem):
    host.files[CLIENT_ITEM] = files

    state, reason = await run(CLIENT_ORDER)

    assert (state, reason.startswith(f"item {CLIENT_ITEM}: "), problem in reason) == ("needs_review", True, True)
    assert [c.endpoint for c in fake.calls] == []


async def test_a_bad_item_does_not_hold_back_the_good_one_and_only_the_bad_one_is_named(fake, host, run):
    order = load_fixture("orders/client_sale_fraud_approved.json")
    second = copy.deepcopy(order["items"][0])
    second.update(id=812499, order_item_id=760199)
    order["items"].append(second)
    order["id"] = 402999
    fake.add_order(order)
    host.files[812499] = [TicketFile(b"not a pdf", {"105": 1, "106": 2, "107": 3}, "bad.pdf")]

    state, reason = await run(402999)

    assert state == "needs_review" and reason.startswith("item 812499: file 1 (bad.pdf) is not a readable PDF")
    assert [item["eticket_finalized"] for item in fake.orders[402999]["items"]] == [True, False]


async def test_no_files_for_tickets_not_in_hand_waits(fake, host, run):
    host.files[CLIENT_ITEM] = None
    fake.item(CLIENT_ITEM)["ticket_group"]["in_hand"] = False

    assert await run(CLIENT_ORDER) == ("fulfilling", f"item {CLIENT_ITEM}: tickets not in hand yet; "
                                                     "the POS has no e-ticket files")


async def test_no_files_for_tickets_in_hand_needs_review(fake, host, run):
    host.files[CLIENT_ITEM] = None
    fake.item(CLIENT_ITEM)["ticket_group"]["in_hand"] = True

    state, reason = await run(CLIENT_ORDER)

    assert (state, reason) == ("needs_review", f"item {CLIENT_ITEM}: the POS has no e-ticket files for it "
                                               "(pos_ticket_files returned nothing)")


async def test_a_pos_that_cannot_supply_files_sends_the_order_to_review(host, run):
    host.files[CLIENT_ITEM] = PosError("pos_ticket_files", CannotSupply("voided in the POS"))

    state, reason = await run(CLIENT_ORDER)

    assert (state, "voided in the POS" in reason) == ("needs_review", True)


async def test_a_slow_pos_is_retried_later(host, run):
    from concurrent.futures import Future

    host.files[CLIENT_ITEM] = PosTimeout("pos_ticket_files", 60, Future())

    with pytest.raises(StepFailed, match="no answer within its 60 s budget"):
        await run(CLIENT_ORDER)


async def test_every_delivery_action_is_in_the_audit_log(fake, store, run):
    fake.fail("items.add_etickets", when="after", error="die")
    with pytest.raises(ProcessDied):
        await run(CLIENT_ORDER)
    await run(CLIENT_ORDER)

    actions = [row.action for row in await store.audit_trail(CLIENT_ORDER) if row.action != "transition"]
    assert actions == ["etickets.remove", "etickets.add", "etickets.finalize"]
