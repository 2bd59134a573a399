"""The Open Inference Protocol (V2) over the same model, so stock V2 clients work."""

import math
from enum import Enum
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Request

from .dependencies import HolderDep, SettingsDep
from .holder import ModelHolder, Served
from .inputs import Columns, InputError
from .responses import BodyTooLarge, JSONBody, read_json
from .routes.plain import PlainRoute
from .settings import Settings

# The protocol's tensor datatypes: integers (with the values each can hold), floats,
# BOOL and BYTES. A number column takes any numeric one (its metadata says FP64), a text
# or date column BYTES.
INTEGERS = {
    f"{kind}{bits}": (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    if kind == "INT"
    else (0, (1 << bits) - 1)
    for kind in ("INT", "UINT")
    for bits in (8, 16, 32, 64)
}
NUMERIC = frozenset({"FP16", "FP32", "FP64", *INTEGERS})
DATATYPES = NUMERIC | {"BOOL", "BYTES"}
NULL = type(None)
# tritonclient's binary tensor extension: a JSON head of this length, then raw bytes.
BINARY_HEADER = "inference-header-content-length"


def datatype(values: np.ndarray) -> str:
    if values.dtype.kind == "b":
        return "BOOL"
    if values.dtype.kind in "iu":
        return "INT64"
    if values.dtype.kind == "f":
        return "FP64"
    return "BYTES"


def flatten(data: object) -> list:
    """V2 allows tensor data flat (row-major) or nested; take both."""
    return np.asarray(data, dtype=object).ravel().tolist() if isinstance(data, list) else [data]


def rows_from_inputs(served: Served, inputs: object, limit: int) -> Columns:
    """Turn V2 inputs into checked columns: one [n, features] tensor, or one per column."""
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, dict) for t in inputs):
        raise InputError("inputs must be a non-empty list of tensors")
    schema = served.schema
    names = schema.names
    columns: dict[str, list] = {}
    for tensor in inputs:
        name, shape, data = tensor.get("name"), tensor.get("shape"), tensor.get("data")
        if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise InputError(f"input {name!r}: shape must be a list of non-negative integers")
        kind = tensor.get("datatype")
        if kind not in DATATYPES:
            raise InputError(
                f"input {name!r}: datatype {kind!r} is not one of the Open Inference "
                "Protocol's - send FP64 for numbers, BYTES for text and dates"
            )
        count = math.prod(shape)
        if count > limit * len(names):  # before any work on the values: at most limit rows
            raise InputError(f"input {name!r}: {count} values, more than {limit} rows can have")
        if isinstance(data, list) and len(data) > count:
            raise InputError(f"input {name!r}: shape {shape} does not match {len(data)}+ values")
        whole = len(inputs) == 1 and len(shape) == 2  # every column in one tensor
        if not whole and name in columns:
            raise InputError(f"input {name!r} is given twice - send each column once")
        if not whole and name not in schema.expected:
            raise InputError(f"input {name!r} is not a column of the model")
        numbers = schema.numeric.issuperset(names) if whole else name in schema.numeric
        if (kind in NUMERIC) != numbers:
            column = "number" if numbers else "text or date"
            wanted = "FP64 (or another numeric type)" if numbers else "BYTES"
            raise InputError(
                f"input {name!r}: datatype {kind} does not fit {column} columns - send {wanted}"
            )
        values = flatten(data)
        if len(values) != count:
            raise InputError(f"input {name!r}: shape {shape} does not match {len(values)} values")
        if kind in INTEGERS:
            check_integers(name, kind, values)
        if whole:
            if shape[1] != len(names):
                raise InputError(
                    f"input {name!r}: a 2-D tensor needs {len(names)} columns in training order"
                )
            columns = {col: values[i :: len(names)] for i, col in enumerate(names)}
        else:
            columns[name] = values
    return schema.check_columns(columns, limit)


def check_integers(name: object, kind: str, values: list) -> None:
    """An integer datatype's values must be whole JSON numbers it can hold (or null)."""
    kinds = set(map(type, values))
    if not kinds <= {int, NULL}:
        wrong = next(value for value in values if type(value) not in (int, NULL))
        raise InputError(f"input {name!r}: datatype {kind} takes integers, got {wrong!r:.40}")
    whole = [value for value in values if value is not None] if NULL in kinds else values
    low, high = INTEGERS[kind]
    if whole and (min(whole) < low or max(whole) > high):
        raise InputError(f"input {name!r}: a value is outside {kind}'s range {low} to {high}")


def wanted_outputs(requested: object) -> set[str] | None:
    """The output names a request asks for (`outputs[].name`); None: all of them."""
    if requested is None:
        return None
    if not isinstance(requested, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested
    ):
        raise InputError('outputs must be a list of {"name": "<output name>"} objects')
    return {o["name"] for o in requested} or None


class V2Error(Exception):
    """An error in the protocol's shape: {"error": message} with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


TAGS: list[str | Enum] = ["Open Inference Protocol (V2)"]  # the type APIRouter takes
router = APIRouter(prefix="/v2", tags=TAGS)
hot_router = APIRouter(prefix="/v2", tags=TAGS, route_class=PlainRoute)  # infer


def model_named(name: str, holder: ModelHolder, settings: Settings) -> Served:
    """The served version, when `name` is this server's model."""
    if name != settings.model_name:
        raise V2Error(404, f"unknown model {name!r}; this server has {settings.model_name!r}")
    if holder.served is None:
        raise V2Error(503, "no model is loaded yet")
    return holder.served


async def named_model(name: str, holder: HolderDep, settings: SettingsDep) -> Served:
    return model_named(name, holder, settings)


NamedModelDep = Annotated[Served, Depends(named_model)]


@router.get("/health/live")
async def live() -> JSONBody:
    return JSONBody({"live": True})


@router.get("/health/ready")
async def ready(holder: HolderDep) -> JSONBody:
    ok = holder.served is not None
    return JSONBody({"ready": ok}, status_code=200 if ok else 503)


@router.get("/models/{name}")
async def metadata(name: str, served: NamedModelDep) -> JSONBody:
    features = served.loaded.manifest["features"]
    return JSONBody(
        {
            "name": name,
            "versions": [served.version],
            "platform": "sklearn",
            "inputs": [
                {
                    "name": f["name"],
                    "datatype": "FP64" if f["type"] == "number" else "BYTES",
                    "shape": [-1],
                }
                for f in features
            ],
            "outputs": [{"name": "predict", "datatype": "BYTES", "shape": [-1]}]
            + (
                [
                    {
                        "name": "predict_proba",
                        "datatype": "FP64",
                        "shape": [-1, len(served.loaded.manifest["classes"])],
                    }
                ]
                if served.loaded.manifest["classes"]
                else []
            ),
        }
    )


@router.get("/models/{name}/ready")
async def model_ready(name: str, served: NamedModelDep) -> JSONBody:
    return JSONBody({"name": name, "ready": True, "version": served.version})


@hot_router.post("/models/{name}/infer")
async def infer(request: Request, name: str) -> JSONBody:
    state = request.app.state
    settings, batcher = state.settings, state.batcher
    served = model_named(name, state.holder, settings)
    if BINARY_HEADER in request.headers:
        raise V2Error(
            400,
            "binary tensor data is not supported - send the tensors as JSON (tritonclient: "
            "set_data_from_numpy(array, binary_data=False))",
        )
    try:
        body = await read_json(request, settings.max_body_mb)
        if not isinstance(body, dict):
            raise InputError("the body must be a V2 inference request object")
        rows = rows_from_inputs(served, body.get("inputs"), settings.max_request_rows)
        names = wanted_outputs(body.get("outputs"))
        result = await batcher.predict(served, rows)
    except BodyTooLarge as error:
        raise V2Error(error.status_code, error.detail) from None
    except InputError as error:
        raise V2Error(400, str(error)) from None
    predictions = np.asarray(result["predictions"])
    outputs = [
        {
            "name": "predict",
            "shape": [len(predictions)],
            "datatype": datatype(predictions),
            "data": predictions.tolist(),
        }
    ]
    if "probabilities" in result:
        probabilities = np.asarray(result["probabilities"], dtype=np.float64)
        outputs.append(
            {
                "name": "predict_proba",
                "shape": list(probabilities.shape),
                "datatype": "FP64",
                "data": probabilities.ravel().tolist(),
            }
        )
    if names is not None:
        outputs = [o for o in outputs if o["name"] in names]
    response = {"model_name": name, "model_version": served.version, "outputs": outputs}
    if "id" in body:
        response["id"] = body["id"]
    return JSONBody(response, headers={"X-Model-Version": served.version})
