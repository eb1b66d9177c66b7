"""``report.md`` and its plots: what a person reviews before deploying a model.

It says what the model was trained on (sources, dates, counts), what a service started from it
gets (population models, baselines), what training flagged and therefore did not learn, how the
IsolationForest scores the training windows (distribution, threshold, the most anomalous
windows and what stands out in them) and how every feature is distributed. Names in the data are
untrusted: they are escaped before they reach Markdown.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from detector.detect.text import clean
from detector.features import FEATURES
from detector.model import plots

TOP = 20


@dataclass(slots=True)
class ReportInput:
    name: str
    metadata: dict[str, Any]  # what goes into metadata.json, without the file hashes
    x: np.ndarray  # the IsolationForest's training rows
    raw: np.ndarray  # their raw scores
    windows: Sequence[tuple[int, str, str, int]]  # (start, account, name, calls) per row
    percentile: float  # models.threshold
    raw_threshold: float  # the raw score at that percentile


def render_report(r: ReportInput) -> dict[str, bytes]:
    """``report.md`` and ``plots/*.png`` as bytes, by artifact file name."""
    top = [int(i) for i in np.argsort(-r.raw, kind="stable")[:TOP]]
    labels = [_label(r.windows[i]) for i in top]
    files = {
        "plots/scores.png": plots.score_plot(r.raw, r.raw_threshold, r.percentile),
        "plots/top_windows.png": plots.top_plot(
            labels, [float(r.raw[i]) for i in top], r.raw_threshold
        ),
        "plots/features.png": plots.feature_plot(r.x, top[:5]),
    }
    files["report.md"] = markdown(r, top).encode()
    return files


def markdown(r: ReportInput, top: list[int]) -> str:
    m = r.metadata
    data, counts, params = m["data"], m["counts"], m["parameters"]
    files, recs, wins = counts["files"], counts["records"], counts["windows"]
    lines = [
        f"# s3ad model `{_md(r.name)}`",
        "",
        f"Trained {m['created']} with s3ad {m['versions']['s3ad']} (scikit-learn "
        f"{m['versions']['scikit-learn']}, river {m['versions']['river']}, numpy "
        f"{m['versions']['numpy']}, Python {m['versions']['python']}); features "
        f"`{m['features']['hash']}` ({len(FEATURES)}).",
        "",
        "## Training data",
        "",
        f"- sources: {', '.join(f'`{_md(s)}`' for s in data['sources'])}",
        f"- events from {data['first_event']} to {data['last_event']} "
        f"(filter: {data['start'] or 'any'} → {data['end'] or 'any'}; accounts: "
        f"{', '.join(data['accounts_filter']) if data['accounts_filter'] else 'all'})",
        f"- accounts: {', '.join(data['accounts'])}",
        "",
        "| | count |",
        "|---|---:|",
        f"| files read | {files['read']:,} |",
        f"| files skipped (digest, Insight, filtered by name) | {files['skipped']:,} |",
        f"| files unreadable | {files['unreadable']:,} |",
        f"| records read | {recs['read']:,} |",
        f"| records in windows | {recs['windowed']:,} |",
        f"| records outside the dates / accounts | {recs['out_of_range']:,} |",
        f"| records not S3 / invalid / duplicate | {recs['not_s3']:,} / {recs['invalid']:,} / "
        f"{recs['duplicates']:,} |",
        f"| windows ({params['window_seconds']} s) | {wins['total']:,} |",
        f"| principals | {counts['principals']:,} |",
        "",
        "## What a service started from this model gets",
        "",
        f"- {len(m['population_models'])} river population models "
        f"({sum(1 for p in m['population_models'] if p['warm'])} warm: learned ≥ "
        f"{params['warmup_windows']} clean windows):",
        "",
        "| account | population | windows learned | warm |",
        "|---|---|---:|---|",
        *[
            f"| {p['account']} | {p['population']} | {p['learned']:,} | "
            f"{'yes' if p['warm'] else 'no'} |"
            for p in m["population_models"]
        ],
        "",
        f"- {counts['principals']:,} per-principal baselines; the learning period of "
        f"{len(data['accounts'])} account(s) starts at their first training window.",
        f"- an IsolationForest of {params['trees']} trees fitted on {wins['sampled']:,} of the "
        f"{wins['clean']:,} clean non-service windows (seeded sample, seed {params['seed']}).",
        "",
        "## Windows that raised findings during training (not learned)",
        "",
        *_findings(counts["findings"], wins["flagged"]),
        "",
        "## IsolationForest scores",
        "",
        f"The service reports a window's score as its percentile among these windows; the model "
        f"threshold (`models.threshold` = {r.percentile}) is raw score {r.raw_threshold:.4f}.",
        "",
        "![score distribution](plots/scores.png)",
        "",
        "## Most anomalous training windows",
        "",
        "Clean windows (no finding) the IsolationForest finds most unusual: review them — an "
        'attack in the training data would be learned as normal. "What stands out" lists '
        "the features furthest from their median over the training windows (counts are log1p).",
        "",
        "| # | window (UTC) | account | principal | calls | score | what stands out |",
        "|---:|---|---|---|---:|---:|---|",
        *_top_rows(r, top),
        "",
        "![top anomalous windows](plots/top_windows.png)",
        "",
        "## Feature distributions",
        "",
        "![feature distributions](plots/features.png)",
        "",
        "## Using it",
        "",
        f"`s3ad run --model models/{_md(r.name)}` (or an `s3://…/models/{_md(r.name)}/` copy) "
        "and `s3ad replay --model …` verify every file's sha256 against `metadata.json` before "
        "loading. The model files include pickles, which run code when loaded: keep the model "
        "location writable only by the roles that train and deploy models.",
        "",
    ]
    return "\n".join(lines)


def _findings(by_type: dict[str, int], flagged: int) -> list[str]:
    if not by_type:
        return ["None: every window was learned."]
    out = [
        f"{flagged:,} windows were flagged and left out.",
        "",
        "| type | findings |",
        "|---|---:|",
    ]
    out += [f"| {t} | {n:,} |" for t, n in sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))]
    return out


def _top_rows(r: ReportInput, top: list[int]) -> list[str]:
    med = np.median(r.x, axis=0)
    mad = np.median(np.abs(r.x - med), axis=0) * 1.4826
    scale = np.maximum(np.maximum(mad, 0.25 * r.x.std(axis=0)), 1e-6)
    out = []
    for rank, i in enumerate(top, 1):
        start, acct, name, calls = r.windows[i]
        z = (r.x[i] - med) / scale
        odd = np.argsort(-np.abs(z), kind="stable")[:3]
        why = ", ".join(f"{FEATURES[j]} {r.x[i, j]:.2f} (median {med[j]:.2f})" for j in odd)
        out.append(
            f"| {rank} | {_when(start)} | {acct} | {_md(name)} | {calls:,} | "
            f"{r.raw[i]:.4f} | {why} |"
        )
    return out


def _label(window: tuple[int, str, str, int]) -> str:
    start, _acct, name, calls = window
    return f"{_when(start)}  {clean(name, 40)}  ({calls:,} calls)"


def _when(start: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(start))


def _md(value: str) -> str:
    """Untrusted text inside a Markdown table cell or code span."""
    return clean(value, 80).replace("|", "\\|").replace("`", "'").replace("<", "&lt;")
