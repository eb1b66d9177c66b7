"""Model artifacts: what ``s3ad train`` writes and ``s3ad run/replay --model`` loads.

``detector.model.writer`` writes an artifact directory, ``detector.model.loader`` verifies and
loads one (sha256 of every file checked before anything is deserialised), and
``detector.model.report`` renders the report for people. The layout is in
``detector.model.format``.
"""
