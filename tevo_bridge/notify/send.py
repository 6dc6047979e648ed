"""One message to one Apprise destination, off the event loop, within a deadline, its failure said without secrets.

Apprise's ``notify`` blocks (SMTP, HTTP) and has no overall deadline of its own, so each send runs on a daemon
thread of its own: a destination that hangs costs that thread, never the event loop nor the other destinations,
and cannot keep the process from exiting. The call's own log (Apprise 2's result) gives the failure's reason,
scrubbed of the URL's secrets (``notify_urls.secret_parts``) before anyone sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from tevo_bridge.notify_urls import secret_parts

MASK = "****"


def send_blocking(url: str, title: str, body: str) -> str | None:
    """Send now; None when the destination took it, else why not (secrets masked)."""
    import apprise

    client = apprise.Apprise()
    if not client.add(url):
        return "not a URL Apprise can send to"
    result = client.notify(title=title, body=body)
    if result:
        return None
    return scrub(_reasons(result) or "the destination refused the message", url)


def _reasons(result: object) -> str:
    """The warnings Apprise logged for this one call (its result's own log, Apprise 2; 1.x returns a bare bool).

    *Why not ``apprise.LogCapture``:* it captures the shared ``apprise`` logger whole, so destinations sent at
    once would read, and store, each other's errors.
    """
    logs = getattr(result, "logs", None)
    if not callable(logs):
        return ""
    lines = [str(entry.message).strip() for entry in logs() if getattr(entry, "level", "") in ("WARNING", "ERROR")]
    return "; ".join(lines[-3:])


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
