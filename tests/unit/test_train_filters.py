"""Training on part of a history: dates and accounts, filtered by key name, then by record.

Story: an operator trains on "the first half of November, production accounts only" from an
organisation trail. Files that cannot hold such events are not even read; records outside the
range are counted and left out; the artifact says what it was trained on.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from test_train_support import SMALL, tiny_trail

from detector.cli import main
from detector.train.cli import _date
from detector.train.sources import KeyFilter, list_sources

ACCT = "111122223333"
KEY = (
    "AWSLogs/o-abc123def4/{acct}/CloudTrail/us-east-1/2026/11/{d:02d}/"
    "{acct}_CloudTrail_us-east-1_202611{d:02d}T{hm}Z_abcdefghijklmnop.json.gz"
)


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_trail(tmp_path_factory)


def key(day: int, hm: str = "1205", acct: str = ACCT) -> str:
    return KEY.format(acct=acct, d=day, hm=hm)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_file_names_filter_dates_with_a_day_of_slack() -> None:
    f = KeyFilter(start=utc(2026, 11, 10), end=utc(2026, 11, 12))
    assert not f.keep(key(8, "2355"))  # delivered 2 days before the range
    assert f.keep(key(9, "0005"))  # within a day before: may hold late events
    assert f.keep(key(11))
    assert f.keep(key(12, "2355"))  # within a day after the end (CloudTrail delivers late)
    assert not f.keep(key(14))
    assert f.keep("exports/whatever.json")  # a name without a date says nothing: read it


def test_file_names_filter_accounts_org_trails_included() -> None:
    f = KeyFilter(accounts=frozenset({ACCT}))
    assert f.keep(key(11)) and not f.keep(key(11, acct="444455556666"))
    assert f.keep(key(11).replace("o-abc123def4/", ""))  # not an org trail
    assert f.keep("exports/whatever.json")


def test_dates_on_the_command_line() -> None:
    assert _date("2026-11-01", end=False) == utc(2026, 11, 1)
    assert _date("2026-11-30", end=True) == utc(2026, 12, 1)  # --end DAY includes the day
    assert _date("2026-11-01T06:30:00Z", end=True) == utc(2026, 11, 1, 6, 30)
    assert _date("2026-11-01T06:30", end=False) == utc(2026, 11, 1, 6, 30)  # naive is UTC
    with pytest.raises(argparse.ArgumentTypeError):
        _date("last tuesday", end=False)


def test_a_listing_skips_files_outside_the_dates_before_reading(trail: Path) -> None:
    everything = list_sources([str(trail)], KeyFilter())
    later = list_sources([str(trail)], KeyFilter(start=utc(2026, 11, 4)))
    assert len(everything.names) > 100 and later.names == []
    assert later.skipped["filtered-by-name"] == len(everything.names)
    assert everything.skipped["digest-or-insight"] > 0


def train_cli(tmp_path: Path, trail: Path, *flags: str) -> dict[str, object]:
    cfg = tmp_path / "small.toml"
    cfg.write_text("[models]\n" + "".join(f"{k.split('.')[1]} = {v}\n" for k, v in SMALL.items()))
    out = tmp_path / "model"
    args = ["train", "--out", str(out), "--config", str(cfg), "--no-report", "--trees", "20"]
    code = main([*args, "--log-level", "WARNING", *flags, str(trail)])
    assert code == 0
    meta: dict[str, object] = orjson.loads((out / "metadata.json").read_bytes())
    return meta


def test_training_on_a_time_range_keeps_only_its_events(trail: Path, tmp_path: Path) -> None:
    meta = train_cli(
        tmp_path, trail, "--start", "2026-11-01T06:00:00Z", "--end", "2026-11-01T12:00:00Z"
    )
    data, counts = meta["data"], meta["counts"]
    assert isinstance(data, dict) and isinstance(counts, dict)
    assert data["first_event"] >= "2026-11-01T06:00:00" and data["last_event"] < "2026-11-01T12"
    assert data["first_window"] >= "2026-11-01T06:00:00Z"
    assert data["last_window"] <= "2026-11-01T11:55:00Z"
    assert counts["records"]["out_of_range"] > counts["records"]["windowed"] > 1000
    assert data["start"] == "2026-11-01T06:00:00+00:00"


def test_training_on_some_accounts_reads_only_their_files(trail: Path, tmp_path: Path) -> None:
    meta = train_cli(tmp_path, trail, "--accounts", ACCT)
    data, counts = meta["data"], meta["counts"]
    assert isinstance(data, dict) and isinstance(counts, dict)
    assert data["accounts"] == [ACCT] and data["accounts_filter"] == [ACCT]
    assert counts["files"]["skipped"] > 100  # the other account's files, by name
    assert [p["account"] for p in meta["population_models"]] == [ACCT] * 4  # type: ignore[union-attr]


def test_bad_arguments_exit_2(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "m")
    assert (
        main(["train", "--out", out, "--start", "2026-11-02", "--end", "2026-11-01", str(trail)])
        == 2
    )
    assert "--start must be before --end" in capsys.readouterr().err
    assert main(["train", "--out", out, str(tmp_path / "nothing-here")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("mine")
    assert main(["train", "--out", str(tmp_path / "precious"), "--no-report", str(trail)]) == 2
    assert "not replacing it" in capsys.readouterr().err
    assert (tmp_path / "precious" / "notes.txt").read_text() == "mine"
