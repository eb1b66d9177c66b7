"""s3ad: anomaly detection for CloudTrail S3 data events."""

from detector import native

__version__ = "0.1.0"

# Before any other module of the package is imported: compiled build or source (see native).
native.select()
