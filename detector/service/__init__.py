"""The daemon (``s3ad run``): SQS → S3 → pipeline → sinks, with checkpoints and health."""
