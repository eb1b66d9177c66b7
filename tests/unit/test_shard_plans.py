"""Account shard plans: every account goes to exactly one daemon, and S3 would accept them.

Story: an operator splits an organisation trail over N daemons with ``s3ad shards plan``. Each
log file must reach exactly one queue (a gap loses its events, an overlap is rejected by S3 —
though not by moto, so the plan checks it itself), and the daemon behind that queue must be the
one that accepts the file's account. The generated deployment files must stay in sync with the
planner, and a daemon must refuse what is not its shard's, once per account in the logs.
"""

from __future__ import annotations

import io
import json
import logging
import shlex
from contextlib import redirect_stdout
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.aws.sqs import Message
from detector.cli import main
from detector.config import Settings, load_settings
from detector.errors import ConfigError
from detector.metrics import Metrics
from detector.service.shard import AccountScreen, ShardPipeline, ShardSource, shard_ports
from detector.shards import (
    DIGITS,
    AccountFilter,
    Plan,
    PlanError,
    Shard,
    plan_problems,
    plan_shards,
)
from detector.shards_cfn import cloudformation_template, to_yaml
from detector.shards_cli import merged_notification, read_accounts
from detector.shards_notify import (
    eventbridge_rules,
    notification_configuration,
    overlaps,
    queue_arn,
)

ROOT = Path(__file__).resolve().parents[2]
ORG = "o-abc123def4"
BASE = f"AWSLogs/{ORG}/"


@pytest.fixture(autouse=True)
def _keep_logging() -> Any:
    """``main`` installs a JSON handler on the (captured) stderr; take it away afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def refused(records: list[logging.LogRecord]) -> list[str]:
    return [
        str(getattr(r, "account", "")) for r in records if r.getMessage().startswith("refusing")
    ]


def log_key(account: str, base: str = BASE) -> str:
    return (
        f"{base}{account}/CloudTrail/us-east-1/2026/11/01/"
        f"{account}_CloudTrail_us-east-1_20261101T1005Z_Ab12Cd34Ef56Gh78.json.gz"
    )


def owners(plan: Plan, account: str) -> tuple[list[int], list[int]]:
    """Shards whose prefix filters route the account's files, and shards that accept it."""
    key = log_key(account, plan.base)
    routed = [s.index for s in plan.shards if any(key.startswith(p) for p in s.prefixes)]
    accepted = [s.index for s in plan.shards if s.filter.accepts(account)]
    return routed, accepted


# --- planning --------------------------------------------------------------------------------


def test_two_shards_split_the_first_digit_of_the_account_id_in_halves() -> None:
    plan = plan_shards(2, org=ORG)
    assert [s.account_prefixes for s in plan.shards] == [("0", "1", "2", "3", "4"), tuple("56789")]
    assert plan.shards[0].prefixes[0] == f"{BASE}0"
    assert [s.queue for s in plan.shards] == ["s3ad-shard-0", "s3ad-shard-1"]
    assert plan.shards[1].run_flags() == ["--account-prefixes", "5,6,7,8,9"]
    assert plan.shards[1].environment()["S3AD_SERVICE_ACCOUNT_PREFIXES"] == "5,6,7,8,9"
    assert owners(plan, "444455556666") == ([0], [0])
    assert owners(plan, "566566982294") == ([1], [1])


def test_one_shard_takes_the_whole_key_space_with_one_filter_and_no_account_filter() -> None:
    plan = plan_shards(1, org=ORG, prefix="/trails/")
    (shard,) = plan.shards
    assert shard.prefixes == (f"trails/{BASE}",)
    assert shard.run_flags() == [] and not shard.filter.active


def test_more_than_ten_shards_use_two_digits_balanced_and_whole_decades_collapse() -> None:
    plan = plan_shards(11)
    sizes = [sum(10 ** (2 - len(d)) for d in s.account_prefixes) for s in plan.shards]
    assert sum(sizes) == 100 and max(sizes) - min(sizes) <= 1
    assert plan_shards(5).shards[0].account_prefixes == ("0", "1")  # not "00".."19"
    assert plan_shards(20).shards[3].account_prefixes == ("15", "16", "17", "18", "19")


def test_listed_accounts_get_one_prefix_each_and_heavy_accounts_are_spread() -> None:
    accounts = ["111122223333", "444455556666", "777788889999", "566566982294", "111122223333"]
    weights = {"111122223333": 10.0, "444455556666": 9.0}
    plan = plan_shards(2, org=ORG, accounts=accounts, weights=weights)
    assert plan.accounts == tuple(sorted(set(accounts)))
    heavy = [s.index for s in plan.shards for a in s.accounts if a in weights]
    assert sorted(heavy) == [0, 1]  # the two heavy accounts are not on one daemon
    for s in plan.shards:
        assert s.prefixes == tuple(f"{BASE}{a}/CloudTrail/" for a in s.accounts)
        assert s.run_flags() == ["--accounts", ",".join(s.accounts)]
    assert owners(plan, "123456789012") == ([], [])  # unlisted: not watched (documented)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "1..1000"),
        ({"n": 1001}, "1..1000"),
        ({"n": 2, "org": "o-short"}, "organization id"),
        ({"n": 3, "accounts": ["111122223333", "444455556666"]}, "no account"),
        ({"n": 1, "accounts": ["12345"]}, "12 digits"),
        ({"n": 2, "name": "bad name"}, "queue name"),
    ],
)
def test_impossible_plans_are_refused_with_a_reason(kwargs: dict[str, Any], message: str) -> None:
    n = kwargs.pop("n")
    with pytest.raises(PlanError, match=message):
        plan_shards(n, **kwargs)


# --- validation --------------------------------------------------------------------------------


def test_validation_finds_gaps_overlaps_and_disagreements() -> None:
    good = plan_shards(2)
    s0, s1 = good.shards
    gap = replace(
        good,
        shards=(
            s0,
            replace(s1, prefixes=s1.prefixes[:-1], account_prefixes=s1.account_prefixes[:-1]),
        ),
    )
    assert any("cover 90.0000%" in p for p in plan_problems(gap))
    nested = replace(
        s1, prefixes=(*s1.prefixes, "AWSLogs/12"), account_prefixes=(*s1.account_prefixes, "12")
    )
    problems = plan_problems(replace(good, shards=(s0, nested)))
    assert "prefixes 'AWSLogs/1' and 'AWSLogs/12' overlap" in problems
    disagree = replace(good, shards=(s0, replace(s1, prefixes=s0.prefixes)))
    assert any("differ" in p for p in plan_problems(disagree))
    twins = replace(good, shards=(s0, replace(s1, queue=s0.queue)))
    assert any("used twice" in p for p in plan_problems(twins))
    listed = plan_shards(2, accounts=["111122223333", "444455556666"])
    a0, a1 = listed.shards
    both = replace(
        listed,
        shards=(
            a0,
            replace(a1, accounts=(*a1.accounts, *a0.accounts), prefixes=a1.prefixes + a0.prefixes),
        ),
    )
    assert any("more than one shard" in p for p in plan_problems(both))


def test_overlapping_notification_configurations_are_found_as_s3_would() -> None:
    def config(
        cid: str, prefix: str, suffix: str = ".json.gz", event: str = "s3:ObjectCreated:*"
    ) -> dict[str, Any]:
        rules = [{"Name": "prefix", "Value": prefix}, {"Name": "suffix", "Value": suffix}]
        return {"Id": cid, "Events": [event], "Filter": {"Key": {"FilterRules": rules}}}

    assert overlaps(
        {"QueueConfigurations": [config("a", "AWSLogs/"), config("b", "AWSLogs/o-x/1")]}
    )
    assert overlaps(
        {
            "QueueConfigurations": [config("a", "AWSLogs/1")],
            "TopicConfigurations": [config("b", "AWSLogs/1", event="s3:ObjectCreated:Put")],
        }
    )
    assert not overlaps(
        {"QueueConfigurations": [config("a", "AWSLogs/1"), config("b", "AWSLogs/2")]}
    )
    assert not overlaps(
        {"QueueConfigurations": [config("a", "AWSLogs/"), config("b", "AWSLogs/", suffix=".csv")]}
    )
    assert not overlaps(
        {
            "QueueConfigurations": [
                config("a", "AWSLogs/"),
                config("b", "AWSLogs/", event="s3:ObjectRemoved:*"),
            ]
        }
    )


def test_the_notification_is_merged_into_the_buckets_configuration_or_refused() -> None:
    plan = plan_shards(2, org=ORG)
    arns = {s.queue: queue_arn(s.queue, "us-east-1", "123456789012") for s in plan.shards}
    others = {"Id": "their-lambda", "LambdaFunctionArn": "arn:x", "Events": ["s3:ObjectRemoved:*"]}
    previous = {"Id": "s3ad-shard-7-0", "QueueArn": "arn:old", "Events": ["s3:ObjectCreated:*"]}
    existing = {
        "QueueConfigurations": [previous],
        "LambdaFunctionConfigurations": [others],
        "ResponseMetadata": {},
    }
    merged = merged_notification(plan, arns, existing, ["s3ad-shard"])
    assert merged["LambdaFunctionConfigurations"] == [others]  # Put replaces all: keep theirs
    assert [c["Id"] for c in merged["QueueConfigurations"]] == [
        f"s3ad-shard-{i // 5}-{i % 5}" for i in range(10)
    ]
    assert "ResponseMetadata" not in merged
    single = json.loads((ROOT / "config/deploy/bucket-notification.json").read_text())
    with pytest.raises(PlanError, match="overlap"):
        merged_notification(plan, arns, single, ["s3ad-shard"])  # the one-queue AWSLogs/ filter
    migrated = merged_notification(plan, arns, single, ["s3ad-shard", "s3ad-cloudtrail-log-files"])
    assert len(migrated["QueueConfigurations"]) == 10


def test_notification_and_eventbridge_rules_carry_the_plans_prefixes() -> None:
    plan = plan_shards(2, org=ORG, bucket="trail")
    config = notification_configuration(plan, {s.queue: f"arn:{s.queue}" for s in plan.shards})
    entries = config["QueueConfigurations"]
    assert len(entries) == 10 and {e["QueueArn"] for e in entries[:5]} == {"arn:s3ad-shard-0"}
    assert entries[0]["Filter"]["Key"]["FilterRules"] == [
        {"Name": "prefix", "Value": f"{BASE}0"},
        {"Name": "suffix", "Value": ".json.gz"},
    ]
    rules = eventbridge_rules(plan, "trail")
    assert [r["Queue"] for r in rules] == ["s3ad-shard-0", "s3ad-shard-1"]
    assert rules[1]["EventPattern"]["detail"]["object"]["key"][0] == {"prefix": f"{BASE}5"}
    with pytest.raises(PlanError):
        eventbridge_rules(plan, "")


# --- properties ---------------------------------------------------------------------------------

ACCOUNT_IDS = st.text("0123456789", min_size=12, max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 64),
    accounts=st.lists(ACCOUNT_IDS, max_size=30),
    prefix=st.sampled_from(["", "t", "a/b/"]),
)
def test_any_digit_plan_gives_every_account_exactly_one_shard(
    n: int, accounts: list[str], prefix: str
) -> None:
    plan = plan_shards(n, org=ORG, prefix=prefix)
    assert plan_problems(plan) == [] and len(plan.shards) == n
    all_prefixes = [p for s in plan.shards for p in s.prefixes]
    assert overlaps(notification_configuration(plan, {s.queue: s.queue for s in plan.shards})) == []
    assert not any(a != b and b.startswith(a) for a in all_prefixes for b in all_prefixes)
    for account in accounts:
        routed, accepted = owners(plan, account)
        assert len(routed) == 1 and routed == accepted
        assert plan.shard_for_key(log_key(account, plan.base)) == plan.shards[routed[0]]


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 64), accounts=st.lists(ACCOUNT_IDS, min_size=1, max_size=80), data=st.data()
)
def test_any_account_plan_gives_every_listed_account_exactly_one_shard(
    n: int, accounts: list[str], data: st.DataObject
) -> None:
    weights = data.draw(st.dictionaries(st.sampled_from(accounts), st.floats(0.1, 1e6)))
    if len(set(accounts)) < n:
        with pytest.raises(PlanError):
            plan_shards(n, accounts=accounts, weights=weights)
        return
    plan = plan_shards(n, accounts=accounts, weights=weights)
    assert plan_problems(plan) == [] and all(s.accounts for s in plan.shards)
    assert overlaps(notification_configuration(plan, {s.queue: s.queue for s in plan.shards})) == []
    for account in accounts:
        routed, accepted = owners(plan, account)
        assert len(routed) == 1 and routed == accepted


# --- deployment files -------------------------------------------------------------------------


def run_cli(*argv: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(list(argv)) == 0
    return out.getvalue()


def test_the_checked_in_cloudformation_template_is_what_the_planner_generates() -> None:
    path = ROOT / "config/deploy/s3ad-shards.yaml"
    text = path.read_text()
    command = text.splitlines()[0].split("`")[1]  # "# Generated by `s3ad shards plan ...`"
    assert run_cli(*shlex.split(command)[1:]) == text, f"regenerate {path}: {command}"
    yaml = pytest.importorskip("yaml")
    template = yaml.safe_load(text)
    assert template == cloudformation_template(plan_shards(4, org=ORG), command)
    queues = [r for r in template["Resources"].values() if r["Type"] == "AWS::SQS::Queue"]
    assert len(queues) == 8  # a queue and a DLQ per shard
    try:
        from cfnlint.api import lint  # type: ignore[import-untyped]
    except ImportError:
        return
    assert [str(m) for m in lint(text)] == []


def test_yaml_output_reads_back_as_the_same_data() -> None:
    yaml = pytest.importorskip("yaml")
    doc = {
        "a": ["x: y", "2010-09-09", "yes", "", "${B}", 1, 2.5, True, {}],
        "b": {"c": [{"d": [1, [2]]}]},
        "e": [],
    }
    assert yaml.safe_load(to_yaml(doc)) == doc


def test_the_cli_prints_json_text_and_the_bucket_notification(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.txt"
    accounts.write_text("# org\n111122223333:5 444455556666\n777788889999,566566982294\n")
    doc = json.loads(
        run_cli("shards", "plan", "--shards", "2", "--accounts", str(accounts), "--format", "json")
    )
    assert doc["mode"] == "accounts" and doc["shard_count"] == 2
    assert sorted(a for s in doc["shards"] for a in s["accounts"]) == sorted(doc["accounts"])
    assert doc["shards"][0]["environment"] == {"S3AD_SERVICE_ACCOUNTS": "111122223333"}
    text = run_cli("shards", "plan", "--shards", "2", "--org", ORG, "--bucket", "trail")
    assert "--account-prefixes 5,6,7,8,9" in text and "--bucket trail" in text
    notification = json.loads(
        run_cli(
            "shards",
            "plan",
            "--shards",
            "3",
            "--region",
            "eu-west-1",
            "--queue-account",
            "123456789012",
            "--format",
            "notification",
        )
    )
    assert (
        notification["QueueConfigurations"][0]["QueueArn"]
        == "arn:aws:sqs:eu-west-1:123456789012:s3ad-shard-0"
    )
    assert read_accounts("111122223333:2.5")[1] == {"111122223333": 2.5}
    with pytest.raises(PlanError):
        read_accounts("111122223333:heavy")


def test_cli_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shards", "plan", "--shards", "2", "--accounts", str(tmp_path / "none.txt")]) == 2
    assert main(["shards", "plan", "--shards", "2", "--org", "acme"]) == 2
    assert "organization id" in capsys.readouterr().err


# --- the daemon's side -------------------------------------------------------------------------


def test_account_settings_come_from_flags_environment_and_toml(tmp_path: Path) -> None:
    env = {"S3AD_SERVICE_ACCOUNTS": "111122223333, 444455556666"}
    s = load_settings(None, env=env).service
    assert s.accounts == ("111122223333", "444455556666") and s.account_prefixes == ()
    s = load_settings(None, {"service.account_prefixes": "0,1"}, env=env).service
    assert s.account_prefixes == ("0", "1")
    toml = tmp_path / "s.toml"
    toml.write_text('[service]\naccounts = ["011122223333"]\n')
    assert load_settings(toml, env={}).service.accounts == ("011122223333",)
    with pytest.raises(ConfigError):
        AccountFilter.build(["1111"], [])
    with pytest.raises(ConfigError):
        AccountFilter.build([], ["1a"])


class FakeSource:
    def __init__(self, bodies: list[str]) -> None:
        self.messages = [Message(f"m{i}", f"r{i}", b) for i, b in enumerate(bodies)]
        self.deleted: list[str] = []

    def receive(
        self, max_messages: int = 10, wait_seconds: int = 20, visibility_timeout: int | None = None
    ) -> list[Message]:
        out, self.messages = self.messages[:max_messages], self.messages[max_messages:]
        return out

    def delete(self, messages: Any) -> list[Message]:
        self.deleted += [m.message_id for m in messages]
        return []

    def release(self, messages: Any) -> list[Message]:
        return []

    def extend(self, messages: Any, seconds: int) -> list[Message]:
        return []


def notice(*keys: str) -> str:
    return json.dumps({"s3Bucket": "trail", "s3ObjectKey": list(keys)})  # CloudTrail's shape


def test_messages_of_foreign_accounts_are_deleted_before_any_download(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    screen = AccountScreen(AccountFilter.build([], ["0", "1", "2", "3", "4"]), metrics)
    inner = FakeSource(
        [
            notice(log_key("566566982294")),  # foreign: gone
            notice(log_key("111122223333")),  # ours
            notice(log_key("566566982294"), log_key("111122223333")),  # mixed: records decide
            notice(
                f"{BASE}566566982294/CloudTrail-Digest/x.json.gz"
            ),  # not a log key: the loop skips it
            "not json",  # poison: the loop leaves it for the DLQ
            notice(log_key("777788889999")),  # foreign: gone
        ]
    )
    with caplog.at_level(logging.WARNING):
        kept = ShardSource(inner, screen).receive(10, 0)
    assert [m.message_id for m in kept] == ["m1", "m2", "m3", "m4"]
    assert inner.deleted == ["m0", "m5"]
    assert (
        metrics.get("files.foreign_account") == 2 and metrics.get("messages.foreign_account") == 2
    )
    assert sorted(refused(caplog.records)) == ["566566982294", "777788889999"]


def record(account: Any, event_id: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "eventTime": "2026-11-01T10:00:00Z",
        "eventID": event_id,
        "recipientAccountId": account,
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::111122223333:user/a",
            "accountId": "111122223333",
        },
        "requestParameters": {"bucketName": "b", "key": "k"},
        "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::b/k"}],
    }


class NoDetection:
    def notable(self, ev: Any) -> bool:
        return False

    def bind(self, history: Any) -> None:
        pass

    def process(self, batch: Any) -> list[dict[str, Any]]:
        return []

    def learnable(self, batch: Any) -> list[Any]:
        return []

    def snapshot(self) -> bytes:
        return b""

    def restore(self, data: bytes) -> None:
        pass


def test_records_of_foreign_accounts_are_counted_logged_once_and_never_windowed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    accounts = AccountFilter.build(["111122223333"], [])
    source, pipeline = shard_ports(accounts, Settings(), NoDetection(), FakeSource([]), metrics)
    assert isinstance(source, ShardSource) and isinstance(pipeline, ShardPipeline)
    foreign = [record("444455556666", f"f{i}") for i in range(5)]
    ours = [record("111122223333", "o1"), record(None, "o2"), "not a record"]
    with caplog.at_level(logging.WARNING):
        pipeline.ingest([*foreign, *ours])
        pipeline.ingest(foreign)
    assert metrics.get("records.foreign_account") == 10
    assert pipeline.engine.counts.read == 3  # only ours reached the engine
    assert refused(caplog.records) == ["444455556666"]
    assert set(pipeline.engine.windower.open) <= {"111122223333", ""}


def test_without_a_shard_the_daemon_is_unchanged() -> None:
    inner = FakeSource([])
    source, pipeline = shard_ports(
        AccountFilter.build([], []), Settings(), NoDetection(), inner, Metrics()
    )
    assert source is inner and type(pipeline).__name__ == "Pipeline"


def test_digit_plans_name_their_mode() -> None:
    assert plan_shards(3).mode == DIGITS and isinstance(plan_shards(3).shards[0], Shard)


def test_the_record_screen_reads_the_account_of_typed_and_plain_records() -> None:
    # CloudTrail's own files arrive as typed records, exports as dicts: both are screened.
    from detector.ingest.reader import decode_records

    def rec(acct: Any) -> dict[str, Any]:
        return {
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject",
            "recipientAccountId": acct,
        }

    mine, foreign = "111122223333", "566566982294"
    docs = [rec(mine), rec(foreign), rec(None), rec(7)]
    typed = decode_records(json.dumps({"Records": docs}).encode(), "f.json").records
    assert type(typed[0]).__name__ == "Record"
    for records in (typed, docs):
        metrics = Metrics()
        screen = AccountScreen(AccountFilter.build([], ["0", "1", "2", "3", "4"]), metrics)
        kept = screen.keep(records)
        assert len(kept) == 3 and records[1] not in kept  # unusable accounts are kept
        assert metrics.snapshot()["records.foreign_account"] == 1
