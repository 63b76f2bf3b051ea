"""Strict JSON request bodies: a route's body decoded straight into its msgspec Struct, in one strict pass.

Why not Litestar's own decoding: it parses the body into Python objects, then converts them with
``strict=False``. So strings passed for numbers (``"0.5"``, ``"12"``), numbers for timestamps, a body nested a
thousand levels deep raised ``RecursionError`` and invalid UTF-8 ``UnicodeDecodeError``, both answered 500.
Decoding into the Struct bounds the nesting by the type, rejects every loose type with the field named, and is one
pass instead of two. It is written as a DTO because that is Litestar's hook for "how this route decodes its body";
the OpenAPI schema stays the Struct's own.

Only ``application/json`` (optionally ``; charset=utf-8``) is a JSON body; anything else is a 415.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import msgspec
from litestar.dto import AbstractDTO
from litestar.exceptions import ClientException, ValidationException
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.dto._backend import DTOBackend
    from litestar.openapi.spec import Reference, Schema
    from litestar.typing import FieldDefinition

T = TypeVar("T")

JSON_MEDIA_TYPE = "application/json"
_COMMON_JSON = frozenset({JSON_MEDIA_TYPE, "application/json; charset=utf-8", "application/json; charset=UTF-8"})
ROOT_KEY = "data"  # Litestar's name for the body as a whole in validation errors


class UnsupportedMediaType(ClientException):
    status_code = HTTP_415_UNSUPPORTED_MEDIA_TYPE


def is_json(content_type: str) -> bool:
    """``application/json`` with no parameter but ``charset=utf-8`` (JSON is UTF-8, RFC 8259 §8.1)."""
    if content_type in _COMMON_JSON:  # what clients send, without parsing
        return True
    media_type, *parameters = content_type.split(";")
    if media_type.strip().lower() != JSON_MEDIA_TYPE:
        return False
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


def field_error(error: msgspec.ValidationError) -> dict[str, str]:
    """msgspec's ``"Expected `float`, got `str` - at `$.y[0]`"`` (or ``- at `key` in `$.x_past```) as Litestar's
    ``{message, key, source}``, the key relative to the body."""
    message, _, where = str(error).partition(" - at ")
    if where.startswith("`key` in "):
        message += " (in a key of this object)"
    key = where.rpartition("`$")[2].rstrip("`").removeprefix(".")
    return {"message": message, "key": key or ROOT_KEY, "source": "body"}


class StrictJSON(AbstractDTO[T]):
    """``dto=StrictJSON[Model]`` on a route whose ``data`` is ``Model``: the body decoded strictly into it."""

    decoder: ClassVar[msgspec.json.Decoder[Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.decoder = msgspec.json.Decoder(cls.model_type)

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: type[DTOBackend] | None = None
    ) -> None:
        """No transfer model to build: the Struct itself is decoded."""

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        return schema_creator.for_field_definition(field_definition)

    def decode_bytes(self, value: bytes) -> Any:
        connection = self.asgi_connection
        content_type = connection.headers.get("content-type", "")
        if not is_json(content_type):
            raise UnsupportedMediaType(detail=f"the body must be {JSON_MEDIA_TYPE}, got {content_type[:64]!r}")
        try:
            return self.decoder.decode(value)
        except msgspec.ValidationError as exc:
            raise ValidationException(
                detail=f"Validation failed for {connection.method} {connection.url.path}", extra=[field_error(exc)]
            ) from None
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # syntax, or invalid UTF-8 inside a string
            raise ClientException(detail=f"JSON is malformed: {exc}") from None
