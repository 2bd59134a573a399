"""The experiments side by side, one row each: its name, its metrics and what it changed.

`dvc exp show` has a column for every param and dependency hash. Here a row holds only the
params an experiment changed from its baseline commit, written as `dvc exp run -S` takes
them (`key=value`, `+key=value` added, `~key` removed), and every line fits in 100 columns.
"""

import argparse
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .compare import dvc

WIDTH = 100
GAP = "  "
CUT = ".."  # ends a cell cut to fit (ASCII: any terminal's encoding can print it)
LONGEST_NAME = 30  # the names DVC makes up are about 10 characters
NARROWEST_CHANGES = 24  # metrics are left out before the changes get narrower than this
MISSING = "-"  # a metric an experiment has no value for (queued, failed)
NO_EXPERIMENTS = "No experiments yet: run one with `dvc exp run --temp -S <key>=<value>`."

Key = tuple[str, ...]  # a params or metrics file, then the keys inside it


@dataclass
class Row:
    name: str
    params: dict[Key, Any] = field(default_factory=dict)
    metrics: dict[Key, Any] = field(default_factory=dict)
    baseline: "Row | None" = None  # the commit an experiment started from
    state: str = "success"  # or queued, running, failed: no results of its own yet


def flatten(tree: Any, path: Key) -> dict[Key, Any]:
    """{("params.yaml", "train", "seed"): 42, ...} from nested mappings."""
    if not isinstance(tree, dict) or not tree:
        return {path: tree}
    found: dict[Key, Any] = {}
    for name, sub in tree.items():
        found.update(flatten(sub, (*path, name)))
    return found


def values(data: dict | None, kind: str) -> dict[Key, Any]:
    """One revision's "params" or "metrics" in `dvc exp show --json`, by file and key."""
    found: dict[Key, Any] = {}
    for file, content in ((data or {}).get(kind) or {}).items():
        tree = (content or {}).get("data")
        if isinstance(tree, dict) and tree:
            found.update(flatten(tree, (file,)))
    return found


def row(name: str, data: dict | None, baseline: Row | None = None, state: str = "success") -> Row:
    # An experiment that has not succeeded holds its baseline's metrics: show none.
    metrics = values(data, "metrics") if state == "success" else {}
    return Row(name, values(data, "params"), metrics, baseline, state)


def rows(shown: list[dict]) -> list[Row]:
    """Each baseline commit, then its experiments (DVC's order: newest first). The workspace
    comes first when it differs from its baseline (uncommitted edits, an applied result)."""
    table: list[Row] = []
    workspace = None
    for revision in shown:
        if revision["rev"] == "workspace":
            workspace = revision.get("data")
            continue
        baseline = row(revision.get("name") or revision["rev"][:7], revision.get("data"))
        if workspace is not None:
            edited = row("workspace", workspace, baseline)
            if (edited.params, edited.metrics) != (baseline.params, baseline.metrics):
                table.append(edited)
            workspace = None
        table.append(baseline)
        for experiment in revision.get("experiments") or []:
            run = experiment["revs"][0]
            name = experiment.get("name") or run.get("name") or run["rev"][:7]
            state = (experiment.get("executor") or {}).get("state") or "success"
            table.append(row(name, run.get("data"), baseline, state))
    return table


def text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.5g}"
    return json.dumps(value)


def changed_keys(each: Row) -> list[Key]:
    """The params the row changed, added or removed, in params.yaml's order."""
    before = each.baseline.params if each.baseline else each.params

    def state(params: dict[Key, Any], key: Key) -> tuple[bool, str]:
        return key in params, text(params.get(key))

    keys = dict.fromkeys([*before, *each.params])
    return [key for key in keys if state(before, key) != state(each.params, key)]


def short_names(keys: Iterable[Key]) -> dict[Key, str]:
    """Each key by the fewest last parts no other key ends with (`n_estimators`, or
    `random_forest.max_depth` beside `gradient_boosting.max_depth`); with its file only
    when even the whole key is not unique (`other.yaml:seed`)."""
    unique_keys = list(dict.fromkeys(keys))

    def ends_alike(key: Key, size: int) -> int:
        return sum(other[-size:] == key[-size:] for other in unique_keys)

    names = {}
    for key in unique_keys:
        inner = key[1:]  # without the file
        size = next((size for size in range(1, len(inner)) if ends_alike(key, size) == 1), None)
        if size is not None:
            names[key] = ".".join(inner[-size:])
        elif sum(other[1:] == inner for other in unique_keys) == 1:
            names[key] = ".".join(inner)
        else:
            names[key] = f"{key[0]}:{'.'.join(inner)}"
    return names


def changes(each: Row, names: dict[Key, str]) -> str:
    """What the row changed, as `-S` arguments (key=value, +key=value, ~key), after its
    state unless it succeeded."""
    before = each.baseline.params if each.baseline else each.params
    parts = [] if each.state == "success" else [f"({each.state})"]
    for key in changed_keys(each):
        if key not in each.params:
            parts.append(f"~{names[key]}")
        else:
            added = "" if key in before else "+"
            parts.append(f"{added}{names[key]}={text(each.params[key])}")
    return " ".join(parts)


def cut(cell: str, width: int) -> str:
    return cell if len(cell) <= width else cell[: width - len(CUT)] + CUT


@dataclass(eq=False)  # told apart by identity: two metrics may hold the same cells
class Column:
    header: str
    cells: list[str]

    @property
    def width(self) -> int:
        return max(len(self.header), *map(len, self.cells))


def fitting(columns: list[Column], room: int) -> list[Column]:
    """The metrics columns, from the left, that fit in `room` characters with their gaps."""
    kept: list[Column] = []
    for column in columns:
        room -= len(GAP) + column.width
        if room < 0:
            break
        kept.append(column)
    return kept


def table(shown: list[dict], width: int = WIDTH) -> str:
    """`dvc exp show --json`'s experiments as lines of at most `width` characters."""
    experiments = rows(shown)
    if not any(each.baseline for each in experiments):
        return NO_EXPERIMENTS
    # Named apart from every param, not only the changed ones: `train.seed`, not `seed`.
    params = short_names(key for each in experiments for key in each.params)
    metrics = [
        Column(header, [text(each.metrics.get(key, MISSING)) for each in experiments])
        for key, header in short_names(key for each in experiments for key in each.metrics).items()
    ]
    longest = max(len(each.name) for each in experiments)
    name_width = max(len("experiment"), min(LONGEST_NAME, longest))
    kept = fitting(metrics, width - name_width - len(GAP) - NARROWEST_CHANGES)
    header = ["experiment", *(column.header for column in kept), "changed params"]
    body = [
        [each.name, *(column.cells[index] for column in kept), changes(each, params)]
        for index, each in enumerate(experiments)
    ]
    lines = []
    for name, *numbers, changed in [header, *body]:
        aligned = (number.rjust(column.width) for number, column in zip(numbers, kept, strict=True))
        lines.append(GAP.join([cut(name, name_width).ljust(name_width), *aligned, changed]))
    left_out = [column.header for column in metrics if column not in kept]
    if left_out:
        lines.append(f"Left out to fit in {width} columns: {', '.join(left_out)}")
    return "\n".join(cut(line.rstrip(), width) for line in lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="experiments", description=__doc__)
    parser.add_argument("--width", type=int, default=WIDTH, help="the longest line, in characters")
    args = parser.parse_args(argv)
    print(table(json.loads(dvc("exp", "show", "--json")), args.width))
