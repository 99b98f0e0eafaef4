"""Drift: compare the current window of each app and model with a baseline."""
