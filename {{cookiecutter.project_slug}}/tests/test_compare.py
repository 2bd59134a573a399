"""`make compare`: two sides, each a git revision or an experiment's name."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package_name }}.compare import check_revision, main
from {{ cookiecutter.package_name }}.errors import PipelineError


def run(*command: str, cwd: Path) -> None:
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)


def write_results(project: Path, trees: int, roc_auc: float) -> None:
    (project / "params.yaml").write_text(yaml.safe_dump({"train": {"n_estimators": trees}}))
    (project / "metrics.json").write_text(json.dumps({"roc_auc": roc_auc}))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A commit on main with 200 trees, and the experiment `fewer-trees` with 50."""
    project = tmp_path_factory.mktemp("compare")
    run("git", "init", "-q", "-b", "main", cwd=project)
    run("dvc", "init", "-q", cwd=project)
    stage = {"cmd": "true", "params": ["train"], "metrics": [{"metrics.json": {"cache": False}}]}
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train": stage}}))
    write_results(project, 200, 0.98)
    run("git", "add", "--all", cwd=project)
    run(
        "git",
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-qm",
        "first",
        cwd=project,
    )
    write_results(project, 50, 0.95)
    run("dvc", "exp", "save", "-q", "-n", "fewer-trees", cwd=project)
    run("git", "checkout", "-q", "--", ".", cwd=project)
    return project


def test_two_experiments_or_revisions_are_compared(project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project)
    main(["--base", "main", "--head", "fewer-trees", "--out", "compare.md", "--plots", "plots"])
    report = (project / "compare.md").read_text()
    assert report.startswith("## Model report: `fewer-trees` compared with `main`")
    assert re.search(r"\| train\.n_estimators +\| 200 +\| 50 +\|", report), report
    assert re.search(r"\| roc_auc +\| 0\.98 +\| 0\.95 +\| -0\.03 +\|", report), report


def test_the_workspace_is_compared_when_head_is_not_named(project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project)
    main(["--base", "fewer-trees", "--out", "compare.md", "--plots", "plots"])
    report = (project / "compare.md").read_text()
    assert report.startswith("## Model report: this change compared with `fewer-trees`")
    assert re.search(r"\| train\.n_estimators +\| 50 +\| 200 +\|", report), report


def test_an_unknown_revision_is_named(project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project)
    with pytest.raises(PipelineError, match=r"'more-trees' is neither .* HEAD=<revision"):
        check_revision("more-trees", "HEAD")
