"""mca_assets."""
