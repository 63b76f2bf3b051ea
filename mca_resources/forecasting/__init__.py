"""The guarded forecaster shared by the service (``POST /tsfm/forecast``) and the batch forecast asset.

It lives with the edges because it is the guarded client of tollama (breaker, cache, degradation, fallbacks);
neither litestar nor dagster is imported here, so both the service and the asset graph can use it.
"""
