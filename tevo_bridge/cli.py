"""The ``tevo-bridge`` command: run, demo, check, orders, store, plugins, sign, sandbox.

Errors a seller can fix are printed as one clear message and exit 2, never as
a traceback.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qsl, urlsplit

import typer

from tevo_bridge import __version__
from tevo_bridge.cli_support import (
    ConfigOption,
    LogLevelOption,
    fail,
    open_store_or_exit,
    settings_or_exit,
    store_or_exit,
)
from tevo_bridge.config import Settings, find_config
from tevo_bridge.log import get_logger
from tevo_bridge.store.files import StoreFacts
from tevo_bridge.store.vocabulary import (
    ORDER_STATES,
    PG_SCHEMA_VERSION,
    SCHEMA_VERSION,
    StoreError,
    schema_versions_text,
)
from tevo_bridge.term import echo, visible

if TYPE_CHECKING:  # annotations only: the command imports the POS layer when it runs
    from tevo_bridge.pos.types import PosHealth
    from tevo_bridge.store import SqliteStore
    from tevo_bridge.store.postgres import PostgresStore
from tevo_bridge.tevo.signing import canonical_query, string_to_sign, x_signature
from tevo_bridge.validation import Problem, validate

app = typer.Typer(
    name="tevo-bridge",
    help="Automate Ticket Evolution order processing for a seller's point of sale.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

def _mask(value: Any) -> str:
    secret = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return "(not set)" if not secret else f"*** ({len(secret)} characters)"


def validated_or_exit(settings: Settings, said_first: str | None = None) -> list[Problem]:
    """The one validation of ``check`` and ``run``: any error stops both, with the same lines; returns the warnings.

    ``said_first``: a line the refusal starts with (``run``'s "config: FILE", which ``check`` has already said)."""
    problems = validate(settings)
    if any(p.severity == "error" for p in problems):
        fail("\n".join([*([said_first] if said_first else []), *(str(p) for p in problems)]))
    return problems


def summary(settings: Settings) -> list[str]:
    t, s = settings.tevo, settings.server
    return [
        f"tevo:      {t.base_url} (office {t.office_id}, brokerage {t.brokerage_id}, reviewer {t.reviewer_id})",
        f"           token {_mask(t.token)}, secret {_mask(t.secret)}",
        f"server:    http://{s.host}:{s.port}  webhook token {_mask(s.webhook_token)}, "
        f"{len(s.order_integration.api_keys)} Order Integration key(s)",
        f"           hold budget {s.hold_budget}s, hold ttl {s.hold_ttl}s, body limit {s.max_body_bytes} bytes",
        f"store:     {settings.store.describe()}",
        f"poller:    {'every ' + str(settings.poller.interval) + 's' if settings.poller.enabled else 'off'}",
        f"pipeline:  {settings.pipeline.workers} workers, {settings.pipeline.max_attempts} attempts, "
        f"auto_reject={settings.pipeline.auto_reject}{_connections(settings)}",
        f"pos:       plugin {settings.pos.plugin!r}",
        f"log:       {settings.log.level}, {settings.log.format}",
        f"dashboard: {_dashboard_line(settings)}",
    ]


def _connections(settings: Settings) -> str:
    """On PostgreSQL, what each replica asks of the server's max_connections (docs/operations.md, "PostgreSQL")."""
    if settings.store.postgres_url is None:
        return ""
    from tevo_bridge.store.backends import pg_connections

    return f", up to {pg_connections(settings.pipeline.workers)} PostgreSQL connections per replica"


def _dashboard_line(settings: Settings) -> str:
    dash, s = settings.dashboard, settings.server
    if not dash.enabled:
        return "off"
    if s.admin_port is None:
        return "off until [server] admin_port is set (it is served on the admin listener only)"
    return f"http://{s.admin_host}:{s.admin_port}/dashboard/ (auth {dash.auth}, times in {dash.time_zone})"


@app.command()
def check(
    config: ConfigOption = None,
    online: Annotated[bool, typer.Option("--online", help="Also prove the credentials with one signed call.")] = False,
    log_level: LogLevelOption = None,
) -> None:
    """Refuse what `run` would refuse, offline (with --online, also the TEvo credentials and the plugin's start)."""
    settings = settings_or_exit(config, log_level)
    warnings = validated_or_exit(settings)
    echo(f"config OK ({settings.config_file or 'environment'})")
    for line in summary(settings):
        echo("  " + line)
    for warning in warnings:
        echo(str(warning))
    _echo_registration(settings)
    if online:
        asyncio.run(_check_online(settings))
        _start_plugin(settings)


def _start_plugin(settings: Settings) -> None:
    """Start the POS plugin as ``run`` does (it may connect to the POS, hence only with --online), then stop it."""
    from tevo_bridge.pos.errors import PluginLoadError
    from tevo_bridge.pos.host import PluginHost

    try:
        host = PluginHost.load(settings.pos.plugin, settings.plugins.get(settings.pos.plugin, {}),
                               settings.pos.budgets, base_dir=settings.config_dir)
    except PluginLoadError as exc:
        fail(f"error: POS plugin {settings.pos.plugin!r} cannot be used: {exc}")
    try:
        answer = host.health_sync()
    finally:
        host.close()
    _echo_pos_health(settings, answer)


def _echo_pos_health(settings: Settings, answer: PosHealth) -> None:
    """Say what ``pos_health`` said: a started plugin whose POS is down or refuses the key is not OK."""
    from tevo_bridge.dashboard.figures import all_secrets, redact

    name = settings.pos.plugin
    if answer.ok is False:
        fail(f"error: POS plugin {name!r} started, but pos_health says the POS cannot be used: "
             f"{redact(answer.reason, all_secrets(settings))}. Fix the [plugins.{name}] settings or the POS, "
             "then run `tevo-bridge check --online` again.")
    state = "ok" if answer.ok else "unknown (the plugin has no pos_health hook)"
    echo(f"plugin OK: {name} started; pos_health: {state}")


def _echo_registration(settings: Settings) -> None:
    from tevo_bridge.registration import registration_lines

    for line in registration_lines(settings.server):
        echo(line)


#: ``check --online`` tries TEvo once, this long at most: a person is waiting (the daemon retries instead).
ONLINE_TIMEOUT = 5.0


async def _check_online(settings: Settings) -> None:
    from tevo_bridge.tevo.client import TevoClient
    from tevo_bridge.tevo.errors import AuthError, NotFound, TevoError

    if not settings.tevo.token.get_secret_value() or not settings.tevo.secret.get_secret_value():
        fail("error: --online needs [tevo] token and secret.")
    async with TevoClient.from_settings(settings.tevo, probe_timeout=ONLINE_TIMEOUT) as tevo:
        try:
            user = await tevo.get_user(settings.tevo.reviewer_id)
        except AuthError as exc:
            fail(f"error: TEvo refused the credentials ({exc}). Check [tevo] token and secret, and that "
                 f"base_url is the environment they were issued for; `tevo-bridge sign` shows what was signed.")
        except NotFound:
            fail(f"error: credentials OK, but reviewer_id {settings.tevo.reviewer_id} is not a user TEvo knows. "
                 "Fix: set [tevo] reviewer_id to a user of your brokerage.")
        except TevoError as exc:
            fail(f"error: could not reach TEvo at {settings.tevo.base_url}: {exc} (one attempt, at most "
                 f"{ONLINE_TIMEOUT:g} s). Fix: check [tevo] base_url, and this host's DNS, proxy and firewall.")
    name = user.get("name") or user.get("email") or ""
    echo(f"online OK: signed call accepted; reviewer {settings.tevo.reviewer_id} {name}".rstrip())
    url = settings.store.postgres_url
    if url is not None:
        from tevo_bridge.store.postgres import inspect_database

        try:
            version = inspect_database(url)
        except StoreError as exc:
            fail(f"error: [store] url: {exc}")
        found = f"PostgreSQL schema version {version}" if version else "no PostgreSQL schema yet"
        echo(f"store OK: {settings.store.describe()} reachable, {found} (this tevo-bridge writes PostgreSQL "
             f"schema version {PG_SCHEMA_VERSION})")


@app.command()
def sign(
    method: Annotated[str, typer.Argument(help="HTTP method, e.g. GET")],
    url: Annotated[str, typer.Argument(help="Full URL, e.g. https://api.ticketevolution.com/v9/orders?state=pending")],
    body: Annotated[str | None, typer.Option("--body", help="The exact JSON body text that is sent.")] = None,
    config: ConfigOption = None,
) -> None:
    """Print the string TEvo signs and its X-Signature: the tool for a 401."""
    settings = settings_or_exit(config)
    secret = settings.tevo.secret.get_secret_value()
    if not secret:
        fail("error: no secret: set [tevo] secret in the config or TEVO_BRIDGE_TEVO__SECRET.")
    parts = urlsplit(url)
    if not parts.hostname or not parts.path:
        fail(f"error: {url!r} is not a full URL. Example: https://api.ticketevolution.com/v9/orders?state=pending")
    query = canonical_query(dict(parse_qsl(parts.query, keep_blank_values=True)))
    if parts.query and query != parts.query:
        echo(f"note: TEvo requires the sorted, encoded query; send ?{query}", err=True)
    if body is not None and query:
        fail("error: a request with both a query and a body has no defined signature (docs/tevo-api.md §2.1).")
    message = string_to_sign(method, parts.hostname, parts.path, query, (body or "").encode("utf-8"))
    echo(f"string to sign: {message.decode('utf-8')}")
    echo(f"X-Signature:    {x_signature(secret, message)}")


@app.command()
def demo(
    orders: Annotated[int, typer.Option("--orders", min=1, max=2000, help="How many orders to drive.")] = 50,
    seed: Annotated[int, typer.Option("--seed", help="Seed for inventory, scenarios and credentials.")] = 1,
    keep: Annotated[Path | None, typer.Option(
        "--keep", help="Keep the demo's files (logs, databases) in this folder; without it they are removed "
                       "when the demo passes.")] = None,
    pos: Annotated[str, typer.Option(
        "--pos", help="The POS: sqlite (the sample plugin) or skybox (the SkyBox plugin against its simulator; "
                      "needs plugins/skybox_pos installed).")] = "sqlite",
) -> None:
    """See it work: sandbox TEvo, the daemon and a SQLite POS on loopback, orders through every channel."""
    from tevo_bridge.demo import POS_CHOICES, run_demo

    if pos not in POS_CHOICES:
        fail(f"error: --pos {pos!r}: choose one of {', '.join(POS_CHOICES)}")
    result = run_demo(orders=orders, seed=seed, keep=keep, pos=pos)
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def run(config: ConfigOption = None, log_level: LogLevelOption = None) -> None:
    """Run the daemon: Order Integration and webhook server, worker and poller."""
    from tevo_bridge.daemon import serve
    from tevo_bridge.pos.errors import PluginLoadError

    settings = settings_or_exit(config, log_level, announce=False)
    log = get_logger("tevo_bridge.cli")
    source = find_config(config).describe()
    warnings = validated_or_exit(settings, said_first=source)
    log.info("config.file", source=source.removeprefix("config: "))  # stderr is the log: JSON under systemd
    for warning in warnings:  # in the log, as the service's every other line
        log.warning("config.warning", problem=warning.message)
    from tevo_bridge.service import EXIT_CANNOT_LISTEN, ListenError

    try:
        serve(settings)
    except PluginLoadError as exc:
        fail(f"error: POS plugin {settings.pos.plugin!r} cannot be used: {exc}")
    except ListenError as exc:  # raised before the store, the plugin or TEvo were touched
        fail(f"error: {exc}", EXIT_CANNOT_LISTEN)
    except StoreError as exc:  # a newer schema, or another daemon on this store: a person must act
        fail(f"error: {exc}")


@app.command()
def plugins(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Installed POS plugins: version, hooks, status (broken ones show their error)."""
    from tevo_bridge.pos.cli import plugins_command

    source = find_config(config)
    if source.path is None:  # no settings to load, but the listing still says it used none
        echo(source.describe(), err=True)
    active = settings_or_exit(config).pos.plugin if source.path is not None else None
    raise typer.Exit(plugins_command(active, as_json))


def _sandbox_app() -> typer.Typer:
    from tevo_bridge.sandbox.cli import sandbox_app

    return sandbox_app


app.add_typer(_sandbox_app(), name="sandbox", help="A TEvo simulator on loopback for trying the bridge offline.")
from tevo_bridge.pos.scaffold import plugin_app  # noqa: E402  (beside its registration, like sandbox's)

app.add_typer(plugin_app, name="plugin", help="Tools for POS plugin authors: `plugin new NAME` creates a plugin package.")

from tevo_bridge.dashboard.cli import dashboard_app  # noqa: E402

app.add_typer(dashboard_app, name="dashboard", help="The operator dashboard: hash-password, serve (docs/dashboard.md).")

from tevo_bridge.notify.cli import notify_app  # noqa: E402

app.add_typer(notify_app, name="notify", help="Notifications: `notify test` sends a test message to each destination.")

orders_app = typer.Typer(help="Look at and act on the orders the daemon knows.", no_args_is_help=True)
app.add_typer(orders_app, name="orders")


JsonOption = Annotated[bool, typer.Option("--json", help="One JSON document instead of text (README, "
                                                          "\"JSON output\").")]
OrderIdArgument = Annotated[int, typer.Argument(help="The TEvo order id, as `orders list` shows it.")]


def _store(config: Path | None) -> SqliteStore | PostgresStore:
    return open_store_or_exit(settings_or_exit(config))


def _state_or_exit(state: str | None) -> str | None:
    if state is not None and state not in ORDER_STATES:
        fail(f"error: --state {state!r} is not an order state. Valid states: {', '.join(ORDER_STATES)}.")
    return state


def _echo_json(document: Any) -> None:
    typer.echo(json.dumps(document, default=str))  # ensure_ascii: controls arrive as \u escapes


@orders_app.command("list")
def orders_list(
    config: ConfigOption = None,
    state: Annotated[str | None, typer.Option(
        "--state", help=f"Only orders in this state: {', '.join(ORDER_STATES)}.", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Orders with their state, age, buyer, items, and why a rejected one was rejected (or the last error)."""
    from tevo_bridge.cli_views import order_rows, order_table, table_console

    state = _state_or_exit(state)
    views = order_rows(_store(config).list_orders(state))
    if as_json:
        _echo_json(views)
        return
    console = table_console()
    console.print(order_table(views, fit=console.is_terminal))


@orders_app.command("show")
def orders_show(
    order_id: OrderIdArgument,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One order: TEvo snapshot and the audit trail of everything done to it."""
    from tevo_bridge.cli_views import audit_move, audit_view, order_view, shipment_text

    store = _store(config)
    row = store.get_order(order_id)
    if row is None:
        fail(f"error: order {order_id} is not in the store.")
    trail = [audit_view(a) for a in store.audit_trail(order_id)]
    if as_json:
        _echo_json({**order_view(row), "snapshot": row.snapshot_json(), "audit": trail})
        return
    # Every field through visible(): one line per field, whatever newline or escape TEvo or the POS put in it.
    v = visible
    view = order_view(row)
    echo(f"order {row.id}: {v(row.state)} (TEvo: {v(view['tevo']['said'])}); buyer {v(row.buyer_type)} "
         f"{v(row.buyer_id)}; invoice {v(row.invoice_id or '-')}; via {v(row.source)}")
    pos = view["pos"]
    echo(f"POS: hold {v(pos['hold_id'] or '-')}, invoice {v(pos['invoice_id'] or '-')}, "
         f"customer {v(pos['customer_id'] or '-')}")
    for shipment in view["tevo"]["shipments"]:
        echo(f"TEvo shipment {v(shipment_text(shipment))}")
    if row.last_error:
        echo(f"last error: {v(row.last_error)}")
    for entry in trail:
        move = v(audit_move(entry["action"], entry["from_state"], entry["to_state"]))
        echo(f"  {v(entry['at'])}  {move:<32} {v(entry['reason'] or '')}")


@orders_app.command("retry")
def orders_retry(
    order_id: OrderIdArgument,
    config: ConfigOption = None,
    redeliver: Annotated[bool, typer.Option(
        "--redeliver", help="Run a done order's delivery steps again (what TEvo already has is kept).")] = False,
) -> None:
    """Send an order back through the pipeline (e.g. from needs_review after fixing the POS).

    The pipeline continues from the facts (what TEvo says, whether the POS invoiced it, what was
    delivered), so a retry never accepts, invoices or delivers twice.
    """
    store = _store(config)
    outcome = store.retry_order(order_id, redeliver=redeliver)
    if outcome == "unknown":
        fail(f"error: order {order_id} is not in the store.")
    if outcome == "terminal":
        row = store.get_order(order_id)
        state = row.state if row else "finished"
        hint = (" Use --redeliver to run its delivery steps again." if state == "done"
                else " Nothing is left to do for it in tevo-bridge.")
        fail(f"error: order {order_id} is {state}: a retry would change nothing.{hint}")
    echo(f"order {order_id} queued again; a running daemon picks it up within a second.")


store_app = typer.Typer(help="Back up, restore, prune the daemon's store; migrate it from SQLite to PostgreSQL.",
                        no_args_is_help=True)
app.add_typer(store_app, name="store")


def _facts_text(facts: StoreFacts) -> str:
    return f"SQLite schema version {facts.schema_version}, {facts.orders} orders"


def _facts_json(facts: StoreFacts, **extra: Any) -> dict[str, Any]:
    return {"path": str(facts.path), "backend": "SQLite", "schema_version": facts.schema_version,
            "orders": facts.orders, **extra}


def _sqlite_only_or_exit(settings: Settings, command: str) -> None:
    if settings.store.postgres_url is not None:
        fail(f"error: `store {command}` copies the SQLite file, but [store] url names PostgreSQL "
             f"({settings.store.describe()}). Fix: use pg_dump and pg_restore (docs/operations.md, \"PostgreSQL\").")


@store_app.command("migrate")
def store_migrate(
    to: Annotated[str, typer.Option("--to", help="The PostgreSQL URL to copy into: an empty database "
                                                 "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE).",
                                    show_default=False)],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Copy the SQLite store (the file at the config's store path) into an empty PostgreSQL database (the daemon
    must be stopped)."""
    from tevo_bridge.dburl import is_postgres_url, mask_url
    from tevo_bridge.store.transfer import copy_to_postgres

    settings = settings_or_exit(config)
    if not is_postgres_url(to):
        fail("error: --to must be a PostgreSQL URL, postgresql://USER:PASSWORD@HOST:PORT/DATABASE.")
    store_or_exit(settings)
    try:
        copied = copy_to_postgres(settings.store.path, to)
    except (StoreError, OSError) as exc:
        fail(f"error: {exc}")
    target = mask_url(to)
    if as_json:
        _echo_json({"source": str(settings.store.path), "target": target, "copied": copied})
        return
    echo(f"copied {settings.store.path} into {target}: "
               + ", ".join(f"{count} {table}" for table, count in copied.items()))
    echo(f"{settings.store.path} is marked moved: commands given it now refuse it and name {target}")
    echo("next: set [store] url (or TEVO_BRIDGE_STORE__URL) to it and start the daemon")


@store_app.command("backup")
def store_backup(
    dest: Annotated[Path, typer.Argument(help="The backup file to write (refused if it exists, unless --force).")],
    config: ConfigOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite DEST if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Copy the store to DEST, consistently, even while the daemon runs and writes to it."""
    from tevo_bridge.store import backup_store

    settings = settings_or_exit(config)
    _sqlite_only_or_exit(settings, "backup")
    store_or_exit(settings)
    try:
        facts = backup_store(settings.store.path, dest, force=force)
    except (StoreError, OSError) as exc:
        fail(f"error: {exc}")
    if as_json:
        _echo_json(_facts_json(facts, source=str(settings.store.path)))
        return
    echo(f"backed up {settings.store.path} to {dest}: {_facts_text(facts)}")


@store_app.command("restore")
def store_restore(
    src: Annotated[Path, typer.Argument(help="A backup made by `tevo-bridge store backup`.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replace the store with the backup SRC (the daemon must be stopped; the old store is kept beside it)."""
    from datetime import UTC, datetime

    from tevo_bridge.store import restore_store

    settings = settings_or_exit(config)
    _sqlite_only_or_exit(settings, "restore")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        facts, kept = restore_store(src, settings.store.path, stamp)
    except (StoreError, OSError) as exc:
        fail(f"error: {exc}")
    if as_json:
        _echo_json(_facts_json(facts, source=str(src), kept=str(kept) if kept else None))
        return
    echo(f"restored {src} into {settings.store.path}: {_facts_text(facts)}")
    if kept is not None:
        echo(f"the store it replaced is kept as {kept}")
    if facts.schema_version < SCHEMA_VERSION:
        echo(f"it is migrated to SQLite schema version {SCHEMA_VERSION} when the daemon starts")


@store_app.command("prune")
def store_prune(
    config: ConfigOption = None,
    days: Annotated[int | None, typer.Option(
        "--days", min=1, help="Prune what finished this many days ago (default: [store] retention_days).",
        show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Delete old inbox and audit rows of finished orders now (the daemon also does it every hour)."""
    from tevo_bridge.store.retention import prune_all

    settings = settings_or_exit(config)
    days = days if days is not None else settings.store.retention_days
    if days == 0:
        fail("error: [store] retention_days is 0 (keep everything), so nothing is pruned. "
             "Fix: pass --days N to prune once, or set retention_days.")
    deleted = prune_all(_store(config), days)
    if as_json:
        _echo_json({"retention_days": days, "deleted": deleted})
        return
    echo(f"pruned rows older than {days} days of finished orders: {deleted['inbox']} inbox, "
               f"{deleted['audit']} audit")


def _version_text() -> str:
    return f"tevo-bridge {__version__} (store schema: {schema_versions_text()})"


def _print_version(value: bool) -> None:
    if value:
        echo(_version_text())
        raise typer.Exit()


@app.callback()
def main_options(
    show_version: Annotated[bool, typer.Option(
        "--version", help="Print the version and exit.", is_eager=True, callback=_print_version)] = False,
) -> None:
    """Automate Ticket Evolution order processing for a seller's point of sale."""


@app.command()
def version() -> None:
    """Print the version (and the store schema version this code writes)."""
    echo(_version_text())


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()  # typer exits with the command's code itself
