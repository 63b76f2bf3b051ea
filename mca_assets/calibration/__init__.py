"""The calibration stage: scoreboard and reliability diagram data."""
