"""Slow tier: a data scientist's loop on their own data, as the generated README tells it.

A regression project on a CSV of cars (a date, an identifier, text, missing values, a
target not named `target`), `dvc add`ed; a feature added and the identifier dropped in
derive.py; `make ci` with no test edited; then the model deployed and fed raw rows by the
server (both protocols), `make predict` and `make monitor`; and derive.py edited without
retraining, which the server and `make predict` refuse.
"""

import csv
import hashlib
import json
import random
import re
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import bake, run
from .test_journeys import call, serving

pytestmark = pytest.mark.slow
PACKAGE = "my_ml_project"
COLUMNS = ["Name", "Year", "Origin", "Cylinders", "Horsepower", "Weight", "MPG"]
# A ratio, text made of an integer column (4 cylinders reach derive() as 4.0 in training
# and in a request alike), and the identifier dropped.
FEATURE = """\
    frame = frame.assign(power_to_weight=frame["Horsepower"] / frame["Weight"])
    frame = frame.assign(engine=frame["Cylinders"].astype(str) + " cylinders")
    frame = frame.drop(columns=["Name"])
"""


def write_cars(path: Path, rows: int = 400) -> None:
    """Cars with a model year as an ISO date, a unique name, an origin, missing values."""
    rng = random.Random(3)
    makes = {"ford": "US", "chevrolet": "US", "fiat": "Europe", "bmw": "Europe"}
    makes |= {"toyota": "Japan", "datsun": "Japan", "honda": "Japan"}
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for i in range(rows):
            make = rng.choice(sorted(makes))
            cylinders = rng.choice([4, 4, 4, 6, 8])
            horsepower = round(rng.gauss(40 + 15 * cylinders, 10), 1)
            weight = int(rng.gauss(1500 + 350 * cylinders, 200))
            year = rng.randint(1970, 1982)
            mpg = 60 - 0.004 * weight - 0.05 * horsepower + 0.6 * (year - 1970)
            writer.writerow(
                [
                    f"{make} model {i}",
                    f"{year}-01-01",
                    "" if i % 23 == 0 else makes[make],
                    cylinders,
                    "" if i % 17 == 0 else horsepower,
                    weight,
                    round(mpg + rng.gauss(0, 1.5), 1),
                ]
            )


def raw_records(path: Path, rows: int) -> list[dict]:
    """The CSV's first rows as a client sends them: numbers, text, null for empty cells."""
    frame = pd.read_csv(path, nrows=rows).drop(columns="MPG")
    return json.loads(frame.to_json(orient="records"))


def edit_derive(project: Path, lines: str) -> None:
    path = project / f"src/{PACKAGE}/pipeline/derive.py"
    text = path.read_text()
    body = "    return date_parts(frame)\n"
    assert body in text, text
    path.write_text(text.replace(body, lines + body, 1))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A regression bake on the cars CSV, a feature added in derive.py, make ci passed."""
    root = bake(tmp_path_factory.mktemp("loop"), task="regression")
    run("make install", root)
    write_cars(root / "data/external/cars.csv")
    run(".venv/bin/dvc add -q data/external/cars.csv", root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"] = {"source": "data/external/cars.csv", "target": "MPG"}
    params["deploy"]["threshold"] = 0.5
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    first = run("make repro", root)
    assert "column 'Name' has 400 distinct values in 400 rows" in first.stderr, first.stderr
    schema = yaml.safe_load((root / "data/schema.yaml").read_text())
    assert schema["schema"]["columns"]["Year"]["dtype"].startswith("datetime64")

    edit_derive(root, FEATURE)
    second = run("make repro", root)
    assert "looks like an identifier" not in second.stderr
    run("git add --all && git commit -qm 'Train on cars.csv with power_to_weight'", root)
    result = run("make ci", root)
    assert "dvc.lock is unchanged" in result.stdout and "deploy check passed" in result.stdout
    assert re.search(r"^=+ \d+ passed, .*\d+ deselected", result.stdout, re.M), result.stdout
    run("make test-all", root)  # what CI adds (make ci TESTS=all): the machinery, coverage
    changed = run("git status --porcelain tests", root).stdout
    assert changed == "", f"make ci needed test edits: {changed}"
    run("make deploy", root)
    return root


def test_the_model_takes_raw_rows_and_makes_its_features(project: Path) -> None:
    manifest = json.loads(next(project.glob("registry/*/versions/*/manifest.json")).read_text())
    inputs = {feature["name"]: feature["type"] for feature in manifest["features"]}
    assert inputs == {
        "Name": "string",
        "Year": "datetime",
        "Origin": "string",
        "Cylinders": "number",
        "Horsepower": "number",
        "Weight": "number",
    }
    assert len(manifest["derive_hash"]) == 12


def test_the_server_answers_raw_csv_rows(project: Path) -> None:
    records = raw_records(project / "data/external/cars.csv", 3)
    assert records[0]["Year"].endswith("-01-01") and records[0]["Horsepower"] is None
    tensors = [
        {
            "name": name,
            "shape": [len(records)],
            "datatype": "BYTES" if name in ("Name", "Year", "Origin") else "FP64",
            "data": [record[name] for record in records],
        }
        for name in records[0]
    ]
    with serving(project) as base:
        answer = call(f"{base}/predict", {"records": records})
        v2 = call(f"{base}/v2/models/my-ml-project/infer", {"inputs": tensors})
    assert len(answer["predictions"]) == 3
    assert v2["outputs"][0]["data"] == pytest.approx(answer["predictions"])


def test_make_predict_scores_every_raw_row(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "scored"
    result = run(f"make predict DATA=data/external/cars.csv OUT={out}", project)
    assert "wrote 400 rows" in result.stderr + result.stdout
    scored = pd.read_parquet(out)
    assert len(scored) == 400 and scored["prediction"].notna().all()
    assert list(scored.columns[:7]) == COLUMNS


def test_make_monitor_finds_a_shifted_raw_column(project: Path, tmp_path: Path) -> None:
    """New cars (new names: the identifier derive.py drops is no drift) pass; the same
    cars three times heavier drift on Weight."""
    frame = pd.read_csv(project / "data/external/cars.csv").drop(columns="MPG")
    frame = frame.assign(Name=[f"new car {i}" for i in range(len(frame))])
    frame.to_csv(tmp_path / "new.csv", index=False)
    run(f"make monitor DATA={tmp_path / 'new.csv'}", project)
    report = json.loads((project / "reports/drift.json").read_text())
    assert not report["drift"], report["drifted_features"]
    assert "Name" not in report["features"] and "Year" not in report["features"]
    assert set(report["inputs"]) == {"Name", "Year"}  # their missing rates are watched
    frame.assign(Year=None).to_csv(tmp_path / "undated.csv", index=False)
    result = run(f"make monitor DATA={tmp_path / 'undated.csv'}", project, check=False)
    assert result.returncode != 0 and "Year: missing rate 0.0% -> 100.0%" in result.stdout
    frame.assign(Weight=frame["Weight"] * 3).to_csv(tmp_path / "heavier.csv", index=False)
    result = run(f"make monitor DATA={tmp_path / 'heavier.csv'}", project, check=False)
    assert result.returncode != 0
    report = json.loads((project / "reports/drift.json").read_text())
    assert report["drift"] and "Weight" in report["drifted_features"]


def test_derive_edited_without_retraining_is_refused(project: Path, tmp_path: Path) -> None:
    """The server and make predict name both hashes and say to retrain and deploy."""
    edit_derive(project, "    frame = frame.assign(heavy=frame['Weight'] > 3000)\n")
    refused = run(f"make predict DATA=data/external/cars.csv OUT={tmp_path}/x", project, False)
    assert refused.returncode != 0
    line = next(line for line in refused.stderr.splitlines() if line.startswith("ERROR:"))
    manifest = json.loads(next(project.glob("registry/*/versions/*/manifest.json")).read_text())
    derive = next(project.glob("src/*/pipeline/derive.py"))
    edited = hashlib.sha256(derive.read_bytes()).hexdigest()[:12]
    both = (
        f"was trained with derive code {manifest['derive_hash']}, this project's "
        f"{derive.relative_to(project)} is {edited} - retrain (`make repro`) and deploy "
        "(`make deploy`)"
    )
    assert both in line, line
    with serving(project) as base:
        with pytest.raises(urllib.error.HTTPError) as unready:
            urllib.request.urlopen(f"{base}/health/ready", timeout=10)
        assert unready.value.code == 503
    log = (project / "serve.log").read_text()
    assert both in log, log
