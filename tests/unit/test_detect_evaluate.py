"""How ``s3ad evaluate`` scores findings against labels."""

from __future__ import annotations

from detector.evaluate import Label, Occurrence, scenario_lines, score, summary_row

P = "arn:aws:iam::1:user/a"
Q = "arn:aws:iam::1:user/b"


def label(
    scenario: str,
    kind: str = "attack",
    principal: str = P,
    start: float = 10_000,
    purpose: str = "Exfiltration",
) -> Label:
    return Label(
        scenario,
        kind,
        "1",
        principal,
        start,
        start + 900,
        ("Exfiltration:S3/AnomalousBehavior",),
        purpose,
    )


def occ(
    fid: str,
    type_: str = "Exfiltration:S3/AnomalousBehavior",
    principal: str = P,
    start: float = 10_200,
) -> Occurrence:
    return Occurrence(fid, type_, "1", principal, start, start + 300)


def test_a_matching_finding_detects_the_scenario_with_its_delay() -> None:
    s = score("full", [label("exfil")], [occ("f1")])
    row = summary_row(s, 1000)
    assert row["recall"] == "1/1" and row["purpose ok"] == "1/1" and row["false findings"] == 0
    assert row["median delay"] == "8 min"  # window end 10,500 − start 10,000


def test_the_wrong_purpose_is_reported() -> None:
    s = score("full", [label("exfil")], [occ("f1", "Discovery:S3/AnomalousBehavior")])
    assert summary_row(s, 1000)["purpose ok"] == "0/1"
    assert "WRONG-TYPE" in "\n".join(scenario_lines(s))


def test_findings_outside_attacks_count_once_per_id_and_benign_bait_counts() -> None:
    labels = [label("exfil"), label("laptop", kind="benign", principal=Q)]
    occs = [occ("f1"), occ("f2", principal=Q), occ("f3", start=50_000), occ("f3", start=60_000)]
    s = score("full", labels, occs)
    row = summary_row(s, 2000)
    assert row["false findings"] == 2 and row["benign flagged"] == "1/1"
    assert row["per 1k p-h"] == "1.00" and s.false_occurrences == 3


def test_a_missed_scenario() -> None:
    s = score("rules-only", [label("exfil")], [occ("f1", principal=Q)])
    assert summary_row(s, 1000)["recall"] == "0/1"
    assert any(line.startswith("exfil") and "missed" in line for line in scenario_lines(s))
