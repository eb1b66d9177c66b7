"""Training from an S3 trail and loading models from S3, against a real (moto) endpoint.

Story: the organisation trail lives in a bucket; ``s3ad train s3://trail/AWSLogs/`` must build
the same model as training on a local copy, and the daemon, given ``--model s3://…/models/x/``,
must download, verify and use it — or refuse to start when the bucket holds a tampered copy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import orjson
import pytest
from daemon_helpers import ROOT, Trail, create_stack, daemon_env, small_trail, upload

from detector.config import load_settings
from detector.errors import ModelError
from detector.gen import GenConfig, generate
from detector.model.format import METADATA, MODEL_FILES
from detector.model.loader import load_artifact
from detector.train.trainer import TrainOptions, train

BUCKET = "org-trail"
SETTINGS = {"models.warmup_windows": 40, "models.river_window": 20}


@pytest.fixture(scope="module")
def local_trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six delivery hours of a generated org trail (two accounts), digests included."""
    full = tmp_path_factory.mktemp("s3-train-full")
    generate(GenConfig(out=str(full), days=1, principals=30, records=15000))
    picked = tmp_path_factory.mktemp("s3-train") / "trail"
    for f in (full / "AWSLogs").rglob("*.json.gz"):
        if "_20261101T0" in f.name and f.name.split("T0")[1][0] in "012345":
            dest = picked / f.relative_to(full)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dest)
    return picked


def put_tree(session: boto3.session.Session, root: Path, prefix: str, bucket: str = BUCKET) -> int:
    s3 = session.client("s3")
    n = 0
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        s3.upload_file(str(f), bucket, prefix + str(f.relative_to(root)))
        n += 1
    return n


def trained(out: Path, source: str) -> dict[str, str]:
    opts = TrainOptions(out=out, sources=(source,), workers=2, report=False, trees=30)
    train(opts, load_settings(None, SETTINGS, env={}), None)
    listing = orjson.loads((out / METADATA).read_bytes())["files"]
    return {name: listing[name]["sha256"] for name in MODEL_FILES}


def test_training_from_s3_equals_training_from_a_local_copy(
    aws: boto3.session.Session, local_trail: Path, tmp_path: Path
) -> None:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    uploaded = put_tree(aws, local_trail, "")
    assert uploaded > 100
    from_s3 = trained(tmp_path / "s3", f"s3://{BUCKET}/AWSLogs/")
    from_disk = trained(tmp_path / "disk", str(local_trail / "AWSLogs"))
    assert from_s3 == from_disk
    meta = orjson.loads((tmp_path / "s3" / METADATA).read_bytes())
    assert meta["counts"]["files"]["skipped"] > 0  # the digests, by key name
    assert meta["counts"]["files"]["unreadable"] == 0


def test_a_model_in_s3_is_verified_before_use(
    aws: boto3.session.Session, local_trail: Path, tmp_path: Path
) -> None:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    trained(tmp_path / "m", str(local_trail))
    put_tree(aws, tmp_path / "m", "models/m/")
    settings = load_settings(None, SETTINGS, env={})
    artifact = load_artifact(f"s3://{BUCKET}/models/m/", settings)
    assert artifact.warm.online and artifact.warm.histories
    s3 = aws.client("s3")
    s3.put_object(Bucket=BUCKET, Key="models/m/iforest.pkl", Body=b"\x80\x05N.")
    with pytest.raises(ModelError, match=r"iforest\.pkl does not match metadata\.json"):
        load_artifact(f"s3://{BUCKET}/models/m", settings)
    with pytest.raises(ModelError, match=r"no metadata\.json"):
        load_artifact(f"s3://{BUCKET}/models/none/", settings)


@pytest.fixture(scope="module")
def daemon_trail(tmp_path_factory: pytest.TempPathFactory) -> Trail:
    return small_trail(tmp_path_factory)


def run_daemon(queue: str, model: str, log: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "detector", "run", "--queue-url", queue, "--model", model]
    cmd += ["--drain", "--health-port", "-1", "--sink", "null://", "--log-level", "INFO"]
    env = daemon_env({"WAIT_SECONDS": "1", "METRICS_SECONDS": "1"})
    env.update({"S3AD_MODELS_WARMUP_WINDOWS": "40", "S3AD_MODELS_RIVER_WINDOW": "20"})
    return subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_daemon_runs_from_a_model_in_s3_and_refuses_a_tampered_one(
    aws: boto3.session.Session, daemon_trail: Trail, tmp_path: Path
) -> None:
    stack = create_stack(aws)
    trained(tmp_path / "m", str(daemon_trail.root))
    put_tree(aws, tmp_path / "m", "models/m/", stack.bucket)  # outside the notified prefix
    upload(aws, daemon_trail)
    model = f"s3://{stack.bucket}/models/m/"
    run = run_daemon(stack.queue, model, tmp_path / "run.log")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "model verified" in run.stderr and "population models" in run.stderr

    aws.client("s3").put_object(Bucket=stack.bucket, Key="models/m/online.pkl", Body=b"x")
    refused = run_daemon(stack.queue, model, tmp_path / "refused.log")
    assert refused.returncode == 2
    assert "s3ad: " in refused.stderr and "online.pkl does not match metadata.json" in (
        refused.stderr
    )
