"""Everything the daemon needs before it may start, checked in one place: ``validate(settings)``.

``tevo-bridge check`` and ``tevo-bridge run`` both call it, so a config that ``check`` passes is one
``run`` accepts, and a refusal reads the same from both.  It changes nothing and calls no one: the
POS plugin is imported and its hooks and settings checked, but it is not started (that may connect
to the POS; ``check --online`` and ``run`` start it).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from typing import Literal

from tevo_bridge.config import Settings
from tevo_bridge.config_env import source_variable

__all__ = ["Problem", "validate"]

TOKEN_RE = re.compile(r"^[a-zA-Z0-9]{32}$")
SECRET_RE = re.compile(r"^\S{40}$")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing to fix: an ``error`` stops ``run`` (and fails ``check``); a ``warning`` is legal but probably wrong."""

    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


def validate(settings: Settings) -> list[Problem]:
    """Every problem with ``settings``: errors first, then warnings."""
    problems = [*_credentials(settings), *_budgets(settings), *_plugin(settings), *_fulfilment(settings),
                *_store(settings), *_dashboard(settings), *_secret_strength(settings), *_notify(settings)]
    return sorted(problems, key=lambda p: p.severity != "error")


def _credentials(settings: Settings) -> list[Problem]:
    tevo = settings.tevo
    problems = []
    token, secret = tevo.token.get_secret_value(), tevo.secret.get_secret_value()
    if not token or not secret:
        problems.append(Problem("[tevo] token/secret are not set: the daemon cannot sign a call. Fix: set "
                                "TEVO_BRIDGE_TEVO__TOKEN and TEVO_BRIDGE_TEVO__SECRET (or token/secret in [tevo])."))
    else:
        # Shapes are TEvo's today, not a promise (docs/tevo-api.md §1): warn, don't refuse.
        if not TOKEN_RE.match(token):
            problems.append(Problem("[tevo] token does not look like a TEvo token (32 letters and digits).",
                                    "warning"))
        if not SECRET_RE.match(secret):
            problems.append(Problem("[tevo] secret does not look like a TEvo secret (40 characters, no spaces).",
                                    "warning"))
    if not tevo.reviewer_id:
        problems.append(Problem("[tevo] reviewer_id is 0: accepting and rejecting orders needs the id of a user of "
                                "your brokerage. Fix: e.g. reviewer_id = 4711 (or TEVO_BRIDGE_TEVO__REVIEWER_ID)."))
    webhook_token = settings.server.webhook_token.get_secret_value()
    if not webhook_token:
        problems.append(Problem("[server] webhook_token is not set: the webhook route stays closed until it is.",
                                "warning"))
    if not settings.server.order_integration.api_keys:
        problems.append(Problem("[server.order_integration] api_keys is empty: Order Integration calls will all "
                                "get 401.", "warning"))
    return problems


def _secret_strength(settings: Settings) -> list[Problem]:
    """Our own secrets must resist guessing from the open internet; TEvo's token/secret have TEvo's shapes."""
    from tevo_bridge.security_checks import short_secrets, weak_password_hash

    problems = [Problem(f"{_where(settings, loc)}{message}") for loc, message in short_secrets(settings)]
    weak = weak_password_hash(settings.dashboard)
    if weak:
        problems.append(Problem(f"{_where(settings, ['dashboard', 'password_hash'])}: {weak}"))
    return problems


def _dashboard(settings: Settings) -> list[Problem]:
    """The dashboard can act on orders: refuse a password mode without a usable hash, warn when it is open wide."""
    from ipaddress import ip_address

    from tevo_bridge.dashboard.auth import valid_hash

    dash, server = settings.dashboard, settings.server
    if not dash.enabled:
        return []
    problems = []
    if dash.auth == "password" and not valid_hash(dash.password_hash.get_secret_value()):
        problems.append(Problem("[dashboard] auth = \"password\" needs password_hash: the line `tevo-bridge dashboard "
                                "hash-password` prints. Fix: set TEVO_BRIDGE_DASHBOARD__PASSWORD_HASH to it."))
    try:
        loopback = ip_address(server.admin_host).is_loopback
    except ValueError:
        loopback = server.admin_host == "localhost"
    if server.admin_port is not None and dash.auth == "none" and not loopback:
        problems.append(Problem(f"[dashboard] auth = \"none\" while the admin listener is on {server.admin_host}: "
                                "anyone who reaches it can read buyers' details and retry orders. Fix: set "
                                "[dashboard] auth = \"password\" with the password_hash `tevo-bridge dashboard "
                                "hash-password` prints, or admin_host = \"127.0.0.1\"."))
    if server.admin_port is not None and server.admin_host in ("0.0.0.0", "::") and not server.admin_hosts:
        problems.append(Problem(f"[server] admin_host = \"{server.admin_host}\" with no admin_hosts: the admin "
                                "listener answers only requests addressed to localhost or a loopback address (421 "
                                "for any other Host, against DNS rebinding), so Prometheus or a browser reaching "
                                "it by this machine's name or address is refused. Fix: list that name or address "
                                "in [server] admin_hosts, e.g. admin_hosts = [\"10.0.0.5\"].", "warning"))
    if dash.auth == "proxy" and not server.trusted_proxies:
        problems.append(Problem("[dashboard] auth = \"proxy\" without [server] trusted_proxies: the user header "
                                f"({dash.proxy_user_header}) would be believed from nobody, so nobody could log in. "
                                "Fix: set [server] trusted_proxies to your reverse proxy's address, e.g. "
                                "trusted_proxies = [\"127.0.0.1\"]."))
    return problems


def _store(settings: Settings) -> list[Problem]:
    """An existing store must be one this code can run: a newer tevo-bridge's is refused (docs/operations.md)."""
    from tevo_bridge.store.files import inspect_store
    from tevo_bridge.store.vocabulary import StoreError

    if settings.store.postgres_url is not None:
        return []  # a database, checked when the daemon connects (it refuses a newer schema the same way)
    if not settings.store.path.exists():
        return []  # the daemon creates it
    try:
        inspect_store(settings.store.path)
    except StoreError as exc:
        return [Problem(f"[store] path: {exc}")]
    return []


def _budgets(settings: Settings) -> list[Problem]:
    from tevo_bridge.pos.host import resolve_budgets

    try:
        resolve_budgets(settings.pos.budgets)
    except ValueError as exc:
        return [Problem(f"{_where(settings, ['pos', 'budgets'])}: {exc}. Fix: e.g. budgets = {{ pos_hold = 3.0 }}.")]
    return []


def _plugin(settings: Settings) -> list[Problem]:
    """The active plugin as the daemon's start will find it: importable, hooks usable, its settings valid."""
    from tevo_bridge.pos.discovery import checked_manager, load_plugin_class
    from tevo_bridge.pos.errors import PluginConfigError, PluginLoadError
    from tevo_bridge.pos.host import plugin_config

    name = settings.pos.plugin
    try:
        plugin_class = load_plugin_class(name)
        checked_manager(name, plugin_class)
        plugin_config(name, plugin_class, settings.plugins.get(name, {}), settings.config_dir)
    except PluginConfigError as exc:
        known = list(getattr(plugin_class, "Config").model_fields)  # noqa: B009  (mypy: a bare type)
        return [_plugin_setting(settings, name, key, message, known) for key, message in exc.problems]
    except PluginLoadError as exc:
        return [Problem(f"{_where(settings, ['pos', 'plugin'])} = {name!r} cannot be used: {exc}. "
                        "Fix: `tevo-bridge plugins` lists the installed plugins and what is wrong with each.")]
    return []


def _plugin_setting(settings: Settings, name: str, dotted: str, message: str, known: list[str]) -> Problem:
    key = dotted.removeprefix(f"plugins.{name}.")
    loc = ["plugins", name, *key.split(".")]
    message = message.removeprefix("Value error, ")  # pydantic's prefix for a validator's own message
    close = difflib.get_close_matches(key, known, n=1)
    if message == "Extra inputs are not permitted":
        message = "unknown key"
        fix = f"did you mean {close[0]!r}?" if close else f"remove it; valid keys are {', '.join(known)}"
    elif message.startswith(("no file at", "no folder at")):
        fix = f"create it, or correct the path (a relative one is under {settings.config_dir})"
    else:
        fix = f"correct [plugins.{name}] {key} as the {name} plugin's documentation describes"
    return Problem(f"{_where(settings, loc)}: {message}. Fix: {fix}{'' if fix.endswith('?') else '.'}")


def _notify(settings: Settings) -> list[Problem]:
    """Every destination must be one Apprise can send to: a typo found at start-up, not when an order is stuck."""
    from tevo_bridge.notify_urls import masked, problem

    problems = []
    for index, secret in enumerate(settings.notify.urls):
        url = secret.get_secret_value()
        wrong = problem(url)
        if wrong is not None:
            problems.append(Problem(f"{_where(settings, ['notify', 'urls'])}[{index}] ({masked(url)}) {wrong}. "
                                    "Fix: correct it, or remove it from the list."))
    if settings.notify.urls and not settings.notify.dashboard_url and settings.server.admin_port is None:
        problems.append(Problem("[notify] dashboard_url is not set and there is no admin listener: messages will not "
                                "link the orders they name. Fix: set dashboard_url to where you open the dashboard, "
                                "e.g. \"https://admin.tickets.example.com/dashboard\".", "warning"))
    return problems


def _fulfilment(settings: Settings) -> list[Problem]:
    from tevo_bridge.fulfillment.capability import missing_settings  # the fulfilment stack, only when checking

    # Legal: the daemon runs, and sends orders of that kind to needs_review before accepting them.
    return [Problem(message, "warning") for message in missing_settings(settings.fulfillment).values()]


def _where(settings: Settings, loc: list[str]) -> str:
    """The variable that set ``loc``, or the file and ``[section] key``: where the seller goes to fix it."""
    variable = source_variable(loc, os.environ)
    if variable is not None:
        return variable
    head = f"[{'.'.join(loc[:-1])}] {loc[-1]}" if len(loc) > 1 else loc[0]
    return f"{settings.config_file}: {head}" if settings.config_file else head
