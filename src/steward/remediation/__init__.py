"""Remediation: rules that bind triggers (SLO burn, drift, spikes) to actions."""
