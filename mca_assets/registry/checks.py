"""Checks of the registry and its changes."""

from mca_assets.checklib import keys_unique, sql_check
from mca_assets.registry.assets import CHANGES_KEY, REGISTRY_KEY

checks = [
    keys_unique(REGISTRY_KEY, "core.market_registry", ("market_id",)),
    keys_unique(CHANGES_KEY, "core.registry_changes", ("dt", "market_id", "field")),
    sql_check(
        CHANGES_KEY,
        "changes_change_something",
        "every recorded change has an old value different from the new one, seen earlier",
        "SELECT * FROM core.registry_changes WHERE old_value IS NOT DISTINCT FROM new_value OR previous_dt >= dt",
    ),
]
