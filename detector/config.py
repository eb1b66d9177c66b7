"""Settings, resolved in one place: flag > environment (``S3AD_*``) > TOML file > default.

Each section is a frozen dataclass; a TOML table ``[window]`` fills ``WindowSettings``, the
environment variable ``S3AD_WINDOW_WIDTH_SECONDS`` overrides ``window.width_seconds``, and a
command-line flag overrides both. Unknown sections or keys are an error, so a typo never
silently leaves a default in force. ``s3ad check-config`` prints the result.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.detect.settings import (
    FindingSettings,
    ModelSettings,
    RuleSettings,
    SuppressSettings,
)
from detector.errors import ConfigError


@dataclass(frozen=True)
class InputSettings:
    max_object_bytes: int = 1 << 30  # decompressed JSON per object: a gzip bomb is an error
    max_future_seconds: float = 3600.0  # events further in the future than now + this are invalid


@dataclass(frozen=True)
class WindowSettings:
    width_seconds: int = 300
    lateness_seconds: int = 900  # CloudTrail delivers ~5 min late on average, sometimes more

    def __post_init__(self) -> None:
        # load_settings turns this into a ConfigError (exit 2) instead of a traceback at replay.
        if self.width_seconds <= 0 or self.lateness_seconds < 0:
            raise ValueError("width_seconds must be > 0 and lateness_seconds >= 0")


@dataclass(frozen=True)
class DedupSettings:
    horizon_seconds: float = 1800.0
    max_ids: int = 2_000_000


@dataclass(frozen=True)
class HistorySettings:
    idle_days: float = 30.0  # forget principals idle this long
    max_principals: int = 1_000_000


@dataclass(frozen=True)
class LogSettings:
    level: str = "INFO"


@dataclass(frozen=True)
class ServiceSettings:
    """The daemon (``s3ad run``). Flags: --queue-url, --sink, --model, --state, --drain."""

    queue_url: str = ""
    sinks: tuple[str, ...] = ("stdout://",)
    state: str = ""  # checkpoint location: a directory or s3://bucket/prefix ("" = none)
    drain: bool = False  # exit once the queue stays empty
    wait_seconds: int = 20  # SQS long poll (≤ 20)
    batch_size: int = 10  # messages per receive (≤ 10)
    visibility_timeout: int = 120  # seconds; the heartbeat keeps work in progress invisible
    heartbeat_seconds: float = 30.0
    fetch_concurrency: int = 8  # concurrent S3 downloads
    checkpoint_seconds: float = 60.0  # checkpoint (and then delete messages) at least this often
    checkpoint_messages: int = 200  # …or after this many messages
    max_pending_messages: int = 2000  # stop receiving while this many await a checkpoint
    shutdown_budget_seconds: float = 25.0  # ECS sends SIGKILL 30 s after SIGTERM by default
    republish_seconds: float = 900.0  # updates of a known finding (GuardDuty: 15 min / 1 h / 6 h)
    idle_close_seconds: float = 1200.0  # close windows of accounts quiet for this long (wall time)
    seen_files_seconds: float = 86400.0  # remember files read into the state this long (wall time)…
    seen_files_max: int = 100_000  # …and at most this many: a repeat notification is not read again
    restart_hold_seconds: float = (
        -1.0
    )  # after a restore, hold closing this long (-1: visibility + heartbeat)
    health_bind: str = "127.0.0.1"
    health_port: int = 8080  # 0: pick a free port; -1: no health server
    prometheus: bool = False
    metrics_seconds: float = 60.0
    retry_mode: str = "standard"  # botocore retries: standard or adaptive
    max_attempts: int = 5
    event_source: str = "s3ad"  # EventBridge Source (never aws.*)
    max_entry_bytes: int = 262144  # EventBridge entry size limit enforced by s3ad
    sink_attempts: int = 6
    # Account shards (``s3ad shards plan``; --accounts, --account-prefixes): accept only these
    # accounts / leading digits of the account id, both empty = every account. Other accounts'
    # files are skipped and their records refused (counted, never windowed).
    accounts: tuple[str, ...] = ()
    account_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    input: InputSettings = field(default_factory=InputSettings)
    window: WindowSettings = field(default_factory=WindowSettings)
    dedup: DedupSettings = field(default_factory=DedupSettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    log: LogSettings = field(default_factory=LogSettings)
    rules: RuleSettings = field(default_factory=RuleSettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    findings: FindingSettings = field(default_factory=FindingSettings)
    suppress: SuppressSettings = field(default_factory=SuppressSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)


log = logging.getLogger(__name__)

# Environment variables named in the docs that do not follow S3AD_<SECTION>_<KEY>.
ENV_ALIASES: dict[str, str] = {"S3AD_TOR_EXIT_LIST": "rules.tor_exit_list"}
# S3AD_* variables that are not settings (the test suite's switches).
ENV_NOT_SETTINGS = frozenset({"S3AD_SLOW_TESTS", "S3AD_UPDATE_GOLDEN"})


def _coerce(value: Any, typ: Any, where: str) -> Any:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if value is None or value == "":
            return None
        return _coerce(value, args[0], where)
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(typ) or (str,)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        items = [_coerce(v, inner, where) for v in value]
        return tuple(items) if origin is tuple else items
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        ):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if typ is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if typ is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(value, dict | list):
        return value
    raise ConfigError(f"{where}: unsupported value {value!r}")


def _section_types() -> dict[str, type]:
    hints = typing.get_type_hints(Settings)
    return {f.name: hints[f.name] for f in dataclasses.fields(Settings)}


def load_settings(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings. ``overrides`` maps ``"section.key"`` to values from flags."""
    env = os.environ if env is None else env
    file_doc: dict[str, Any] = {}
    if path is not None:
        try:
            file_doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    sections = _section_types()
    unknown = sorted(set(file_doc) - set(sections))
    if unknown:
        raise ConfigError(f"unknown config section(s) {unknown}; known: {sorted(sections)}")
    overrides = dict(overrides or {})
    for dotted in overrides:
        sec, _, key = dotted.partition(".")
        if sec not in sections or key not in {f.name for f in dataclasses.fields(sections[sec])}:
            raise ConfigError(f"unknown setting {dotted!r}")
    aliases = {target: name for name, target in ENV_ALIASES.items()}
    _warn_unknown_env(env, sections)
    built: dict[str, Any] = {}
    for sec, cls in sections.items():
        table = file_doc.get(sec, {})
        if not isinstance(table, dict):
            raise ConfigError(f"[{sec}] must be a table")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        bad = sorted(set(table) - set(fields))
        if bad:
            raise ConfigError(f"unknown key(s) {bad} in [{sec}]; known: {sorted(fields)}")
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for name in fields:
            dotted = f"{sec}.{name}"
            env_name = f"S3AD_{sec}_{name}".upper()
            alias = aliases.get(dotted)
            if dotted in overrides and overrides[dotted] is not None:
                values[name] = _coerce(overrides[dotted], hints[name], f"flag for {dotted}")
            elif env_name in env:
                values[name] = _coerce(env[env_name], hints[name], env_name)
            elif alias and alias in env:
                values[name] = _coerce(env[alias], hints[name], alias)
            elif name in table:
                values[name] = _coerce(table[name], hints[name], f"[{sec}] {name} in {path}")
        try:
            built[sec] = cls(**values)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[{sec}]: {exc}") from exc
    return Settings(**built)


def _warn_unknown_env(env: Mapping[str, str], sections: dict[str, type]) -> None:
    """Name ``S3AD_*`` variables that set nothing: a typo in an ECS task definition would
    otherwise leave a setting at its default without a word."""
    known = {
        f"S3AD_{sec}_{f.name}".upper()
        for sec, cls in sections.items()
        for f in dataclasses.fields(cls)
    }
    known |= ENV_ALIASES.keys() | ENV_NOT_SETTINGS
    unknown = sorted(name for name in env if name.startswith("S3AD_") and name not in known)
    if unknown:
        log.warning(
            "ignoring environment variables that name no setting (S3AD_<SECTION>_<KEY>; "
            "s3ad check-config lists the settings)",
            extra={"variables": unknown},
        )


def settings_dict(settings: Settings) -> dict[str, Any]:
    """Resolved settings as plain data (for ``check-config`` and model metadata)."""
    return dataclasses.asdict(settings)
