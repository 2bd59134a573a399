"""Request and response bodies, for the OpenAPI docs and for clients."""

from pydantic import BaseModel, ConfigDict, Field

Value = float | str | None


class PredictRequest(BaseModel):
    records: list[dict[str, Value]] = Field(
        min_length=1,
        description="rows as {column: value}: every raw column the model takes (GET /model "
        "lists them), no others; dates as ISO 8601 text",
    )


class PredictResponse(BaseModel):
    # Field names such as model_version are the API's; pydantic before 2.10 warned on them.
    model_config = ConfigDict(protected_namespaces=())

    predictions: list[float | int | str | bool]
    probabilities: list[list[float]] | None = None
    classes: list[float | int | str | bool] | None = None
    model_version: str


class Health(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    status: str
    model_version: str | None = None
