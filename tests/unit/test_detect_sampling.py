"""The online model scores only windows an anomaly verdict could use (issue 6).

Pinned here: ``could_flag`` really is the precondition of ``anomaly_hits`` (so skipping the
others loses no finding), the windows passed over still calibrate the percentiles as a weighted
one-in-eight sample, and ``exact`` gives a passed-over window the score it would have had.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from detector.detect.decide import anomaly_hits, could_flag
from detector.detect.explain import deviations
from detector.detect.online import CALIBRATION_SAMPLE, HUMAN, RiverScorer
from detector.detect.settings import ModelSettings
from detector.events import API_CLASSES, OTHER
from detector.features import FEATURES
from detector.history import TRACKED, PrincipalHistory
from detector.windows import WindowAgg

ACCT = "111122223333"
N = len(FEATURES)
SMALL = ModelSettings(warmup_windows=40, river_window=20)


def rows(n: int, seed: int = 1) -> list[list[float]]:
    rng = random.Random(seed)
    return [
        [rng.gauss(2.0, 0.3) if i < 16 else rng.random() * 0.1 for i in range(N)] for _ in range(n)
    ]


def human(i: int = 0) -> WindowAgg:
    w = WindowAgg(ACCT, f"arn:aws:iam::1:user/u{i}", 300 * i)
    w.ptype = "IAMUser"
    return w


def warm_scorer() -> RiverScorer:
    """A scorer whose human model is warm (learned and calibrated), fed as the detector does."""
    scorer = RiverScorer(SMALL)
    data = rows(120)
    for i in range(0, 120, 10):
        ws = [human(j) for j in range(i, i + 10)]
        scorer.score(ws, data[i : i + 10])
        scorer.learn(ws, data[i : i + 10])
    assert scorer.status().state == "warm"
    return scorer


def count_walks(scorer: RiverScorer) -> list[int]:
    """Wrap the human model's ``score_one`` to count tree walks."""
    model = scorer.models[(ACCT, HUMAN)]
    calls = [0]
    real = model.hst.score_one

    def counted(x: dict[str, float]) -> Any:
        calls[0] += 1
        return real(x)

    model.hst.score_one = counted
    return calls


def test_passed_over_windows_calibrate_as_a_weighted_one_in_eight_sample() -> None:
    scorer = warm_scorer()
    model = scorer.models[(ACCT, HUMAN)]
    walks = count_walks(scorer)
    before = model.calibrator.total
    n = 4 * CALIBRATION_SAMPLE
    ws, data = [human(200 + i) for i in range(n)], rows(n, seed=7)
    assert scorer.score(ws, data, needed=[False] * n) == [None] * n
    scorer.learn(ws, data)
    assert walks[0] == 4  # one window in eight was scored…
    assert model.calibrator.total == before + n  # …and stands for eight in the histogram
    assert model.learned == 120 + n  # every clean window is still learned


def test_needed_windows_are_all_scored_and_counted_once() -> None:
    scorer = warm_scorer()
    model = scorer.models[(ACCT, HUMAN)]
    walks = count_walks(scorer)
    before = model.calibrator.total
    ws, data = [human(300 + i) for i in range(8)], rows(8, seed=9)
    scores = scorer.score(ws, data, needed=[True] * 8)
    scorer.learn(ws, data)
    assert walks[0] == 8 and all(s is not None and 0.0 <= s <= 1.0 for s in scores)
    assert model.calibrator.total == before + 8


def test_exact_gives_the_score_a_needed_window_gets_and_changes_nothing() -> None:
    scorer = warm_scorer()
    model = scorer.models[(ACCT, HUMAN)]
    w, (v,) = human(500), rows(1, seed=11)
    state = (list(model.calibrator.counts), model.calibrator.total, model.learned, model.unscored)
    late = scorer.exact(w, v)
    assert (
        list(model.calibrator.counts),
        model.calibrator.total,
        model.learned,
        model.unscored,
    ) == state
    assert late is not None and late == scorer.score([w], [v])[0]


def history(rng: random.Random, windows: int) -> PrincipalHistory:
    """A principal that is usually quiet (a call or two) or usually busy and erratic."""
    h = PrincipalHistory()
    levels = (0, 1, 2) if rng.random() < 0.5 else (0, 1, 5, 30, 200, 5000)
    for i in range(windows):
        values = [float(rng.choice(levels)) for _ in TRACKED]
        h.update(values, i % 24, {f"10.0.0.{rng.randrange(4)}"}, {"aws-cli"}, {"b"}, 300.0 * i)
    return h


OTHER_INDEX = API_CLASSES.index(OTHER)


@settings(max_examples=400, deadline=None)
@given(
    counts=st.lists(st.integers(0, 39), min_size=len(API_CLASSES), max_size=len(API_CLASSES)),
    big=st.sampled_from([None, *range(len(API_CLASSES))]),
    bytes_out=st.sampled_from([0, 10_000, 300 * 1024 * 1024, 10**12]),
    service=st.booleans(),
    windows=st.sampled_from([0, 3, 30]),
    learning=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_could_flag_is_the_precondition_of_every_anomaly_verdict(
    counts: list[int],
    big: int | None,
    bytes_out: int,
    service: bool,
    windows: int,
    learning: bool,
    seed: int,
) -> None:
    """If ``could_flag`` says no, no model score (even the top one) makes an anomaly hit — so
    not scoring such windows loses nothing. Windows are drawn around the gate (every class under
    ``min_calls``, or one class at or above it); the test fails as soon as ``class_excess`` grows a
    path that ``could_flag`` does not know about."""
    s = ModelSettings()
    if big is not None:
        counts[big] = 40 + 37 * seed  # at or above the gate: "other" alone still cannot flag
    w = WindowAgg(ACCT, "arn:aws:iam::1:user/u", 86_400)
    w.counts, w.n, w.bytes_out, w.service = counts, sum(counts), bytes_out, service
    w.ptype = "IAMUser"
    w.ips, w.uas = {"203.0.113.9"}, {"curl/8"}  # never seen: the context clues are there
    h = history(random.Random(seed), windows) if windows else None
    hits = anomaly_hits(w, h, deviations(w, h), 1.0, s, learning)
    gated = (big is not None and big != OTHER_INDEX) or bytes_out >= s.min_bytes_out
    assert could_flag(w, s) == (gated and not service)
    if not could_flag(w, s):
        assert hits == []
