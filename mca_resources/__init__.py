"""mca_resources."""
