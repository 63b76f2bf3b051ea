"""mca_sensors."""
