"""Adapters to the AWS services s3ad talks to: S3 (read), SQS (source) and their notifications.

Each adapter takes a boto3 client built by :mod:`detector.aws.clients` from one injected
session, so the same code talks to AWS or to a local emulator (moto server) depending only on
boto3's own settings (``AWS_ENDPOINT_URL``, region, profile).
"""

from __future__ import annotations
