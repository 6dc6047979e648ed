"""Every signature vector of docs/tevo-api.md §2.5, plus the signer on real httpx requests."""

import json

import httpx
import pytest

from tevo_bridge.tevo.signing import (
    TevoAuth,
    canonical_query,
    json_body,
    request_string_to_sign,
    string_to_sign,
    x_signature,
)

RUBY = "/3uZ9bXNe/6rxEBmlGLvoRXrcSzRDMfyJSewhlrc"
PY = "abcdefghijklmnopqrstuvwxyz12345678901234"
SB = "api.sandbox.ticketevolution.com"

# (secret, string to sign, signature): tables A to D verbatim.
VERBATIM = [
    ("xyz", "GET api.ticketevolution.com/brokerages?page=1&per_page=1", "ohGcFIHF3vg75A8Kpg42LNxuQpQZJsTBKv8xnZASzu0="),
    ("xyz", "GET api.ticketevolution.com/v9/brokerages?page=1&per_page=1", "n+kyuaIJKFuUTkEYCdMhR3l3o9WNBbTIJE3qcniboWE="),
    (RUBY, f"GET {SB}/test?", "1Ra2c8cbuw1G5Pw8BWaowDlMcxwMte8y/sL+vW2H4mY="),
    (RUBY, f"POST {SB}/test?", "pXqUawURysCxiIvPXCgTaQ1k5Nue0bAVHIyhrxJRmI0="),
    (RUBY, f"PUT {SB}/test?", "+INyuqXHZv3+ybyGM/mQIJVJ6RslR/xUAmcauZnHWBo="),
    (RUBY, f"DELETE {SB}/test?", "Mwr4Z+hveuo8ITaYwaRQ/QdxYotpw97ZH1JfJmblVQY="),
    (RUBY, f"GET {SB}/test?one=1&three=three&two=two", "8eaaqg6d4DJ2SEWkCvkdhc05dITmpNbUrcbN75UBGMA="),
    (RUBY, f'POST {SB}/test?{{"one":1,"two":"two","three":"three"}}', "6PMaU8JQ5kH4PZLl8agJrZRZqnn65UGcCUA80E2dTDg="),
    (RUBY, f'PUT {SB}/test?{{"one":1,"two":"two","three":"three"}}', "JEwlN3cuRXnb6rQlaorVYtlbGbBQRXs792YGQaH5BoM="),
    (RUBY, f'DELETE {SB}/test?{{"one":1,"two":"two","three":"three"}}', "aHXaOzCmuVttO2qSnaH5Ku4SN2q/ukoxz2FIbCRWmeY="),
    (RUBY, f"GET {SB}/v9/test?one=1&three=three&two=two", "YbwEmJL9P0hvpplEr2q2iL4Mpz+KevHUOjzgYh0ewh4="),
    (PY, f"GET {SB}/clients?", "CZ26dEtpFKkc21yjFK/FeFZ4Ak+9GLbdSQYKffbccd4="),
    (PY, f"GET {SB}/clients?page_num=1", "1cJFQkqe41x3AF5LPtDccmCvIcw97WXfkGksk+qUvq0="),
    (PY, f"GET {SB}/clients?per_page=1&page_num=1", "PIzIqixgOwy8XFrxFbqxM9vL9iyoifpV4VjgWHD2naE="),
    (PY, f'POST {SB}/clients?{{"clients": [{{"name": "Will Smith"}}]}}', "YvU94mY7jmk1eOu26M4pkl64lK1PkQskZznMhL82IaY="),
    ("xyz", "GET api.ticketevolution.com/v9/categories?", "yidB+5AKvQkztDcp12XYDDCNamSu/l4XVH/J8i5VYlg="),
    ("xyz", 'POST api.ticketevolution.com/v9/clients?{"clients":[{"name":"Michael Starr"}]}', "uNE/ki9rTubt5P6RSg3YYvehb3HX2GPtkmIoCAon5ys="),
    ("xyz", f"GET {SB}/v9/orders?state=pending&type=Order", "Kk8pTa3wHQoM8XYvuRVJy9iAXhs15B5XSHQ8I8RT+pM="),
    ("xyz", f'POST {SB}/v9/orders/190840/accept?{{"reviewer_id":2487,"seats":[911,912,913,914,915]}}', "1QDO6Cs8U05Rb4D2kLZcNuPEl+U00qyOTpPlN7+P5TI="),
    ("xyz", "GET api.ticketevolution.com/v9/orders?per_page=100&updated_at.gte=2015-08-21T01%3A44%3A18Z", "+PFd8LBwuuxvsZzw4iAtCsqGvMEOYpkQhI3ny7HvVf8="),
]


@pytest.mark.parametrize(("secret", "message", "signature"), VERBATIM)
def test_verbatim_vectors(secret, message, signature):
    assert x_signature(secret, message.encode()) == signature


def test_wiki_value_is_not_the_v9_signature():
    """The wiki prints ohGc… next to a /v9 string; it belongs to the string without /v9 (§2.5 A)."""
    assert x_signature("xyz", b"GET api.ticketevolution.com/v9/brokerages?page=1&per_page=1") != (
        "ohGcFIHF3vg75A8Kpg42LNxuQpQZJsTBKv8xnZASzu0="
    )


def test_node_readme_query_is_rebuilt_by_canonical_query():
    query = canonical_query({"updated_at.gte": "2015-08-21T01:44:18Z", "per_page": 100})
    message = string_to_sign("GET", "api.ticketevolution.com", "/v9/orders", query)
    assert x_signature("xyz", message) == "+PFd8LBwuuxvsZzw4iAtCsqGvMEOYpkQhI3ny7HvVf8="


# Table E: built through canonical_query / json_body, host SB and secret xyz unless given.
DERIVED = [
    ("GET", "/clients", {"per_page": 1, "page_num": 1}, None, PY,
     f"GET {SB}/clients?page_num=1&per_page=1", "rcqPKvZzaC98SDOLBTTj8k4qIkmdDwnIMjYIKFw+aVY="),
    ("GET", "/v9/orders", {"type": "Order", "state": "pending", "needs_eticket": True, "q": "Smith Tickets", "page": None}, None, "xyz",
     f"GET {SB}/v9/orders?needs_eticket=true&q=Smith+Tickets&state=pending&type=Order", "zHsfGbFMU2QgrWLkRgMvssoiYZOY13tKLuWkoRQoDFY="),
    ("GET", "/v9/orders", {"state": "pending", "type": "Order", "page": 1, "per_page": 100}, None, "xyz",
     f"GET {SB}/v9/orders?page=1&per_page=100&state=pending&type=Order", "L0pwG7hsEHX7nYOWJy7MNsolvOUZzrABLpelvBZSWzM="),
    ("GET", "/v9/orders", {"state": "accepted", "type": "Order", "direct_buyer_type": "Office", "page": 2, "per_page": 100}, None, "xyz",
     f"GET {SB}/v9/orders?direct_buyer_type=Office&page=2&per_page=100&state=accepted&type=Order", "y4vKYsI+FOoBBYQnfGZDyUCijRoQQfnoywL3ig6MAoc="),
    ("GET", "/v9/orders/473339", {}, None, "xyz",
     f"GET {SB}/v9/orders/473339?", "JAu/xoVM9xYF+J9lQEn7LgGM1+IS4nmj4pItf0C+fN0="),
    ("DELETE", "/v9/ticket_groups/12345", {}, None, "xyz",
     f"DELETE {SB}/v9/ticket_groups/12345?", "sJgTyJQPHyEQl3fWVQPH8jtWg8+kz0ELvxwRg6Q9omw="),
    ("POST", "/v9/shipments/75054/airbill", {}, None, "xyz",
     f"POST {SB}/v9/shipments/75054/airbill?", "teAgZEjN3DBqn5ghhK9V/yVa9AYswmISnGgFNbCjz+0="),
    ("POST", "/v9/orders/190840/reject", {}, {"reason": "Tickets No Longer Available", "reviewer_id": 2487, "rejection_notes": "Sold elsewhere"}, "xyz",
     f'POST {SB}/v9/orders/190840/reject?{{"reason":"Tickets No Longer Available","reviewer_id":2487,"rejection_notes":"Sold elsewhere"}}',
     "eXbCbyTpy/wre0Iz7Kc214P6nM0CzEfAK3orsOJxeVg="),
    ("POST", "/v9/orders/190840/items/5551/finalize_etickets", {}, {"keep_pages": [1, 2, 3, 4]}, "xyz",
     f'POST {SB}/v9/orders/190840/items/5551/finalize_etickets?{{"keep_pages":[1,2,3,4]}}', "bq1M0XVE6Onq9Uz0AzLWgRI5B4ASKPBapicU08yTwy0="),
    ("PUT", "/v9/shipments/75054/complete", {}, {"tm_mobile_link": "https://example.com/claim/a,https://example.com/claim/b", "transfer_source": "TM"}, "xyz",
     f'PUT {SB}/v9/shipments/75054/complete?{{"tm_mobile_link":"https://example.com/claim/a,https://example.com/claim/b","transfer_source":"TM"}}',
     "0I28ezwEUugyz5jFUVP2U+M467+EEWA8dQcfPnSn1Ek="),
]


@pytest.mark.parametrize(("method", "path", "params", "body", "secret", "message", "signature"), DERIVED)
def test_derived_vectors_through_the_builders(method, path, params, body, secret, message, signature):
    built = string_to_sign(method, SB, path, canonical_query(params), json_body(body) if body is not None else b"")
    assert built == message.encode()
    assert x_signature(secret, built) == signature


@pytest.mark.parametrize(("method", "path", "params", "body", "secret", "message", "signature"), DERIVED)
def test_derived_vectors_through_tevo_auth_on_the_wire(method, path, params, body, secret, message, signature):
    """TevoAuth signs what httpx actually sends: the URL and body bytes of the built request."""
    query = canonical_query(params)
    url = f"https://{SB}:8443{path}" + (f"?{query}" if query else "")
    request = httpx.Request(method, url, content=json_body(body) if body is not None else None)
    signed = next(TevoAuth("t" * 32, secret).auth_flow(request))
    assert request_string_to_sign(signed) == message.encode()
    assert signed.headers["X-Signature"] == signature
    assert signed.headers["X-Token"] == "t" * 32


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"two": "two", "one": 1, "three": "three"}, "one=1&three=three&two=two"),
        ({"needs_eticket": False, "state": "accepted"}, "needs_eticket=false&state=accepted"),
        ({"a": "x~y z*'"}, "a=x~y+z%2A%27"),
    ],
)
def test_canonicalisation(params, expected):
    assert canonical_query(params) == expected


def test_lists_in_a_query_are_refused():
    with pytest.raises(TypeError, match="ids"):
        canonical_query({"ids": [1, 2]})


def test_query_and_body_together_are_refused():
    with pytest.raises(ValueError, match="both"):
        string_to_sign("DELETE", SB, "/v9/x", "a=1", b"{}")


def test_bodies_are_compact_ascii():
    assert json_body({"name": "Zoë"}) == b'{"name":"Zo\\u00eb"}'
    assert json.loads(json_body({"name": "Zoë"})) == {"name": "Zoë"}


def test_auth_repr_hides_credentials():
    assert "sekrit" not in repr(TevoAuth("tok", "sekrit"))
