"""Real PDF handling: TEvo parses what is uploaded, so the sandbox does too (docs/tevo-api.md §4).

Uploads are checked with pypdf the way a strict server would: base64 that
decodes, a file that opens, no encryption, at least one page.  The airbill is a
real one-page PDF drawn with pypdf's low-level objects, so no extra dependency.
"""

from __future__ import annotations

import base64
import binascii
import io

from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject


class InvalidPdf(ValueError):
    """The upload is not a usable PDF; the message says why, for the 422 body."""


def decode_pdf(data: object) -> bytes:
    """Strict base64 → bytes → a PDF that opens with pages, or ``InvalidPdf``."""
    if not isinstance(data, str) or not data:
        raise InvalidPdf("must be a base64 encoded PDF")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidPdf("is not valid base64") from None
    page_count(raw)
    return raw


def page_count(raw: bytes) -> int:
    if b"%PDF-" not in raw[:1024]:  # refuse early: pypdf would log noise before failing
        raise InvalidPdf("is not a valid PDF")
    try:
        reader = PdfReader(io.BytesIO(raw), strict=False)
        if reader.is_encrypted:
            raise InvalidPdf("is an encrypted PDF")
        count = len(reader.pages)
    except InvalidPdf:
        raise
    except Exception:  # pypdf raises many types for garbage; all mean "not a PDF"
        raise InvalidPdf("is not a valid PDF") from None
    if count == 0:
        raise InvalidPdf("is a PDF without pages")
    return count


def merge(files: list[bytes]) -> bytes:
    """Several uploads become one file whose pages run on in upload order (§4)."""
    writer = PdfWriter()
    for raw in files:
        writer.append(PdfReader(io.BytesIO(raw)))
    return _write(writer)


def select_pages(raw: bytes, pages: list[int]) -> bytes:
    """The 1-based ``keep_pages`` of a file, in the order given."""
    reader = PdfReader(io.BytesIO(raw))
    writer = PdfWriter()
    for number in pages:
        writer.add_page(reader.pages[number - 1])
    return _write(writer)


def page_texts(raw: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(raw)).pages]


def text_pdf(lines: list[str], title: str = "") -> bytes:
    """A one-page Letter PDF with Helvetica text: enough for a printable airbill."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=612, height=792)
    font = DictionaryObject({
        NameObject("/Type"): NameObject("/Font"),
        NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
        NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
    })
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    ops = ["BT", "/F1 12 Tf", "16 TL", "72 720 Td"]
    for line in lines:
        ops.append(f"({_escape(line)}) Tj T*")
    ops.append("ET")
    stream = DecodedStreamObject()
    stream.set_data("\n".join(ops).encode("cp1252", errors="replace"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    if title:
        writer.add_metadata({"/Title": title, "/Producer": "tevo-bridge sandbox"})
    return _write(writer)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _write(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
