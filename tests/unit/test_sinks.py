"""Sinks deliver every finding or say which ones they could not, with in-memory fakes."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from detector.errors import ConfigError
from detector.sinks import (
    EventBridgeSink,
    FanoutSink,
    JsonlSink,
    NullSink,
    SinkError,
    SinkOptions,
    StdoutSink,
    open_sink,
    open_sinks,
)
from detector.sinks.base import Finding
from detector.sinks.trim import entry_size


def finding(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": "2.0",
        "id": f"f{n:02d}",
        "type": "Exfiltration:S3/AnomalousBehavior",
        "severity": 8.0,
        "resource": {
            "resourceType": "S3Bucket",
            "s3BucketDetails": [{"arn": f"arn:aws:s3:::bucket-{n}", "name": f"bucket-{n}"}],
        },
        "service": {"serviceName": "s3ad", "evidence": {}, "additionalInfo": {"type": "default"}},
        **extra,
    }


class FakeEvents:
    """An EventBridge client whose per-call answers are scripted.

    ``script[i]`` maps a finding id to the error code it gets on call ``i``, or is an
    exception the whole call raises; calls beyond the script accept everything.
    """

    def __init__(self, script: Sequence[dict[str, str] | Exception] = ()) -> None:
        self.script = list(script)
        self.calls: list[list[str]] = []
        self.accepted: list[str] = []
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        assert 1 <= len(Entries) <= 10
        self.entries.extend(Entries)
        ids = [json.loads(e["Detail"])["id"] for e in Entries]
        turn = self.script[len(self.calls)] if len(self.calls) < len(self.script) else {}
        self.calls.append(ids)
        if isinstance(turn, Exception):
            raise turn
        results: list[dict[str, Any]] = []
        for fid in ids:
            if fid in turn:
                results.append({"ErrorCode": turn[fid], "ErrorMessage": "scripted"})
            else:
                self.accepted.append(fid)
                results.append({"EventId": f"ev-{fid}"})
        failed = sum("ErrorCode" in r for r in results)
        return {"FailedEntryCount": failed, "Entries": results}


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "scripted"}}, "PutEvents")


def eventbridge(client: FakeEvents, **options: Any) -> tuple[EventBridgeSink, list[float]]:
    sleeps: list[float] = []
    sink = EventBridgeSink(
        client, "findings", options=SinkOptions(**options), sleep=sleeps.append, jitter=lambda: 1.0
    )
    return sink, sleeps


def test_partial_failure_resends_only_failed_entries_in_order() -> None:
    client = FakeEvents(
        [
            {"f02": "ThrottlingException", "f05": "InternalFailure", "f07": "ThrottlingException"},
            {"f05": "ThrottlingException"},
        ]
    )
    sink, sleeps = eventbridge(client)
    sink.publish([finding(n) for n in range(12)])

    assert client.calls[:3] == [[f"f{n:02d}" for n in range(10)], ["f02", "f05", "f07"], ["f05"]]
    assert client.calls[3] == ["f10", "f11"]  # the next batch waits for the first to land
    assert sorted(client.accepted) == [f"f{n:02d}" for n in range(12)]
    assert len(client.accepted) == 12  # nothing accepted twice
    assert sleeps == [0.1, 0.2]  # exponential backoff (jitter pinned to its maximum)


def test_exhausted_retry_budget_names_what_failed() -> None:
    client = FakeEvents([{"f01": "ThrottlingException"}] * 10)
    sink, sleeps = eventbridge(client, max_attempts=3, backoff_base=1.0, backoff_max=1.5)
    with pytest.raises(SinkError, match="1 of 3 findings not accepted") as info:
        sink.publish([finding(0), finding(1), finding(2)])
    assert info.value.failed == [("f01", "ThrottlingException: scripted (after 3 attempts)")]
    assert len(client.calls) == 3
    assert sleeps == [1.0, 1.5]  # capped by backoff_max
    assert client.accepted == ["f00", "f02"]


def test_permanent_entry_errors_are_not_retried() -> None:
    client = FakeEvents([{"f00": "ValidationException"}])
    sink, _ = eventbridge(client)
    with pytest.raises(SinkError, match="f00: ValidationException"):
        sink.publish([finding(0), finding(1)])
    assert client.calls == [["f00", "f01"]]


def test_throttling_of_the_whole_call_is_retried() -> None:
    client = FakeEvents([client_error("ThrottlingException"), client_error("InternalFailure")])
    sink, sleeps = eventbridge(client)
    sink.publish([finding(0), finding(1)])
    assert client.calls == [["f00", "f01"]] * 3
    assert client.accepted == ["f00", "f01"]
    assert len(sleeps) == 2


def test_unknown_bus_fails_at_once() -> None:
    client = FakeEvents([client_error("ResourceNotFoundException")])
    sink, _ = eventbridge(client)
    with pytest.raises(SinkError, match="ResourceNotFoundException"):
        sink.publish([finding(0)])
    assert len(client.calls) == 1


def test_entries_carry_source_detail_type_bucket_arns_and_bus() -> None:
    client = FakeEvents()
    sink, _ = eventbridge(client, source="acme.s3ad")
    sink.publish([finding(3)])
    (entry,) = client.entries
    assert entry["Source"] == "acme.s3ad"
    assert entry["DetailType"] == "GuardDuty Finding"
    assert entry["Resources"] == ["arn:aws:s3:::bucket-3"]
    assert entry["EventBusName"] == "findings"
    assert json.loads(entry["Detail"]) == finding(3)


@pytest.mark.parametrize("source", ["aws.guardduty", "AWS.s3", ""])
def test_reserved_or_empty_source_is_a_config_error(source: str) -> None:
    with pytest.raises(ConfigError, match="reserved"):
        EventBridgeSink(FakeEvents(), "bus", options=SinkOptions(source=source))


def test_open_sink_rejects_reserved_source_before_touching_aws() -> None:
    def no_session() -> Any:
        raise AssertionError("session built for an invalid config")

    with pytest.raises(ConfigError):
        open_sink(
            "eventbridge://bus",
            session_factory=no_session,
            options=SinkOptions(source="aws.s3"),
        )


def big_finding(n: int, evidence_items: int, resources: int = 0) -> dict[str, Any]:
    base = finding(n)
    base["service"]["evidence"] = {
        "threatIntelligenceDetails": [
            {"threatListName": f"list-{i}", "threatNames": ["x" * 200]}
            for i in range(evidence_items)
        ]
    }
    base["service"]["action"] = {
        "awsApiCallAction": {
            "api": "GetObject",
            "affectedResources": {f"AWS::S3::Object/{i}": "y" * 100 for i in range(resources)},
        }
    }
    return base


def test_oversized_finding_is_trimmed_evidence_first_and_marked() -> None:
    client = FakeEvents()
    limit = 8 * 1024
    sink, _ = eventbridge(client, max_entry_bytes=limit)
    original = big_finding(1, evidence_items=200, resources=10)
    sink.publish([original, finding(2)])

    trimmed = json.loads(client.entries[0]["Detail"])
    size = entry_size(
        client.entries[0]["Source"],
        client.entries[0]["DetailType"],
        client.entries[0]["Detail"].encode(),
        client.entries[0]["Resources"],
    )
    assert size <= limit
    assert trimmed["id"] == "f01" and trimmed["type"] == original["type"]
    assert trimmed["service"]["additionalInfo"] == {"type": "default", "trimmed": True}
    kept = trimmed["service"]["evidence"]["threatIntelligenceDetails"]
    assert 0 < len(kept) < 200
    assert kept == original["service"]["evidence"]["threatIntelligenceDetails"][: len(kept)]
    # Evidence alone was enough: the affected resources were left whole.
    assert trimmed["service"]["action"] == original["service"]["action"]
    assert "trimmed" not in json.loads(client.entries[1]["Detail"])["service"]["additionalInfo"]
    assert "trimmed" not in original["service"]["additionalInfo"]  # caller's dict untouched


def test_trimming_reaches_affected_resources_anomaly_and_long_strings() -> None:
    client = FakeEvents()
    original = big_finding(1, evidence_items=50, resources=200)
    original["service"]["detection"] = {
        "anomaly": {
            "profiles": {f"feature{i}": {"observations": ["z" * 50] * 20} for i in range(1000)},
            "unusual": {"behavior": {"note": "n" * 50}},
        }
    }
    original["description"] = "d" * 50_000
    sink, _ = eventbridge(client, max_entry_bytes=4096)
    sink.publish([original])
    detail = json.loads(client.entries[0]["Detail"])
    assert len(client.entries[0]["Detail"]) < 4096
    assert detail["service"]["evidence"]["threatIntelligenceDetails"] == []
    assert len(detail["service"]["action"]["awsApiCallAction"]["affectedResources"]) < 200
    anomaly = detail["service"]["detection"]["anomaly"]
    assert len(anomaly["profiles"]) < 1000 and "behavior" in anomaly["unusual"]
    assert detail["description"].startswith("ddd") and detail["description"].endswith("[trimmed]")
    assert detail["id"] == "f01"


def test_requests_stay_under_the_size_limit_in_total() -> None:
    client = FakeEvents()
    sink, _ = eventbridge(client, max_entry_bytes=4096)
    sink.publish([finding(n, description="d" * 1500) for n in range(6)])
    assert [len(ids) for ids in client.calls] == [2, 2, 2]


def test_finding_that_is_not_json_fails_alone() -> None:
    client = FakeEvents()
    sink, _ = eventbridge(client)
    with pytest.raises(SinkError, match="1 of 2 findings not accepted: f00: Type is not JSON"):
        sink.publish([finding(0, createdAt={1, 2}), finding(1)])
    assert client.accepted == ["f01"]


# --- local sinks -----------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_appends_one_sorted_line_per_finding(tmp_path: Path) -> None:
    path = tmp_path / "findings.jsonl"
    sink = open_sink(f"jsonl://{path}")
    sink.publish([finding(1), finding(2)])
    sink.publish([finding(3)])
    sink.close()
    sink.close()  # idempotent
    reopened = open_sink(f"jsonl://{path}")
    reopened.publish([finding(4)])
    reopened.close()
    assert [d["id"] for d in read_jsonl(path)] == ["f01", "f02", "f03", "f04"]
    first = path.read_text().splitlines()[0]
    assert first == json.dumps(finding(1), sort_keys=True, separators=(",", ":"))


def test_jsonl_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    sink = open_sink("jsonl://out/findings.jsonl")
    sink.publish([finding(1)])
    sink.close()
    assert read_jsonl(tmp_path / "out" / "findings.jsonl") == [finding(1)]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_jsonl_disk_full_is_a_sink_error() -> None:
    sink = JsonlSink("/dev/full")
    with pytest.raises(SinkError, match="No space left on device"):
        sink.publish([finding(1)])
    sink.close()


def test_jsonl_publish_after_close_and_missing_directory(tmp_path: Path) -> None:
    sink = JsonlSink(str(tmp_path / "f.jsonl"))
    sink.close()
    with pytest.raises(SinkError, match="closed"):
        sink.publish([finding(1)])
    with pytest.raises(ConfigError, match="cannot open"):
        open_sink(f"jsonl://{tmp_path}/missing/f.jsonl")


def test_stdout_writes_json_lines(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    sink = open_sink("stdout://")
    sink.publish([finding(1), finding(2)])
    sink.close()
    lines = capsysbinary.readouterr().out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["f01", "f02"]


def test_stdout_broken_pipe_is_a_sink_error() -> None:
    # `s3ad replay | head -1`: the reader went away.
    read_end, write_end = os.pipe()
    os.close(read_end)
    with (
        open(write_end, "wb", buffering=0) as stream,
        pytest.raises(SinkError, match=r"stdout: cannot write 1 findings: .*Broken pipe"),
    ):
        StdoutSink(stream).publish([finding(1)])


def test_null_sink_counts() -> None:
    sink = open_sink("null://")
    assert isinstance(sink, NullSink)
    sink.publish([finding(1), finding(2)])
    assert sink.count == 2


def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"known schemes: stdout://, jsonl://, null://, event"):
        open_sink("kafka://topic")
    with pytest.raises(ConfigError, match="unknown sink URL"):
        open_sink("/tmp/findings.jsonl")


class Broken:
    def publish(self, findings: Sequence[Finding]) -> None:
        raise SinkError("broken", [(f["id"], "nope") for f in findings])

    def close(self) -> None:
        pass


def test_fanout_publishes_to_every_sink_and_fails_if_one_fails(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    sink = open_sinks(["null://", f"jsonl://{path}"])
    assert isinstance(sink, FanoutSink)
    sink.sinks.append(Broken())
    with pytest.raises(SinkError, match="1 of 3 sinks failed") as info:
        sink.publish([finding(1)])
    assert info.value.failed == [("f01", "nope")]
    sink.close()
    assert read_jsonl(path) == [finding(1)]  # the healthy sinks still got it
    assert isinstance(sink.sinks[0], NullSink) and sink.sinks[0].count == 1
