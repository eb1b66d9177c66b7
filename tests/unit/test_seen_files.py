"""The daemon's memory of the files already in its state: exact, bounded, checkpointed.

Story: a file may be announced twice (SQS and S3 notifications are at least once; a message can
come back after its checkpoint but before its delete). Its records must count once however
late the repeat, and the memory must not grow without bound on a service that runs for months.
"""

from __future__ import annotations

import pickle

from detector.aws.notifications import ObjectRef
from detector.service.seen import SeenFiles, file_identity

REF = ObjectRef("trail", "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/a.json.gz")


def test_the_identity_is_the_object_and_its_bytes() -> None:
    assert file_identity(REF, b"abc") == file_identity(REF, b"abc")
    assert file_identity(REF, b"abc") != file_identity(REF, b"abd")  # rewritten: read again
    other = ObjectRef("trail", REF.key + ".copy")
    assert file_identity(other, b"abc") != file_identity(REF, b"abc")


def test_files_are_remembered_for_keep_seconds_of_wall_time() -> None:
    seen = SeenFiles(keep_seconds=100)
    seen.add("a", 1000.0)
    seen.add("b", 1050.0)
    seen.prune(1120.0)
    assert "a" not in seen and "b" in seen
    seen.prune(1151.0)
    assert "b" not in seen


def test_at_most_max_files_are_kept_the_oldest_going_first() -> None:
    seen = SeenFiles(max_files=3)
    for i in range(5):
        seen.add(f"f{i}", 1000.0 + i)
    assert [f"f{i}" in seen for i in range(5)] == [False, False, True, True, True]
    seen.add("f2", 2000.0)  # seen again: now the youngest
    seen.add("f5", 2001.0)
    assert [f"f{i}" in seen for i in range(6)] == [False, False, True, False, True, True]


def test_the_memory_survives_a_checkpoint() -> None:
    seen = SeenFiles()
    seen.add("a", 1000.0)
    restored = SeenFiles()
    restored.restore(pickle.loads(pickle.dumps(seen.state())))
    assert "a" in restored and "b" not in restored
