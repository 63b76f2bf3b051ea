"""``/alerts``: the alert feed, newest first, filtered, paged by an opaque cursor (stable under new alerts)."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import QueryParameter

from mca_serving.dto import AlertsPage
from mca_serving.reads import ALERT_COLUMNS, READ_ERRORS, alerts_from, bad_query, dicts, snapshot_cursor

_DATE_TIME = {"format": "date-time"}
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def parse_since(text: str) -> datetime:
    """An RFC 3339 time with its offset (Litestar's own datetime parameter also takes numbers and naive times)."""
    try:
        if _RFC3339.fullmatch(text) is None:
            raise ValueError(text)
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad_query("since", "an RFC 3339 time with an offset, e.g. 2026-10-01T12:00:00Z") from exc


def encode_cursor(ts: datetime | None, alert_id: str) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode([ts.isoformat() if ts else None, alert_id])).decode()


def decode_cursor(cursor: str) -> tuple[datetime | None, str]:
    """The (ts, alert_id) of the last alert of the previous page; 400 for anything else."""
    try:
        ts, alert_id = msgspec.json.decode(base64.urlsafe_b64decode(cursor.encode()), type=tuple[str | None, str])
        return (datetime.fromisoformat(ts) if ts is not None else None), alert_id
    except (binascii.Error, msgspec.DecodeError, ValueError, TypeError) as exc:
        raise bad_query("cursor", "not a cursor this service returned") from exc


class AlertsController(Controller):
    path = "/alerts"
    tags = ("alerts",)

    @get("/", operation_id="Alerts", sync_to_thread=True, raises=READ_ERRORS)
    def alerts(
        self,
        state: State,
        since: Annotated[
            str | None, QueryParameter(max_length=64, description="RFC 3339 with an offset", schema_extra=_DATE_TIME)
        ] = None,
        severity: Literal["HIGH", "MED", "FYI"] | None = None,
        source: Literal["rule", "check", "drift"] | None = None,
        market_id: Annotated[str | None, QueryParameter(min_length=1, max_length=128)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        cursor: Annotated[str | None, QueryParameter(min_length=1, max_length=400)] = None,
    ) -> AlertsPage:
        """Alerts ordered by ``ts`` then ``alert_id``, both descending; ``next_cursor`` continues after the page."""
        where, params = [], []
        start = None if since is None else parse_since(since)
        for sql, value in (("ts >= ?", start), ("severity = ?", severity), ("source = ?", source),
                           ("market_id = ?", market_id)):  # fmt: skip
            if value is not None:
                where.append(sql)
                params.append(value)
        if cursor is not None:
            ts, alert_id = decode_cursor(cursor)
            if ts is None:  # the previous page ended among alerts without a time: only those remain
                where.append("ts IS NULL AND alert_id < ?")
                params.append(alert_id)
            else:
                where.append("(ts < ? OR (ts = ? AND alert_id < ?) OR ts IS NULL)")
                params += [ts, ts, alert_id]
        condition = f"WHERE {' AND '.join(where)}" if where else ""
        with snapshot_cursor(state.reader) as cur:
            rows = dicts(
                cur, f"SELECT {ALERT_COLUMNS} FROM alerts.alerts {condition} "
                "ORDER BY ts DESC NULLS LAST, alert_id DESC LIMIT ?", [*params, limit + 1],
            )  # fmt: skip
        items = alerts_from(rows[:limit])
        more = len(rows) > limit
        return AlertsPage(items, encode_cursor(items[-1].ts, items[-1].alert_id) if more else None)
