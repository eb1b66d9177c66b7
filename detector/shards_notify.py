"""The bucket's side of a shard plan: the S3 notification configuration, S3's overlap rule,
and the EventBridge rules for a bucket whose notification configuration is someone else's.

S3 rejects a configuration whose filters overlap for the same event type
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html);
moto does not, so ``overlaps`` checks it here, over the whole configuration of the bucket.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from detector.shards import SUFFIX, Plan, PlanError

EVENTS = ("s3:ObjectCreated:*",)


def notification_configuration(
    plan: Plan, queue_arns: Mapping[str, str], events: Sequence[str] = EVENTS
) -> dict[str, Any]:
    """S3 ``NotificationConfiguration``: one queue configuration per prefix (suffix .json.gz).

    ``queue_arns`` maps each shard's queue name to its ARN.
    """
    configs = []
    for s in plan.shards:
        for j, p in enumerate(s.prefixes):
            configs.append(
                {
                    "Id": f"{s.queue}-{j}",
                    "QueueArn": queue_arns[s.queue],
                    "Events": list(events),
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": p},
                                {"Name": "suffix", "Value": SUFFIX},
                            ]
                        }
                    },
                }
            )
    return {"QueueConfigurations": configs}


def queue_arn(queue: str, region: str = "REGION", account: str = "ACCOUNT") -> str:
    return f"arn:aws:sqs:{region}:{account}:{queue}"


def eventbridge_rules(plan: Plan, bucket: str) -> list[dict[str, Any]]:
    """One EventBridge rule per shard, for a bucket whose notifications belong to someone else.

    Needs only the bucket's EventBridge switch (``EventBridgeConfiguration``); each rule matches
    ``Object Created`` events by ``prefix`` on ``detail.object.key`` (a list is an OR) and
    targets the shard's queue. Keys that are not log files are skipped by the daemon.
    """
    if not bucket:
        raise PlanError("EventBridge rules need the trail bucket (--bucket)")
    return [
        {
            "Name": f"{s.queue}-objects",
            "Queue": s.queue,
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [bucket]},
                    "object": {"key": [{"prefix": p} for p in s.prefixes]},
                },
            },
        }
        for s in plan.shards
    ]


_TARGETS = ("QueueConfigurations", "TopicConfigurations", "LambdaFunctionConfigurations")


def overlaps(config: Mapping[str, Any]) -> list[str]:
    """Conflicts S3 would reject in a bucket's whole notification configuration.

    Two configurations conflict when their event types intersect, one prefix starts the other
    and one suffix ends the other (an absent filter matches everything).
    """
    entries = []
    for kind in _TARGETS:
        for i, c in enumerate(config.get(kind) or []):
            rules = {
                str(r.get("Name", "")).lower(): str(r.get("Value", ""))
                for r in (((c.get("Filter") or {}).get("Key") or {}).get("FilterRules") or [])
            }
            label = str(c.get("Id") or f"{kind}[{i}]")
            entries.append(
                (
                    label,
                    list(c.get("Events") or []),
                    rules.get("prefix", ""),
                    rules.get("suffix", ""),
                )
            )
    out = []
    for i, (la, ea, pa, sa) in enumerate(entries):
        for lb, eb, pb, sb in entries[i + 1 :]:
            if (
                any(_events_meet(x, y) for x in ea for y in eb)
                and (pa.startswith(pb) or pb.startswith(pa))
                and (sa.endswith(sb) or sb.endswith(sa))
            ):
                out.append(f"{la} and {lb} overlap (prefixes {pa!r} / {pb!r})")
    return out


def _events_meet(a: str, b: str) -> bool:
    """``s3:ObjectCreated:*`` meets ``s3:ObjectCreated:Put``; different families never meet."""
    if a == b:
        return True
    for wild, other in ((a, b), (b, a)):
        if wild.endswith("*") and other.startswith(wild[:-1]):
            return True
    return False
