"""Slow tier: the generated CI files run for real on a baked project.

GitLab: the whole push pipeline (lint, test, train, deploy) and the merge-request report
job run under gitlab-ci-local with the shell executor, each job in its own copy.
GitHub: the `ci` job's `run` steps, taken from the workflow, run in order in a fresh clone
of a pull-request branch, as the runner would (conditions evaluated for a pull request).
"""

import re
from pathlib import Path

import pytest
import yaml

from .conftest import FAST_INSTALL, TEMPLATE, bake, run, tool

pytestmark = pytest.mark.slow
GITLAB_CI_LOCAL = TEMPLATE / "tests/tools/node_modules/.bin/gitlab-ci-local"
PULL_REQUEST = "github.event_name == 'pull_request'"


def with_reviewed_change(project: Path) -> Path:
    """Commit a first run on main, publish it as origin, then branch off a reviewed change.

    The branch halves the number of trees and commits the rerun, as its author would.
    Returns the bare origin repository.
    """
    run("make install && make repro", project)
    run("git add --all && git commit --quiet -m 'Train the first model'", project)
    origin = project.with_name("origin.git")
    run(f"git clone --quiet --bare {project} {origin}", project.parent)
    run(f"git remote add origin {origin} && git fetch --quiet origin", project)
    params = project / "params.yaml"
    params.write_text(re.sub(r"n_estimators: \d+", "n_estimators: 50", params.read_text()))
    run("git checkout --quiet -b fewer-trees && make repro", project)
    run("git commit --quiet -am 'Fewer trees' && git push --quiet origin fewer-trees", project)
    return origin


def assert_report(text: str, base: str) -> None:
    assert f"compared with `{base}`" in text
    assert re.search(r"train\.params\.n_estimators\s*\|\s*200\s*\|\s*50", text), text
    assert re.search(r"roc_auc\s*\|\s*0\.\d+\s*\|\s*0\.\d+\s*\|\s*-?0\.\d+", text), text


def gitlab_ci_local(project: Path, *args: str) -> str:
    command = [str(GITLAB_CI_LOCAL), "--force-shell-executor", "--shell-isolation", *args]
    # Share the machine's uv cache instead of each job downloading every package.
    command += ["--variable", f"UV_CACHE_DIR={Path.home() / '.cache/uv'}"]
    command += [f"--variable={key}={value}" for key, value in FAST_INSTALL.items()]
    result = run(" ".join(f"'{part}'" for part in command), project, check=False, timeout=1200)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    return output


def test_gitlab_pipeline_runs_green_under_gitlab_ci_local(tmp_path: Path) -> None:
    tool(GITLAB_CI_LOCAL, "npm: gitlab-ci-local")
    project = bake(tmp_path, ci_provider="gitlab")
    with_reviewed_change(project)
    run("git checkout --quiet main", project)
    registry = tmp_path / "production-registry"
    output = gitlab_ci_local(project, "--variable", f"MODEL_REGISTRY={registry}")
    for job in ("lint", "test", "train", "deploy"):
        assert re.search(rf"PASS\s+{job}\b", output), f"{job} did not pass:\n{output[-4000:]}"
    assert "dvc.lock is unchanged: the pipeline reproduces" in output  # train's verify
    assert list(registry.glob("*/CURRENT")), "the deploy job published nothing"

    run("git checkout --quiet fewer-trees", project)
    merge_request = ["--variable", "CI_PIPELINE_SOURCE=merge_request_event"]
    merge_request += ["--variable", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main", "report"]
    output = gitlab_ci_local(project, *merge_request)
    assert re.search(r"PASS\s+report\b", output), output[-4000:]
    artifacts = project / ".gitlab-ci-local/artifacts/report"
    assert_report((artifacts / "reports/compare.md").read_text(), "origin/main")
    assert (artifacts / "dvc_plots/index.html").exists()


def runs(step: dict) -> bool:
    """Whether a step runs on a pull request; the workflow uses only this condition."""
    condition = step.get("if")
    assert condition in (None, PULL_REQUEST), f"teach this test the condition {condition!r}"
    return True


def test_github_ci_job_steps_run_in_order_on_a_pull_request(tmp_path: Path) -> None:
    project = bake(tmp_path, ci_provider="github")
    origin = with_reviewed_change(project)
    workflow = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
    job = workflow["jobs"]["ci"]["steps"]
    steps = [step["run"] for step in job if "run" in step and runs(step)]
    assert steps[:2] == ["make install", "make ci"]
    checkout = tmp_path / "runner"  # what actions/checkout leaves: a clone with origin
    run(f"git clone --quiet --branch fewer-trees {origin} {checkout}", tmp_path)
    summary = tmp_path / "step-summary.md"
    env = {"GITHUB_BASE_REF": "main", "GITHUB_STEP_SUMMARY": str(summary), "CI": "true"}
    for step in steps:
        run(step, checkout, env=env)
    assert_report(summary.read_text(), "origin/main")
    assert (checkout / "dvc_plots/index.html").exists()
