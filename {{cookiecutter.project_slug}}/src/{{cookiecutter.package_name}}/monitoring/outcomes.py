"""Prediction ids and the outcomes that come back for them, stored beside the prediction log.

Each predicted row gets an id: a request's random part signed with a key kept in the log
folder (.prediction-ids.key), then the row's number. The signature lets `POST /feedback`
and `make feedback` refuse an id this project never issued, without a lookup and across
restarts. An outcome is one JSON line {"prediction_id", "label", "time"} in outcomes*.jsonl
files: appended, never rewriting the prediction log. The first outcome stored for an id is
the one that counts; the same id sent again is not stored again.

`python -m <package> feedback DATA --log FOLDER` stores a file of outcomes (CSV or Parquet
with a prediction_id column and the target column) in one new file.
"""

import argparse
import hashlib
import hmac
import math
import os
import secrets
import time
from pathlib import Path

import orjson
import pandas as pd

from ..errors import PipelineError, UnusableInput
from ..params import load_params

KEY_FILE = ".prediction-ids.key"
KEY_BYTES = 32
ACTIVE = "outcomes.jsonl"  # the server's; `make feedback` writes outcomes-<time>.jsonl files
PATTERN = "outcomes*.jsonl"
ID_COLUMN = "prediction_id"
NONCE_HEX, TAG_HEX = 16, 16
MAX_ID_LENGTH = NONCE_HEX + TAG_HEX + 12  # "-" and a row number


class OutcomeError(ValueError):
    """An outcome the store refuses; the message names the item and what is wrong."""


def folder_key(folder: Path) -> bytes:
    """The folder's signing key, created (readable by its owner only) on first use."""
    path = Path(folder) / KEY_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise PipelineError(
                f"{path} is not a prediction-id key ({len(key)} bytes, not {KEY_BYTES}) - "
                "restore it; deleting it makes every id issued so far unknown"
            ) from None
        return key
    key = secrets.token_bytes(KEY_BYTES)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key


class PredictionIds:
    """Issues ids for the rows of a request and recognises the ones it issued."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def _tag(self, nonce: str) -> str:
        return hmac.new(self.key, nonce.encode(), hashlib.sha256).hexdigest()[:TAG_HEX]

    def new(self, rows: int) -> list[str]:
        nonce = secrets.token_hex(NONCE_HEX // 2)
        base = nonce + self._tag(nonce)
        return [f"{base}-{row}" for row in range(rows)]

    def issued(self, prediction_id: object) -> bool:
        if not isinstance(prediction_id, str) or len(prediction_id) > MAX_ID_LENGTH:
            return False
        base, _, row = prediction_id.partition("-")
        if len(base) != NONCE_HEX + TAG_HEX or not row.isascii() or not row.isdigit():
            return False
        nonce, tag = base[:NONCE_HEX], base[NONCE_HEX:]
        return hmac.compare_digest(tag, self._tag(nonce))


def label_error(label: object, classes: list | None) -> str | None:
    """Why a label cannot be an outcome of this model, or None: one of the classes for a
    classifier (of the same JSON type), a finite number for a regressor."""
    if isinstance(label, bool):
        return "a label cannot be true or false"
    if classes:
        if any(type(label) is type(known) and label == known for known in classes):
            return None
        return f"{label!r} is not one of the model's classes {classes}"
    if isinstance(label, int | float) and math.isfinite(label):
        return None
    return f"{label!r} is not a finite number (the model is a regressor)"


def checked(items: object, ids: PredictionIds, classes: list | None, max_rows: int) -> list:
    """The (prediction_id, label) pairs of a feedback body's "outcomes"; OutcomeError naming
    the first item that is wrong (an unknown id, a label of the wrong type, an id twice)."""
    if not isinstance(items, list) or not items:
        raise OutcomeError('"outcomes" must be a non-empty list')
    if len(items) > max_rows:
        raise OutcomeError(
            f'"outcomes" holds {len(items):,} items, over the limit of {max_rows:,} '
            "(SERVE_MAX_REQUEST_ROWS): send them in parts, or use `make feedback`"
        )
    pairs, seen = [], set()
    for number, item in enumerate(items):
        where = f"outcomes[{number}]"
        if not isinstance(item, dict) or item.keys() != {ID_COLUMN, "label"}:
            raise OutcomeError(f"{where} must be an object with {ID_COLUMN} and label only")
        prediction_id, label = item[ID_COLUMN], item["label"]
        if not ids.issued(prediction_id):
            raise OutcomeError(
                f"{where}: {str(prediction_id)[:80]!r} is not an id this server issued"
            )
        if prediction_id in seen:
            raise OutcomeError(f"{where}: {prediction_id} is in this request twice")
        if error := label_error(label, classes):
            raise OutcomeError(f"{where}: {error}")
        seen.add(prediction_id)
        pairs.append((prediction_id, label))
    return pairs


def stored_ids(folder: Path) -> set[str]:
    """The ids that have an outcome in the folder already."""
    found = set()
    for path in Path(folder).glob(PATTERN):
        for line in path.read_bytes().splitlines():
            try:
                found.add(orjson.loads(line)[ID_COLUMN])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue  # a partly written line: its outcome was not stored
    return found


def lines(pairs: list, at: float) -> bytes:
    return b"".join(
        orjson.dumps({ID_COLUMN: i, "label": label, "time": at}, option=orjson.OPT_APPEND_NEWLINE)
        for i, label in pairs
    )


def bulk_pairs(frame: pd.DataFrame, target: str, ids: PredictionIds, classes: list | None) -> list:
    """(id, label) pairs of a table of outcomes, each label as JSON would give it."""
    missing = [name for name in (ID_COLUMN, target) if name not in frame.columns]
    if missing:
        raise UnusableInput(
            f"the outcomes lack the column(s) {missing}: they need {ID_COLUMN} (from the "
            f"server's answers) and the target, {target}"
        )
    frame = frame[[ID_COLUMN, target]].dropna()
    labels = orjson.loads(frame[target].to_json(orient="values"))  # as JSON would give them
    items = [
        {ID_COLUMN: str(i), "label": label}
        for i, label in zip(frame[ID_COLUMN], labels, strict=True)
    ]
    try:
        return checked(items, ids, classes, max_rows=len(items) or 1)
    except OutcomeError as error:
        raise UnusableInput(f"{error} (rows counted from 0, after rows without a value)") from None


def write_bulk(folder: Path, pairs: list) -> tuple[Path | None, int]:
    """Store the pairs whose ids have no outcome yet in a new file written whole (a
    temporary file renamed: a failed run leaves nothing half written); the file (None when
    every id had one) and how many it holds."""
    known = stored_ids(folder)
    fresh = [(i, label) for i, label in pairs if i not in known]
    if not fresh:
        return None, 0
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    path = Path(folder) / f"outcomes-{stamp}-{secrets.token_hex(3)}.jsonl"
    partial = path.with_suffix(".partial")
    partial.write_bytes(lines(fresh, time.time()))
    partial.replace(path)
    return path, len(fresh)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="feedback", description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="CSV or Parquet file with prediction_id and the target")
    parser.add_argument(
        "--log",
        default=os.environ.get("SERVE_PREDICTION_LOG") or "logs",
        help="the server's prediction-log folder (default: SERVE_PREDICTION_LOG, else logs)",
    )
    args = parser.parse_args(argv)
    from ..deploy.release import environment, registry, served_version

    params = load_params()
    folder = Path(args.log)
    if not (folder / KEY_FILE).is_file():
        raise UnusableInput(
            f"{folder} holds no {KEY_FILE}: name the folder the server logs predictions to "
            "(--log or SERVE_PREDICTION_LOG)"
        )
    store = registry(params)
    classes = store.manifest(served_version(store, environment()))["classes"]
    path = Path(args.data)
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise UnusableInput(f"cannot read the outcomes in {path}: {error}") from None
    pairs = bulk_pairs(frame, params.data.target, PredictionIds(folder_key(folder)), classes)
    written, stored = write_bulk(folder, pairs)
    where = f" in {written}" if written else ""
    print(f"{stored} outcome(s) stored{where}; {len(pairs) - stored} had one already")
