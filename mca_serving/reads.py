"""What every read handler shares: a cursor of the current snapshot (503 before the first publish), rows read
straight into response Structs, the bounded query-parameter types and the errors they document."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, Literal, TypeVar

import duckdb
from litestar.exceptions import (
    NotFoundException,
    ServiceUnavailableException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.params import Parameter, QueryParameter

from mca_resources.forecasting.schemas import exact
from mca_serving.dto import Alert
from mca_serving.snapshot_reader import SnapshotReader

NO_SNAPSHOT = "no snapshot yet: run the daily graph first"
#: errors every read route may answer (documented in OpenAPI)
READ_ERRORS = [ValidationException, TooManyRequestsException, ServiceUnavailableException]
LOOKUP_ERRORS = [*READ_ERRORS, NotFoundException]

Window = Literal["1d", "30d", "90d", "365d", "all"]
Horizon = Literal["1h", "4h", "1d", "1w", "1m"]
SegmentType = Literal["all", "category", "liquidity_bucket", "tte_bucket", "volume_bucket"]
LiquidityBucket = Literal["LOW", "MID", "HIGH"]
#: a free text value (a category, a segment): printable, bounded
Text = Annotated[str | None, QueryParameter(min_length=1, max_length=128, pattern=exact(r"[^\x00-\x1f\x7f]+"))]
MarketId = Annotated[str, Parameter(min_length=1, max_length=128, pattern=exact(r"[^\x00-\x1f\x7f/]+"))]
#: sort key of the horizons, shortest first
HORIZON_ORDER = "CASE horizon WHEN '1h' THEN 1 WHEN '4h' THEN 2 WHEN '1d' THEN 3 WHEN '1w' THEN 4 ELSE 5 END"

ALERT_COLUMNS = "alert_id, dt, ts, market_id, source, severity, reason_codes, evidence, message"

T = TypeVar("T")


@contextmanager
def snapshot_cursor(reader: SnapshotReader) -> Iterator[duckdb.DuckDBPyConnection]:
    with reader.cursor() as cur:
        if cur is None:
            raise ServiceUnavailableException(detail=NO_SNAPSHOT, headers={"Retry-After": "60"})
        yield cur


def rows_as(cur: duckdb.DuckDBPyConnection, cls: type[T], sql: str, params: Sequence[object] = ()) -> list[T]:
    """``cls(*row)`` for every row (the SELECT lists the Struct's fields in order)."""
    return [cls(*row) for row in cur.execute(sql, list(params)).fetchall()]


def dicts(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
    result = cur.execute(sql, list(params))
    names = [d[0] for d in result.description or []]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def bad_query(key: str, message: str) -> ValidationException:
    return ValidationException(detail="Invalid query", extra=[{"message": message, "key": key, "source": "query"}])


def alerts_from(rows: list[dict[str, object]]) -> list[Alert]:
    """Alerts as stored (``reason_codes`` a list, or a single code; ``evidence`` JSON text or a struct)."""
    out = []
    for row in rows:
        codes = row["reason_codes"]
        codes = [str(c) for c in codes] if isinstance(codes, list) else ([] if codes is None else [str(codes)])
        evidence = row["evidence"]
        out.append(
            Alert(
                str(row["alert_id"]), row["dt"], row["ts"], row["market_id"], str(row["source"]),  # type: ignore[arg-type]
                str(row["severity"]), codes, None if evidence is None else str(evidence), row["message"],  # type: ignore[arg-type]
            )
        )  # fmt: skip
    return out
