"""The history stage."""
