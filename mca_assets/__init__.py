"""The daily-partitioned asset graph of the platform (one folder per stage) and its code location.

Dagster marks two parameters we rely on as beta: ``backfill_policy`` of ``@asset`` (single-run backfills: a range
is one run, each day its own transaction) and ``owners`` (the team that answers for an asset or sensor). We chose
both knowingly, so their BetaWarnings are silenced for every process that loads the graph (tests, the UI, the
daemon, runs); any other beta or preview warning still shows, and the test suite turns it into an error.
"""

import warnings

from dagster import BetaWarning

#: the BetaWarnings of the beta parameters we chose (the test suite ignores the same ones, tests/conftest.py)
CHOSEN_BETA_WARNINGS = r"Parameter `(backfill_policy|owners)` of .* is currently in beta"

warnings.filterwarnings("ignore", message=CHOSEN_BETA_WARNINGS, category=BetaWarning)
