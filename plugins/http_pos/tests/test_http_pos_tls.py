"""TLS to the POS: the certificate is checked by default, a private CA is trusted through ``ca_file``, and
``verify_tls = false`` turns the check off. A real TLS listener on loopback, its certificate made by openssl."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from pydantic import ValidationError
from tevo_bridge_http_pos import HttpPos
from tevo_bridge_http_pos.reference import create_app
from tevo_bridge_http_pos.reference_store import ReferenceStore

from tevo_bridge.pos.host import PluginHost


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA), and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a certificate for the TLS tests")
    cert, key = tmp_path / "pos-cert.pem", tmp_path / "pos-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def tls_url(tmp_path: Path, certificate: tuple[Path, Path], token: str) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = ReferenceStore(tmp_path / "pos.sqlite3")
    config = uvicorn.Config(create_app(store, token), host="127.0.0.1", port=port, ssl_certfile=str(certificate[0]),
                            ssl_keyfile=str(certificate[1]), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = time.monotonic()
    while not server.started and thread.is_alive() and time.monotonic() - started < 30:  # a liveness bound
        time.sleep(0.02)
    assert server.started, "the TLS listener did not start"
    yield f"https://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(15)
    store.close()


def health(url: str, token: str, make_pos_host: Callable[..., PluginHost], **settings: object) -> str:
    host = make_pos_host(HttpPos(HttpPos.Config.model_validate({"base_url": url, "token": token} | settings)))
    answer = host.health_sync()
    return "ok" if answer.ok else answer.reason


def test_an_untrusted_certificate_is_refused_by_default(
    tls_url: str, token: str, make_pos_host: Callable[..., PluginHost],
) -> None:
    assert "CERTIFICATE_VERIFY_FAILED" in health(tls_url, token, make_pos_host)


def test_a_private_ca_is_trusted_through_ca_file(
    tls_url: str, token: str, certificate: tuple[Path, Path], make_pos_host: Callable[..., PluginHost],
) -> None:
    assert health(tls_url, token, make_pos_host, ca_file=str(certificate[0])) == "ok"


def test_verify_tls_off_skips_the_check(tls_url: str, token: str, make_pos_host: Callable[..., PluginHost]) -> None:
    assert health(tls_url, token, make_pos_host, verify_tls=False) == "ok"


def test_a_ca_file_that_does_not_exist_is_refused_naming_the_setting(tmp_path: Path, token: str) -> None:
    with pytest.raises(ValidationError, match="ca_file"):
        HttpPos.Config(base_url="https://pos.example.com", token=token, ca_file=tmp_path / "missing.pem")
