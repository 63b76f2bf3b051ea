"""Query execution over a tiny hand-made deployment: filters, ordering, paging and graph-node's error texts."""

from __future__ import annotations

import numpy as np
import pytest

from mca_sandbox.graphql import GraphQLError
from mca_sandbox.subgraph import Deployment, execute, make_table, scaled_texts

#: ids chosen so that string order differs from numeric order ("10" < "9")
IDS = ["9", "10", "100", "2", "11"]
VOLUME = [5_000_000, 1_500_000, 5_000_000, 250, 12_345_678]  # micro-USDC
TRADES = [3, 7, 1, 7, 2]


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    book = make_table(
        "Orderbook",
        IDS,
        {
            "tradesQuantity": ("BigInt!", TRADES),
            "collateralVolume": ("BigInt!", VOLUME),
            "scaledCollateralVolume": ("BigDecimal!", VOLUME),
        },
    )
    data = make_table("MarketData", IDS, {"condition": ("String!", ["0xa", "0xb", "0xa", "0xc", "0xb"])})
    return Deployment("test/0.0.1", {"Orderbook": book, "MarketData": data}, {"block": {"number": 1}})


def ids_of(deployment: Deployment, query: str, variables: dict | None = None) -> list[str]:
    data = execute(deployment, query, variables)
    return [row["id"] for row in next(iter(data.values()))]


def test_ids_order_as_strings_by_default(deployment):
    assert ids_of(deployment, "{ orderbooks { id } }") == sorted(IDS) == ["10", "100", "11", "2", "9"]


def test_keyset_on_id_gt_walks_every_entity_once(deployment):
    seen, last = [], ""
    while True:
        page = ids_of(
            deployment, "query P($last: String!) { orderbooks(first: 2, where: {id_gt: $last}) { id } }", {"last": last}
        )
        seen += page
        if len(page) < 2:
            break
        last = page[-1]
    assert seen == sorted(IDS)


def test_bigint_values_render_as_strings_and_bigdecimal_as_normalised_decimals(deployment):
    row = execute(deployment, '{ orderbook(id: "2") { id tradesQuantity collateralVolume scaledCollateralVolume } }')
    assert row == {
        "orderbook": {"id": "2", "tradesQuantity": "7", "collateralVolume": "250", "scaledCollateralVolume": "0.00025"}
    }
    assert scaled_texts(np.array([5_000_000, 1_500_000, 0, -12_345_678])) == ["5", "1.5", "0", "-12.345678"]


def test_bigint_filters_compare_numerically_not_as_strings(deployment):
    assert ids_of(deployment, '{ orderbooks(where: {collateralVolume_gt: "1500000"}) { id } }') == ["100", "11", "9"]
    assert ids_of(deployment, "{ orderbooks(where: {tradesQuantity_lte: 2}) { id } }") == ["100", "11"]


def test_bigdecimal_filters_are_exact(deployment):
    q = "{ orderbooks(where: {scaledCollateralVolume_gte: %s}) { id } }"
    assert ids_of(deployment, q % '"1.5"') == ["10", "100", "11", "9"]
    assert ids_of(deployment, q % '"1.5000001"') == ["100", "11", "9"]
    assert ids_of(deployment, '{ orderbooks(where: {scaledCollateralVolume: "12.345678"}) { id } }') == ["11"]
    assert ids_of(deployment, '{ orderbooks(where: {scaledCollateralVolume_lt: "0.00025"}) { id } }') == []


def test_in_not_in_and_or_combine(deployment):
    assert ids_of(deployment, '{ orderbooks(where: {id_in: ["9", "2", "404"]}) { id } }') == ["2", "9"]
    assert ids_of(deployment, '{ orderbooks(where: {id_not_in: ["9", "2"]}) { id } }') == ["10", "100", "11"]
    q = '{ orderbooks(where: {or: [{id: "9"}, {tradesQuantity: "7"}], collateralVolume_gt: "300"}) { id } }'
    assert ids_of(deployment, q) == ["10", "9"]
    q = '{ marketDatas(where: {and: [{condition_in: ["0xa", "0xb"]}, {id_starts_with: "1"}]}) { id } }'
    assert ids_of(deployment, q) == ["10", "100", "11"]


def test_order_by_field_breaks_ties_on_id_and_desc_is_the_exact_reverse(deployment):
    asc = ids_of(deployment, "{ orderbooks(orderBy: collateralVolume) { id } }")
    desc = ids_of(deployment, "{ orderbooks(orderBy: collateralVolume, orderDirection: desc) { id } }")
    assert asc == ["2", "10", "100", "9", "11"]  # 100 and 9 tie on 5 USDC: id order
    assert desc == asc[::-1]


def test_skip_and_first_cut_the_ordered_rows(deployment):
    assert ids_of(deployment, "{ orderbooks(first: 2, skip: 1) { id } }") == ["100", "11"]
    assert ids_of(deployment, "{ orderbooks(first: 0) { id } }") == []


def test_null_filter_values_follow_non_null_semantics(deployment):
    assert ids_of(deployment, "{ orderbooks(where: {id: null}) { id } }") == []
    assert len(ids_of(deployment, "{ orderbooks(where: {id_not: null}) { id } }")) == 5
    with pytest.raises(GraphQLError, match="Null value for filter `id_gt`"):
        execute(deployment, "{ orderbooks(where: {id_gt: null}) { id } }")


def test_typename_and_aliases_in_results(deployment):
    data = execute(
        deployment, '{ __typename a: orderbook(id: "9") { __typename key: id } missing: orderbook(id: "x") { id } }'
    )
    assert data == {"__typename": "Query", "a": {"__typename": "Orderbook", "key": "9"}, "missing": None}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ orderbooks(first: 1001) { id } }", "The `first` argument must be between 0 and 1000, but is 1001"),
        ("{ orderbooks(skip: 5001) { id } }", "The `skip` argument must be between 0 and 5000, but is 5001"),
        ("{ orderbooks { id volume } }", "Type `Orderbook` has no field `volume`"),
        ("{ orderBooks { id } }", "Type `Query` has no field `orderBooks`"),
        ('{ orderbooks(where: {volume_gt: "1"}) { id } }', "Type `Orderbook_filter` has no field `volume_gt`"),
        ('{ orderbooks(where: {tradesQuantity_contains: "1"}) { id } }', "Type `Orderbook_filter` has no field"),
        ("{ orderbooks(orderBy: volume) { id } }", "Invalid value provided for argument `orderBy`"),
        ("{ orderbooks(orderDirection: up) { id } }", "Invalid value provided for argument `orderDirection`"),
        ("{ orderbooks(limit: 3) { id } }", "Unknown argument `limit` on field `Query.orderbooks`"),
        ('{ orderbooks(where: {collateralVolume_gt: "lots"}) { id } }', "Invalid value provided for filter"),
        ("{ orderbooks }", "must have a selection of subfields"),
        ("{ orderbooks { id { x } } }", "must not have a selection"),
    ],
)
def test_invalid_queries_raise_graph_node_style_errors(deployment, query, message):
    with pytest.raises(GraphQLError, match=message.replace("(", r"\(").replace(")", r"\)")):
        execute(deployment, query)


def test_unknown_field_error_carries_its_location(deployment):
    with pytest.raises(GraphQLError) as err:
        execute(deployment, "{\n  orderbooks {\n    id\n    bogus\n  }\n}")
    assert err.value.as_dict()["locations"] == [{"line": 4, "column": 5}]
