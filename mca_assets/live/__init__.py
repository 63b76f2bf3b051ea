"""Intraday refresh of the top live markets: recent paths (``core.live_paths``), then their forecast bands."""
