"""The scorers: river population models and the IsolationForest adapter."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from detector.detect.iforest import IForestAdapter, fit_iforest, load_iforest, save_iforest
from detector.detect.online import ACCOUNT, EXTERNAL, HUMAN, WORKLOAD, RiverScorer, population
from detector.detect.scorer import COLD, OFF, WARM, combine
from detector.detect.settings import ModelSettings
from detector.errors import ModelError
from detector.features import FEATURES
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
