"""Checks of ``core.price_history``."""

from mca_assets.checklib import keys_unique, probabilities_in_range
from mca_assets.history.assets import PRICE_HISTORY_KEY

checks = [
    keys_unique(PRICE_HISTORY_KEY, "core.price_history", ("market_id", "ts")),
    probabilities_in_range(PRICE_HISTORY_KEY, "core.price_history", ("p",)),
]
