"""The sandbox accepts only requests signed exactly as docs/tevo-api.md §2 says, and answers TEvo's 401s."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.conftest import order_request
from tests.sandbox.helpers import TevoApi, fixture_json
from tevo_bridge.sandbox.server import Sandbox
from tevo_bridge.sandbox.signature import expected_signature, host_without_port, message_for
from tevo_bridge.tevo.signing import TevoAuth

BAD_SIGNATURE = fixture_json("errors/401_bad_signature.json")
UNAUTHORIZED = fixture_json("errors/401_unauthorized.json")

# (secret, string to sign, X-Signature) rows of docs/tevo-api.md §2.5, tables A, B, D and E.
VECTORS = [
    ("xyz", "GET api.ticketevolution.com/brokerages?page=1&per_page=1", "ohGcFIHF3vg75A8Kpg42LNxuQpQZJsTBKv8xnZASzu0="),
    ("xyz", "GET api.ticketevolution.com/v9/brokerages?page=1&per_page=1",
     "n+kyuaIJKFuUTkEYCdMhR3l3o9WNBbTIJE3qcniboWE="),
    ("/3uZ9bXNe/6rxEBmlGLvoRXrcSzRDMfyJSewhlrc", "GET api.sandbox.ticketevolution.com/test?",
     "1Ra2c8cbuw1G5Pw8BWaowDlMcxwMte8y/sL+vW2H4mY="),
    ("/3uZ9bXNe/6rxEBmlGLvoRXrcSzRDMfyJSewhlrc", "DELETE api.sandbox.ticketevolution.com/test?",
     "Mwr4Z+hveuo8ITaYwaRQ/QdxYotpw97ZH1JfJmblVQY="),
    ("/3uZ9bXNe/6rxEBmlGLvoRXrcSzRDMfyJSewhlrc",
     'POST api.sandbox.ticketevolution.com/test?{"one":1,"two":"two","three":"three"}',
     "6PMaU8JQ5kH4PZLl8agJrZRZqnn65UGcCUA80E2dTDg="),
    ("/3uZ9bXNe/6rxEBmlGLvoRXrcSzRDMfyJSewhlrc", "GET api.sandbox.ticketevolution.com/v9/test?one=1&three=three&two=two",
     "YbwEmJL9P0hvpplEr2q2iL4Mpz+KevHUOjzgYh0ewh4="),
    ("xyz", "GET api.sandbox.ticketevolution.com/v9/orders?state=pending&type=Order",
     "Kk8pTa3wHQoM8XYvuRVJy9iAXhs15B5XSHQ8I8RT+pM="),
    ("xyz", 'POST api.sandbox.ticketevolution.com/v9/orders/190840/accept?{"reviewer_id":2487,"seats":[911,912,913,914,915]}',
     "1QDO6Cs8U05Rb4D2kLZcNuPEl+U00qyOTpPlN7+P5TI="),
    ("xyz", "GET api.ticketevolution.com/v9/orders?per_page=100&updated_at.gte=2015-08-21T01%3A44%3A18Z",
     "+PFd8LBwuuxvsZzw4iAtCsqGvMEOYpkQhI3ny7HvVf8="),
    ("xyz", "GET api.sandbox.ticketevolution.com/v9/orders?needs_eticket=true&q=Smith+Tickets&state=pending&type=Order",
     "zHsfGbFMU2QgrWLkRgMvssoiYZOY13tKLuWkoRQoDFY="),
    ("xyz", "POST api.sandbox.ticketevolution.com/v9/shipments/75054/airbill?",
     "teAgZEjN3DBqn5ghhK9V/yVa9AYswmISnGgFNbCjz+0="),
    ("xyz", 'PUT api.sandbox.ticketevolution.com/v9/shipments/75054/complete?{"tm_mobile_link":'
            '"https://example.com/claim/a,https://example.com/claim/b","transfer_source":"TM"}',
     "0I28ezwEUugyz5jFUVP2U+M467+EEWA8dQcfPnSn1Ek="),
]


@pytest.mark.parametrize(("secret", "string", "signature"), VECTORS)
def test_verifier_reproduces_the_documented_vectors(secret: str, string: str, signature: str) -> None:
    method, rest = string.split(" ", 1)
    host_path, payload = rest.split("?", 1)
    host, path = host_path.split("/", 1)
    is_body = payload.startswith("{")
    message = message_for(method, host, b"/" + path.encode(), b"" if is_body else payload.encode(),
                          payload.encode() if is_body else b"")
    assert expected_signature(secret, message) == signature


def test_host_is_signed_without_its_port() -> None:
    assert host_without_port("127.0.0.1:8443") == "127.0.0.1"


def test_a_correctly_signed_get_is_answered(api: TevoApi) -> None:
    response = api.get("/orders", {"state": "pending", "type": "Order"})
    assert response.status_code == 200


def test_a_get_without_parameters_signs_the_trailing_question_mark(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    assert api.get(f"/orders/{order['id']}").status_code == 200


def test_a_post_without_body_signs_an_empty_payload(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request(shipment="FedEx", remote_id="90417", state="accepted"))
    response = api.post(f"/shipments/{order['shipments'][0]['id']}/airbill")
    assert response.status_code == 200


def test_a_wrong_secret_gets_the_bad_signature_401(api: TevoApi) -> None:
    response = api.get("/orders", {"state": "pending"}, secret="x" * 40)
    assert (response.status_code, response.json()) == (401, BAD_SIGNATURE)


# Array keys sort differently by client: TEvo's Ruby client (Faraday) sorts by the key before "[]",
# so "ids" < "ids-x"; tevo-bridge sorts whole keys in code-point order, so "ids-x" < "ids[]" ("-" < "[").
RUBY_ARRAY_QUERY = "ids%5B%5D=1&ids%5B%5D=2&ids-x=1"
WHOLE_KEY_ARRAY_QUERY = "ids-x=1&ids%5B%5D=1&ids%5B%5D=2"


def test_an_array_query_signed_the_ruby_way_is_answered(api: TevoApi) -> None:
    response = api.get("/orders", raw_query=RUBY_ARRAY_QUERY)
    assert response.status_code == 200, response.text


def test_an_array_query_signed_by_the_bridge_signer_is_answered(sandbox: Sandbox) -> None:
    with httpx.Client(auth=TevoAuth(sandbox.token, sandbox.secret)) as client:
        response = client.get(f"{sandbox.base_url}/v9/orders?{WHOLE_KEY_ARRAY_QUERY}")
    assert response.request.url.query.decode() == WHOLE_KEY_ARRAY_QUERY  # sent as signed, not re-encoded
    assert response.status_code == 200, response.text


def test_an_array_query_reordered_after_signing_gets_401(api: TevoApi) -> None:
    response = api.get("/orders", raw_query=WHOLE_KEY_ARRAY_QUERY, signed_query=RUBY_ARRAY_QUERY)
    assert (response.status_code, response.json()) == (401, BAD_SIGNATURE)


def test_a_query_reordered_after_signing_gets_401(api: TevoApi) -> None:
    response = api.get("/orders", raw_query="type=Order&state=pending", signed_query="state=pending&type=Order")
    assert (response.status_code, response.json()) == (401, BAD_SIGNATURE)


def test_a_body_altered_after_signing_gets_401(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    response = api.post(f"/orders/{order['id']}/accept", {"reviewer_id": 4711},
                        signed_body=b'{"reviewer_id":4712}')
    assert (response.status_code, response.json()) == (401, BAD_SIGNATURE)
    assert sandbox.inspect(order["id"])["state"] == "pending"


def test_a_signature_naming_another_host_gets_401(api: TevoApi) -> None:
    response = api.get("/orders", host="api.sandbox.ticketevolution.com")
    assert (response.status_code, response.json()) == (401, BAD_SIGNATURE)


def test_a_path_signed_without_v9_gets_401(api: TevoApi, sandbox: Sandbox) -> None:
    from tests.sandbox.helpers import sign

    headers = {"X-Token": sandbox.token, "X-Signature": sign(sandbox.secret, "GET", api.host, "/orders", b"")}
    response = api.http.get(sandbox.base_url + "/v9/orders", headers=headers)
    assert (response.status_code, response.json()) == (401, BAD_SIGNATURE)


def test_a_wrong_token_gets_the_unauthorized_401(api: TevoApi) -> None:
    response = api.get("/orders", token="A" * 32)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_a_missing_signature_gets_401(api: TevoApi, sandbox: Sandbox) -> None:
    response = api.http.get(sandbox.base_url + "/v9/orders", headers={"X-Token": sandbox.token})
    assert (response.status_code, response.json()) == (401, BAD_SIGNATURE)


def test_an_unknown_path_is_checked_then_not_found(api: TevoApi) -> None:
    assert api.get("/nothing/here", token="A" * 32).status_code == 401
    response = api.get("/nothing/here")
    assert (response.status_code, response.json()) == (404, fixture_json("errors/404_unknown_route.json"))
