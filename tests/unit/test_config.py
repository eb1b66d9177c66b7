"""Settings resolve in one place: flag > environment (S3AD_*) > TOML file > default.

Story: an operator sets a value in the file, overrides it for one run with an environment
variable or a flag, and gets a clear error — never a silently ignored setting — for a typo.
The shipped config/default.toml documents the real defaults.
"""

from __future__ import annotations

import dataclasses
import logging
import tomllib
from pathlib import Path

import pytest

from detector.config import Settings, load_settings, settings_dict
from detector.errors import ConfigError

DEFAULT_TOML = Path(__file__).resolve().parents[2] / "config" / "default.toml"


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s3ad.toml"
    path.write_text(text)
    return path


def width(path: Path | None = None, flag: int | None = None, env: str | None = None) -> int:
    overrides = {"window.width_seconds": flag} if flag is not None else {}
    environ = {"S3AD_WINDOW_WIDTH_SECONDS": env} if env is not None else {}
    return load_settings(path, overrides, environ).window.width_seconds


def test_without_file_env_or_flags_the_dataclass_defaults_apply() -> None:
    assert load_settings(None, {}, {}) == Settings()


def test_precedence_is_flag_then_env_then_file_then_default(tmp_path: Path) -> None:
    path = toml(tmp_path, "[window]\nwidth_seconds = 600\n")
    assert width() == 300
    assert width(path) == 600
    assert width(path, env="900") == 900
    assert width(path, flag=1200, env="900") == 1200
    assert width(None, flag=1200) == 1200


def test_other_keys_of_a_section_keep_their_values_when_one_is_overridden(tmp_path: Path) -> None:
    path = toml(tmp_path, "[window]\nlateness_seconds = 1800\n")
    s = load_settings(path, {"window.width_seconds": 60}, {})
    assert (s.window.width_seconds, s.window.lateness_seconds) == (60, 1800)
    assert s.dedup == Settings().dedup


def test_environment_values_are_converted_to_the_setting_type() -> None:
    s = load_settings(None, {}, {"S3AD_DEDUP_HORIZON_SECONDS": "3600", "S3AD_LOG_LEVEL": "DEBUG"})
    assert s.dedup.horizon_seconds == 3600.0
    assert isinstance(s.dedup.horizon_seconds, float)
    assert s.log.level == "DEBUG"


def test_a_badly_typed_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"S3AD_WINDOW_WIDTH_SECONDS.*'five minutes'"):
        load_settings(None, {}, {"S3AD_WINDOW_WIDTH_SECONDS": "five minutes"})


def test_a_badly_typed_file_value_names_the_key(tmp_path: Path) -> None:
    path = toml(tmp_path, '[window]\nwidth_seconds = "300s"\n')
    with pytest.raises(ConfigError, match=r"\[window\] width_seconds"):
        load_settings(path, {}, {})


def test_an_unknown_section_is_rejected_with_the_known_ones(tmp_path: Path) -> None:
    path = toml(tmp_path, "[windows]\nwidth_seconds = 600\n")
    with pytest.raises(ConfigError, match=r"unknown config section\(s\) \['windows'\]") as info:
        load_settings(path, {}, {})
    assert "'window'" in str(info.value)  # the message lists what was probably meant


def test_an_unknown_key_is_rejected_with_its_section_and_the_known_keys(tmp_path: Path) -> None:
    path = toml(tmp_path, "[window]\nwidth_secs = 600\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, {}, {})
    message = str(info.value)
    assert "width_secs" in message and "[window]" in message and "width_seconds" in message


def test_an_unknown_flag_setting_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"window\.width_secs"):
        load_settings(None, {"window.width_secs": 600}, {})


def test_a_section_that_is_not_a_table_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[window\] must be a table"):
        load_settings(toml(tmp_path, "window = 300\n"), {}, {})


def test_invalid_toml_and_missing_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(toml(tmp_path, "[window\nwidth_seconds = 1\n"), {}, {})
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.toml", {}, {})


@pytest.mark.parametrize(
    "env",
    [{"S3AD_WINDOW_WIDTH_SECONDS": "0"}, {"S3AD_WINDOW_LATENESS_SECONDS": "-60"}],
)
def test_impossible_window_settings_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"\[window\]"):
        load_settings(None, {}, env)


def test_default_toml_values_equal_the_dataclass_defaults() -> None:
    doc = tomllib.loads(DEFAULT_TOML.read_text())
    defaults = Settings()
    assert doc, "config/default.toml is empty"
    for section, table in doc.items():
        assert hasattr(defaults, section), f"[{section}] is not a settings section"
        expected = getattr(defaults, section)
        known = {f.name for f in dataclasses.fields(expected)}
        assert set(table) <= known, f"[{section}] has unknown keys {set(table) - known}"
        for key, value in table.items():
            default = getattr(expected, key)
            if isinstance(default, tuple):
                default = list(default)
            assert value == default, f"[{section}] {key} = {value!r}, default is {default!r}"


def test_default_toml_loads_to_exactly_the_defaults() -> None:
    assert load_settings(DEFAULT_TOML, {}, {}) == Settings()


def test_settings_dict_is_plain_data_for_check_config() -> None:
    d = settings_dict(load_settings(None, {"window.width_seconds": 600}, {}))
    assert d["window"] == {"width_seconds": 600, "lateness_seconds": 900}
    assert set(d) == {f.name for f in dataclasses.fields(Settings)}


def test_a_misspelt_environment_variable_is_named_not_silently_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = {
        "S3AD_WINDOW_WIDHT_SECONDS": "60",  # the typo
        "S3AD_WINDOW_WIDTH_SECONDS": "120",
        "S3AD_TOR_EXIT_LIST": "x.txt",  # a documented alias
        "S3AD_SLOW_TESTS": "1",  # the test suite's switch
        "PATH": "/usr/bin",
    }
    with caplog.at_level(logging.WARNING, logger="detector.config"):
        s = load_settings(None, {}, env)
    assert s.window.width_seconds == 120 and s.rules.tor_exit_list == "x.txt"
    warned = [r for r in caplog.records if r.name == "detector.config"]
    assert len(warned) == 1 and warned[0].variables == ["S3AD_WINDOW_WIDHT_SECONDS"]  # type: ignore[attr-defined]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="detector.config"):
        load_settings(None, {}, {"S3AD_WINDOW_WIDTH_SECONDS": "120"})
    assert not [r for r in caplog.records if r.name == "detector.config"]
