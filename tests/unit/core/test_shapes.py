"""The live JSON-type contracts (shape_*.json) are accepted by the normalisers.

For each contract a synthetic payload is built whose every path has exactly the contract's JSON
type (paths with two types, e.g. ``str`` and ``null``, appear once with each), the builder is
checked to reproduce the contract exactly, and normalisation must accept it with the values read
from the right fields.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mca_core.normalize import (
    normalize_book,
    normalize_clob_market,
    normalize_gamma_events,
    normalize_gamma_markets,
)
from mca_core.records import Book, ClobMarket
from tests.jsonshape import shape

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "polymarket"
TOKEN_A = "54533043819946592547517511176940999955633860128497669742211153063842200957669"
TOKEN_B = "87854174148074652060467921081181402357467303721471806610111179101805869578687"

#: Realistic values for contract leaves the normalisers interpret, keyed by (field, JSON type).
VALUES: dict[tuple[str, str], Any] = {
    ("outcomes", "str"): '["Yes", "No"]',
    ("outcomePrices", "str"): '["0.2325", "0.7675"]',
    ("clobTokenIds", "str"): json.dumps([TOKEN_A, TOKEN_B]),
    ("umaResolutionStatuses", "str"): '["proposed", "resolved"]',
    ("volume", "str"): "25814545.294374414",
    ("liquidity", "str"): "230438.22824",
    ("umaBond", "str"): "25000",
    ("umaReward", "str"): "10",
    ("volumeNum", "number"): 1234.5,
    ("liquidityNum", "number"): 100.25,
    ("volume24hr", "number"): 12.0,
    ("volume", "number"): 5000.0,
    ("liquidity", "number"): 700.0,
    ("openInterest", "number"): 42.0,
    ("bestBid", "number"): 0.232,
    ("bestAsk", "number"): 0.233,
    ("lastTradePrice", "number"): 0.232,
    ("spread", "number"): 0.001,
    ("orderPriceMinTickSize", "number"): 0.001,
    ("orderMinSize", "number"): 5,
    ("id", "str"): "559652",
    ("conditionId", "str"): "0x0f49db97f71c68b1e42a6d16e3de93d85dbf7d4148e3f018eb79e88554be9f75",
    ("questionID", "str"): "0x2c3d7e0eee6f058be3006baabf0d54a07da254ba47fe6e3e095e7990c7814700",
    ("startDate", "str"): "2025-07-11T18:35:56.805Z",
    ("endDate", "str"): "2028-11-07T00:00:00Z",
    ("closedTime", "str"): "2026-03-19 23:20:15+00",
    ("createdAt", "str"): "2025-07-03T20:36:58.88434Z",
    ("updatedAt", "str"): "2026-06-14T11:04:26.005876Z",
    ("creationDate", "str"): "2025-07-11T18:41:17.827389Z",
    ("endDateIso", "str"): "2028-11-07",
    ("startDateIso", "str"): "2025-07-11",
    ("label", "str"): "Politics",
    # CLOB /book
    ("asset_id", "str"): TOKEN_A,
    ("market", "str"): "0x9d839bf0aa31324b9848f5b89841b779238a7c07dee2f7fca675d934e8ab5bf2",
    ("timestamp", "str"): "1785734468581",
    ("price", "str"): "0.42",
    ("size", "str"): "667.12",
    ("min_order_size", "str"): "5",
    ("tick_size", "str"): "0.001",
    ("last_trade_price", "str"): "0.41",
    # CLOB /markets/{condition_id}
    ("condition_id", "str"): "0x8ccc3f4951ff02c1d34b87988752b4444ad17228732780a6cf22afefe8478bb6",
    ("token_id", "str"): TOKEN_B,
    ("price", "number"): 0.5,
    ("end_date_iso", "str"): "2028-01-01T00:00:00Z",
    ("minimum_tick_size", "number"): 0.001,
    ("minimum_order_size", "number"): 5,
    ("tags[]", "str"): "Crypto",
}
_DEFAULTS: dict[str, Any] = {"str": "text", "number": 1, "bool": True, "null": None}
_SEGMENT = re.compile(r"\.([^.\[]+)|(\[\])")


@dataclass
class Node:
    """One path of a contract: the JSON types seen there, its object keys, its array items."""

    types: list[str] = field(default_factory=list)
    keys: dict[str, Node] = field(default_factory=dict)
    items: Node | None = None


def parse_contract(lines: list[str]) -> Node:
    root = Node()
    for line in lines:
        path, kind = line.rsplit(":", 1)
        node = root
        for key, array in _SEGMENT.findall(path[1:]):
            if array:
                node.items = node.items or Node()
                node = node.items
            else:
                node = node.keys.setdefault(key, Node())
        node.types.append(kind)
    return root


def build(node: Node, variant: int, key: str) -> Any:
    """Variant 0 takes each path's first non-null type, variant 1 its alternative (e.g. null)."""
    primary = [t for t in node.types if t != "null"] or ["null"]
    kinds = primary + [t for t in node.types if t not in primary]
    kind = kinds[min(variant, len(kinds) - 1)]
    if kind == "object":
        return {k: build(child, variant, k) for k, child in node.keys.items()}
    if kind == "array":
        if node.items is None:
            return []
        return [build(node.items, 0, key + "[]"), build(node.items, 1, key + "[]")]
    return VALUES.get((key, kind), _DEFAULTS[kind])


def contract(name: str) -> list[str]:
    lines: list[str] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))["shape"]
    return lines


def synthetic(name: str) -> list[Any]:
    """Payload variants that together have exactly the contract's shape."""
    root = parse_contract(contract(name))
    return [build(root, 0, "$"), build(root, 1, "$")]


@pytest.mark.parametrize(
    "name",
    [
        "shape_gamma__markets.json",
        "shape_gamma__events.json",
        "shape_clob__book.json",
        "shape_clob__markets_condition_id.json",
    ],
)
def test_synthetic_payload_reproduces_the_contract_exactly(name: str) -> None:
    variants = synthetic(name)
    produced = set().union(*(shape(payload) for payload in variants))
    assert produced == set(contract(name))


def test_gamma_markets_contract_is_accepted() -> None:
    page = synthetic("shape_gamma__markets.json")[0]
    batch = normalize_gamma_markets(page)
    assert batch.rejections == []
    assert len(batch.records) == 2
    for m in batch.records:
        assert m.market_id == "559652"
        assert m.outcomes == ["Yes", "No"]
        assert m.clob_token_ids == [TOKEN_A, TOKEN_B]
        assert m.p_yes == 0.2325
        assert m.volume_usd == 1234.5
        assert m.liquidity_usd == 100.25
        assert m.uma_bond == 25000.0
        assert m.uma_resolution_statuses == ["proposed", "resolved"]
        assert m.end_ts == datetime(2028, 11, 7, tzinfo=UTC)
        assert m.event_id == "559652"  # nested events[] carry the same synthetic id


def test_gamma_events_contract_is_accepted() -> None:
    page = synthetic("shape_gamma__events.json")[0]
    batch = normalize_gamma_events(page)
    assert batch.rejections == []
    assert len(batch.records) == 2
    event = batch.records[0]
    assert event.volume_usd == 5000.0
    assert event.open_interest == 42.0
    assert event.closed_ts == datetime(2026, 3, 19, 23, 20, 15, tzinfo=UTC)
    assert event.tags == ["Politics", "Politics"]
    assert len(event.markets) == 2
    assert {m.closed_ts for m in event.markets} == {datetime(2026, 3, 19, 23, 20, 15, tzinfo=UTC)}
    assert {m.volume_usd for m in event.markets} == {1234.5}


def test_clob_book_contract_is_accepted() -> None:
    for payload in synthetic("shape_clob__book.json"):
        book = normalize_book(payload)
        assert isinstance(book, Book)
        assert book.best_bid == 0.42
        assert book.min_order_size == 5.0
        assert book.last_trade_price == 0.41
        assert book.ts == datetime(2026, 8, 3, 5, 21, 8, 581000, tzinfo=UTC)


def test_clob_market_contract_is_accepted_with_and_without_nulls() -> None:
    with_values, with_nulls = synthetic("shape_clob__markets_condition_id.json")
    full = normalize_clob_market(with_values)
    assert isinstance(full, ClobMarket)
    assert full.end_ts == datetime(2028, 1, 1, tzinfo=UTC)
    assert [t.token_id for t in full.tokens] == [TOKEN_B, TOKEN_B]
    assert full.tags == ["Crypto", "Crypto"]
    sparse = normalize_clob_market(with_nulls)
    assert isinstance(sparse, ClobMarket)
    assert sparse.end_ts is None
