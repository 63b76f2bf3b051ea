"""Checks of ``core.markets``."""

from mca_assets.checklib import fresh, keys_unique, probabilities_in_range
from mca_assets.normalize.assets import MARKETS_KEY

checks = [
    keys_unique(MARKETS_KEY, "core.markets", ("dt", "market_id")),
    probabilities_in_range(MARKETS_KEY, "core.markets", ("p_yes", "best_bid", "best_ask")),
    fresh(MARKETS_KEY, "core.markets"),
]
