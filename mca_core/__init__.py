"""mca_core."""
