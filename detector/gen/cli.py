"""``gen_trail``: write a deterministic CloudTrail S3 trail and print a one-line JSON summary."""

from __future__ import annotations

import argparse
import sys

import orjson

from detector.gen import GenConfig, generate


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gen_trail", description=__doc__)
    p.add_argument(
        "--out", required=True, help="output directory (AWSLogs/... is written under it)"
    )
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--start", default="2026-11-01", help="first day, YYYY-MM-DD (UTC)")
    p.add_argument("--principals", type=int, default=60)
    p.add_argument("--accounts", type=int, default=2)
    p.add_argument(
        "--org", default="o-abc123def4", help='organization id in the key; "" or "none" to omit'
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--attacks",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="inject labelled scenarios",
    )
    p.add_argument(
        "--attack-after-day",
        type=float,
        default=None,
        help="default: 3 if --days >= 4 else half the trail",
    )
    p.add_argument(
        "--records", type=int, default=None, help="approximate total; scales event rates"
    )
    p.add_argument(
        "--workers", type=int, default=1, help="processes; the output does not depend on it"
    )
    p.add_argument("--labels", default=None, help="labels file (default OUT/labels.jsonl)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.days < 1 or args.principals < 1 or args.accounts < 1 or args.workers < 1:
        print(
            "gen_trail: --days, --principals, --accounts and --workers must be >= 1",
            file=sys.stderr,
        )
        return 2
    org = None if args.org in ("", "none") else args.org
    cfg = GenConfig(
        out=args.out,
        days=args.days,
        start=args.start,
        principals=args.principals,
        accounts=args.accounts,
        org=org,
        seed=args.seed,
        attacks=args.attacks,
        attack_after_day=args.attack_after_day,
        records=args.records,
        workers=args.workers,
        labels=args.labels,
    )
    summary = generate(cfg)
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
