"""The sandbox's small GraphQL reader: the query subset subgraph clients send, and located syntax errors."""

from __future__ import annotations

import pytest

from mca_sandbox.graphql import (
    MISSING,
    EnumValue,
    GraphQLError,
    TypeRef,
    Variable,
    coerce_variables,
    parse,
    resolve_value,
)


def only_field(source: str):
    return parse(source).operation().selections[0]


def test_anonymous_query_reads_fields_aliases_and_nested_selections():
    doc = parse("{ books: orderbooks(first: 5) { id tradesQuantity } _meta { block { number } } }")
    op = doc.operation()
    assert op.kind == "query"
    assert op.name is None
    books, meta = op.selections
    assert (books.alias, books.name, books.key) == ("books", "orderbooks", "books")
    assert books.arguments == {"first": 5}
    assert [f.name for f in books.selections] == ["id", "tradesQuantity"]
    assert meta.key == "_meta"
    assert meta.selections[0].selections[0].name == "number"


def test_arguments_read_every_value_kind():
    fld = only_field(
        '{ f(i: -12, x: 2.5e3, y: -0.25, s: "a", t: true, u: false, n: null, e: desc, l: [1, "b", [null]]) { id } }'
    )
    assert fld.arguments == {
        "i": -12,
        "x": 2500.0,
        "y": -0.25,
        "s": "a",
        "t": True,
        "u": False,
        "n": None,
        "e": EnumValue("desc"),
        "l": [1, "b", [None]],
    }


def test_nested_where_object_keeps_structure_and_variables():
    fld = only_field(
        "query Q($last: String) "
        '{ orderbooks(where: {id_gt: $last, or: [{id_in: ["1", "2"]}, {tradesQuantity_gt: "5"}]}) { id } }'
    )
    where = fld.arguments["where"]
    assert isinstance(where["id_gt"], Variable)
    assert where["id_gt"].name == "last"
    assert where["or"] == [{"id_in": ["1", "2"]}, {"tradesQuantity_gt": "5"}]


def test_strings_decode_escapes_unicode_and_surrogate_pairs():
    fld = only_field(r'{ f(s: "q\"uote\\ \/ tab\t nl\n \u00e9 \ud83d\ude00") { id } }')
    assert fld.arguments["s"] == 'q"uote\\ / tab\t nl\n é 😀'


def test_block_strings_are_dedented():
    fld = only_field('{ f(s: """\n    first\n      second\n""") { id } }')
    assert fld.arguments["s"] == "first\n  second"


def test_comments_and_commas_are_insignificant():
    fld = only_field("# leading comment\n{ f(a: 1,,, b: 2) { id, , x # trailing\n } }")
    assert fld.arguments == {"a": 1, "b": 2}
    assert [f.name for f in fld.selections] == ["id", "x"]


def test_variable_definitions_carry_types_and_defaults():
    op = parse('query Q($ids: [String!]!, $last: String = "", $first: Int) { f { id } }').operation()
    ids, last, first = op.variables
    assert ids.type == TypeRef(of_type=TypeRef(name="String", non_null=True), non_null=True)
    assert str(ids.type) == "[String!]!"
    assert last.default == ""
    assert first.default is MISSING


def test_coerce_variables_fills_defaults_wraps_lists_and_drops_undeclared():
    op = parse('query Q($ids: [String!], $last: String = "0x", $first: Int) { f { id } }').operation()
    assert coerce_variables(op, {"ids": "a", "other": 1}) == {"ids": ["a"], "last": "0x"}


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({}, "Variable `$ids` of required type `[String!]!` was not provided."),
        ({"ids": None}, "Variable `$ids` of non-null type `[String!]!` must not be null."),
        ({"ids": [None]}, "Variable `$ids[0]` of non-null type `String!` must not be null."),
        ({"ids": [5]}, "Variable `$ids[0]` of type `String!` got an invalid value: 5."),
    ],
)
def test_coerce_variables_rejects_missing_null_and_mistyped_values(variables, message):
    op = parse("query Q($ids: [String!]!) { f { id } }").operation()
    with pytest.raises(GraphQLError) as err:
        coerce_variables(op, variables)
    assert err.value.message == message


def test_int_variables_reject_booleans_and_floats_with_fractions():
    op = parse("query Q($first: Int) { f { id } }").operation()
    assert coerce_variables(op, {"first": 10.0}) == {"first": 10}
    for bad in (True, 1.5, "10"):
        with pytest.raises(GraphQLError):
            coerce_variables(op, {"first": bad})


def test_unsent_variable_drops_its_input_field_and_undefined_variable_is_an_error():
    args = {"first": Variable("first"), "where": {"id_gt": Variable("last"), "id_in": [Variable("last")]}}
    resolved = resolve_value(args, {"first": 3}, {"first", "last"})
    assert resolved == {"first": 3, "where": {"id_in": [None]}}
    with pytest.raises(GraphQLError, match=r'Variable "\$nope" is not defined'):
        resolve_value({"x": Variable("nope", 1, 9)}, {}, {"first"})


def test_operation_name_selects_among_several_operations():
    doc = parse("query A { a { id } } query B { b { id } }")
    assert doc.operation("B").selections[0].name == "b"
    with pytest.raises(GraphQLError, match="Must provide operation name"):
        doc.operation()
    with pytest.raises(GraphQLError, match='Unknown operation named "C"'):
        doc.operation("C")


@pytest.mark.parametrize(
    ("source", "message", "line", "column"),
    [
        ("{ f(first: ) { id } }", 'Syntax Error: Unexpected ")".', 1, 12),
        ("query Q {\n  orderbooks(first: 10) {\n    id\n", "Syntax Error: Expected Name, found <EOF>.", 4, 1),
        ('{ f(s: "abc) { id } }', "Syntax Error: Unterminated string.", 1, 22),
        (r'{ f(s: "\q") { id } }', "Syntax Error: Invalid character escape sequence: \\q.", 1, 9),
        ("{ f(n: 01) { id } }", "Syntax Error: Invalid number, unexpected character '1'.", 1, 9),
        ("{\n  f ? }", "Syntax Error: Unexpected character: '?'.", 2, 5),
        ("", "Syntax Error: Unexpected <EOF>.", 1, 1),
        ("{ }", 'Syntax Error: Expected Name, found "}".', 1, 3),
    ],
)
def test_syntax_errors_carry_message_and_location(source, message, line, column):
    with pytest.raises(GraphQLError) as err:
        parse(source)
    assert err.value.message == message
    assert err.value.as_dict() == {"message": message, "locations": [{"line": line, "column": column}]}


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{ f { ...F } } fragment F on Orderbook { id }", "Fragments are not supported"),
        ("fragment F on Orderbook { id }", "Fragments are not supported"),
        ('mutation { f(id: "1") { id } }', "Only queries are supported"),
        ("{ f @include(if: true) { id } }", "Directives are not supported"),
    ],
)
def test_unsupported_features_are_named_errors(source, fragment):
    with pytest.raises(GraphQLError, match=fragment) as err:
        parse(source)
    assert err.value.line is not None


def test_duplicate_argument_is_an_error():
    with pytest.raises(GraphQLError, match='only one argument named "first"'):
        parse("{ f(first: 1, first: 2) { id } }")
