"""One message to one Apprise destination, off the event loop, within a deadline, its failure said without secrets.

Apprise's ``notify`` blocks (SMTP, HTTP) and has no overall deadline of its own, so each send runs on a daemon
thread of its own: a destination that hangs costs that thread, never the event loop nor the other destinations,
and cannot keep the process from exiting. Its log lines are captured for the failure's reason and scrubbed of
the URL's secrets (``notify_urls.secret_parts``) before anyone sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from tevo_bridge.notify_urls import secret_parts

MASK = "****"


def send_blocking(url: str, title: str, body: str) -> str | None:
    """Send now; None when the destination took it, else why not (secrets masked)."""
    import apprise

    client = apprise.Apprise()
    if not client.add(url):
        return "not a URL Apprise can send to"
    with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
        ok = client.notify(title=title, body=body)
        logged = captured.getvalue()
    if ok:
        return None
    return scrub(_last_lines(logged) or "the destination refused the message", url)


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line.split(" - ", 2)[-1].strip() for line in text.strip().splitlines() if line.strip()]
    return "; ".join(lines[-count:])


def scrub(text: str, url: str) -> str:
    """``text`` with the URL and each of its secret parts masked, longest first."""
    for secret in sorted([url, *secret_parts(url)], key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text[:500]


async def send(url: str, title: str, body: str, timeout: float) -> str | None:
    """``send_blocking`` on a daemon thread; a send still running after ``timeout`` seconds counts as failed."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[str | None] = loop.create_future()

    def report(result: str | None) -> None:
        if not done.done():
            done.set_result(result)

    def work() -> None:
        try:
            result = send_blocking(url, title, body)
        except Exception as exc:  # a plugin of Apprise's raising: a failed send, said without the URL
            result = scrub(f"{type(exc).__name__}: {exc}", url)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits for this answer
            loop.call_soon_threadsafe(report, result)

    threading.Thread(target=work, name="notify-send", daemon=True).start()
    try:
        return await asyncio.wait_for(asyncio.shield(done), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
