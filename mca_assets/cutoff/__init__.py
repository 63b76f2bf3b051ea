"""The cutoff stage."""
