"""Issue 20, item 10: PDF work never runs on the event loop that answers holds and invoices."""

from __future__ import annotations

import asyncio
import io
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import pypdf
import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen import canvas

from tests.fulfillment.conftest import ETICKET_ITEM, ETICKET_ORDER, FEDEX_ORDER
from tests.fulfillment.fake_tevo import page_text
from tevo_bridge.fulfillment import pdf_work
from tevo_bridge.fulfillment.precheck import undeliverable
from tevo_bridge.pos.types import TicketFile
from tevo_bridge.tevo.models import Order

BIG_PAGES = 2000


@pytest.fixture(scope="module")
def big_pdf() -> bytes:
    return make_big_pdf()


def make_big_pdf() -> bytes:
    """2,000 pages, seats 5 and 6 on the last two: the whole file must be read to find them."""
    buffer = io.BytesIO()
    drawing = canvas.Canvas(buffer, invariant=1)
    for number in range(1, BIG_PAGES + 1):
        label = {BIG_PAGES - 1: "SEAT 5", BIG_PAGES: "SEAT 6"}.get(number, f"ADVERT {number}")
        drawing.drawString(72, 720, label)
        drawing.showPage()
    drawing.save()
    return buffer.getvalue()


@pytest.fixture
def pdf_threads(monkeypatch: pytest.MonkeyPatch) -> list[threading.Thread]:
    """Every thread that opened or wrote a PDF in the fulfilment code."""
    seen: list[threading.Thread] = []

    class RecordingReader(PdfReader):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            seen.append(threading.current_thread())
            super().__init__(*args, **kwargs)

    class RecordingWriter(PdfWriter):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            seen.append(threading.current_thread())
            super().__init__(*args, **kwargs)

    # pages.py imports pypdf's names when it runs (pypdf loads on the first PDF), so they are swapped at the source.
    monkeypatch.setattr(pypdf, "PdfReader", RecordingReader)
    monkeypatch.setattr(pypdf, "PdfWriter", RecordingWriter)
    return seen


@pytest.mark.parametrize("method", ["per_page", "single_file"])
async def test_page_selection_and_writing_run_on_pdf_worker_threads_never_the_loop(fake, run, pdf_threads, method):
    loop_thread = threading.current_thread()

    state, _ = await run(ETICKET_ORDER, eticket_method=method)

    assert state == "done"
    assert pdf_threads, "the fulfilment opened no PDF: the test would prove nothing"
    assert loop_thread not in pdf_threads
    assert all(t.name.startswith(pdf_work.THREAD_PREFIX) for t in pdf_threads)


async def test_the_check_before_accepting_parses_on_pdf_worker_threads(fake, host, settings, pdf_threads):
    order = Order.model_validate(fake.order_json(ETICKET_ORDER))

    assert await undeliverable(settings().fulfillment, host, order) is None
    assert pdf_threads and threading.current_thread() not in pdf_threads


async def test_the_airbill_is_written_on_a_pdf_worker_thread(run, monkeypatch: pytest.MonkeyPatch):
    from tevo_bridge.fulfillment import shipments

    writers: list[threading.Thread] = []
    real = shipments.write_private

    def recording(path: Any, data: bytes) -> None:
        writers.append(threading.current_thread())
        real(path, data)

    monkeypatch.setattr(shipments, "write_private", recording)

    state, _ = await run(FEDEX_ORDER)

    assert state == "done" and len(writers) == 1
    assert writers[0] is not threading.current_thread() and writers[0].name.startswith(pdf_work.THREAD_PREFIX)


async def test_a_2000_page_file_is_cut_on_a_worker_while_the_loop_keeps_ticking(fake, host, run, big_pdf,
                                                                                  pdf_threads):
    host.files[ETICKET_ITEM] = [TicketFile(big_pdf, {"5": BIG_PAGES - 1, "6": BIG_PAGES}, name="big.pdf")]

    with probing() as lags:
        state, _ = await run(ETICKET_ORDER)

    assert state == "done"
    assert [page_text(p).splitlines()[0] for p in fake.delivered[ETICKET_ITEM]] == ["SEAT 5", "SEAT 6"]
    assert pdf_threads and threading.current_thread() not in pdf_threads
    print(f"\n2,000-page fulfilment, loop lag (what a hold answer waits) over {len(lags)} ticks: "
          f"p50 {statistics.median(lags) * 1000:.1f} ms, max {max(lags) * 1000:.1f} ms")


async def test_measure_loop_lag_with_pdf_work_on_the_loop_as_before(fake, host, run, big_pdf,
                                                                    monkeypatch: pytest.MonkeyPatch):
    """The figure before the fix, for the report: the same fulfilment with the PDF work run inline."""
    async def inline(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    monkeypatch.setattr("tevo_bridge.fulfillment.etickets.off_loop", inline)
    host.files[ETICKET_ITEM] = [TicketFile(big_pdf, {"5": BIG_PAGES - 1, "6": BIG_PAGES}, name="big.pdf")]

    with probing() as lags:
        state, _ = await run(ETICKET_ORDER)

    assert state == "done"
    print(f"\n2,000-page fulfilment with PDF work on the loop (before): over {len(lags)} ticks: "
          f"p50 {statistics.median(lags) * 1000:.1f} ms, max {max(lags) * 1000:.1f} ms")


class probing:
    """Measures, while the block runs, how late a 1 ms timer fires: the wait any request on this loop sees."""

    def __enter__(self) -> list[float]:
        self.lags: list[float] = []
        self.task = asyncio.get_running_loop().create_task(self._tick())
        return self.lags

    def __exit__(self, *exc: object) -> None:
        self.task.cancel()

    async def _tick(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            self.lags.append(time.perf_counter() - start - 0.001)


