"""Offline training from historical trails: parallel map/merge of windows, then fit models."""
