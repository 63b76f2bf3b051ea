"""mca_serving."""
