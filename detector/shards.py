"""Account shards for real time: which S3 key prefixes feed which queue, which accounts each
daemon accepts — planned once, validated for gaps and overlaps (issue 8, DESIGN.md "Scale").

State is keyed by (recipient account, principal), so daemons that split the accounts between
them find what one daemon would. A plan splits the trail's key space
``[P/]AWSLogs/[o-org/]<acct>/`` in one of two ways:

- ``digits`` (no account list): by the leading digits of the 12-digit account id — 10 one-digit
  prefixes for up to 10 shards, 100 two-digit ones for up to 100, … in contiguous, balanced
  ranges. It covers every possible account, including accounts that join the organisation later.
- ``accounts`` (an account list): one prefix ``…/<acct>/CloudTrail/`` per account, accounts
  balanced by weight (their event volume, if known) over the shards. Unlisted accounts are not
  watched: re-plan when accounts join.

S3 rejects a notification configuration whose filters overlap; moto does not, so
``validate_plan`` checks the plan's prefixes here (and ``shards_notify.overlaps`` the bucket's
whole configuration). ``shards_cli`` prints plans, ``shards_cfn`` deploys their queues.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from detector.errors import ConfigError

DIGITS = "digits"
ACCOUNTS = "accounts"
SUFFIX = ".json.gz"  # log files; the notification filters' suffix
MAX_SHARDS = 1000  # three leading digits; beyond that, list the accounts
ACCOUNT_RE = re.compile(r"^\d{12}$")
ORG_RE = re.compile(r"^o-[a-z0-9]{10,32}$")
QUEUE_RE = re.compile(r"^[A-Za-z0-9_-]{1,76}$")  # SQS allows 80; "-dlq" is appended


class PlanError(ConfigError):
    """The requested plan is impossible, or a plan has a gap or an overlap."""


@dataclass(frozen=True, slots=True)
class AccountFilter:
    """The accounts one daemon accepts: listed ids and/or leading digits (nothing = all).

    >>> f = AccountFilter.build(["111122223333"], ["4", "56"])
    >>> [f.accepts(a) for a in ("111122223333", "444455556666", "566566982294", "777788889999")]
    [True, True, True, False]
    >>> AccountFilter.build([], []).accepts("777788889999")
    True
    """

    accounts: frozenset[str]
    prefixes: tuple[str, ...]

    @classmethod
    def build(cls, accounts: Iterable[str], prefixes: Iterable[str]) -> AccountFilter:
        """Checked filter; ``PlanError`` names a malformed account id or digit prefix."""
        accts, digits = frozenset(accounts), tuple(prefixes)
        bad = sorted(a for a in accts if not ACCOUNT_RE.match(a))
        if bad:
            raise PlanError(f"account ids must be 12 digits: {bad}")
        bad = sorted(p for p in digits if p and not (p.isdigit() and p.isascii() and len(p) <= 12))
        if bad:
            raise PlanError(f"account prefixes must be 1-12 digits: {bad}")
        return cls(accts, digits)

    @property
    def active(self) -> bool:
        """False when every account is accepted (no filter, or the empty digit prefix)."""
        return bool(self.accounts) or any(self.prefixes)

    def accepts(self, account: str) -> bool:
        if not self.active:
            return True
        return account in self.accounts or account.startswith(self.prefixes)

    def describe(self) -> str:
        parts = []
        if self.accounts:
            parts.append(f"accounts {','.join(sorted(self.accounts))}")
        if self.prefixes:
            parts.append(f"account prefixes {','.join(self.prefixes) or '(all)'}")
        return "; ".join(parts) or "all accounts"


@dataclass(frozen=True, slots=True)
class Shard:
    index: int
    queue: str
    prefixes: tuple[str, ...]  # S3 key prefixes feeding this shard's queue
    accounts: tuple[str, ...] = ()  # accounts mode: the ids accepted
    account_prefixes: tuple[str, ...] = ()  # digits mode: the leading digits accepted

    @property
    def dlq(self) -> str:
        return f"{self.queue}-dlq"

    @property
    def filter(self) -> AccountFilter:
        return AccountFilter(frozenset(self.accounts), self.account_prefixes)

    def run_flags(self) -> list[str]:
        """The ``s3ad run`` flags that make a daemon refuse other shards' accounts."""
        if self.accounts:
            return ["--accounts", ",".join(self.accounts)]
        if any(self.account_prefixes):  # ("",) is the whole key space: no filter needed
            return ["--account-prefixes", ",".join(self.account_prefixes)]
        return []

    def environment(self) -> dict[str, str]:
        """The same as ``S3AD_SERVICE_*`` variables (for an ECS task definition)."""
        env = {
            "S3AD_SERVICE_ACCOUNTS": ",".join(self.accounts),
            "S3AD_SERVICE_ACCOUNT_PREFIXES": ",".join(p for p in self.account_prefixes if p),
        }
        return {k: v for k, v in env.items() if v}


@dataclass(frozen=True, slots=True)
class Plan:
    mode: str  # DIGITS or ACCOUNTS
    base: str  # "[P/]AWSLogs/[o-org/]": every prefix starts with it
    shards: tuple[Shard, ...]
    accounts: tuple[str, ...] = ()  # accounts mode: every account the plan must cover
    bucket: str = ""

    def shard_for_key(self, key: str) -> Shard | None:
        """The shard whose notification filter matches ``key`` (None: no queue gets it)."""
        hits = [s for s in self.shards for p in s.prefixes if key.startswith(p)]
        return hits[0] if len(hits) == 1 and key.endswith(SUFFIX) else None

    def log_prefix(self, account: str) -> str:
        """Where CloudTrail writes ``account``'s log files in this plan's bucket."""
        return f"{self.base}{account}/CloudTrail/"


def key_base(prefix: str = "", org: str | None = None) -> str:
    """``[P/]AWSLogs/[o-org/]``, the part of every log key before the account id.

    >>> key_base("trails/", "o-abc123def4")
    'trails/AWSLogs/o-abc123def4/'
    """
    if org and not ORG_RE.match(org):
        raise PlanError(f"organization id {org!r} is not o- followed by 10-32 [a-z0-9]")
    head = prefix.strip("/")
    return (f"{head}/" if head else "") + "AWSLogs/" + (f"{org}/" if org else "")


def plan_shards(
    n: int,
    *,
    org: str | None = None,
    accounts: Sequence[str] | None = None,
    weights: Mapping[str, float] | None = None,
    prefix: str = "",
    bucket: str = "",
    name: str = "s3ad-shard",
) -> Plan:
    """A validated plan of ``n`` shards (by account list when given, else by leading digits)."""
    if not 1 <= n <= MAX_SHARDS:
        raise PlanError(f"--shards must be 1..{MAX_SHARDS}, not {n}")
    if not QUEUE_RE.match(f"{name}-{n - 1}"):
        raise PlanError(f"queue name stem {name!r}: SQS names are [A-Za-z0-9_-], ≤ 80 chars")
    base = key_base(prefix, org)
    if accounts is not None:
        plan = _by_accounts(n, base, accounts, weights or {}, bucket, name)
    else:
        plan = _by_digits(n, base, bucket, name)
    validate_plan(plan)
    return plan


def _by_digits(n: int, base: str, bucket: str, name: str) -> Plan:
    width = 1
    while 10**width < n:
        width += 1
    total = 10**width
    shards = []
    for i in range(n):
        lo, hi = i * total // n, (i + 1) * total // n  # contiguous, sizes differ by at most 1
        digits = _collapse([str(v).zfill(width) for v in range(lo, hi)])
        shards.append(
            Shard(
                index=i,
                queue=f"{name}-{i}",
                prefixes=tuple(base + d for d in digits),
                account_prefixes=tuple(digits),
            )
        )
    return Plan(DIGITS, base, tuple(shards), bucket=bucket)


def _collapse(digits: list[str]) -> list[str]:
    """Replace every complete set of ten siblings by their parent (fewer S3 configurations).

    >>> _collapse([f"{i}{j}" for i in (3, 4) for j in range(10)] + ["50"])
    ['3', '4', '50']
    >>> _collapse([str(i) for i in range(10)])
    ['']
    """
    out = sorted(digits)
    while True:
        parents: dict[str, list[str]] = {}
        for d in out:
            if d:
                parents.setdefault(d[:-1], []).append(d)
        full = {
            p
            for p, kids in parents.items()
            if len(kids) == 10 and all(len(k) == len(p) + 1 for k in kids)
        }
        if not full:
            return out
        out = sorted({d[:-1] if d and d[:-1] in full else d for d in out})


def _by_accounts(
    n: int,
    base: str,
    accounts: Sequence[str],
    weights: Mapping[str, float],
    bucket: str,
    name: str,
) -> Plan:
    listed = sorted(set(accounts))
    AccountFilter.build(listed, ())  # checks the ids
    if len(listed) < n:
        raise PlanError(f"{n} shards for {len(listed)} account(s): a shard would have no account")
    # Longest-processing-time first: heaviest account to the lightest shard; ties are broken by
    # account id and shard index, so the same input always gives the same plan.
    load = [0.0] * n
    members: list[list[str]] = [[] for _ in range(n)]
    for acct in sorted(listed, key=lambda a: (-float(weights.get(a, 1.0)), a)):
        i = min(range(n), key=lambda j: (load[j], len(members[j]), j))
        members[i].append(acct)
        load[i] += float(weights.get(acct, 1.0))
    shards = tuple(
        Shard(
            index=i,
            queue=f"{name}-{i}",
            prefixes=tuple(f"{base}{a}/CloudTrail/" for a in sorted(m)),
            accounts=tuple(sorted(m)),
        )
        for i, m in enumerate(members)
    )
    return Plan(ACCOUNTS, base, shards, accounts=tuple(listed), bucket=bucket)


def plan_problems(plan: Plan) -> list[str]:
    """Every gap, overlap or inconsistency of ``plan`` ([] when it is sound)."""
    problems: list[str] = []
    if [s.index for s in plan.shards] != list(range(len(plan.shards))) or not plan.shards:
        problems.append("shards must be numbered 0..N-1 and N ≥ 1")
    names = [q for s in plan.shards for q in (s.queue, s.dlq)]
    problems += [f"queue name {q!r} used twice" for q, k in sorted(Counter(names).items()) if k > 1]
    problems += [
        f"invalid queue name {s.queue!r}" for s in plan.shards if not QUEUE_RE.match(s.queue)
    ]
    prefixes = [p for s in plan.shards for p in s.prefixes]
    problems += [
        f"prefix {p!r} is outside {plan.base!r}" for p in prefixes if not p.startswith(plan.base)
    ]
    problems += [f"prefixes {a!r} and {b!r} overlap" for a, b in prefix_overlaps(prefixes)]
    for s in plan.shards:
        expected = (
            [plan.log_prefix(a) for a in s.accounts]
            if plan.mode == ACCOUNTS
            else [plan.base + d for d in s.account_prefixes]
        )
        if sorted(expected) != sorted(s.prefixes):
            problems.append(f"shard {s.index}: its S3 prefixes and the accounts it accepts differ")
    if plan.mode == DIGITS:
        problems += _digit_gaps(plan)
    elif plan.mode == ACCOUNTS:
        problems += _account_gaps(plan)
    else:
        problems.append(f"unknown plan mode {plan.mode!r}")
    return problems


def validate_plan(plan: Plan) -> None:
    """Raise ``PlanError`` listing every problem of ``plan``."""
    problems = plan_problems(plan)
    if problems:
        raise PlanError("invalid shard plan: " + "; ".join(problems))


def _digit_gaps(plan: Plan) -> list[str]:
    """Every 12-digit account id must start with exactly one shard's digits.

    A prefix-free set of digit strings (none longer than 12) covers each id at most once; it
    covers each exactly once iff the fractions of the id space they take sum to one (Kraft).
    """
    digits = [d for s in plan.shards for d in s.account_prefixes]
    problems = [f"account prefix {d!r} is not 0-12 digits" for d in digits if not _is_digits(d)]
    if any(s.accounts for s in plan.shards):
        problems.append("a digits plan lists accounts")
    problems += [f"account prefixes {a!r} and {b!r} overlap" for a, b in prefix_overlaps(digits)]
    if not problems:
        share = sum((Fraction(1, 10 ** len(d)) for d in digits), Fraction(0))
        if share != 1:
            problems.append(f"account prefixes cover {float(share):.4%} of account ids, not all")
    return problems


def _account_gaps(plan: Plan) -> list[str]:
    owned = [a for s in plan.shards for a in s.accounts]
    problems = [
        f"account {a!r} is in more than one shard"
        for a, k in sorted(Counter(owned).items())
        if k > 1
    ]
    problems += [f"account {a!r} is in no shard" for a in sorted(set(plan.accounts) - set(owned))]
    problems += [
        f"account {a!r} is not in the plan's list" for a in sorted(set(owned) - set(plan.accounts))
    ]
    problems += [f"shard {s.index} has no account" for s in plan.shards if not s.accounts]
    problems += [f"{a!r} is not a 12-digit account id" for a in owned if not ACCOUNT_RE.match(a)]
    if any(s.account_prefixes for s in plan.shards):
        problems.append("an accounts plan lists account prefixes")
    return problems


def _is_digits(d: str) -> bool:
    return d == "" or (d.isascii() and d.isdigit() and len(d) <= 12)


def prefix_overlaps(prefixes: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs where one string is a prefix of (or equal to) the other.

    In sorted order a string is immediately followed by its extensions, so comparing each one
    with the next is enough to find one overlap per offending group.

    >>> prefix_overlaps(["AWSLogs/1", "AWSLogs/2", "AWSLogs/12"])
    [('AWSLogs/1', 'AWSLogs/12')]
    """
    ordered = sorted(prefixes)
    return [(a, b) for a, b in itertools.pairwise(ordered) if b.startswith(a)]
