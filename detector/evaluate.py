"""``s3ad evaluate``: findings against a labelled trail — recall, type, delay, false findings.

A finding *occurrence* (one line of a findings file: created or updated by one window) matches a
label when account and principal are equal and the occurrence's window overlaps the labelled
span (± ``slack``). Per attack scenario: detected or missed, the types given vs expected, whether
one of them has the expected threat purpose (the part before ":"), and the delay from the
scenario's start to the end of the first matching window. A finding id with an occurrence that
matches no attack label is one *false finding* (benign-labelled episodes included: they are the
bait); the rate is per 1,000 principal-hours (principals × trail hours).

With ``--trail`` the trail is replayed in-process (full models, and with ``--compare-rules-only``
again with the models disabled) and both rows are printed from the same data.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from detector.config import Settings
from detector.errors import ConfigError

SLACK = 600.0  # seconds either side of a label: two windows


def parse_time(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True, slots=True)
class Label:
    scenario: str
    kind: str
    account: str
    principal: str
    start: float
    end: float
    expected: tuple[str, ...]
    purpose: str


@dataclass(frozen=True, slots=True)
class Occurrence:
    id: str
    type: str
    account: str
    principal: str
    start: float
    end: float


@dataclass(slots=True)
class Score:
    name: str
    rows: list[tuple[Label, list[Occurrence]]] = field(default_factory=list)
    false_ids: set[str] = field(default_factory=set)
    false_occurrences: int = 0
    finding_ids: int = 0

    @property
    def attacks(self) -> list[tuple[Label, list[Occurrence]]]:
        return [(lab, occ) for lab, occ in self.rows if lab.kind == "attack"]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return [orjson.loads(line) for line in lines if line.strip()]


def load_labels(path: Path) -> list[Label]:
    return [
        Label(
            d["scenario"], d["kind"], d["account"], d["principal"],
            parse_time(d["start"]), parse_time(d["end"]),
            tuple(d.get("expected_types") or ()), d.get("purpose", ""),
        )
        for d in read_jsonl(path)
    ]  # fmt: skip


def occurrence(f: dict[str, Any]) -> Occurrence:
    info = orjson.loads(f["service"]["additionalInfo"]["value"])
    window = info.get("window", {})
    end = parse_time(window.get("end", f["updatedAt"]))
    start = parse_time(window["start"]) if "start" in window else end - 300
    principal = f["resource"]["accessKeyDetails"]["principalId"]
    return Occurrence(f["id"], f["type"], f["accountId"], principal, start, end)


def _matches(o: Occurrence, lab: Label, slack: float) -> bool:
    return (
        o.account == lab.account
        and o.principal == lab.principal
        and o.start <= lab.end + slack
        and o.end >= lab.start - slack
    )


def score(
    name: str, labels: Sequence[Label], occs: Iterable[Occurrence], slack: float = SLACK
) -> Score:
    s = Score(name)
    occs = list(occs)
    matched: dict[int, list[Occurrence]] = {i: [] for i in range(len(labels))}
    for o in occs:
        hit = False
        for i, lab in enumerate(labels):
            if _matches(o, lab, slack):
                matched[i].append(o)
                hit = hit or lab.kind == "attack"
        if not hit:
            s.false_ids.add(o.id)
            s.false_occurrences += 1
    s.rows = [(lab, sorted(matched[i], key=lambda o: o.end)) for i, lab in enumerate(labels)]
    s.finding_ids = len({o.id for o in occs})
    return s


def purpose_of(type_name: str) -> str:
    return type_name.split(":", 1)[0]


def scenario_lines(s: Score) -> list[str]:
    out = [f"{'scenario':<38} {'result':<9} {'delay':>7}  {'types given':<58} expected purpose"]
    for lab, occ in sorted(s.rows, key=lambda r: (r[0].kind, r[0].scenario, r[0].start)):
        types = sorted({o.type for o in occ})
        if lab.kind == "attack":
            ok = any(purpose_of(t) == lab.purpose or t in lab.expected for t in types)
            result = "missed" if not occ else ("detected" if ok else "WRONG-TYPE")
            delay = f"{(occ[0].end - lab.start) / 60:.0f} min" if occ else "-"
        else:
            result, delay = ("FLAGGED" if occ else "quiet"), "-"
        given = ", ".join(types) or "-"
        out.append(
            f"{lab.scenario[:38]:<38} {result:<9} {delay:>7}  {given[:58]:<58} {lab.purpose}"
        )
    return out


def summary_row(s: Score, principal_hours: float) -> dict[str, Any]:
    attacks = s.attacks
    detected = [(lab, occ) for lab, occ in attacks if occ]
    typed = [
        (lab, occ) for lab, occ in detected
        if any(purpose_of(o.type) == lab.purpose or o.type in lab.expected for o in occ)
    ]  # fmt: skip
    delays = sorted((occ[0].end - lab.start) / 60 for lab, occ in detected)
    benign = [lab for lab, occ in s.rows if lab.kind == "benign" and occ]
    return {
        "config": s.name,
        "recall": f"{len(detected)}/{len(attacks)}",
        "purpose ok": f"{len(typed)}/{len(attacks)}",
        "median delay": f"{delays[len(delays) // 2]:.0f} min" if delays else "-",
        "benign flagged": f"{len(benign)}/{sum(1 for lab, _ in s.rows if lab.kind == 'benign')}",
        "false findings": len(s.false_ids),
        "per 1k p-h": f"{1000 * len(s.false_ids) / principal_hours:.2f}"
        if principal_hours
        else "?",
        "findings": s.finding_ids,
    }


def table(rows: Sequence[dict[str, Any]]) -> list[str]:
    keys = list(rows[0])
    width = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    lines = ["  ".join(f"{k:<{width[k]}}" for k in keys)]
    lines += ["  ".join(f"{r[k]!s:<{width[k]}}" for k in keys) for r in rows]
    return lines


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labels", type=Path, required=True, metavar="labels.jsonl")
    p.add_argument("--findings", type=Path, action="append", default=[], metavar="F.jsonl",
                   help="findings file(s) to score (NAME=PATH to name a row)")  # fmt: skip
    p.add_argument("--trail", type=Path, action="append", default=[], metavar="PATH",
                   help="replay this trail in-process instead of reading findings")  # fmt: skip
    p.add_argument("--compare-rules-only", action="store_true",
                   help="with --trail: also replay with the models disabled")  # fmt: skip
    p.add_argument("--principal-hours", type=float, help="denominator of the false-finding rate")
    p.add_argument(
        "--save-findings", type=Path, metavar="DIR", help="with --trail: keep the findings"
    )
    p.add_argument("--slack", type=float, default=SLACK, help="seconds of slack around labels")


def _replay(
    paths: list[Path], settings: Settings, save: Path | None, name: str
) -> tuple[list[Occurrence], float]:
    from detector.detect.runner import replay_findings
    from detector.metrics import Metrics
    from detector.replay import FileReport

    lines: list[bytes] = []

    def keep(found: list[dict[str, Any]]) -> None:
        lines.extend(orjson.dumps(f, option=orjson.OPT_SORT_KEYS) for f in found)

    result = replay_findings(paths, settings, keep, Metrics(), FileReport())
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        (save / f"findings-{name}.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))
    hours = {h for _, _, h in result.principal_hours}
    principals = {(a, p) for a, p, _ in result.principal_hours}
    occs = [occurrence(orjson.loads(x)) for x in lines]
    return occs, float(len(principals) * (max(hours) - min(hours) + 1) if hours else 0)


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    labels = load_labels(args.labels)
    runs: list[tuple[str, list[Occurrence]]] = []
    ph = args.principal_hours or 0.0
    if args.trail:
        configs = [("full", settings)]
        if args.compare_rules_only:
            off = dataclasses.replace(settings.models, enabled=False)
            configs.append(("rules-only", dataclasses.replace(settings, models=off)))
        for name, cfg in configs:
            occs, trail_ph = _replay(args.trail, cfg, args.save_findings, name)
            runs.append((name, occs))
            ph = args.principal_hours or trail_ph
    for spec in args.findings:
        name, _, path = str(spec).rpartition("=")
        runs.append((name or Path(path).stem, [occurrence(f) for f in read_jsonl(Path(path))]))
    if not runs:
        raise ConfigError("evaluate needs --findings F.jsonl or --trail PATH")
    scores = [score(name, labels, occs, args.slack) for name, occs in runs]
    out: list[str] = []
    for s in scores:
        out += ["", f"== {s.name}: per scenario", *scenario_lines(s)]
    out += [
        "",
        f"== summary ({ph:,.0f} principal-hours)",
        *table([summary_row(s, ph) for s in scores]),
    ]
    sys.stdout.write("\n".join(out) + "\n")
    return 0
