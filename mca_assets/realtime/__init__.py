"""Realtime stage: daily rebuild of 1m/5m bars from captured ticks, and their checks."""
