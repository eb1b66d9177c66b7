"""``s3ad shards plan``: print a validated account-shard plan as text, JSON, the bucket's
notification configuration, or a CloudFormation template (queues + DLQs).

Nothing here calls AWS: the plan is applied with the usual tools (README, "Scaling out").
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from detector.config import Settings
from detector.shards import Plan, PlanError, plan_shards
from detector.shards_cfn import cloudformation_yaml
from detector.shards_notify import (
    EVENTS,
    eventbridge_rules,
    notification_configuration,
    overlaps,
    queue_arn,
)

FORMATS = ("text", "json", "notification", "cloudformation", "eventbridge")


def add_shards_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="shards_command", required=True)
    p = sub.add_parser(
        "plan",
        help="split the trail's accounts over N daemons",
        description="Plan N account shards: non-overlapping S3 notification prefix filters, "
        "one queue per shard, and the accounts each daemon accepts.",
    )
    p.set_defaults(config=None, log_level=None)
    p.add_argument("--shards", type=int, required=True, metavar="N", help="number of daemons")
    p.add_argument("--org", metavar="o-xxx", help="organization id in the keys (org trails)")
    p.add_argument(
        "--accounts",
        type=Path,
        metavar="FILE",
        help="account ids (whitespace/comma separated, ID or ID:WEIGHT, # comments); "
        "without it the plan splits by leading digits and covers every account",
    )
    p.add_argument("--prefix", default="", metavar="P", help="the trail's S3 key prefix")
    p.add_argument("--bucket", default="", metavar="B", help="the trail bucket")
    p.add_argument("--name", default="s3ad-shard", help="queue name stem (default s3ad-shard)")
    p.add_argument("--region", default="REGION", help="region of the queues (for their ARNs)")
    p.add_argument("--queue-account", default="ACCOUNT", help="account owning the queues")
    p.add_argument(
        "--existing",
        type=Path,
        metavar="FILE",
        help="the bucket's current notification configuration (get-bucket-notification-"
        "configuration): kept in the output, checked for overlaps with the plan",
    )
    p.add_argument(
        "--replace",
        action="append",
        default=[],
        metavar="ID",
        help="with --existing: drop entries with this Id or Ids ID-… (an earlier plan's --name, "
        "or s3ad-cloudtrail-log-files of the single-queue setup); the plan's own --name always",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default), json (the whole plan), notification (the bucket's configuration), "
        "cloudformation (queues + DLQs), eventbridge (rules, when the bucket is not yours)",
    )


def read_accounts(text: str) -> tuple[list[str], dict[str, float]]:
    """Account ids and optional weights (``ID:WEIGHT``) from a file's text.

    >>> read_accounts("111122223333:5, 444455556666  # prod\\n# none\\n777788889999")
    (['111122223333', '444455556666', '777788889999'], {'111122223333': 5.0})
    """
    accounts: list[str] = []
    weights: dict[str, float] = {}
    for line in text.splitlines():
        for token in re.split(r"[\s,]+", line.split("#", 1)[0].strip()):
            if not token:
                continue
            acct, _, weight = token.partition(":")
            accounts.append(acct)
            if weight:
                try:
                    weights[acct] = float(weight)
                except ValueError:
                    raise PlanError(f"weight of {acct} is not a number: {weight!r}") from None
                if not weights[acct] > 0:
                    raise PlanError(f"weight of {acct} must be > 0")
    return accounts, weights


def merged_notification(
    plan: Plan, arns: Mapping[str, str], existing: Mapping[str, Any] | None, replace: Sequence[str]
) -> dict[str, Any]:
    """The plan's queue configurations added to ``existing``, since PutBucketNotification-
    Configuration replaces the whole configuration. Entries whose Id is one of ``replace`` or
    starts with it and "-" (an earlier plan) are dropped; any remaining overlap is an error.
    """
    ours = notification_configuration(plan, arns, EVENTS)
    doc: dict[str, Any] = {k: v for k, v in (existing or {}).items() if k != "ResponseMetadata"}

    def replaced(entry: Mapping[str, Any]) -> bool:
        cid = str(entry.get("Id", ""))
        return any(cid == r or cid.startswith(f"{r}-") for r in replace)

    kept = [c for c in doc.get("QueueConfigurations") or [] if not replaced(c)]
    doc["QueueConfigurations"] = kept + ours["QueueConfigurations"]
    conflicts = overlaps(doc)
    if conflicts:
        raise PlanError(
            "the bucket's notification configuration would overlap (S3 rejects it): "
            + "; ".join(conflicts)
            + ". Drop the older entries with --replace ID (e.g. s3ad-cloudtrail-log-files, the "
            "single-queue AWSLogs/ filter) or remove them from the bucket first."
        )
    return doc


def plan_document(plan: Plan, notification: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "mode": plan.mode,
        "key_base": plan.base,
        "bucket": plan.bucket,
        "shard_count": len(plan.shards),
        "accounts": list(plan.accounts),
        "shards": [
            {
                "index": s.index,
                "queue": s.queue,
                "dlq": s.dlq,
                "prefixes": list(s.prefixes),
                "accounts": list(s.accounts),
                "account_prefixes": list(s.account_prefixes),
                "run_flags": s.run_flags(),
                "environment": s.environment(),
            }
            for s in plan.shards
        ],
        "notification": notification,
    }


def plan_text(plan: Plan, bucket: str) -> str:
    lines = [
        f"{len(plan.shards)} shard(s), by {plan.mode}, keys under {plan.base!r}"
        + ("" if plan.mode == "digits" else f", {len(plan.accounts)} account(s)"),
        "",
    ]
    for s in plan.shards:
        if s.accounts:
            accepts = f"accounts {','.join(s.accounts)}"
        elif any(s.account_prefixes):
            accepts = f"account ids starting {','.join(s.account_prefixes)}"
        else:
            accepts = "every account"
        lines += [
            f"shard {s.index}  queue {s.queue} (DLQ {s.dlq})",
            f"  accepts  {accepts}",
            f"  prefixes {', '.join(s.prefixes)}",
            f"  run      s3ad run --queue-url <{s.queue} URL> {shlex.join(s.run_flags())}".rstrip(),
        ]
    b = bucket or "<trail bucket>"
    lines += [
        "",
        "validated: every "
        + ("account id" if plan.mode == "digits" else "listed account")
        + " maps to exactly one shard; no prefix overlaps another",
        "apply:",
        "  s3ad shards plan ... --format cloudformation > shards.yaml   # queues + DLQs",
        "  s3ad shards plan ... --existing current.json --format notification > n.json",
        f"  aws s3api put-bucket-notification-configuration --bucket {b} "
        "--notification-configuration file://n.json",
    ]
    return "\n".join(lines) + "\n"


def cmd_shards(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """``s3ad shards plan`` (``settings`` are not used: a plan depends on its flags only)."""
    accounts: list[str] | None = None
    weights: dict[str, float] = {}
    if args.accounts is not None:
        accounts, weights = read_accounts(_read(args.accounts))
        if not accounts:
            raise PlanError(f"{args.accounts}: no account ids")
    plan = plan_shards(
        args.shards,
        org=args.org,
        accounts=accounts,
        weights=weights,
        prefix=args.prefix,
        bucket=args.bucket,
        name=args.name,
    )
    existing = orjson.loads(_read(args.existing)) if args.existing is not None else None
    arns = {s.queue: queue_arn(s.queue, args.region, args.queue_account) for s in plan.shards}
    notification = merged_notification(plan, arns, existing, [args.name, *args.replace])
    if args.format == "text":
        out = plan_text(plan, args.bucket)
    elif args.format == "cloudformation":
        out = cloudformation_yaml(plan, _command(args))
    elif args.format == "eventbridge":
        out = _json(eventbridge_rules(plan, args.bucket))
    else:
        doc = notification if args.format == "notification" else plan_document(plan, notification)
        out = _json(doc)
    sys.stdout.write(out)
    return 0


def _json(doc: Any) -> str:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot read {path}: {exc.strerror}") from exc


def _command(args: argparse.Namespace) -> str:
    """The command line that regenerates a template (recorded in it)."""
    parts: Sequence[str] = ["s3ad", "shards", "plan", "--shards", str(args.shards)]
    for flag, value in (("--org", args.org), ("--prefix", args.prefix), ("--bucket", args.bucket)):
        if value:
            parts = [*parts, flag, value]
    if args.accounts is not None:
        parts = [*parts, "--accounts", args.accounts.name]
    if args.name != "s3ad-shard":
        parts = [*parts, "--name", args.name]
    return shlex.join([*parts, "--format", "cloudformation"])
