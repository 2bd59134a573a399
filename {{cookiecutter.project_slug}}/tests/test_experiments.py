"""`make experiments` on a record of `dvc exp show --json` (DVC 3.67): no DVC run needed.

The record holds the baseline `main` and six experiments: more trees (worst-hask,
erect-vows), a key removed and one added (pyoid-inti), another estimator (dried-mesh),
a queued one with another train.seed (bendy-prep) and a failed one (lowly-vara).
"""

import copy
import json
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import experiments
from {{ cookiecutter.package_name }}.experiments import NO_EXPERIMENTS, short_names, table

pytestmark = pytest.mark.machinery

SHOWN = json.loads((Path(__file__).parent / "exp_show.json").read_text())
NAMES = ["main", "bendy-prep", "worst-hask", "pyoid-inti", "dried-mesh", "erect-vows", "lowly-vara"]


def line_of(lines: list[str], name: str) -> str:
    (line,) = [line for line in lines if line.split()[0] == name]
    return line


def test_each_experiment_is_one_row_of_metrics_and_changes() -> None:
    lines = table(SHOWN).splitlines()
    assert lines[0] == "experiment  accuracy       f1  precision   recall  roc_auc  changed params"
    assert [line.split()[0] for line in lines[1:]] == NAMES
    assert all(len(line) <= 100 for line in lines)
    assert line_of(lines, "main").split()[1:] == [
        "0.90984",
        "0.93567",
        "0.90909",
        "0.96386",
        "0.97235",
    ]
    assert line_of(lines, "worst-hask").endswith("0.98517  n_estimators=400")
    assert line_of(lines, "pyoid-inti").endswith("~min_samples_leaf +max_depth=8")
    assert line_of(lines, "dried-mesh").endswith("estimator=gradient_boosting learning_r..")
    assert "0.98425" in line_of(lines, "dried-mesh")


def test_a_key_is_named_apart_from_every_param_not_only_the_changed_ones() -> None:
    """train.seed changed alone, but split.seed exists: `seed` alone would mislead."""
    assert line_of(table(SHOWN).splitlines(), "bendy-prep").endswith("(queued) train.seed=7")


def test_an_experiment_without_results_shows_no_metrics() -> None:
    """A failed or queued experiment holds its baseline's metrics in DVC's record."""
    failed = line_of(table(SHOWN).splitlines(), "lowly-vara")
    assert failed.split()[1:] == ["-", "-", "-", "-", "-", "(failed)", "+bogus=1"]


def test_the_workspace_is_a_row_when_it_differs_from_its_baseline() -> None:
    shown = copy.deepcopy(SHOWN)
    assert "workspace" not in table(shown)
    shown[0]["data"]["params"]["params.yaml"]["data"]["split"]["test_size"] = 0.3
    assert table(shown).splitlines()[1].endswith("test_size=0.3")


def test_narrow_lines_leave_out_metrics_from_the_right_and_say_so() -> None:
    lines = table(SHOWN, width=60).splitlines()
    assert all(len(line) <= 60 for line in lines), lines
    assert lines[0].split()[:3] == ["experiment", "accuracy", "f1"]
    assert lines[-1] == "Left out to fit in 60 columns: precision, recall, roc_auc"


def test_a_long_name_is_cut_and_the_others_aligned() -> None:
    shown = copy.deepcopy(SHOWN)
    shown[1]["experiments"][1]["name"] = "more-trees-than-anyone-would-ever-need"
    lines = table(shown).splitlines()
    assert lines[3].startswith("more-trees-than-anyone-would.. ")
    assert lines[3].index("0.95082") == lines[1].index("0.90984")


def test_a_commit_without_experiments_says_how_to_run_one() -> None:
    shown = copy.deepcopy(SHOWN)
    shown[1]["experiments"] = []
    assert table(shown) == NO_EXPERIMENTS


def test_short_names_keep_as_many_parts_as_tell_keys_apart() -> None:
    keys = [
        ("params.yaml", "train", "random_forest", "max_depth"),
        ("params.yaml", "train", "gradient_boosting", "max_depth"),
        ("params.yaml", "train", "random_forest", "n_estimators"),
        ("params.yaml", "seed"),
        ("other.yaml", "seed"),
    ]
    assert list(short_names(keys).values()) == [
        "random_forest.max_depth",
        "gradient_boosting.max_depth",
        "n_estimators",
        "params.yaml:seed",
        "other.yaml:seed",
    ]


def test_the_command_prints_dvc_s_experiments(monkeypatch, capsys: pytest.CaptureFixture) -> None:
    asked = []

    def dvc(*args: str) -> str:
        asked.append(args)
        return json.dumps(SHOWN)

    monkeypatch.setattr(experiments, "dvc", dvc)
    experiments.main(["--width", "80"])
    assert asked == [("exp", "show", "--json")]
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed[1:-1]] == NAMES
    assert max(map(len, printed)) <= 80
