"""mca_sandbox."""
