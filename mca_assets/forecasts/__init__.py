"""The forecasts stage: bands for the top-N live markets every 5 minutes, from the service's own forecaster."""
