"""``[notify] urls`` as Apprise reads them: checked without quoting, masked in Apprise's privacy form, their secret
parts known to the log redactor, and passed whole to a child daemon."""

from __future__ import annotations

import pytest

from tevo_bridge.config import Settings, settings_env
from tevo_bridge.log import Redactor
from tevo_bridge.notify_urls import destination_id, masked, problem, secret_parts

CASES = [
    # (url, a secret in it, what the masked form starts with)
    ("mailtos://alerts:MailPassw0rd99@smtp.example.com:587?to=ops@example.com", "MailPassw0rd99",
     "mailtos://alerts:****@smtp.example.com"),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#orders", "TIiajkdnlazkcOXrIdevi7FQ", "slack://T...2/"),
    ("tgram://123456789:ABCdefGhIJKlmnOPQRsTUVwxyZ/987654321", "ABCdefGhIJKlmnOPQRsTUVwxyZ", "tgram://1...Z/"),
    ("json://hook:HookS3cret42@hooks.example.com/tevo", "HookS3cret42", "json://hook:****@hooks.example.com/tevo"),
]


@pytest.mark.parametrize(("url", "secret", "shown"), CASES)
def test_a_url_is_shown_masked_and_its_secret_is_known_to_the_redactor(url: str, secret: str, shown: str) -> None:
    assert problem(url) is None
    assert masked(url).startswith(shown) and secret not in masked(url)
    assert secret in "".join(secret_parts(url))
    redactor = Redactor(Settings(notify={"urls": [url]}).secrets())
    assert secret not in str(redactor(None, "info", {"event": f"sending failed: {url} said no ({secret})"}))


def test_a_url_apprise_cannot_read_is_refused_and_shown_only_by_its_scheme() -> None:
    assert "not a URL Apprise can send to" in (problem("nosuchservice://Tok3nTok3n/abc") or "")
    assert "is not a URL (SCHEME://...)" in (problem("smtp.example.com") or "")
    assert masked("nosuchservice://Tok3nTok3n/abc") == "nosuchservice://****"
    assert "Tok3nTok3n" in secret_parts("nosuchservice://Tok3nTok3n/abc")


def test_short_option_words_are_not_redacted_from_every_log_line() -> None:
    parts = secret_parts("json://hooks.example.com/tevo?token=abc&method=POST")
    assert not {"token", "POST", "method"} & set(parts)


def test_a_destination_is_named_by_a_digest_that_survives_reordering() -> None:
    a, b = "json://a.example.com/x", "json://b.example.com/y"
    assert destination_id(a) != destination_id(b) and len(destination_id(a)) == 16
    assert destination_id(a) == destination_id(a)


def test_a_child_daemon_gets_the_urls_whole() -> None:
    url = CASES[0][0]
    env = settings_env(Settings(notify={"urls": [url]}))
    assert env["TEVO_BRIDGE_NOTIFY__URLS"] == f'["{url}"]'
