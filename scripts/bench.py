"""s3ad benchmark: every figure from ONE run on the same files, printed as a table and JSON.

- parse floor: gzip + orjson.loads of every file, GC off (the issue's reference), and the same
  with ISA-L's inflate, which s3ad's reader uses (the stricter reference for it)
- reader: gzip + s3ad's typed decode of only the fields it uses (what replay actually pays)
- replay: `s3ad replay --sink null://` end to end (subprocess), records/s and peak RSS
- scoring: detection cost per closed window (rules + river + IsolationForest if a model exists)
- training: `s3ad train` map/merge throughput with 1 and 2 workers
- DuckDB (if installed): the same per-principal 5-minute aggregates, 1 and 2 threads, best mode
- ceiling: DuckDB's query computed in s3ad's own stack (its reader + a dict fold), plus river's
  cost to learn a window: the fastest a replay could run if it did nothing else
  (``scripts/ceiling.py``), beside DuckDB's rate
- --stages PATH: instead of all that, where one replay of PATH spends its time, in µs a record
  (read, ingest, rounds + featurize, detection, history), in process with the GC off — a minute
  on a slice of the bench trail answers "did this change help" (run both variants alternately)
- --scale: replay at 0.5M / 2M / 8M records over 1 / 4 / 16 days (same density) and in one day
  (rising density), and over 2,000 vs 20,000 principals with state bytes per principal; and
  training with 2 workers on the 8M / 16-day trail (its peak RSS must not grow with the history)

The machine is shared and noisy: compare ratios within one run, not absolute rates across runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from isal import isal_zlib

from detector import native

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def trail(out: Path, records: int, principals: int, days: int = 1) -> Path:
    """Generate (or reuse) a trail of about ``records`` records."""
    d = out / f"trail-{records // 1000}k-{principals}p-{days}d"
    if not (d / "labels.jsonl").exists():
        cmd = [
            PY,
            "-m",
            "detector.gen.cli",
            "--out",
            str(d),
            "--days",
            str(days),
            "--principals",
            str(principals),
            "--records",
            str(records),
            "--workers",
            "2",
            "--seed",
            "11",
        ]
        print(f"generating {d.name} …", file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return d


def log_files_in(path: Path) -> list[Path]:
    """The CloudTrail log files under ``path``, in delivery order (as ``replay`` reads them)."""
    from detector.ingest.reader import list_inputs

    return list_inputs([path]).files


def log_files(d: Path) -> list[Path]:
    return log_files_in(d / "AWSLogs")


def _count_records(files: list[Path], count: Callable[[Path], int]) -> dict[str, float]:
    """Read every file with ``count`` (its record count), GC off, and time it."""
    gc.disable()
    try:
        t = time.perf_counter()
        n = sum(count(f) for f in files)
        dt = time.perf_counter() - t
    finally:
        gc.enable()
    return {"records": n, "seconds": dt, "records_per_s": n / dt}


def _orjson_floor(files: list[Path], inflate: Callable[[bytes, int], bytes]) -> dict[str, float]:
    return _count_records(
        files, lambda f: len(orjson.loads(inflate(f.read_bytes(), 31))["Records"])
    )


def parse_floor(files: list[Path]) -> dict[str, float]:
    """gzip + ``orjson.loads`` of every file: the issue's reference floor."""
    return _orjson_floor(files, zlib.decompress)


def parse_floor_isal(files: list[Path]) -> dict[str, float]:
    """The floor with ISA-L's inflate, as s3ad's reader decompresses."""
    return _orjson_floor(files, isal_zlib.decompress)


def reader_floor(files: list[Path]) -> dict[str, float]:
    """s3ad's own reader alone (``read_local``: capped, streamed ISA-L gunzip + typed decode)."""
    from detector.ingest.reader import read_local

    return _count_records(files, lambda f: len(read_local(f).records))


def timed(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a command under /usr/bin/time; wall seconds and peak RSS (MB)."""
    t = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "MAXRSS %M", *cmd],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env} if env else None,
    )
    dt = time.perf_counter() - t
    rss = 0.0
    for line in proc.stderr.splitlines():
        if line.startswith("MAXRSS "):
            rss = int(line.split()[1]) / 1024
    if proc.returncode not in (0, 3):
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"{cmd} failed with {proc.returncode}")
    return {"seconds": dt, "peak_rss_mb": rss, "stderr": proc.stderr}


_REPLAY_READ = re.compile(r"^records +([\d,]+) read", re.M)


def replay(
    d: Path, records: int | None = None, extra: list[str] | None = None, pure: bool = False
) -> dict[str, Any]:
    """``s3ad replay`` to ``null://``; ``records`` None: the count its summary reports.
    ``pure``: the pure-Python build (``S3AD_PURE_PYTHON=1``) instead of the compiled one."""
    r = timed(
        [
            PY,
            "-m",
            "detector",
            "replay",
            "--sink",
            "null://",
            "--log-level",
            "WARNING",
            *(extra or []),
            str(d / "AWSLogs"),
        ],
        env={native.PURE_ENV: "1"} if pure else None,
    )
    if records is None:
        m = _REPLAY_READ.search(r["stderr"])
        if m is None:
            raise SystemExit(
                f"no record count in the replay summary of {d}:\n{r['stderr'][-2000:]}"
            )
        records = int(m.group(1).replace(",", ""))
    r["records"] = records
    r["records_per_s"] = records / r["seconds"]
    r.pop("stderr")
    return r


def scoring_cost(files: list[Path], model: str | None) -> dict[str, float]:
    """Detection cost per closed window, measured apart from reading and windowing."""
    st = stages(files, model)
    return {"windows": st["windows"], "us_per_window": st["detect"] / max(st["windows"], 1) * 1e6}


def state_per_principal(d: Path) -> dict[str, Any]:
    """Long-lived state after replaying a whole trail, as checkpoint bytes (pickle), per principal.

    Principal state (histories, open windows, river models, findings, burst memory) should grow
    with principals, not events; the dedup horizon is per event id and capped by
    ``dedup.max_ids``, so it is reported apart.
    """
    import pickle

    from detector.config import load_settings
    from detector.detect.runner import replay_findings
    from detector.metrics import Metrics
    from detector.replay import FileReport

    result = replay_findings(
        [d / "AWSLogs"], load_settings(), lambda _: None, Metrics(), FileReport()
    )
    state = result.engine.state()
    dedup = len(pickle.dumps(state.pop("dedup"), protocol=pickle.HIGHEST_PROTOCOL))
    engine = len(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
    detection = len(result.detector.snapshot())
    principals = len(result.engine.history.by_key)
    return {
        "principals": principals,
        "bytes_per_principal": (engine + detection) / max(principals, 1),
        "engine_bytes": engine,
        "detection_bytes": detection,
        "dedup_bytes": dedup,
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median rate and time of several runs, every run's rate, and the largest peak RSS (for
    runs in a subprocess, which measure it)."""
    out = {
        "records_per_s": statistics.median(r["records_per_s"] for r in runs),
        "seconds": statistics.median(r["seconds"] for r in runs),
        "runs": [r["records_per_s"] for r in runs],
    }
    if all("peak_rss_mb" in r for r in runs):
        out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return out


def training(
    d: Path, records: int, workers: int, engine: str = "local", tag: str = ""
) -> dict[str, Any]:
    """``s3ad train`` wall time; ``engine="spark"`` runs the map/merge on Spark local[workers]."""
    out = ROOT / "out" / "bench" / f"model-{engine}-w{workers}{tag}"
    cmd = [PY, "-m", "detector", "train", "--out", str(out), "--workers", str(workers)]
    if engine == "spark":
        cmd += ["--engine", "spark", "--spark-master", f"local[{workers}]"]
    r = timed([*cmd, "--log-level", "WARNING", "--no-report", str(d / "AWSLogs")])
    r.pop("stderr")
    r["records_per_s"] = records / r["seconds"]
    return r


# CloudTrail files are {"Records": [...]}: DuckDB's best mode here is read_json with schema
# auto-detection and ignore_errors (real PutBucketTagging records carry both "Tagging" and
# "tagging", which its detection rejects otherwise), then unnest the array and aggregate.
DUCK_SQL = """
SELECT recipientAccountId AS account,
       coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn, userIdentity.invokedBy,
                userIdentity.accountId) AS principal,
       time_bucket(INTERVAL 5 MINUTE, eventTime::TIMESTAMP) AS window,
       count(*) AS events,
       count(*) FILTER (WHERE eventName IN ('GetObject', 'GetObjectVersion')) AS reads,
       count(*) FILTER (WHERE eventName IN ('PutObject', 'CopyObject', 'CompleteMultipartUpload', 'UploadPart')) AS writes,
       count(*) FILTER (WHERE eventName IN ('DeleteObject', 'DeleteObjects')) AS deletes,
       count(*) FILTER (WHERE errorCode IS NOT NULL) AS errors,
       count(DISTINCT requestParameters.bucketName) AS buckets,
       count(DISTINCT requestParameters."key") AS keys,
       sum(TRY_CAST(additionalEventData.bytesTransferredOut AS DOUBLE)) AS bytes_out,
       count(DISTINCT sourceIPAddress) AS ips
FROM (SELECT unnest(Records, max_depth := 2) FROM read_json({files}, ignore_errors = true,
      maximum_object_size = 268435456))
WHERE eventSource = 's3.amazonaws.com'
GROUP BY ALL
"""


def duckdb_rate(files: list[Path], records: int, threads: int) -> dict[str, Any] | None:
    try:
        import duckdb
    except ImportError:
        return None
    listing = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    con = duckdb.connect()
    con.execute(f"SET threads={threads}")
    con.execute("SET preserve_insertion_order = false")
    t = time.perf_counter()
    rows = con.execute(
        f"SELECT count(*), sum(events) FROM ({DUCK_SQL.format(files=listing)})"
    ).fetchone()
    dt = time.perf_counter() - t
    return {
        "threads": threads,
        "seconds": dt,
        "records_per_s": records / dt,
        "windows": rows[0] if rows else 0,
    }


def stack_ceiling(files: list[Path], duck_1t: float) -> dict[str, Any]:
    """DuckDB's query in s3ad's stack and river's cost to learn a window (medians of 3), the
    ceiling they put on a replay, and both against DuckDB's single thread."""
    import ceiling

    runs, folds = [], []
    for _ in range(3):
        folds.append(ceiling.QueryFold())
        runs.append(_count_records(files, folds[-1].add))
    query = {**_median_run(runs), "records": runs[0]["records"], "windows": len(folds[0].groups)}
    learn_us = statistics.median(ceiling.river_learn_us() for _ in range(3))
    top = ceiling.ceiling(query, learn_us)
    return {
        "query_in_stack": query,
        "query_vs_duckdb_1t": query["records_per_s"] / duck_1t,
        "river_learn_us": learn_us,
        "records_per_s": top,
        "vs_duckdb_1t": top / duck_1t,
    }


def scale_point(d: Path, state: bool = False) -> dict[str, Any]:
    """``replay`` on one trail (median of 3, one run above 4M records)."""
    first = replay(d)  # it counts the records: no separate pass over the trail to count them
    runs = [first, *(replay(d) for _ in range(0 if first["records"] > 4_000_000 else 2))]
    r: dict[str, Any] = {"records": first["records"], **_median_run(runs)}
    if state:
        r["state"] = state_per_principal(d)
    return r


def scale(args: argparse.Namespace, main_trail: Path, res: dict[str, Any]) -> dict[str, Any]:
    """Throughput and memory as the work grows, three ways.

    - days: 0.5M / 2M / 8M records over 1 / 4 / 16 days, 2,000 principals: the same events per
      principal-window, ever more history and time — the growth the GC used to punish;
    - density: 0.5M / 2M / 8M records in one day: more events per window (detection costs per
      window, so throughput rises with density);
    - principals: 2M records over 2,000 vs 20,000 principals: state bytes per principal.
    """
    out: dict[str, Any] = {"days": {}, "density": {}, "principals": {}}
    small = scale_point(trail(args.out, 500_000, 2000))
    main = {**res["replay"], "records": res["records"]}
    out["days"] = {
        "1d": small,
        "4d": scale_point(trail(args.out, 2_000_000, 2000, days=4)),
        "16d": scale_point(trail(args.out, 8_000_000, 2000, days=16)),
    }
    out["density"] = {
        "0.5M": small,
        "2M": main,
        "8M": scale_point(trail(args.out, 8_000_000, 2000)),
    }
    out["principals"] = {
        "2000": {**main, "state": state_per_principal(main_trail)},
        "20000": scale_point(trail(args.out, args.records, 20_000), state=True),
    }
    if not args.skip_training:  # one run: about 4 minutes
        long = out["days"]["16d"]
        out["training_16d"] = training(
            trail(args.out, 8_000_000, 2000, days=16), long["records"], 2, tag="-16d"
        )
    for series, (lo, hi) in (("days", ("1d", "16d")), ("density", ("0.5M", "8M"))):
        runs = out[series]
        out[f"{series}_ratio"] = runs[hi]["records_per_s"] / runs[lo]["records_per_s"]
    return out


STAGES = ("read", "ingest", "rounds", "detect", "history")


def stages(files: list[Path], model: str | None = None) -> dict[str, float]:
    """Seconds per stage of one replay of ``files`` (GC off, as in ``replay``), the service's
    objects driven by hand as ``detect.runner`` drives them; plus records and windows."""
    from detector.config import load_settings
    from detector.detect.detector import Detector
    from detector.engine import Engine
    from detector.ingest.reader import read_local

    settings = load_settings(overrides={"models.iforest_path": model} if model else None)
    detector = Detector(settings)
    engine = Engine(settings, notable=detector.notable)
    detector.bind(engine.history)
    spent = dict.fromkeys(STAGES, 0.0)
    clock = time.perf_counter
    records = windows = 0

    def drain(final: bool) -> None:
        nonlocal windows
        rounds = engine.rounds(final)
        while True:
            t = clock()
            batch = next(rounds, None)
            spent["rounds"] += clock() - t
            if batch is None:
                return
            t = clock()
            detector.process(batch)
            t2 = clock()
            engine.learn(detector.learnable(batch))
            spent["detect"] += t2 - t
            spent["history"] += clock() - t2
            windows += len(batch.windows)

    gc.disable()
    try:
        for f in files:
            t = clock()
            decoded = read_local(f)
            t2 = clock()
            engine.ingest(decoded.records)
            spent["read"] += t2 - t
            spent["ingest"] += clock() - t2
            records += len(decoded.records)
            drain(False)
        drain(True)
    finally:
        gc.enable()
    return {**spent, "records": records, "windows": windows}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--principals", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench")
    ap.add_argument("--model", help="model directory for the scoring cost (default: none)")
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument(
        "--scale", action="store_true", help="also replay 0.5M/8M records and 20,000 principals"
    )
    ap.add_argument("--stages", type=Path, metavar="PATH", help="only: µs a record per stage")
    args = ap.parse_args()
    if args.stages:
        st = stages(log_files_in(args.stages), args.model)
        us = {k: st[k] / max(st["records"], 1) * 1e6 for k in STAGES}
        print(
            f"{st['records']:,.0f} records, {st['windows']:,.0f} windows: "
            + ", ".join(f"{k} {v:.2f}" for k, v in us.items())
            + f", total {sum(us.values()):.2f} µs a record"
        )
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    d = trail(args.out, args.records, args.principals)
    files = log_files(d)
    build = native.decide()  # what the replay and training subprocesses run
    res: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "trail": str(d),
        "build": {"mode": build.mode, "reason": build.reason},
    }
    floors = [parse_floor(files) for _ in range(3)]
    records = int(floors[0]["records"])
    res["records"] = records
    res["parse_floor"] = _median_run(floors)
    res["parse_floor_isal"] = _median_run([parse_floor_isal(files) for _ in range(3)])
    res["reader"] = _median_run([reader_floor(files) for _ in range(3)])
    # A compiled build alternates with the pure-Python one (its fallback), medians of each.
    compiled = build.mode == native.COMPILED
    runs: dict[bool, list[dict[str, Any]]] = {pure: [] for pure in (not compiled, True)}
    for _ in range(3):
        for pure, done in runs.items():
            done.append(replay(d, records, pure=pure))
    res["replay"] = _median_run(runs[not compiled])
    if compiled:
        res["replay_pure"] = _median_run(runs[True])
        res["compiled_vs_pure"] = (
            res["replay"]["records_per_s"] / res["replay_pure"]["records_per_s"]
        )
    res["replay_vs_floor"] = res["replay"]["records_per_s"] / res["parse_floor"]["records_per_s"]
    res["replay_vs_floor_isal"] = (
        res["replay"]["records_per_s"] / res["parse_floor_isal"]["records_per_s"]
    )
    res["scoring"] = scoring_cost(files[: max(1, len(files) // 4)], args.model)
    if not args.skip_training:
        # Three runs each, alternating, medians: one run of each is at the mercy of the neighbours.
        runs_by_w: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
        for _ in range(3):
            for w in (1, 2):
                runs_by_w[w].append(training(d, records, w))
        res["training"] = {str(w): _median_run(r) for w, r in runs_by_w.items()}
        try:
            import pyspark  # noqa: F401

            res["training"]["spark local[2]"] = training(d, records, 2, engine="spark")
        except ImportError:
            pass
        res["training_speedup_2w"] = (
            res["training"]["2"]["records_per_s"] / res["training"]["1"]["records_per_s"]
        )
    duck = [duckdb_rate(files, records, t) for t in (1, 2)]
    if duck[0] is not None:
        res["duckdb"] = {str(x["threads"]): x for x in duck if x}
        res["replay_vs_duckdb_1t"] = (
            res["replay"]["records_per_s"] / res["duckdb"]["1"]["records_per_s"]
        )
        if "training" in res:
            res["train2_vs_duckdb_2t"] = (
                res["training"]["2"]["records_per_s"] / res["duckdb"]["2"]["records_per_s"]
            )
        res["ceiling"] = stack_ceiling(files, res["duckdb"]["1"]["records_per_s"])
    if args.scale:
        res["scale"] = scale(args, d, res)
    (args.out / "results.json").write_text(json.dumps(res, indent=2, sort_keys=True))
    print_table(res)
    print(f"\nJSON: {args.out / 'results.json'}")
    return 0


def print_table(res: dict[str, Any]) -> None:
    rows = [
        (
            "build",
            res["build"]["mode"]
            + (f" ({res['build']['reason']})" if res["build"]["reason"] else ""),
        ),
        ("records", f"{res['records']:,}"),
        ("parse floor (gzip+orjson, GC off)", f"{res['parse_floor']['records_per_s']:,.0f} rec/s"),
        (
            "parse floor, ISA-L inflate",
            f"{res['parse_floor_isal']['records_per_s']:,.0f} rec/s",
        ),
        (
            "s3ad reader alone (ISA-L gzip+typed decode)",
            f"{res['reader']['records_per_s']:,.0f} rec/s",
        ),
        ("s3ad replay → null://", f"{res['replay']['records_per_s']:,.0f} rec/s"),
        ("replay / parse floor", f"{res['replay_vs_floor']:.2f}×"),
        *(
            [
                ("replay, pure-Python build", f"{res['replay_pure']['records_per_s']:,.0f} rec/s"),
                ("  compiled / pure", f"{res['compiled_vs_pure']:.2f}×"),
            ]
            if "replay_pure" in res
            else []
        ),
        ("replay / parse floor with ISA-L", f"{res['replay_vs_floor_isal']:.2f}×"),
        ("replay peak RSS", f"{res['replay']['peak_rss_mb']:,.0f} MB"),
        (
            "detection per window",
            f"{res['scoring']['us_per_window']:,.0f} µs ({res['scoring']['windows']:,} windows)",
        ),
    ]
    if "training" in res:
        for w, t in res["training"].items():
            rows.append(
                (
                    f"training, {w if not w.isdigit() else w + ' worker(s)'}",
                    f"{t['records_per_s']:,.0f} rec/s, peak RSS {t['peak_rss_mb']:,.0f} MB",
                )
            )
        rows.append(("training speed-up with 2 workers", f"{res['training_speedup_2w']:.2f}×"))
    if "duckdb" in res:
        for t, x in res["duckdb"].items():
            rows.append((f"DuckDB, {t} thread(s)", f"{x['records_per_s']:,.0f} rec/s"))
        rows.append(("replay / DuckDB 1 thread", f"{res['replay_vs_duckdb_1t']:.2f}×"))
        if "train2_vs_duckdb_2t" in res:
            rows.append(
                ("training 2 workers / DuckDB 2 threads", f"{res['train2_vs_duckdb_2t']:.2f}×")
            )
        c = res["ceiling"]
        q = c["query_in_stack"]
        rows += [
            (
                "DuckDB's query in s3ad's stack",
                f"{q['records_per_s']:,.0f} rec/s ({c['query_vs_duckdb_1t']:.2f}× DuckDB 1 thread,"
                f" {q['windows']:,} windows)",
            ),
            ("river learn_one", f"{c['river_learn_us']:.1f} µs a window"),
            (
                "ceiling: that query + river learning each window",
                f"{c['records_per_s']:,.0f} rec/s ({c['vs_duckdb_1t']:.2f}× DuckDB 1 thread)",
            ),
        ]
    sc = res.get("scale", {})
    for series in ("days", "density", "principals"):
        for k, r in sc.get(series, {}).items():
            rows.append(
                (
                    f"replay, {series} {k} ({r['records']:,} records)",
                    f"{r['records_per_s']:,.0f} rec/s, peak RSS {r['peak_rss_mb']:,.0f} MB",
                )
            )
            if "state" in r:
                st = r["state"]
                rows.append(
                    (
                        f"  state, {k} principals",
                        f"{st['bytes_per_principal']:,.0f} B/principal over "
                        f"{st['principals']:,} (+ dedup ids {st['dedup_bytes'] / 1e6:,.1f} MB)",
                    )
                )
        if f"{series}_ratio" in sc:
            rows.append((f"  {series}: last / first", f"{sc[f'{series}_ratio']:.2f}×"))
    if "training_16d" in sc:
        t = sc["training_16d"]
        rows.append(
            (
                "training, 2 workers, 8M records over 16 days",
                f"{t['records_per_s']:,.0f} rec/s, peak RSS {t['peak_rss_mb']:,.0f} MB",
            )
        )
    width = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"{a:<{width}}  {b}")


if __name__ == "__main__":
    raise SystemExit(main())
