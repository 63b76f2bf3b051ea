"""A small GraphQL reader for the subgraph fake: the query subset subgraph clients actually send.

Supported: operations (``query Name($v: Type = default) { ... }`` or an anonymous ``{ ... }``, several per
document with ``operationName``), fields with aliases, arguments and nested selection sets, every input value
kind (variables, ints, floats, strings with escapes and ``\\uXXXX``, block strings, booleans, null, enums,
lists, objects), comments and the insignificant commas of the spec. Variable definitions carry their declared
type (``[String!]!``) and defaults; :func:`coerce_variables` checks the values a request sends against them.

Not supported (a :class:`GraphQLError` names them): fragments, directives, mutations and subscriptions.

Errors carry ``locations`` (1-based line and column) like graph-node's, and syntax errors read like
graphql-js's (``Syntax Error: Expected Name, found "}".``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MISSING",
    "Document",
    "EnumValue",
    "Field",
    "GraphQLError",
    "Operation",
    "TypeRef",
    "Variable",
    "VariableDefinition",
    "coerce_variables",
    "parse",
    "resolve_value",
]


class GraphQLError(Exception):
    """A GraphQL-level problem, reported in the response's ``errors`` list (HTTP 200 like graph-node)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.line is not None:
            out["locations"] = [{"line": self.line, "column": self.column}]
        return out


class _Missing:
    """A variable the request did not send: the argument or input field it fills counts as absent."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    line: int = 0
    column: int = 0


@dataclass(frozen=True, slots=True)
class EnumValue:
    """A bare name in value position (``orderBy: id``, ``orderDirection: desc``)."""

    value: str


@dataclass(frozen=True, slots=True)
class TypeRef:
    """``name`` for a named type, ``of_type`` for a list; ``non_null`` for a trailing ``!``."""

    name: str | None = None
    of_type: TypeRef | None = None
    non_null: bool = False

    def __str__(self) -> str:
        inner = self.name if self.of_type is None else f"[{self.of_type}]"
        return f"{inner}!" if self.non_null else str(inner)


@dataclass(slots=True)
class VariableDefinition:
    name: str
    type: TypeRef
    default: Any = MISSING
    line: int = 0
    column: int = 0


@dataclass(slots=True)
class Field:
    name: str
    alias: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    selections: list[Field] | None = None
    line: int = 0
    column: int = 0

    @property
    def key(self) -> str:
        """The name this field takes in the response."""
        return self.alias or self.name


@dataclass(slots=True)
class Operation:
    kind: str
    name: str | None
    variables: list[VariableDefinition]
    selections: list[Field]
    line: int = 0
    column: int = 0


@dataclass(slots=True)
class Document:
    operations: list[Operation]

    def operation(self, name: str | None = None) -> Operation:
        """The operation to run: the named one, or the only one."""
        if name:
            for op in self.operations:
                if op.name == name:
                    return op
            raise GraphQLError(f'Unknown operation named "{name}".')
        if len(self.operations) > 1:
            raise GraphQLError("Must provide operation name if query contains multiple operations.")
        return self.operations[0]


# --- lexer -------------------------------------------------------------------------------------------------

_NAME, _INT, _FLOAT, _STRING, _PUNCT, _EOF = "Name", "Int", "Float", "String", "Punctuator", "<EOF>"

_TOKEN_RE = re.compile(
    r"""
    (?P<ignored>[\s,\ufeff]+|\#[^\n\r]*)
  | (?P<spread>\.\.\.)
  | (?P<punct>[!$&()\:=@\[\]{|}])
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
  | (?P<number>-?(?:0|[1-9][0-9]*)(?P<frac>\.[0-9]+)?(?P<exp>[eE][+-]?[0-9]+)?)
  | (?P<block>\"\"\")
  | (?P<string>\")
    """,
    re.VERBOSE,
)
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(slots=True)
class _Token:
    kind: str
    value: Any
    line: int
    column: int

    def describe(self) -> str:
        if self.kind == _EOF:
            return "<EOF>"
        if self.kind == _STRING:
            return "String"
        if self.kind == _NAME:
            return f'Name "{self.value}"'
        if self.kind in (_INT, _FLOAT):
            return f'{self.kind} "{self.value}"'
        return f'"{self.value}"'


class _Lexer:
    def __init__(self, source: str) -> None:
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\r\n|\n|\r", source)]

    def position(self, offset: int) -> tuple[int, int]:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - self.line_starts[lo] + 1

    def error(self, message: str, offset: int) -> GraphQLError:
        line, column = self.position(offset)
        return GraphQLError(f"Syntax Error: {message}", line, column)

    def tokens(self) -> list[_Token]:
        src, pos, out = self.source, 0, []
        while pos < len(src):
            match = _TOKEN_RE.match(src, pos)
            if match is None:
                raise self.error(f"Unexpected character: {src[pos]!r}.", pos)
            kind = match.lastgroup
            if kind in ("frac", "exp"):  # inner groups of a number
                kind = "number"
            if kind == "ignored":
                pos = match.end()
                continue
            line, column = self.position(pos)
            if kind == "spread":
                out.append(_Token(_PUNCT, "...", line, column))
                pos = match.end()
            elif kind == "punct":
                out.append(_Token(_PUNCT, match.group(), line, column))
                pos = match.end()
            elif kind == "name":
                out.append(_Token(_NAME, match.group(), line, column))
                pos = match.end()
            elif kind == "number":
                text = match.group("number")
                end = match.end()
                if end < len(src) and (src[end].isalnum() or src[end] in "_."):
                    raise self.error(f"Invalid number, unexpected character {src[end]!r}.", end)
                is_float = match.group("frac") is not None or match.group("exp") is not None
                out.append(_Token(_FLOAT if is_float else _INT, text, line, column))
                pos = end
            elif kind == "block":
                value, pos = self._block_string(pos + 3)
                out.append(_Token(_STRING, value, line, column))
            else:
                value, pos = self._string(pos + 1)
                out.append(_Token(_STRING, value, line, column))
        line, column = self.position(len(src))
        out.append(_Token(_EOF, None, line, column))
        return out

    def _string(self, pos: int) -> tuple[str, int]:
        src, chunks = self.source, []
        start = pos
        while pos < len(src):
            ch = src[pos]
            if ch == '"':
                chunks.append(src[start:pos])
                return "".join(chunks), pos + 1
            if ch in "\n\r":
                break
            if ch == "\\":
                chunks.append(src[start:pos])
                esc = src[pos + 1 : pos + 2]
                if esc in _ESCAPES:
                    chunks.append(_ESCAPES[esc])
                    pos += 2
                elif esc == "u":
                    digits = src[pos + 2 : pos + 6]
                    if not re.fullmatch(r"[0-9A-Fa-f]{4}", digits):
                        raise self.error(f"Invalid Unicode escape sequence: \\u{digits}.", pos)
                    code = int(digits, 16)
                    pos += 6
                    low = src[pos : pos + 6]
                    if 0xD800 <= code <= 0xDBFF and re.fullmatch(r"\\u[dD][c-fC-F][0-9A-Fa-f]{2}", low):
                        code = 0x10000 + ((code - 0xD800) << 10) + (int(low[2:], 16) - 0xDC00)
                        pos += 6
                    chunks.append(chr(code))
                else:
                    raise self.error(f"Invalid character escape sequence: \\{esc}.", pos)
                start = pos
                continue
            pos += 1
        raise self.error("Unterminated string.", pos)

    def _block_string(self, pos: int) -> tuple[str, int]:
        end = pos
        src = self.source
        while True:
            end = src.find('"""', end)
            if end < 0:
                raise self.error("Unterminated string.", len(src))
            if src[end - 1] == "\\" and src[end - 1 : end + 3] == '\\"""':
                end += 3
                continue
            break
        raw = src[pos:end].replace('\\"""', '"""')
        return _dedent_block(raw), end + 3


def _dedent_block(raw: str) -> str:
    lines = re.split(r"\r\n|\n|\r", raw)
    indents = [len(ln) - len(ln.lstrip(" \t")) for ln in lines[1:] if ln.strip(" \t")]
    common = min(indents) if indents else 0
    lines = [lines[0]] + [ln[common:] for ln in lines[1:]]
    while lines and not lines[0].strip(" \t"):
        lines.pop(0)
    while lines and not lines[-1].strip(" \t"):
        lines.pop()
    return "\n".join(lines)


# --- parser ------------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _Lexer(source).tokens()
        self.i = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, message: str, tok: _Token | None = None) -> GraphQLError:
        tok = tok or self.tok
        return GraphQLError(f"Syntax Error: {message}", tok.line, tok.column)

    def peek(self, value: str) -> bool:
        return self.tok.kind == _PUNCT and self.tok.value == value

    def expect(self, value: str) -> _Token:
        if not self.peek(value):
            raise self.error(f'Expected "{value}", found {self.tok.describe()}.')
        return self.advance()

    def name(self) -> _Token:
        if self.tok.kind != _NAME:
            raise self.error(f"Expected Name, found {self.tok.describe()}.")
        return self.advance()

    def document(self) -> Document:
        operations = []
        if self.tok.kind == _EOF:
            raise self.error("Unexpected <EOF>.")
        while self.tok.kind != _EOF:
            operations.append(self.operation())
        return Document(operations)

    def operation(self) -> Operation:
        tok = self.tok
        if self.peek("{"):
            return Operation("query", None, [], self.selection_set(), tok.line, tok.column)
        if tok.kind != _NAME:
            raise self.error(f"Unexpected {tok.describe()}.")
        if tok.value == "fragment":
            raise GraphQLError("Fragments are not supported by this subgraph sandbox.", tok.line, tok.column)
        if tok.value not in ("query", "mutation", "subscription"):
            raise self.error(f"Unexpected {tok.describe()}.")
        kind = self.advance().value
        if kind != "query":
            raise GraphQLError(f"Only queries are supported, not {kind}s.", tok.line, tok.column)
        name = self.name().value if self.tok.kind == _NAME else None
        variables = self.variable_definitions() if self.peek("(") else []
        self.reject_directives()
        return Operation(kind, name, variables, self.selection_set(), tok.line, tok.column)

    def variable_definitions(self) -> list[VariableDefinition]:
        self.expect("(")
        out = []
        while not self.peek(")"):
            start = self.expect("$")
            name = self.name().value
            self.expect(":")
            type_ref = self.type_ref()
            default = MISSING
            if self.peek("="):
                self.advance()
                default = self.value(const=True)
            out.append(VariableDefinition(name, type_ref, default, start.line, start.column))
        if not out:
            raise self.error(f"Expected Variable, found {self.tok.describe()}.")
        self.expect(")")
        return out

    def type_ref(self) -> TypeRef:
        if self.peek("["):
            self.advance()
            inner = self.type_ref()
            self.expect("]")
            ref = TypeRef(of_type=inner)
        else:
            ref = TypeRef(name=self.name().value)
        if self.peek("!"):
            self.advance()
            ref = TypeRef(ref.name, ref.of_type, non_null=True)
        return ref

    def reject_directives(self) -> None:
        if self.peek("@"):
            tok = self.tok
            raise GraphQLError("Directives are not supported by this subgraph sandbox.", tok.line, tok.column)

    def selection_set(self) -> list[Field]:
        self.expect("{")
        fields = []
        while not self.peek("}"):
            if self.peek("..."):
                tok = self.tok
                raise GraphQLError("Fragments are not supported by this subgraph sandbox.", tok.line, tok.column)
            fields.append(self.field())
        if not fields:
            raise self.error(f"Expected Name, found {self.tok.describe()}.")
        self.expect("}")
        return fields

    def field(self) -> Field:
        first = self.name()
        alias, name = None, first.value
        if self.peek(":"):
            self.advance()
            alias, name = first.value, self.name().value
        arguments: dict[str, Any] = {}
        if self.peek("("):
            self.advance()
            while not self.peek(")"):
                arg = self.name()
                if arg.value in arguments:
                    raise GraphQLError(f'There can be only one argument named "{arg.value}".', arg.line, arg.column)
                self.expect(":")
                arguments[arg.value] = self.value(const=False)
            if not arguments:
                raise self.error(f"Expected Name, found {self.tok.describe()}.")
            self.expect(")")
        self.reject_directives()
        selections = self.selection_set() if self.peek("{") else None
        return Field(name, alias, arguments, selections, first.line, first.column)

    def value(self, const: bool) -> Any:
        tok = self.tok
        if tok.kind == _PUNCT:
            if tok.value == "$":
                if const:
                    raise self.error('Unexpected "$".')
                self.advance()
                return Variable(self.name().value, tok.line, tok.column)
            if tok.value == "[":
                self.advance()
                items = []
                while not self.peek("]"):
                    items.append(self.value(const))
                self.advance()
                return items
            if tok.value == "{":
                self.advance()
                obj: dict[str, Any] = {}
                while not self.peek("}"):
                    key = self.name()
                    if key.value in obj:
                        raise GraphQLError(
                            f'There can be only one input field named "{key.value}".', key.line, key.column
                        )
                    self.expect(":")
                    obj[key.value] = self.value(const)
                self.advance()
                return obj
            raise self.error(f"Unexpected {tok.describe()}.")
        self.advance()
        if tok.kind == _INT:
            return int(tok.value)
        if tok.kind == _FLOAT:
            return float(tok.value)
        if tok.kind == _STRING:
            return tok.value
        if tok.kind == _NAME:
            if tok.value == "true":
                return True
            if tok.value == "false":
                return False
            if tok.value == "null":
                return None
            return EnumValue(tok.value)
        raise self.error(f"Unexpected {tok.describe()}.", tok)


def parse(source: str) -> Document:
    """Parse a GraphQL document; raises :class:`GraphQLError` with the location of the first problem."""
    return _Parser(source).document()


# --- variables ---------------------------------------------------------------------------------------------

_INT32 = (-(2**31), 2**31 - 1)


def _coerce(value: Any, ref: TypeRef, path: str) -> Any:
    if value is None:
        if ref.non_null:
            raise GraphQLError(f"Variable `{path}` of non-null type `{ref}` must not be null.")
        return None
    if ref.of_type is not None:
        items = value if isinstance(value, list) else [value]
        return [_coerce(v, ref.of_type, f"{path}[{i}]") for i, v in enumerate(items)]
    name = ref.name
    bad = GraphQLError(f"Variable `{path}` of type `{ref}` got an invalid value: {value!r}.")
    if name in ("String", "Bytes"):
        if not isinstance(value, str):
            raise bad
    elif name == "ID":
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise bad
        value = str(value)
    elif name == "Int":
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise bad
        value = int(value)
        if not _INT32[0] <= value <= _INT32[1]:
            raise bad
    elif name == "Float":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise bad
        value = float(value)
    elif name == "Boolean":
        if not isinstance(value, bool):
            raise bad
    elif name == "BigInt":
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise bad
    elif name == "BigDecimal" and (isinstance(value, bool) or not isinstance(value, str | int | float)):
        raise bad
    # Enums and input objects (``Orderbook_orderBy``, ``Orderbook_filter``...) pass through; the field that
    # reads them checks their content.
    return value


def coerce_variables(operation: Operation, provided: dict[str, Any] | None) -> dict[str, Any]:
    """Check the sent variables against the declarations; fill defaults; drop undeclared ones."""
    provided = provided or {}
    out: dict[str, Any] = {}
    for definition in operation.variables:
        if definition.name in provided:
            out[definition.name] = _coerce(provided[definition.name], definition.type, f"${definition.name}")
        elif definition.default is not MISSING:
            out[definition.name] = _coerce(definition.default, definition.type, f"${definition.name}")
        elif definition.type.non_null:
            raise GraphQLError(
                f"Variable `${definition.name}` of required type `{definition.type}` was not provided.",
                definition.line,
                definition.column,
            )
    return out


def resolve_value(value: Any, variables: dict[str, Any], declared: set[str]) -> Any:
    """Substitute variables; an unsent variable is :data:`MISSING` and its input-object field is dropped."""
    if isinstance(value, Variable):
        if value.name not in declared:
            raise GraphQLError(f'Variable "${value.name}" is not defined.', value.line, value.column)
        return variables.get(value.name, MISSING)
    if isinstance(value, list):
        return [None if (v := resolve_value(item, variables, declared)) is MISSING else v for item in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            resolved = resolve_value(item, variables, declared)
            if resolved is not MISSING:
                out[key] = resolved
        return out
    return value
