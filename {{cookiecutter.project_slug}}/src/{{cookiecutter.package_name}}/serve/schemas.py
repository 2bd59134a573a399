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
    prediction_ids: list[str] = Field(description="one per row, for POST /feedback")
    probabilities: list[list[float]] | None = None
    classes: list[float | int | str | bool] | None = None
    model_version: str


class Health(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    status: str
    model_version: str | None = None


class Outcome(BaseModel):
    prediction_id: str
    label: float | int | str = Field(description="the true value: one of the classes, or a number")


class FeedbackRequest(BaseModel):
    outcomes: list[Outcome] = Field(min_length=1, description="at most SERVE_MAX_REQUEST_ROWS")


class FeedbackResponse(BaseModel):
    stored: int
    already_stored: int
