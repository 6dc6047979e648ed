"""Get Airbill answers the sandbox never gives, over real HTTP: each ends as a PDF, a URL or a clear error.

TEvo's format is undocumented (§5.4), so a small server answers whatever each test scripts,
and the client must never hand over anything but a PDF as the airbill.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import FIXTURES
from tevo_bridge.sandbox.server import serving
from tevo_bridge.tevo.client import ClientOptions, TevoClient
from tevo_bridge.tevo.errors import ClientError

PDF = (FIXTURES / "pdfs" / "tickets_2_pages.pdf").read_bytes()
TEVO_JSON = "application/vnd.ticketevolution.api+json; version=9; charset=utf-8"


class Scripted:
    """Answers ``GET /v9/shipments/:id/get_airbill`` with the body and type set by the test."""

    def __init__(self) -> None:
        self.body, self.content_type = b"", TEVO_JSON

    def app(self) -> Starlette:
        async def get_airbill(request: Request) -> Response:
            return Response(self.body, headers={"Content-Type": self.content_type})

        return Starlette(routes=[Route("/v9/shipments/{shipment_id:int}/get_airbill", get_airbill)])


@pytest.fixture
def server() -> Iterator[tuple[Scripted, str]]:
    scripted = Scripted()
    with serving(scripted.app()) as running:
        yield scripted, running.base_url


async def get_airbill(base_url: str):
    async with TevoClient(base_url, "a" * 32, "s" * 40, ClientOptions(max_retries=0)) as tevo:
        return await tevo.get_airbill(75054)


async def test_base64_with_ruby_line_breaks_is_decoded(server):
    scripted, url = server
    scripted.body = json.dumps({"tracking_number": "7946", "file": base64.encodebytes(PDF).decode()}).encode()
    airbill = await get_airbill(url)
    assert (airbill.content, airbill.tracking_number, airbill.url) == (PDF, "7946", None)


async def test_json_holding_a_url_is_handed_over_for_download(server):
    scripted, url = server
    scripted.body, scripted.content_type = b'{"airbill":"https://files.example/a.pdf"}', "application/json"
    airbill = await get_airbill(url)
    assert (airbill.content, airbill.url) == (b"", "https://files.example/a.pdf")


@pytest.mark.parametrize("body", [
    b'{"tracking_number":"7946"}',  # no airbill at all
    b'{"airbill":"/shipments/75054/get_airbill"}',  # a path back to itself, not a file
    b'{"airbill":"' + base64.b64encode(b"<html>not a pdf</html>") + b'"}',  # base64, but not of a PDF
    b'["%PDF-1.4"]',  # JSON, but not an object
])
async def test_json_without_a_pdf_is_an_error_never_a_file(server, body):
    scripted, url = server
    scripted.body = body
    with pytest.raises(ClientError, match="holds neither a base64 PDF nor a URL"):
        await get_airbill(url)


async def test_json_under_tevos_type_is_never_taken_for_the_pdf(server):
    scripted, url = server
    scripted.body = b'{"tracking_number":"7946","airbill":""}'
    with pytest.raises(ClientError) as info:
        await get_airbill(url)
    assert info.value.status == 200 and info.value.body == {"tracking_number": "7946", "airbill": ""}


async def test_a_raw_answer_that_is_not_a_pdf_is_an_error(server):
    scripted, url = server
    scripted.body, scripted.content_type = b"<html>maintenance</html>", "text/html; charset=utf-8"
    with pytest.raises(ClientError, match="neither JSON nor a PDF"):
        await get_airbill(url)


async def test_a_raw_pdf_under_a_generic_type_is_accepted(server):
    scripted, url = server
    scripted.body, scripted.content_type = PDF, "application/octet-stream"
    assert (await get_airbill(url)).content == PDF
