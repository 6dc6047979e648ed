"""Page selection on a 500-page ticket PDF: the daemon's pypdf path vs the ``qpdf`` command line.

The PDF is a real one from the test kit (``make_ticket_pdf``: a cover, 500 ticket pages with
barcodes, an advert).  The daemon's path is ``select_pages`` (open, check every named seat,
copy each ticket page into its own PDF) then ``merged()`` (the one file TEvo gets), from bytes
in memory to bytes in memory.  The baseline is ``qpdf in.pdf --pages in.pdf <pages> -- out.pdf``,
process start included, reading and writing files: what a shell-out would cost.  Both take the
same four seats spread through the file; each is timed several times and the median kept.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Figure

SEATS = 500
WANTED = ["17", "250", "251", "499"]


def _median_time(fn: Any, repeat: int) -> float:
    fn()  # warm: imports, page cache
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(tmp: Path, quick: bool = False) -> tuple[list[Figure], dict[str, Any]]:
    from pypdf import PdfReader

    from tevo_bridge.fulfillment.pages import select_pages
    from tevo_bridge.pos.types import TicketFile
    from tevo_bridge.testing.ticket_pdfs import make_ticket_pdf

    qpdf = shutil.which("qpdf")
    if qpdf is None:
        raise RuntimeError("qpdf is not installed: run benchmarks/setup.sh")
    tmp.mkdir(parents=True, exist_ok=True)
    repeat = 3 if quick else 10
    seats = [str(n) for n in range(1, SEATS + 1)]
    pdf, pages = make_ticket_pdf("Benchmark Night", "Loopback Arena", "2027-06-01T19:30:00Z", "101", "A", seats)
    source = tmp / "tickets-500.pdf"
    source.write_bytes(pdf)
    ticket_file = TicketFile(pdf=pdf, seat_pages=pages, name="tickets-500.pdf")
    page_numbers = ",".join(str(pages[s]) for s in WANTED)
    out = tmp / "selected.pdf"

    def with_pypdf() -> bytes:
        return select_pages([ticket_file], WANTED, item_id=1, quantity=len(WANTED)).merged()

    def with_qpdf() -> None:
        subprocess.run([qpdf, str(source), "--pages", str(source), page_numbers, "--", str(out)], check=True)

    selected = with_pypdf()
    with_qpdf()
    assert len(PdfReader(out).pages) == len(PdfReader(__import__("io").BytesIO(selected)).pages) == len(WANTED)
    raw = {"pdf_bytes": len(pdf), "pdf_pages": len(PdfReader(source).pages), "pages_selected": len(WANTED),
           "pypdf_s": _median_time(with_pypdf, repeat), "qpdf_s": _median_time(with_qpdf, repeat),
           "pypdf_out_bytes": len(selected), "qpdf_out_bytes": out.stat().st_size,
           "qpdf_version": subprocess.run([qpdf, "--version"], capture_output=True, text=True).stdout.split("\n")[0]}
    return figures(raw), raw


def figures(raw: dict[str, Any]) -> list[Figure]:
    return [Figure(f"page selection, {raw['pages_selected']} of {raw['pdf_pages']} pages", raw["pypdf_s"] * 1000,
                   "ms", raw["qpdf_s"] * 1000, f"qpdf command line ({raw['qpdf_version']})",
                   target="≤ 3× qpdf", met=raw["pypdf_s"] <= 3 * raw["qpdf_s"],
                   note=f"{raw['pdf_bytes'] / 1e6:.1f} MB PDF; output {raw['pypdf_out_bytes'] / 1e3:.0f} kB "
                        f"(qpdf {raw['qpdf_out_bytes'] / 1e3:.0f} kB)")]
