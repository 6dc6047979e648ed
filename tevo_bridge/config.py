"""Settings: one TOML file plus ``TEVO_BRIDGE_<SECTION>__<KEY>`` environment overrides.

Secrets may live only in the environment, so a config file can be committed to
a seller's own repository.  Every section forbids unknown keys, and every unknown
``TEVO_BRIDGE_*`` variable is refused too: a typo in a money-handling daemon's config
must be an error, not a silently ignored line.  Relative paths, in the file or in a
variable, are under the config file's folder (``tevo_bridge.paths``), so the daemon
reads the same files whatever folder it is started from.
"""

from __future__ import annotations

import contextvars
import difflib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from tevo_bridge import cpus
from tevo_bridge.config_env import (
    ENV_PREFIX,
    environment_problems,
    json_example,
    setting_field,
    source_variable,
    variable_name,
)
from tevo_bridge.cpus import LoopCpu
from tevo_bridge.eventloop import EventLoopChoice
from tevo_bridge.httpparser import HttpParserChoice
from tevo_bridge.paths import ConfigPath, config_dir

CONFIG_ENV = "TEVO_BRIDGE_CONFIG"

_config_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar("_config_file", default=None)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class TevoSettings(Section):
    """How to reach TEvo and who the seller is (docs/tevo-api.md §1)."""

    base_url: str = Field("https://api.sandbox.ticketevolution.com", examples=["https://api.ticketevolution.com"])
    token: SecretStr = Field(SecretStr(""), examples=["a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4"])
    secret: SecretStr = Field(SecretStr(""), examples=["40 characters without spaces"])
    office_id: int = Field(0, ge=0, examples=[2187])
    brokerage_id: int = Field(0, ge=0, examples=[2241])
    reviewer_id: int = Field(0, ge=0, examples=[4711])
    connect_timeout: float = Field(10.0, gt=0, examples=[10.0])
    read_timeout: float = Field(30.0, gt=0, examples=[30.0])
    upload_timeout: float = Field(120.0, gt=0, examples=[120.0])
    max_concurrency: int = Field(4, ge=1, le=64, examples=[4])
    max_retries: int = Field(4, ge=0, le=20, examples=[4])
    backoff_base: float = Field(2.0, gt=0, examples=[2.0])
    backoff_cap: float = Field(300.0, gt=0, examples=[300.0])
    # "builtin": tevo/transport.py (asyncio + h11, a fraction of the CPU per call); "httpcore": httpx's default.
    http_transport: Literal["builtin", "httpcore"] = Field("builtin", examples=["httpcore"])

    @field_validator("base_url")
    @classmethod
    def _base_url_has_no_version(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if value.endswith("/v9"):
            # The client appends /v9 itself (docs/tevo-api.md §1 decision).
            raise ValueError("must not end in /v9: give the scheme and host only")
        return value


class OrderIntegrationSettings(Section):
    """Where TEvo's Order Integration calls land (docs/tevo-api.md §7.3): config, not code, once its spec is known."""

    hold_path: str = Field("/order-integration/holds", examples=["/order-integration/holds"])
    release_path: str = Field(
        "/order-integration/holds/{global_id}/release", examples=["/order-integration/holds/{global_id}/release"]
    )
    invoice_path: str = Field("/order-integration/invoices", examples=["/order-integration/invoices"])
    api_key_header: str = Field("X-Api-Key", examples=["X-Api-Key"])
    api_keys: list[SecretStr] = Field(default_factory=list, examples=[["a-long-random-key-of-32-or-more-characters"]])
    queued_status: Literal[200, 202] = Field(202, examples=[202])
    aliases: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "remote_id": ["remoteId"],
            "global_id": ["globalId"],
            "order_id": ["orderId", "tevo_order_id"],
            "ticket_group_id": ["ticketGroupId"],
        },
        examples=[{"remote_id": ["remoteId"]}],
    )


class ServerSettings(Section):
    host: str = Field("127.0.0.1", examples=["0.0.0.0"])
    port: int = Field(8080, ge=0, le=65535, examples=[8080])
    webhook_token: SecretStr = Field(SecretStr(""), examples=["at-least-32-url-safe-random-characters"])
    max_body_bytes: int = Field(1_048_576, ge=1024, examples=[1048576])
    hold_budget: float = Field(3.5, gt=0, le=30, examples=[3.5])
    hold_ttl: float = Field(900.0, gt=0, examples=[900.0])
    invoice_budget: float = Field(2.0, ge=0, examples=[2.0])
    allowed_ips: list[str] = Field(default_factory=list, examples=[["203.0.113.7"]])
    # A second listener for /metrics, /openapi.json and the dashboard (off: they share host:port with intake).
    admin_host: str = Field("127.0.0.1", examples=["127.0.0.1"])
    admin_port: int | None = Field(None, ge=0, le=65535, examples=[9180])
    order_integration: OrderIntegrationSettings = Field(default_factory=OrderIntegrationSettings)
    public_url: str = Field("", examples=["https://tickets.example.com"])
    # Deadlines and a cap per listener (tevo_bridge/connections.py): slow or idle clients must not hold
    # the file descriptors that holds need.
    header_timeout: float = Field(5.0, gt=0, le=60, examples=[5.0])
    body_timeout: float = Field(10.0, gt=0, le=120, examples=[10.0])
    max_connections: int = Field(1000, ge=16, examples=[1000])
    # uvloop where installed (a quarter of a request's CPU was the pure-Python loop); "asyncio" is the way back.
    event_loop: EventLoopChoice = Field("auto", examples=["auto"])

    @field_validator("event_loop")
    @classmethod
    def _uvloop_installed(cls, value: EventLoopChoice) -> EventLoopChoice:
        from tevo_bridge.eventloop import uvloop_available

        if value == "uvloop" and not uvloop_available():
            raise ValueError('"uvloop" is not installed here (pip install uvloop); use "auto" or "asyncio"')
        return value

    # The event loop kept on one CPU (tevo_bridge/cpus.py): "auto" the one it starts on, a number that one, "any"
    # as before.
    loop_cpu: LoopCpu = Field("auto", examples=["auto", 1])

    @field_validator("loop_cpu")
    @classmethod
    def _cpu_usable(cls, value: LoopCpu) -> LoopCpu:
        return cpus.check(value)

    # httptools where installed (uvicorn's h11 was a quarter of a hold's CPU); "h11" is the way back.
    http_parser: HttpParserChoice = Field("auto", examples=["auto"])

    @field_validator("http_parser")
    @classmethod
    def _httptools_installed(cls, value: HttpParserChoice) -> HttpParserChoice:
        from tevo_bridge.httpparser import httptools_available

        if value == "httptools" and not httptools_available():
            raise ValueError('"httptools" is not installed here, or this uvicorn cannot run it under the connection '
                             'guard (pip install -U httptools uvicorn); use "auto" or "h11"')
        return value
    # Peers (IPs or CIDRs) whose X-Forwarded-For / X-Forwarded-Proto and proxy user header are believed;
    # empty: nobody's, every address is the socket's (docs/security.md).
    trusted_proxies: list[str] = Field(default_factory=list, examples=[["127.0.0.1", "::1"]])
    # Host names the admin listener answers besides localhost, loopback and admin_host (a proxy's name for it).
    admin_hosts: list[str] = Field(default_factory=list, examples=[["admin.tickets.example.com"]])

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        from ipaddress import ip_network

        for item in value:
            try:
                ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR network, e.g. \"127.0.0.1\" or "
                                 "\"10.0.0.0/8\"") from None
        return [item.strip() for item in value]

    @field_validator("admin_hosts")
    @classmethod
    def _hosts_are_names(cls, value: list[str]) -> list[str]:
        import re
        from ipaddress import ip_address

        for item in value:
            try:
                ip_address(item.strip("[]"))
                continue
            except ValueError:
                pass
            if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", item):
                raise ValueError(f"{item!r} is not a host name (no scheme, path or port), e.g. "
                                 "\"admin.tickets.example.com\"")
        return [item.lower().strip("[]") for item in value]

    @field_validator("public_url")
    @classmethod
    def _public_url_is_absolute(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (the address TEvo calls), e.g. https://tickets.example.com")
        return value


class StoreSettings(Section):
    path: ConfigPath = Field(Path("tevo-bridge.sqlite3"), examples=["/var/lib/tevo-bridge/state.sqlite3"])
    retention_days: int = Field(90, ge=0, examples=[90])
    # PostgreSQL instead of the SQLite file, for more than one daemon process (docs/operations.md): a secret,
    # since it may carry the password; shown masked (dburl.mask_url).
    url: SecretStr | None = Field(None, examples=["postgresql://tevo:PASSWORD@db.internal:5432/tevo_bridge"])

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        from tevo_bridge.dburl import is_postgres_url

        if value is not None and not is_postgres_url(value.get_secret_value()):
            raise ValueError("must be a PostgreSQL URL, postgresql://USER:PASSWORD@HOST:PORT/DATABASE (leave it out "
                             "for the SQLite file at [store] path)")
        return value

    @property
    def postgres_url(self) -> str | None:
        """The PostgreSQL URL in force, or None for SQLite."""
        return self.url.get_secret_value() if self.url is not None else None

    def describe(self) -> str:
        """Where the store is, safe to print: the file, or the URL without its password."""
        from tevo_bridge.dburl import mask_url

        return mask_url(self.postgres_url) if self.postgres_url else str(self.path)


class PollerSettings(Section):
    enabled: bool = Field(True, examples=[True])
    interval: float = Field(300.0, ge=60, examples=[300.0])
    per_page: int = Field(100, ge=1, le=100, examples=[100])
    max_pages: int = Field(50, ge=1, examples=[50])
    direct_buyer_type: Literal["Office", "Client"] | None = Field(None, examples=["Office"])


#: ``[pipeline] workers`` left unset, by store. SQLite: one daemon does all the work, and 16 keep up with a burst
#: of orders (8 let a backlog build: benchmarks/NOTES.md, "workers"). PostgreSQL: replicas multiply the workers
#: and each running job holds a connection, so 8 keep four replicas inside the server's default 100 connections.
WORKERS_SQLITE = 16
WORKERS_POSTGRESQL = 8


class PipelineSettings(Section):
    # Unset: by store (Settings fills it in, WORKERS_SQLITE / WORKERS_POSTGRESQL).
    workers: int = Field(WORKERS_SQLITE, ge=1, le=64, examples=[16])
    max_attempts: int = Field(8, ge=1, examples=[8])
    backoff_base: float = Field(2.0, gt=0, examples=[2.0])
    backoff_cap: float = Field(300.0, gt=0, examples=[300.0])
    # Renewed every quarter of it while the job runs (pipeline/lease.py): a dead replica's jobs move on after it.
    lease_seconds: float = Field(8.0, ge=2, examples=[8.0])
    auto_reject: bool = Field(True, examples=[True])
    other_office_buyers: Literal["needs_review", "process"] = Field("needs_review", examples=["process"])
    fraud_approved_values: list[str] = Field(default_factory=lambda: ["approved"], examples=[["approved"]])
    fraud_declined: Literal["reject", "needs_review"] = Field("reject", examples=["needs_review"])
    reservation_minutes: float = Field(30.0, gt=0, examples=[30.0])
    recheck_seconds: float = Field(300.0, gt=0, examples=[300.0])
    # A delivered order is looked at again until TEvo says completed, so views show TEvo's word, not a stale one:
    # this many times, the first after after_delivery_check_seconds, each wait twice the one before.
    after_delivery_checks: int = Field(5, ge=0, le=20, examples=[5])
    after_delivery_check_seconds: float = Field(60.0, gt=0, examples=[60.0])


class LocalPickupSettings(Section):
    contact_name: str = Field("", examples=["Box Office Window 3"])
    phone_number: str = Field("", examples=["212-555-0142"])
    street_address: str = Field("", examples=["1 Main St"])
    extended_address: str = Field("", examples=["Suite 4"])
    locality: str = Field("", examples=["New York"])
    region: str = Field("", examples=["NY"])
    postal_code: str = Field("", examples=["10001"])
    country_code: str = Field("US", examples=["US"])
    time_range: str = Field("", examples=["Doors open 6:00 PM - 7:30 PM"])
    instructions: str = Field("", examples=["Bring photo ID"])


class FulfillmentSettings(Section):
    eticket_method: Literal["per_page", "single_file"] = Field("per_page", examples=["single_file"])
    max_upload_bytes: int = Field(4_000_000, ge=10_000, examples=[4000000])
    airbill_dir: ConfigPath = Field(Path("airbills"), examples=["/var/lib/tevo-bridge/airbills"])
    # An airbill is a one-page PDF (tens of KB): a larger answer is refused, not read into memory.
    max_airbill_bytes: int = Field(10_000_000, ge=10_000, examples=[10000000])
    # Folders ticket PDFs may be read from (symlinks followed); empty: the folder the POS plugin declares
    # (the sqlite_pos database's folder, the csv_pos directory). A PDF elsewhere sends its order to review.
    ticket_dirs: list[ConfigPath] = Field(default_factory=list, examples=[["/var/lib/tevo-bridge/tickets"]])
    local_pickup: LocalPickupSettings = Field(default_factory=LocalPickupSettings)


class PosSettings(Section):
    plugin: str = Field("sqlite_pos", examples=["csv_pos"])
    budgets: dict[str, float] = Field(default_factory=dict, examples=[{"pos_hold": 3.0}])


class LogSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = Field("info", examples=["debug"])
    format: Literal["auto", "json", "console"] = Field("auto", examples=["json"])


class DashboardSettings(Section):
    """The operator dashboard on the admin listener (docs/dashboard.md); served only when ``[server] admin_port`` is set."""

    enabled: bool = Field(True, examples=[True])
    # none: no login (the admin listener is on loopback); password: one shared password, stored as the
    # hash `tevo-bridge dashboard hash-password` prints; proxy: a reverse proxy authenticates and names the user.
    auth: Literal["none", "password", "proxy"] = Field("none", examples=["password"])
    password_hash: SecretStr = Field(SecretStr(""), examples=["scrypt$16384$8$1$c2FsdA$aGFzaA"])
    proxy_user_header: str = Field("X-Forwarded-User", examples=["X-Forwarded-User"])
    # Signs the session cookie; unset: a random key per start (everyone logs in again after a restart).
    session_secret: SecretStr = Field(SecretStr(""), examples=["at-least-32-random-characters-long"])
    session_hours: float = Field(12.0, gt=0, le=24 * 30, examples=[12.0])
    time_zone: str = Field("UTC", examples=["America/New_York"])
    page_size: int = Field(50, ge=5, le=200, examples=[50])

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone name, e.g. America/New_York") from None
        return value


class NotifySettings(Section):
    """Who is told when a person is needed (docs/operations.md, "Notifications"); off while ``urls`` is empty."""

    # Apprise URLs (mailto://, slack://, msteams://, tgram://, pover://, json://...): secrets, since most carry a
    # token or password; shown only masked. Checked by `tevo-bridge check` and `run` (validation.py).
    urls: list[SecretStr] = Field(default_factory=list, examples=[["mailtos://user:PASSWORD@smtp.example.com"]])
    # The dashboard's address as a person's browser reaches it: messages link each order there. Empty: no links.
    dashboard_url: str = Field("", examples=["https://admin.tickets.example.com/dashboard"])
    # TEvo, the POS or the worker failing this long (seconds) is announced, once per outage.
    unhealthy_after: float = Field(300.0, ge=30, examples=[300.0])
    # A daily summary at this local time ([dashboard] time_zone), HH:MM; empty: none.
    daily_summary_at: str = Field("", examples=["08:00"])
    # At most this many events in one message; more wait for the next one.
    batch_size: int = Field(20, ge=1, le=200, examples=[20])
    # One destination's send is given up after this long (seconds) and retried later with backoff.
    timeout: float = Field(30.0, gt=0, le=300, examples=[30.0])

    @field_validator("dashboard_url")
    @classmethod
    def _dashboard_url_is_absolute(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// or http://, e.g. https://admin.tickets.example.com/dashboard")
        return value

    @field_validator("daily_summary_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("must be a time of day as HH:MM (24-hour), e.g. \"08:00\", or \"\" for no summary")
        return value


class Settings(BaseSettings):
    """Everything the daemon reads at start-up."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    tevo: TevoSettings = Field(default_factory=TevoSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    poller: PollerSettings = Field(default_factory=PollerSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    fulfillment: FulfillmentSettings = Field(default_factory=FulfillmentSettings)
    pos: PosSettings = Field(default_factory=PosSettings)
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)
    log: LogSettings = Field(default_factory=LogSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)

    # The folder relative paths were resolved against; plugins' settings are resolved against it later.
    _config_dir: Path | None = PrivateAttr(default=None)
    _file: Path | None = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @model_validator(mode="after")
    def _workers_by_store(self) -> Settings:
        """``[pipeline] workers`` unset on PostgreSQL: fewer, since every replica's running jobs hold connections."""
        if self.store.postgres_url is not None and "workers" not in self.pipeline.model_fields_set:
            self.pipeline = self.pipeline.model_copy(update={"workers": WORKERS_POSTGRESQL})
        return self

    @property
    def config_file(self) -> Path | None:
        """The TOML file these settings were read from (None: environment only)."""
        return self._file

    @property
    def config_dir(self) -> Path:
        """Where relative paths point: the config file's folder (the working directory at load without a file)."""
        return self._config_dir or Path.cwd()

    def secrets(self) -> list[str]:
        """Every secret value in force, for the log redactor."""
        values = [self.tevo.token, self.tevo.secret, self.server.webhook_token, *self.server.order_integration.api_keys,
                  self.dashboard.password_hash, self.dashboard.session_secret]
        found = [v.get_secret_value() for v in values if v.get_secret_value()]
        if self.store.postgres_url:
            from tevo_bridge.dburl import url_password

            found += [self.store.postgres_url, *filter(None, [url_password(self.store.postgres_url)])]
        if self.notify.urls:  # each whole URL, and the parts Apprise masks in it (tokens, passwords)
            from tevo_bridge.notify_urls import secret_parts

            for url in self.notify.urls:
                found += [url.get_secret_value(), *secret_parts(url.get_secret_value())]
        return found


def settings_env(settings: Settings) -> dict[str, str]:
    """The whole config as ``TEVO_BRIDGE_*`` variables (secrets included), for a child daemon process.

    ``load_settings`` in the child reads them back to the same values: the inverse of loading.  Core paths
    are absolute by then; a relative path inside a ``[plugins.<name>]`` table is resolved by the child
    against its own working directory, so give such a child the parent's ``config_dir`` as its cwd.
    """
    data = settings.model_dump(mode="json")
    data["tevo"].update(token=settings.tevo.token.get_secret_value(), secret=settings.tevo.secret.get_secret_value())
    data["server"]["webhook_token"] = settings.server.webhook_token.get_secret_value()
    data["store"]["url"] = settings.store.postgres_url
    data["server"]["order_integration"]["api_keys"] = [
        key.get_secret_value() for key in settings.server.order_integration.api_keys
    ]
    data["dashboard"].update(password_hash=settings.dashboard.password_hash.get_secret_value(),
                             session_secret=settings.dashboard.session_secret.get_secret_value())
    data["notify"]["urls"] = [url.get_secret_value() for url in settings.notify.urls]
    env: dict[str, str] = {}
    for section, values in data.items():
        for key, value in values.items():
            if value is not None:
                env[f"{ENV_PREFIX}{section.upper()}__{key.upper()}"] = (
                    value if isinstance(value, str) else json.dumps(value)
                )
    return env


class ConfigError(Exception):
    """A config file a human must fix; the message says where and how."""


DEFAULT_CONFIG_FILES = (Path("config.toml"), Path("/etc/tevo-bridge/config.toml"))


@dataclass(frozen=True)
class ConfigSource:
    """The file a command reads and why that one, so it can say so: a seller in the folder of ``config.toml``
    must not get a check of an empty configuration that blames settings the file has."""

    path: Path | None
    origin: str

    def describe(self) -> str:
        if self.path is None:
            looked = ", ".join(["--config", f"${CONFIG_ENV}", *(_shown(p) for p in DEFAULT_CONFIG_FILES)])
            return f"config: no file found (looked for {looked}); using TEVO_BRIDGE_* variables and defaults"
        return f"config: {self.path.absolute()} (from {self.origin})"


def _shown(path: Path) -> str:
    return str(path) if path.is_absolute() else f"./{path}"


def find_config(path: Path | str | None) -> ConfigSource:
    """Every command's one order: ``--config``, then ``TEVO_BRIDGE_CONFIG``, then ``./config.toml``, then
    ``/etc/tevo-bridge/config.toml``.  An explicit path is returned even if missing, so loading names it."""
    if path is not None:
        return ConfigSource(Path(path), "--config")
    env = os.environ.get(CONFIG_ENV)
    if env:
        return ConfigSource(Path(env), f"${CONFIG_ENV}")
    for candidate in DEFAULT_CONFIG_FILES:
        if candidate.is_file():
            return ConfigSource(candidate, _shown(candidate))
    return ConfigSource(None, "")


def resolve_config_path(path: Path | str | None) -> Path | None:
    if path is None:
        env = os.environ.get(CONFIG_ENV)
        path = Path(env) if env else None
    return Path(path) if path is not None else None


def load_settings(path: Path | str | None = None) -> Settings:
    """Read the file (``--config`` or ``TEVO_BRIDGE_CONFIG``) and the environment, or raise ``ConfigError``.

    Relative paths, from the file or from a variable, resolve against the file's folder: one rule,
    and the same files whether the daemon starts in ``/`` (systemd) or in the seller's shell.
    """
    environ = dict(os.environ)
    file = resolve_config_path(path)
    if file is not None:
        if not file.is_file():
            raise ConfigError(f"{file}: no such file. Fix: pass --config with the path of your TOML config.")
        try:
            tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}. Fix: check quotes and brackets near that line.") from None
    problems = environment_problems(Settings, environ)
    if problems:
        raise ConfigError(f"environment variables: {len(problems)} problem(s)\n  " + "\n  ".join(problems))
    base = file.resolve().parent if file is not None else Path.cwd()
    token = _config_file.set(file.resolve() if file else None)
    try:
        with config_dir(base):
            settings = Settings()
    except ValidationError as exc:
        raise ConfigError(_describe(file, exc, environ)) from None
    except SettingsError as exc:  # a variable pydantic-settings could not decode that the checks above let by
        raise ConfigError(f"environment variables: {exc}. Fix: check the TEVO_BRIDGE_* variables of that section "
                          "(lists and tables are JSON).") from None
    finally:
        _config_file.reset(token)
    settings._config_dir, settings._file = base, file
    return settings


def _describe(file: Path | None, exc: ValidationError, environ: Mapping[str, str]) -> str:
    """One line per problem, each naming where the value came from (the file's key or the variable) and the fix."""
    lines = []
    from_file = False
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        got = "" if error["type"] in ("missing", "extra_forbidden") or _is_secret(loc) else f" (got {error['input']!r})"
        variable = source_variable(loc, environ)
        if variable is not None:
            lines.append(f"  {variable}: {error['msg']}{got}.{_env_fix(variable, loc)}")
            continue
        from_file = True
        section, key = (loc[0], ".".join(loc[1:])) if len(loc) > 1 else ("", ".".join(loc))
        head = f"[{section}] {key}" if section else key
        if error["type"] == "extra_forbidden":
            lines.append(f"  {head}: unknown key.{_did_you_mean(loc)}")
            continue
        example = _example(loc)
        fix = f" Example: {loc[-1]} = {example}" if example is not None else ""
        lines.append(f"  {head}: {error['msg']}{got}.{fix} (or set {variable_name(loc)})")
    where = (str(file) if file else "configuration") if from_file else "environment variables"
    return "\n".join([f"{where}: {exc.error_count()} problem(s)", *lines])


def _env_fix(variable: str, loc: list[str]) -> str:
    field = setting_field(Settings, loc)
    if field is None or not field.examples:
        return ""
    value = field.examples[0]
    if isinstance(value, (list, dict)):
        return f" Example: {json_example(variable, value)}"
    return f" Example: {variable}={str(value).lower() if isinstance(value, bool) else value}"


def _did_you_mean(loc: list[str]) -> str:
    owner = setting_field(Settings, loc[:-1]) if len(loc) > 1 else None
    if len(loc) > 1 and owner is None:
        return ""
    model: Any = owner.annotation if owner is not None else Settings
    known = list(getattr(model, "model_fields", {}))
    close = difflib.get_close_matches(loc[-1], known, n=1)
    if close:
        return f" Fix: did you mean {close[0]!r}?"
    return f" Fix: remove it; valid keys are {', '.join(known)}." if known else ""


def _is_secret(loc: list[str]) -> bool:
    # A plugin's table may hold its POS credentials: never quote it either.
    return loc[:1] == ["plugins"] or any(p in ("token", "secret", "webhook_token", "api_keys", "password_hash", "session_secret") for p in loc)


def _example(loc: list[str]) -> str | None:
    field = setting_field(Settings, loc)
    if field is None or not field.examples:
        return None
    value = field.examples[0]
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("'", '"')
