"""Request checks in bulk: exactly what a value-by-value check refuses, named as precisely."""

import random

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.deploy.bundle import frame_from_rows
from {{ cookiecutter.package_name }}.deploy.registry import Registry
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.inputs import FeatureSchema, InputError
from {{ cookiecutter.package_name }}.serve.settings import Settings

from .conftest import publish_tiny

pytestmark = pytest.mark.machinery

FEATURES = [
    {"name": "n", "type": "number", "nullable": False},
    {"name": "m", "type": "number", "nullable": True},
    {"name": "s", "type": "string", "nullable": False},
    {"name": "t", "type": "string", "nullable": True},
]
GOOD = {"n": 1.5, "m": 2, "s": "a", "t": "b"}
SCHEMA = FeatureSchema(FEATURES)


def records_with(bad: dict, at: int = 57, rows: int = 100) -> list[dict]:
    records = [dict(GOOD) for _ in range(rows)]
    records[at] = {**GOOD, **bad}
    return records


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"n": True}, "records[57].n: expected a number, got bool"),
        ({"m": False}, "records[57].m: expected a number, got bool"),
        ({"n": "1.5"}, "records[57].n: expected a number, got str"),
        ({"n": None}, "records[57].n: null is not allowed for this column"),
        ({"n": float("nan")}, "records[57].n: expected a finite number, got NaN"),
        ({"m": float("inf")}, "records[57].m: expected a finite number within"),
        ({"n": 1e40}, "records[57].n: expected a finite number within"),
        ({"n": -(10**40)}, "records[57].n: expected a finite number within"),
        ({"m": 10**400}, "records[57].m: expected a finite number within"),
        ({"s": 7}, "records[57].s: expected a string, got int"),
        ({"t": True}, "records[57].t: expected a string, got bool"),
        ({"s": None}, "records[57].s: null is not allowed for this column"),
        ({"x": 1}, "records[57]: unknown column 'x'"),
    ],
)
def test_a_bad_value_in_row_57_is_named_exactly(bad: dict, message: str) -> None:
    with pytest.raises(InputError) as refused:
        SCHEMA.check_records(records_with(bad), 1000)
    assert str(refused.value).startswith(message)


def test_a_missing_column_or_a_record_that_is_no_object_is_named() -> None:
    records = records_with({})
    del records[57]["t"]
    with pytest.raises(InputError, match=r"^records\[57\]: missing column 't'$"):
        SCHEMA.check_records(records, 1000)
    records[57] = [1.5, 2, "a", "b"]
    with pytest.raises(InputError, match=r"^records\[57\] must be an object"):
        SCHEMA.check_records(records, 1000)


def test_the_first_bad_record_is_named_when_several_are() -> None:
    records = records_with({"n": "x"}, at=80)
    records[57] = {**GOOD, "s": 1}
    with pytest.raises(InputError, match=r"^records\[57\]\.s: expected a string, got int$"):
        SCHEMA.check_records(records, 1000)


def test_ints_floats_and_nulls_where_allowed_are_taken() -> None:
    records = [
        {"n": 1, "m": 2.5, "s": "a", "t": None},
        {"n": 2.5, "m": None, "s": "b", "t": "c"},
        {"n": -3, "m": 10**20, "s": "", "t": "d"},
        {"n": 3.4e38, "m": -3.4e38, "s": "e", "t": None},
    ]
    frame = SCHEMA.frame([SCHEMA.check_records(records, 10)])
    assert frame["n"].dtype == frame["m"].dtype == np.float64
    assert frame["n"].tolist() == [1.0, 2.5, -3.0, 3.4e38]
    assert np.isnan(frame["m"][1]) and frame["m"][2] == 1e20
    assert frame["s"].tolist() == ["a", "b", "", "e"]
    assert frame["t"].isna().tolist() == [True, False, False, True]
    assert list(frame.columns) == ["n", "m", "s", "t"]


def test_the_bulk_checks_agree_with_the_row_by_row_check() -> None:
    """Random requests, most with one bad value somewhere: the same error, or the same
    frame as the rows checked one by one give."""
    pool = {
        "n": [0, 1, -7, 2.5, 1e30, True, None, "1", 1e39, float("nan"), 10**39],
        "m": [0, 4.25, None, None, False, float("-inf"), [1]],
        "s": ["a", "b", "", None, 3, 1.5],
        "t": ["x", None, True, {"k": "v"}],
    }
    chooser = random.Random(0)
    for _ in range(300):
        records = [dict(GOOD) for _ in range(chooser.randint(1, 12))]
        for _ in range(chooser.randint(0, 3)):
            name = chooser.choice(list(pool))
            chooser.choice(records)[name] = chooser.choice(pool[name])
        try:
            rows = [SCHEMA.check_row(r, f"records[{i}]") for i, r in enumerate(records)]
        except InputError as error:
            with pytest.raises(InputError) as refused:
                SCHEMA.check_records(records, 100)
            assert str(refused.value) == str(error)
            continue
        got = SCHEMA.frame([SCHEMA.check_records(records, 100)])
        pd.testing.assert_frame_equal(got, frame_from_rows(rows, FEATURES))


def test_several_requests_make_one_frame_in_order() -> None:
    first = SCHEMA.check_records([GOOD, {**GOOD, "n": 2}], 10)
    second = SCHEMA.check_records([{**GOOD, "n": 3, "t": None}], 10)
    assert len(first) == 2 and len(second) == 1
    frame = SCHEMA.frame([first, second])
    assert frame["n"].tolist() == [1.5, 2.0, 3.0] and frame["t"].isna().tolist()[-1]


@pytest.mark.parametrize(
    ("column", "bad", "message"),
    [
        ("n", True, "input 'n'[57]: expected a number, got bool"),
        ("n", "2", "input 'n'[57]: expected a number, got str"),
        ("n", None, "input 'n'[57]: null is not allowed for this column"),
        ("m", 1e40, "input 'm'[57]: expected a finite number within"),
        ("s", 2, "input 's'[57]: expected a string, got int"),
    ],
)
def test_v2_columns_name_the_input_and_row(column: str, bad: object, message: str) -> None:
    columns = {name: [value] * 100 for name, value in GOOD.items()}
    columns[column][57] = bad
    with pytest.raises(InputError) as refused:
        SCHEMA.check_columns(columns, 1000)
    assert str(refused.value).startswith(message)


def test_v2_columns_are_checked_as_a_whole() -> None:
    columns = {"n": [1, 2.5], "m": [None, 3], "s": ["a", "b"], "t": [None, "c"]}
    frame = SCHEMA.frame([SCHEMA.check_columns(columns, 10)])
    assert frame["n"].tolist() == [1.0, 2.5] and np.isnan(frame["m"][0])
    with pytest.raises(InputError, match="missing column 't'"):
        SCHEMA.check_columns({k: v for k, v in columns.items() if k != "t"}, 10)
    with pytest.raises(InputError, match="same number of rows"):
        SCHEMA.check_columns({**columns, "s": ["a"]}, 10)
    with pytest.raises(InputError, match="more than the limit of 1"):
        SCHEMA.check_columns(columns, 1)
    with pytest.raises(InputError, match="at least one row"):
        SCHEMA.check_columns({name: [] for name in columns}, 10)


def test_both_protocols_name_row_57(registry: Registry, mixed_frame: pd.DataFrame) -> None:
    publish_tiny(registry, mixed_frame)
    settings = Settings(MODEL_REGISTRY=registry.location.rsplit("/", 1)[0], model_name="tiny")
    row = {"size": 10.5, "count": 2, "colour": "red"}
    records = [dict(row) for _ in range(100)]
    records[57]["count"] = True
    columns = {name: [value] * 100 for name, value in row.items()}
    columns["size"][57] = "big"
    datatypes = {"size": "FP64", "count": "INT64", "colour": "BYTES"}
    inputs = [
        {"name": name, "shape": [100], "datatype": datatypes[name], "data": data}
        for name, data in columns.items()
    ]
    with TestClient(create_app(settings)) as client:
        response = client.post("/predict", json={"records": records})
        assert response.status_code == 422
        assert response.json()["detail"] == "records[57].count: expected a number, got bool"
        response = client.post("/v2/models/tiny/infer", json={"inputs": inputs})
        assert response.status_code == 400
        assert response.json()["error"] == "input 'size'[57]: expected a number, got str"
        records[57]["count"] = 2
        assert len(client.post("/predict", json={"records": records}).json()["predictions"]) == 100


@pytest.mark.parametrize("kind", ["number", "string"])
def test_a_schema_of_one_kind(kind: str) -> None:
    schema = FeatureSchema([{"name": "a", "type": kind}, {"name": "b", "type": kind}])
    value = 1.5 if kind == "number" else "x"
    frame = schema.frame([schema.check_records([{"a": value, "b": None}] * 3, 10)])
    assert list(frame.columns) == ["a", "b"] and frame["a"].tolist() == [value] * 3
    assert frame["b"].isna().all()
    with pytest.raises(InputError, match=r"^records\[1\]\.b: expected a"):
        schema.check_records([{"a": value, "b": None}, {"a": value, "b": [1]}], 10)


DATED = FeatureSchema([*FEATURES, {"name": "d", "type": "datetime", "nullable": True}])


def test_dates_are_taken_as_iso_8601_text() -> None:
    records = [
        {**GOOD, "d": "2024-03-01"},
        {**GOOD, "d": "2024-03-01T09:30:00+02:00"},
        {**GOOD, "d": None},
    ]
    frame = DATED.frame([DATED.check_records(records, 10)])
    assert frame["d"].dtype.kind == "M"  # timestamps, as training's
    assert frame["d"].tolist()[:2] == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-01 07:30")]
    assert pd.isna(frame["d"][2])
    columns = {name: [record[name] for record in records] for name in DATED.names}
    assert DATED.frame([DATED.check_columns(columns, 10)]).equals(frame)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("2024-13-01", "records[57].d: expected an ISO 8601 date such as 2024-03-01"),
        ("01/03/2024", "records[57].d: expected an ISO 8601 date such as 2024-03-01"),
        ("soon", "records[57].d: expected an ISO 8601 date"),
        (20240301, "records[57].d: expected an ISO 8601 date as a string, got int"),
    ],
)
def test_a_bad_date_is_named(bad: object, message: str) -> None:
    records = [{**GOOD, "d": "2024-03-01"} for _ in range(100)]
    records[57]["d"] = bad
    with pytest.raises(InputError) as refused:
        DATED.check_records(records, 1000)
    assert str(refused.value).startswith(message)
    columns = {name: [record[name] for record in records] for name in DATED.names}
    with pytest.raises(InputError, match=r"^input 'd'\[57\]: expected an ISO 8601 date"):
        DATED.check_columns(columns, 1000)
