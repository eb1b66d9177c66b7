"""A principal's tables of usual IPs, agents and buckets are bounded: past the cap, a new value
takes the place of the least used one (ties: the smallest value), so the same windows always
leave the same history, whatever the machine.

Story: a build role that rotates through hundreds of NAT addresses must not grow its history
without bound, and two daemons replaying the same files must agree on what it has forgotten.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from detector.history import MAX_IPS, TRACKED, PrincipalHistory, _bump


def reference(table: dict[str, int], value: str, cap: int) -> None:
    """The rule, written out the slow, obvious way."""
    if value not in table and len(table) >= cap:
        victim = sorted(table.items(), key=lambda kv: (kv[1], kv[0]))[0][0]
        del table[victim]
    table[value] = table.get(value, 0) + 1


@given(
    st.lists(st.sampled_from([f"v{i:02d}" for i in range(12)]), max_size=200),
    st.integers(min_value=1, max_value=8),
)
def test_the_least_used_value_is_forgotten_first_ties_by_value(values: list[str], cap: int) -> None:
    fast: dict[str, int] = {}
    slow: dict[str, int] = {}
    for v in values:
        _bump(fast, v, cap)
        reference(slow, v, cap)
        assert list(fast.items()) == list(slow.items())  # the same entries, in the same order
        assert len(fast) <= cap


def test_a_principal_with_many_addresses_keeps_the_ones_it_uses() -> None:
    h = PrincipalHistory()
    usual = {"10.0.0.1", "10.0.0.2"}
    for i in range(500):
        h.update(
            [1.0] * len(TRACKED), 12, usual | {f"198.51.100.{i % 250}"}, {"ua"}, {"b"}, float(i)
        )
    assert len(h.ips) == MAX_IPS
    assert usual <= set(h.ips) and h.ips["10.0.0.1"] == 500
