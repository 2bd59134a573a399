"""Slow tier: bake, install and run generated projects the way their users and CI do."""

import csv
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import bake, run

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

pytestmark = pytest.mark.slow  # make test keeps a module on one worker (--dist loadscope)


def dvc(arguments: str, cwd: Path) -> str:
    """Run dvc as a user with the project's environment activated does; return its output."""
    return run(f". .venv/bin/activate && dvc {arguments}", cwd).stdout


# A module each extra of the generated pyproject brings.
EXTRA_MODULES = {
    "serve": "fastapi",
    "s3": "dvc_s3",
    "azure": "dvc_azure",
    "gs": "dvc_gs",
    "ssh": "dvc_ssh",
    "dask": "dask",
}


def installed_extras(root: Path) -> set[str]:
    """The extras `make install` installed: those whose module the environment can find."""
    found = run(
        ".venv/bin/python -c 'import importlib.util, sys; "
        "print(*[m for m in sys.argv[1:] if importlib.util.find_spec(m)])' "
        + " ".join(EXTRA_MODULES.values()),
        root,
    ).stdout.split()
    return {extra for extra, module in EXTRA_MODULES.items() if module in found}


def ran_stages(output: str) -> set[str]:
    return set(re.findall(r"Running stage '(\w+)'", output))


@pytest.fixture(scope="module")
def project_ci(tmp_path_factory) -> tuple[Path, str]:
    """The default bake after `make install && make ci TESTS=all` (CI's: every test, the
    machinery's too, and coverage), its results committed, and what that make ci printed."""
    root = bake(tmp_path_factory.mktemp("default"))
    run("make install", root)
    assert installed_extras(root) == {"serve"}  # the server; no plugin for a local remote
    result = run("make ci TESTS=all", root)
    assert "dvc.lock is new" in result.stdout
    assert "deploy check passed" in result.stdout
    run("git add --all && git commit -qm 'Run the pipeline'", root)
    return root, result.stdout


@pytest.fixture(scope="module")
def project(project_ci: tuple[Path, str]) -> Path:
    """The default bake after `make install && make ci`, its results committed."""
    return project_ci[0]


def test_default_project_passes_ci_with_sane_metrics(project: Path) -> None:
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert metrics["roc_auc"] > 0.9
    for name in ("confusion.csv", "roc.csv", "precision_recall.csv", "importance.csv"):
        assert (project / "reports/plots" / name).stat().st_size > 0
    assert "roc_auc" in dvc("metrics show", project)


# The hooks `make lint` runs (.pre-commit-config.yaml), by the names pre-commit prints.
FILE_HOOKS = {
    "check-added-large-files": "no file over 500 KB (data and models go to DVC)",
    "detect-private-key": "no private key",
    "check-merge-conflict": "no merge conflict marker",
    "check-yaml": "YAML parses",
    "check-toml": "TOML parses",
    "no-update-rejects": "no .rej file left by make update",
}


def hook_status(output: str, name: str) -> str:
    """What pre-commit printed for a hook: Passed, Failed, Skipped..."""
    found = re.search(rf"^{re.escape(name)}\.+(?:\([^)]*\))?(\w+)$", output, re.MULTILINE)
    assert found, f"no line for the hook {name!r} in:\n{output}"
    return found[1]


def hook(project: Path, hook_id: str) -> subprocess.CompletedProcess:
    return run(f".venv/bin/pre-commit run {hook_id} --all-files", project, check=False)


def test_make_ci_ran_the_file_checks_ruff_mypy_and_coverage(project_ci) -> None:
    root, output = project_ci
    for name in FILE_HOOKS.values():
        assert hook_status(output, name) == "Passed", name
    assert hook_status(output, "ruff check") == "Skipped"  # lint runs ruff itself, no fixing
    assert "All checks passed!" in output  # ruff check
    assert re.search(r"^\d+ files already formatted$", output, re.MULTILINE)
    assert re.search(r"^Success: no issues found in \d+ source files$", output, re.MULTILINE)
    threshold = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["coverage"]
    threshold = threshold["report"]["fail_under"]
    total = re.search(
        r"Required test coverage of ([\d.]+)% reached\. Total coverage: ([\d.]+)%", output
    )
    assert total, output[-3000:]
    assert float(total[1]) == threshold and float(total[2]) >= threshold


def test_make_ci_tests_show_no_warnings(project_ci) -> None:
    """pyproject.toml filters the libraries' deprecations by message and the code gives no
    estimator an n_jobs it ignores: a warning in the tests' output is news."""
    output = project_ci[1]
    assert "warnings summary" not in output, output[output.find("warnings summary") :][:3000]


def test_conflict_markers_and_rejected_update_hunks_fail_make_lint(project: Path) -> None:
    """A committed conflict marker and an untracked .rej file (what `make update` leaves)
    each fail their hook, so make lint; gone, the hooks pass again."""
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "<<<<<<< ours\nmine\n=======\ntheirs\n>>>>>>> theirs\n")
    run("git commit -qam 'Merge with a conflict left in'", project)
    (project / "x.rej").write_text("@@ -1 +1 @@\n-old\n+new\n")
    try:
        result = run("make lint", project, check=False)
    finally:
        (project / "x.rej").unlink()
        run("git reset -q --hard HEAD~1", project)
    assert result.returncode != 0
    assert hook_status(result.stdout, FILE_HOOKS["check-merge-conflict"]) == "Failed"
    assert "README.md:" in result.stdout
    assert hook_status(result.stdout, FILE_HOOKS["no-update-rejects"]) == "Failed"
    assert re.search(r"^x\.rej$", result.stderr + result.stdout, re.MULTILINE)
    for hook_id in ("check-merge-conflict", "no-update-rejects"):
        assert hook(project, hook_id).returncode == 0, hook_id
    assert run("git status --porcelain", project).stdout == ""


@pytest.mark.parametrize(
    ("hook_id", "name", "content", "says"),
    [
        (
            "detect-private-key",
            "notes.txt",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n",
            "Private key found: notes.txt",
        ),
        ("check-added-large-files", "sample.csv", "0123456789\n" * 60_000, "sample.csv (645 KB)"),
    ],
)
def test_private_keys_and_large_files_fail_their_hook(
    project: Path, hook_id: str, name: str, content: str, says: str
) -> None:
    (project / name).write_text(content)
    run(f"git add {name} && git commit -qm 'Commit {name}'", project)
    try:
        failed = hook(project, hook_id)
    finally:
        run("git reset -q --hard HEAD~1", project)
    assert failed.returncode != 0
    assert says in failed.stdout, failed.stdout
    assert hook(project, hook_id).returncode == 0
    assert run("git status --porcelain", project).stdout == ""


def test_noop_repro_reruns_nothing(project: Path) -> None:
    output = dvc("repro", project)
    assert ran_stages(output) == set(), output


def test_clean_clone_reproduces_the_lock_and_fails_ci_when_it_is_stale(
    project: Path, tmp_path: Path
) -> None:
    """A fresh clone passes `make ci` and leaves dvc.lock byte-identical. Train code then
    committed there without `make repro` fails CI naming dvc.lock and the stage, rerunning
    only that stage and what follows it; a changed parameter reruns the same stages.

    One clone serves all three: its first `make ci` leaves the outputs later runs reuse,
    and shows that CI ends with verify, so the stale lock is checked by the steps that
    fail (`make repro verify`) without linting and testing the same code again.
    """
    clone = tmp_path / "clone"
    run(f"git clone -q {project} {clone}", tmp_path)
    run("make install", clone)
    result = run("make ci", clone)  # its project tests; the machinery's ran in project_ci
    assert "dvc.lock is unchanged" in result.stdout
    assert run("git status --porcelain", clone).stdout == ""

    train = next(clone.glob("src/*/stages/train.py"))
    # A change to the training code that changes the model (here, its seed).
    changed = train.read_text().replace("chosen, settings.seed)", "chosen, 7)")
    assert changed != train.read_text()
    train.write_text(changed)
    run("git commit -qam 'Change train without make repro'", clone)
    result = run("make repro verify", clone, check=False)
    assert result.returncode != 0
    assert re.search(r"ERROR: dvc\.lock changed in stage\(s\) .*train", result.stderr), (
        result.stderr
    )
    # Only the changed stage and what follows it reran (the drift reference, profile,
    # holds the model's predictions, so it follows train too).
    assert ran_stages(result.stdout) == {"train", "evaluate", "profile"}, result.stdout

    params = yaml.safe_load((clone / "params.yaml").read_text())
    params["train"]["random_forest"]["n_estimators"] = 50
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    output = dvc("repro", clone)
    assert ran_stages(output) == {"train", "evaluate", "profile"}, output


def test_regression_project_passes_ci(tmp_path: Path) -> None:
    # Also the Azure CI file and the gs remote: its extra installs and `make ci` passes.
    root = bake(tmp_path, task="regression", ci_provider="azure", dvc_remote="gs")
    run("make install", root)
    assert installed_extras(root) == {"serve", "gs"}
    # Every test runs, as in CI; coverage (a sixth of their CPU) is checked on the default bake.
    result = run("make ci TESTS=all", root, env={"PYTEST_ADDOPTS": "--no-cov"})
    assert "warnings summary" not in result.stdout, result.stdout[-3000:]
    metrics = json.loads((root / "reports/metrics.json").read_text())
    assert metrics["r2"] > 0.2  # deploy.threshold: ~90 test rows make R2 vary with the split
    assert set(metrics) == {"rmse", "mae", "r2"}


def write_customers(path: Path, rows: int = 300, age=lambda i, rng: rng.randint(18, 79)) -> None:
    """A CSV of numeric and text columns with missing values; the label depends on both."""
    rng = random.Random(1)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["income", "plan", "age", "churned"])
        for i in range(rows):
            income = round(rng.gauss(50, 15), 1)
            plan = rng.choice(["basic", "plus", "pro"])
            churned = "yes" if income < 45 or plan == "basic" else "no"
            writer.writerow(
                [
                    "" if i % 11 == 0 else income,
                    "" if i % 13 == 0 else plan,
                    age(i, rng),
                    "" if i % 17 == 0 else churned,
                ]
            )


def test_own_csv_trains_and_broken_data_fails_validate(tmp_path: Path) -> None:
    # Also the bare options: no CI, no server, and the ssh remote's extra installs.
    root = bake(tmp_path, ci_provider="none", dvc_remote="ssh", serving="none")
    run("make install", root)
    assert installed_extras(root) == {"ssh"}
    write_customers(root / "data/external/customers.csv")
    dvc("add -q data/external/customers.csv", root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"] = {"source": "data/external/customers.csv", "target": "churned"}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run("make repro", root)
    assert "dropped 18 of 300 rows with a missing target" in result.stderr
    assert json.loads((root / "reports/metrics.json").read_text())["accuracy"] > 0.8
    schema = yaml.safe_load((root / "data/schema.yaml").read_text())
    assert schema["source"] == "data/external/customers.csv"

    # A new snapshot of the same source with text in a numeric column breaks the schema.
    write_customers(
        root / "data/external/customers.csv",
        age=lambda i, rng: "unknown" if i == 5 else rng.randint(18, 79),
    )
    dvc("add -q data/external/customers.csv", root)
    failed = run("make repro", root, check=False)
    assert failed.returncode != 0
    assert "column 'age' breaks rule" in failed.stderr, failed.stderr
    assert "Traceback" not in failed.stdout + failed.stderr
    assert not (root / "data/interim/validated.parquet").exists(), "stale output left behind"
