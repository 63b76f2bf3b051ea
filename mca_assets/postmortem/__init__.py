"""Postmortems of each day's resolved cohort: markdown and chart files plus ``reports.postmortems``."""
