"""The scorers: river population models and the IsolationForest adapter."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.detect.decide import anomaly_hits, could_flag
from detector.detect.explain import deviations
from detector.detect.iforest import IForestAdapter, fit_iforest, load_iforest, save_iforest
from detector.detect.online import ACCOUNT, CALIBRATION_SAMPLE, EXTERNAL, HUMAN, WORKLOAD
from detector.detect.online_scorer import RiverScorer, population
from detector.detect.scorer import COLD, OFF, WARM, combine
from detector.detect.settings import ModelSettings
from detector.errors import ModelError
from detector.events import API_CLASSES, OTHER
from detector.features import FEATURES
from detector.history import TRACKED, PrincipalHistory
from detector.windows import WindowAgg

ACCT = "111122223333"
N = len(FEATURES)


def window(
    ptype: str = "IAMUser", principal: str = "arn:aws:iam::1:user/a", service: bool = False
) -> WindowAgg:
    w = WindowAgg(ACCT, principal, 0)
    w.ptype, w.service = ptype, service
    return w


def normal_rows(n: int, seed: int = 1) -> list[list[float]]:
    rng = random.Random(seed)
    return [
        [rng.gauss(2.0, 0.3) if i < 16 else rng.random() * 0.1 for i in range(N)] for _ in range(n)
    ]


def outlier() -> list[float]:
    return [9.0] * N


def test_populations_keep_humans_workloads_and_outsiders_apart() -> None:
    assert population(window("IAMUser")) == HUMAN
    assert population(window("AssumedRole", "arn:aws:iam::1:role/AWSReservedSSO_Admin_1")) == HUMAN
    assert population(window("AssumedRole", "arn:aws:iam::1:role/etl")) == WORKLOAD
    assert population(window("AWSAccount", "account:999")) == EXTERNAL
    assert population(window("AWSService", "service:s3", service=True)) is None


def test_a_cold_model_scores_nothing_and_says_so_until_warm() -> None:
    s = ModelSettings(warmup_windows=300, river_window=20)
    scorer = RiverScorer(s)
    assert scorer.status().state == COLD
    rows = normal_rows(400)
    ws = [window() for _ in rows]
    first = scorer.score(ws[:1], rows[:1])
    assert first == [None]
    for i in range(0, 300, 50):
        scorer.score(ws[i : i + 50], rows[i : i + 50])
        scorer.learn(ws[i : i + 50], rows[i : i + 50])
    assert scorer.status().state == WARM
    scores = scorer.score([window(), window()], [rows[350], outlier()])
    assert all(s is not None and 0.0 <= s <= 1.0 for s in scores)
    assert scores[1] is not None and scores[0] is not None and scores[1] > 0.99 > scores[0]


def test_service_windows_are_neither_scored_nor_learned() -> None:
    scorer = RiverScorer(ModelSettings(warmup_windows=1))
    svc = window("AWSService", "service:backup.amazonaws.com", service=True)
    scorer.learn([svc] * 10, normal_rows(10))
    assert scorer.models == {}
    assert scorer.score([svc], normal_rows(1)) == [None]


def test_models_are_per_account_and_population() -> None:
    scorer = RiverScorer(ModelSettings())
    other = window()
    other.account = "444455556666"
    scorer.learn(
        [window(), other, window("AssumedRole", "arn:aws:iam::1:role/etl")], normal_rows(3)
    )
    assert sorted(scorer.models) == [
        (ACCT, ACCOUNT),
        (ACCT, HUMAN),
        (ACCT, WORKLOAD),
        ("444455556666", ACCOUNT),
        ("444455556666", HUMAN),
    ]


def test_a_small_population_is_judged_by_its_accounts_model_until_warm() -> None:
    scorer = RiverScorer(ModelSettings(warmup_windows=100, river_window=20))
    rows = normal_rows(120)
    workloads = [window("AssumedRole", "arn:aws:iam::1:role/etl") for _ in rows]
    for i in range(0, 120, 10):  # as the detector does: score a batch, then learn it
        scorer.score(workloads[i : i + 10], rows[i : i + 10])
        scorer.learn(workloads[i : i + 10], rows[i : i + 10])
    human = window()  # no human has been seen in this account yet
    (score,) = scorer.score([human], [outlier()])
    assert score is not None and score > 0.99


def test_disabled_models_are_off() -> None:
    scorer = RiverScorer(ModelSettings(enabled=False))
    assert scorer.status().state == OFF
    scorer.learn([window()], normal_rows(1))
    assert scorer.models == {} and scorer.score([window()], normal_rows(1)) == [None]


def test_isolation_forest_scores_outliers_high_in_one_batch() -> None:
    adapter = fit_iforest(normal_rows(500), seed=3)
    calls = []
    real = adapter.model.score_samples
    adapter.model.score_samples = lambda x: calls.append(len(x)) or real(x)
    scores = adapter.score([window()] * 3, [*normal_rows(2, seed=9), outlier()])
    assert calls == [3]  # the whole batch in one call
    assert scores[2] == 1.0 and all(0.0 <= s < 0.99 for s in scores[:2] if s is not None)
    assert adapter.status().state == WARM


def test_isolation_forest_skips_services() -> None:
    adapter = fit_iforest(normal_rows(100))
    assert adapter.score([window(service=True)], [outlier()]) == [None]


def test_an_artifact_round_trips_and_a_wrong_feature_list_is_refused(tmp_path: Path) -> None:
    adapter = fit_iforest(normal_rows(200))
    save_iforest(adapter, tmp_path / "m")
    loaded = load_iforest(tmp_path / "m")
    x = np.asarray(normal_rows(5, seed=4))
    assert np.allclose(loaded.raw(x), adapter.raw(x))
    with pytest.raises(ModelError, match="retrain"):
        IForestAdapter(adapter.model, [0.0, 1.0], feature_hash="0000")
    with pytest.raises(ModelError):
        load_iforest(tmp_path / "missing")


def test_combining_cold_and_warm_scores() -> None:
    assert combine([None, None]) is None
    assert combine([0.5, None]) == 0.5
    assert combine([0.25, 0.75]) == 0.5


# -- the online model scores only windows an anomaly verdict could use (issue 6) -------------
# ``could_flag`` really is the precondition of ``anomaly_hits`` (so skipping the others loses no
# finding), the windows passed over still calibrate the percentiles as a weighted one-in-eight
# sample, and ``exact`` gives a passed-over window the score it would have had.

SMALL = ModelSettings(warmup_windows=40, river_window=20)


def warm_scorer() -> RiverScorer:
    """A scorer whose human model is warm (learned and calibrated), fed as the detector does."""
    scorer = RiverScorer(SMALL)
    data = normal_rows(120)
    for i in range(0, 120, 10):
        ws = [window() for _ in range(10)]
        scorer.score(ws, data[i : i + 10])
        scorer.learn(ws, data[i : i + 10])
    assert scorer.status().state == WARM
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
    ws, data = [window() for _ in range(n)], normal_rows(n, seed=7)
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
    ws, data = [window() for _ in range(8)], normal_rows(8, seed=9)
    scores = scorer.score(ws, data, needed=[True] * 8)
    scorer.learn(ws, data)
    assert walks[0] == 8 and all(s is not None and 0.0 <= s <= 1.0 for s in scores)
    assert model.calibrator.total == before + 8


def test_exact_gives_the_score_a_needed_window_gets_and_changes_nothing() -> None:
    scorer = warm_scorer()
    model = scorer.models[(ACCT, HUMAN)]
    w, (v,) = window(), normal_rows(1, seed=11)
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
