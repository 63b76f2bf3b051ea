"""OpenAPI details Litestar does not derive by itself."""

from __future__ import annotations

from litestar.openapi.spec import OpenAPI, Schema

from mca_resources.forecasting.schemas import ModelIn, TransformIn


def close_nested_objects(openapi: OpenAPI) -> None:
    """State ``forbid_unknown_fields`` of the nested request structs in OpenAPI (Litestar only does the body's)."""
    schemas = openapi.components.schemas or {}
    for struct in (TransformIn, ModelIn):
        component = schemas.get(struct.__name__)
        if isinstance(component, Schema):
            component.additional_properties = False
