"""The sensor-driven realtime capture: the realtime_capture job, its capture loop and load, and its sensor."""
