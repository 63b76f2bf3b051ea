"""``POST /tsfm/forecast``: the guarded forecaster (bearer token, rate limits, strict validation)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException, TooManyRequestsException, ValidationException
from litestar.params import Body

from mca_resources.forecasting.forecaster import Forecaster
from mca_resources.forecasting.schemas import ForecastIn, ForecastOut, cross_field_errors
from mca_serving.auth import IDENTITY_KEY, GuardedPost
from mca_serving.body import StrictJSON, UnsupportedMediaType
from mca_serving.policy import NO_RATE_LIMIT

ForecastBody = Annotated[
    ForecastIn, Body(media_type=RequestEncodingType.JSON, schema_extra={"additionalProperties": False})
]


class ForecastController(Controller):
    path = "/tsfm"
    tags = ("forecast",)

    @GuardedPost(
        "/forecast",
        status_code=200,
        operation_id="TsfmForecast",
        summary="Quantile forecast of a probability series, always a valid band",
        dto=StrictJSON[ForecastIn],
        return_dto=None,
        raises=[ValidationException, NotAuthorizedException, TooManyRequestsException, UnsupportedMediaType],
        security=[{"BearerToken": []}],
        opt=NO_RATE_LIMIT,  # the auth guard limits per identity and, before a valid token, per address
    )
    async def forecast(self, data: ForecastBody, request: Request) -> ForecastOut:
        # the request's app state, not a `state: State` parameter: Litestar builds that per request (10 µs here)
        forecaster: Forecaster = request.app.state.forecaster
        errors = cross_field_errors(data, forecaster.models)
        if errors:
            raise ValidationException(
                detail="Validation failed for POST /tsfm/forecast",
                extra=[{"message": reason, "key": key, "source": "body"} for key, reason in errors],
            )
        return await forecaster.forecast(data, request.scope["state"][IDENTITY_KEY])
