"""The snapshots stage."""
