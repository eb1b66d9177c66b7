"""Detection: closed windows → scores (rules, river, IsolationForest) → verdicts → findings.

``detector.detect.detector.Detector`` is the entry point; this package file stays import-free so
``detector.config`` can import the settings without a cycle.
"""
