"""Silences of the realtime capture over recent runs: as the runs report them, and as ``rt.ticks`` shows them.

*Recent runs* are those whose window ends within a day of the latest window end in ``rt.capture_runs``; their
**span** runs from the earliest window start to the latest window end. A run covers, per connection, the time from
its first frame to its last (``covered``, not clipped to its own window, so a successor connected early covers
its predecessor's last seconds). **Reported silences** are the stretches of the span inside no run's covered
time; **measured silences** are the stretches of the span without a tick (exchange time ``ts``, the span's ends
counting as ticks). A silence is a stretch longer than ``min_seconds`` (``rt_silence_s``): shorter ones are the
venue's own spacing between messages. When capture accounts for every uncovered second, the two lists agree up
to that spacing; a measured silence no run reports is the venue's own (or a hole the accounting missed).
"""

import duckdb
import polars as pl

from mca_resources.warehouse import read_frame

#: the recent runs of ``rt.capture_runs``
RECENT_RUNS = "window_end >= (SELECT max(window_end) FROM rt.capture_runs) - INTERVAL 1 DAY"

_RECENT = f"""
runs AS (SELECT * FROM rt.capture_runs WHERE {RECENT_RUNS}),
bounds AS (SELECT min(window_start) AS lo, max(window_end) AS hi FROM runs)
"""

#: stretches between consecutive instants of ``instants(t)``, with the span's ends added, longer than $min_s
_HOLES = """
edges AS (SELECT lo AS t0, lo AS t1 FROM bounds UNION ALL SELECT hi, hi FROM bounds UNION ALL SELECT * FROM instants),
ordered AS (
    SELECT t0, max(t1) OVER (ORDER BY t0, t1 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reached
    FROM edges
)
SELECT reached AS silence_start, t0 AS silence_end, epoch(t0) - epoch(reached) AS seconds
FROM ordered WHERE epoch(t0) - epoch(reached) > $min_s ORDER BY silence_start
"""

REPORTED_SQL = f"""
WITH {_RECENT},
covered AS (SELECT unnest(covered) AS c FROM runs),
instants AS (
    SELECT greatest(c.start, lo) AS t0, least(c."end", hi) AS t1 FROM covered, bounds
    WHERE c."end" > lo AND c.start < hi
),
{_HOLES}
"""

MEASURED_SQL = f"""
WITH {_RECENT},
instants AS (SELECT ts AS t0, ts AS t1 FROM rt.ticks, bounds WHERE ts BETWEEN lo AND hi),
{_HOLES}
"""

SPAN_SQL = f"WITH {_RECENT} SELECT lo, hi, epoch(hi) - epoch(lo) AS seconds, (SELECT count(*) FROM runs) AS runs"
SPAN_SQL += " FROM bounds"


def reported_silences(conn: duckdb.DuckDBPyConnection, min_seconds: float) -> pl.DataFrame:
    """``silence_start``, ``silence_end``, ``seconds`` of the recent span that no run covered."""
    return read_frame(conn, REPORTED_SQL, {"min_s": min_seconds})


def measured_silences(conn: duckdb.DuckDBPyConnection, min_seconds: float) -> pl.DataFrame:
    """The same columns, for the stretches of the recent span without a tick in ``rt.ticks``."""
    return read_frame(conn, MEASURED_SQL, {"min_s": min_seconds})


def capture_span(conn: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """``lo``, ``hi``, ``seconds`` and ``runs`` of the recent runs (``runs`` = 0 and None bounds without runs)."""
    return read_frame(conn, SPAN_SQL).row(0, named=True)


def listing(silences: pl.DataFrame, limit: int = 20) -> str:
    """One line per silence (the first ``limit``), for check metadata."""
    lines = [
        f"{row['silence_start']:%Y-%m-%d %H:%M:%S.%f} .. {row['silence_end']:%H:%M:%S.%f}  {row['seconds']:.3f} s"
        for row in silences.head(limit).iter_rows(named=True)
    ]
    return "\n".join(lines) if lines else "none"
