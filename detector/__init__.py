"""s3ad: anomaly detection for CloudTrail S3 data events."""

__version__ = "0.1.0"
