"""A CloudFormation template for a shard plan: one queue + DLQ per shard, one queue policy.

CloudFormation has no loops. A fixed maximum of queues switched on by Conditions would need a
chain of conditions (``Fn::Equals`` is the only comparison) and, for the prefix filters and
the accounts each daemon accepts, a mapping per shard count — generated code in all but name.
So the template is generated from the validated plan: queues, filters and accept sets come from
one source and cannot disagree. ``config/deploy/s3ad-shards.yaml`` is one such output (a unit
test keeps it in sync). The bucket notification is not in the template: the trail bucket
usually belongs to another stack (CloudTrail, Control Tower's log archive), and S3 keeps one
notification configuration per bucket — ``--format notification`` prints it, merged.
"""

from __future__ import annotations

import json
import re
from typing import Any

from detector.shards import Plan, PlanError

MAX_RESOURCES = 500  # CloudFormation quotas per template
MAX_OUTPUTS = 200
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./:-]*$")
_RESERVED = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})


def cloudformation_template(plan: Plan, command: str) -> dict[str, Any]:
    n = len(plan.shards)
    if 2 * n + 1 > MAX_RESOURCES or n > MAX_OUTPUTS:
        raise PlanError(f"{n} shards exceed one CloudFormation template's quotas")
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for s in plan.shards:
        q, dlq = f"Shard{s.index}Queue", f"Shard{s.index}DeadLetterQueue"
        tags = [{"Key": "s3ad:shard", "Value": str(s.index)}]
        resources[dlq] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": s.dlq,
                "MessageRetentionPeriod": 1209600,
                "SqsManagedSseEnabled": True,
                "Tags": tags,
            },
        }
        resources[q] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": s.queue,
                "VisibilityTimeout": {"Ref": "VisibilityTimeoutSeconds"},
                "MessageRetentionPeriod": 1209600,
                "ReceiveMessageWaitTimeSeconds": 20,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                    "maxReceiveCount": {"Ref": "MaxReceiveCount"},
                },
                "Tags": tags,
            },
        }
        outputs[f"Shard{s.index}QueueUrl"] = {
            "Description": f"S3AD_SERVICE_QUEUE_URL of shard {s.index} ({_accepts(s.index, plan)})",
            "Value": {"Ref": q},
        }
    queues = [f"Shard{s.index}Queue" for s in plan.shards]
    resources["ShardQueuePolicy"] = {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [{"Ref": q} for q in queues],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AllowTrailBucketNotifications",
                        "Effect": "Allow",
                        "Principal": {"Service": "s3.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": [{"Fn::GetAtt": [q, "Arn"]} for q in queues],
                        "Condition": {
                            "ArnLike": {
                                "aws:SourceArn": {"Fn::Sub": "arn:aws:s3:::${TrailBucketName}"}
                            },
                            "StringEquals": {"aws:SourceAccount": {"Ref": "TrailBucketAccountId"}},
                        },
                    }
                ],
            },
        },
    }
    bucket: dict[str, Any] = {"Type": "String", "Description": "Bucket the trail delivers to."}
    if plan.bucket:
        bucket["Default"] = plan.bucket
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            f"s3ad account shards: {n} notification queue(s), each with a DLQ, fed by the trail "
            f"bucket's prefix filters ({plan.mode} plan, see Metadata). The bucket notification: "
            "the same s3ad shards plan command with --format notification."
        ),
        "Metadata": {"s3ad": _metadata(plan, command)},
        "Parameters": {
            "TrailBucketName": bucket,
            "TrailBucketAccountId": {
                "Type": "String",
                "AllowedPattern": "^[0-9]{12}$",
                "Description": "Account owning the trail bucket (confused-deputy guard).",
            },
            "VisibilityTimeoutSeconds": {"Type": "Number", "Default": 120},
            "MaxReceiveCount": {"Type": "Number", "Default": 5},
        },
        "Resources": resources,
        "Outputs": outputs,
    }


def _accepts(index: int, plan: Plan) -> str:
    s = plan.shards[index]
    if s.accounts:
        return f"{len(s.accounts)} account(s)"
    digits = ",".join(s.account_prefixes)
    return f"account ids starting {digits}" if digits else "every account"


def _metadata(plan: Plan, command: str) -> dict[str, Any]:
    return {
        "GeneratedBy": command,
        "ShardCount": len(plan.shards),
        "Mode": plan.mode,
        "KeyBase": plan.base,
        "Shards": [
            {
                "Queue": s.queue,
                "Prefixes": list(s.prefixes),
                # What each daemon is told (S3AD_SERVICE_ACCOUNTS / _ACCOUNT_PREFIXES).
                **({"Accounts": ",".join(s.accounts)} if s.accounts else {}),
                **(
                    {"AccountPrefixes": ",".join(s.account_prefixes)}
                    if any(s.account_prefixes)
                    else {}
                ),
            }
            for s in plan.shards
        ],
    }


def cloudformation_yaml(plan: Plan, command: str) -> str:
    header = (
        f"# Generated by `{command}`; regenerate, do not edit.\n"
        "# Queues + DLQs of one validated shard plan: CloudFormation has no loops, so the\n"
        "# template is generated from the plan (why: detector/shards_cfn.py). Deploy one ECS\n"
        "# service per shard: config/deploy/ecs-shards.md.\n"
    )
    return header + to_yaml(cloudformation_template(plan, command))


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML for plain data (dicts, lists, str, int, float, bool).

    Strings that YAML could read as anything else are written JSON-quoted (valid YAML).

    >>> print(to_yaml({"A": [1, {"B": "x", "C": "2010-09-09"}], "D": {}}), end="")
    A:
      - 1
      - B: x
        C: "2010-09-09"
    D: {}
    """
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return f"{pad}{{}}\n"
        out = []
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                out.append(f"{pad}{_scalar(str(k))}:\n{to_yaml(v, indent + 1)}")
            else:
                out.append(f"{pad}{_scalar(str(k))}: {_inline(v)}\n")
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return f"{pad}[]\n"
        out = []
        for item in value:
            if isinstance(item, dict | list) and item:
                body = to_yaml(item, indent + 1)
                out.append(f"{pad}- {body[len(pad) + 2 :]}")
            else:
                out.append(f"{pad}- {_inline(item)}\n")
        return "".join(out)
    return f"{pad}{_inline(value)}\n"


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return _scalar(str(value))


def _scalar(text: str) -> str:
    if _PLAIN.match(text) and text.lower() not in _RESERVED and not text.endswith(":"):
        return text
    return json.dumps(text)
