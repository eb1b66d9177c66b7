"""Reading CloudTrail log files: key layout, decompression and record extraction."""
