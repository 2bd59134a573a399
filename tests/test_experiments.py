"""Slow tier: the baked README's Experiments section, run verbatim in its order.

Only the placeholders `<name>` and `<other>` are replaced, with experiments `make
experiments` listed just before. The pipeline trains 20 trees and shuffles each feature
once for importance, so an experiment takes seconds.
"""

import os
import re
import shlex
from pathlib import Path

import pytest
import yaml

from .conftest import bake, run

pytestmark = pytest.mark.slow
WIDTH = 100
FAILING = "dvc exp run{temp} -S train.estimator=svm"  # params.py refuses it in the train stage


def readme_commands(project: Path) -> list[list[str]]:
    """The shell lines of each code block of the README's Experiments section."""
    readme = (project / "README.md").read_text()
    section = readme.split("\n## Experiments\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


def shell(command: str, project: Path, check: bool = True):
    """Run a README line with bash and `.venv` active, as the README asks."""
    active = {
        "VIRTUAL_ENV": str(project / ".venv"),
        "PATH": f"{project / '.venv/bin'}{os.pathsep}{os.environ['PATH']}",
    }
    return run(f"bash -c {shlex.quote(command)}", project, check=check, env=active)


def listed(output: str) -> dict[str, str]:
    """`make experiments`' rows by experiment name (the line after make's own echo)."""
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("experiment "))
    return {line.split()[0]: line for line in lines[header + 1 :]}


def named(rows: dict[str, str], change: str) -> str:
    (name,) = [name for name, line in rows.items() if line.endswith(change)]
    return name


def clean(project: Path) -> bool:
    return run("git status --porcelain", project).stdout == ""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The default bake with a small forest, its first run committed."""
    root = bake(tmp_path_factory.mktemp("experiments"))
    params = root / "params.yaml"
    text = params.read_text().replace("n_estimators: 200", "n_estimators: 20")
    params.write_text(text.replace("importance_repeats: 5", "importance_repeats: 1"))
    run("make install && make repro", root)
    run("git add --all && git commit -qm 'Train the first model'", root)
    return root


def test_the_readme_experiments_run_verbatim(project: Path) -> None:
    flow, restore = readme_commands(project)
    rows: dict[str, str] = {}
    places: dict[str, str] = {}
    for line in flow:
        command = line
        for placeholder, name in places.items():
            command = command.replace(placeholder, name)
        assert "<" not in command.split("#")[0], f"an undocumented placeholder in {line!r}"
        output = shell(command, project).stdout
        if command.startswith("dvc exp run"):
            assert clean(project), f"`{command}` changed the workspace"
        if command.startswith("make experiments"):
            assert max(map(len, output.splitlines())) <= WIDTH, output
            rows = listed(output)
            places = {
                "<name>": named(rows, "estimator=gradient_boosting max_iter=50"),
                "<other>": named(rows, "n_estimators=300"),
            }
        if command.startswith("make compare"):
            report = (project / "reports/compare.md").read_text()
            title = f"## Model report: `{places['<other>']}` compared with `{places['<name>']}`"
            assert report.startswith(title), report
            assert re.search(r"train\.estimator +\| gradient_boosting +\| random_forest", report)

    # Each run: one row, with its metrics and exactly the -S changes that made it.
    changes = [
        "n_estimators=300",
        "estimator=gradient_boosting max_iter=50",
        "~min_samples_leaf +max_depth=5",
        "n_estimators=100",
        "n_estimators=400",
    ]
    for change in changes:
        line = rows[named(rows, change)]
        assert re.fullmatch(r"\S+( +0\.\d+){5} +" + re.escape(change), line), line
    assert len(rows) == 1 + len(changes)  # and the baseline, main

    # One side named: the workspace against it; a name that is neither fails saying so.
    shell(f"make compare BASE={places['<other>']}", project)
    report = (project / "reports/compare.md").read_text()
    assert report.startswith(f"## Model report: this change compared with `{places['<other>']}`")
    unknown = shell("make compare BASE=more-trees", project, check=False)
    assert unknown.returncode != 0
    assert "'more-trees' is neither" in unknown.stderr, unknown.stderr

    # The best one applied and committed: the other estimator, trained with its own params.
    trained = "import joblib; m = joblib.load('models/model.joblib')[-1]; print(m, m.max_iter)"
    output = run(f'.venv/bin/python -c "{trained}"', project).stdout
    assert output.startswith("HistGradientBoostingClassifier(") and output.endswith(" 50\n")
    committed = yaml.safe_load(run("git show HEAD:params.yaml", project).stdout)
    assert committed["train"]["estimator"] == "gradient_boosting"
    assert clean(project)
    assert "up to date" in run(".venv/bin/dvc status", project).stdout

    # A failed experiment: with --temp nothing to undo; without, the README's line undoes it.
    failed = shell(FAILING.format(temp=" --temp"), project, check=False)
    assert failed.returncode != 0
    assert "'random_forest', 'gradient_boosting' or 'linear'" in failed.stderr + failed.stdout
    assert clean(project)
    assert shell(FAILING.format(temp=""), project, check=False).returncode != 0
    assert not clean(project)
    for command in restore:
        shell(command, project)
    assert clean(project)
