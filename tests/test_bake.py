"""Fast tier: every option value bakes a valid, lint-clean project with the right files."""

import hashlib
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import ruamel.yaml  # pre-commit-hooks' YAML parser (check-jsonschema brings it here)
import yaml

from .conftest import HIDDEN, OPTIONS, TEMPLATE, bake, documentation
from .test_experiments import readme_commands

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

HOSTILE = 'It\'s "quoted", back\\slashed \\n and\nsplit over lines: {not a tag}'
# One option at a time, plus the pairs that interact; ids say what each bake covers.
SUPPORTED_COMBINATIONS = {
    "default": {},
    "regression": {"task": "regression"},
    "ci-gitlab": {"ci_provider": "gitlab"},
    "ci-azure": {"ci_provider": "azure"},
    "ci-none": {"ci_provider": "none"},
    "remote-none": {"dvc_remote": "none"},
    "remote-s3": {"dvc_remote": "s3"},
    "remote-azure": {"dvc_remote": "azure", "serving": "none"},
    "remote-gs": {"dvc_remote": "gs"},
    "remote-ssh": {"dvc_remote": "ssh"},
    "gitlab-s3": {"ci_provider": "gitlab", "dvc_remote": "s3"},
    "gitlab-ssh-bare": {"ci_provider": "gitlab", "dvc_remote": "ssh", "serving": "none"},
    "azure-gs": {"ci_provider": "azure", "dvc_remote": "gs"},
    "azure-azure-bare": {"ci_provider": "azure", "dvc_remote": "azure", "serving": "none"},
    "serving-none": {"serving": "none"},
    "compute-dask": {"compute": "dask"},
    "dask-s3-bare": {"compute": "dask", "dvc_remote": "s3", "serving": "none"},
    "remote-absolute-path": {"dvc_remote_url": "/srv/dvc-storage"},
    "bsd": {"license": "BSD-3-Clause"},
    "apache": {"license": "Apache-2.0"},
    "proprietary": {"license": "Proprietary"},
    **{f"python-{v}": {"python_version": v} for v in ("3.10", "3.12", "3.13")},
    "regression-bare": {
        "task": "regression",
        "ci_provider": "none",
        "dvc_remote": "none",
        "serving": "none",
    },
    "hostile-text": {
        "project_name": HOSTILE,
        "project_slug": "hostile",
        "description": HOSTILE,
        "author_name": 'O\'Brien "Bobby" \\ Tables',
    },
}
CI_FILES = {
    "github": ".github/workflows/ci.yml",
    "gitlab": ".gitlab-ci.yml",
    "azure": "azure-pipelines.yml",
}
SCHEMAS = {
    "github": "vendor.github-workflows",
    "gitlab": "vendor.gitlab-ci",
    "azure": "vendor.azure-pipelines",
}
PLUGINS = {"s3": "dvc-s3", "azure": "dvc-azure", "gs": "dvc-gs", "ssh": "dvc-ssh"}
# Lines of CI scripts that only move text or credentials around; every other line that
# does work must be a make target, so CI never re-implements the Makefile.
PLUMBING = re.compile(
    r"^(make [a-z-]+( [a-z-]+)*( [A-Z_]+=\S+)*"
    r"( \|\| \{ make rollback DEPLOY_ENV=[a-z]+; exit 1; \})?$"
    r"|(printf '%s' \"\$CI_REGISTRY_PASSWORD\" \| )?buildah (login|build|push) "
    r"|cat reports/compare\.md >> \"\$GITHUB_STEP_SUMMARY\"$"
    # The version deploy checked, handed to promote (GitHub output, GitLab dotenv, Azure).
    r"|STAGED_VERSION=\$\(make --silent version DEPLOY_ENV=staging\) && echo \""
    r"(version=\$STAGED_VERSION\" >> \"\$GITHUB_OUTPUT\""
    r"|STAGED_VERSION=\$STAGED_VERSION\" > staged\.env"
    r"|##vso\[task\.setvariable variable=STAGED_VERSION;isOutput=true\]\$STAGED_VERSION\")$"
    r"|make promote FROM=staging TO=production "
    r"VERSION=\"\$\{STAGED_VERSION:\?deploy passed on no version\}\"$"
    r"|echo \"##vso\[task\.(uploadsummary|logissue type=warning)\]"
    r"|gh pr comment "
    r"|git fetch --quiet origin "
    r"|if \[ -n \"\$GITLAB_API_TOKEN\" \]; then python3 -c 'import json"
    r"|unset GITLAB_API_TOKEN$"
    r"|printf '%s' \"\$KEY\" > \"\$GOOGLE_APPLICATION_CREDENTIALS\"$"
    r"|install -m 700 -d ~/\.ssh"
    r"|git switch --create \"\$BRANCH\" && git add --all && git -c user\.name="
    r"|if \[ -f reports/pull-request\.md \]; then (make push; fi$|make push && )?"
    r"(BRANCH=\"retrain/drift-\$\S+\" && git switch --create|$)"
    r"|printf '%s\\n' \"\$DVC_SSH_KNOWN_HOSTS\" >> ~/\.ssh/known_hosts$)"
)
STAGES = ["ingest", "validate", "split", "train", "evaluate", "profile"]
LEFTOVER_TAG = re.compile(r"\{\{ ?cookiecutter\.|\{%-? |cookiecutter\.project_slug\}\}")
LICENSE_HEADERS = {
    "MIT": "MIT License",
    "BSD-3-Clause": "BSD 3-Clause License",
    "Apache-2.0": "Apache License",
    "Proprietary": "All rights reserved.",
}


def answers_for(case: str) -> dict:
    """The answers asked for: the case's, and the first choice or default text elsewhere."""
    defaults = {k: (v[0] if isinstance(v, list) else v) for k, v in OPTIONS.items()}
    return {**defaults, **SUPPORTED_COMBINATIONS[case]}


def rendered(project: Path) -> dict:
    """The answers as the bake rendered them, derived names included."""
    return json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]


@pytest.fixture(params=SUPPORTED_COMBINATIONS, scope="module")
def case(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def project(bakery, case) -> Path:
    return bakery(**SUPPORTED_COMBINATIONS[case])


def text_files(root: Path):
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            yield path


def test_no_template_tags_left(project: Path) -> None:
    for path in text_files(project):
        text = path.read_text(errors="ignore")
        assert not LEFTOVER_TAG.search(text), f"unrendered tag in {path.relative_to(project)}"


def test_pyproject(project: Path, case: str) -> None:
    answers = answers_for(case)
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert meta["name"] == project.name
    assert meta["requires-python"] == ">=3.10"
    assert meta["authors"][0]["name"] == " ".join(answers["author_name"].split())
    assert "\n" not in meta["description"]
    groups = tomllib.loads((project / "pyproject.toml").read_text())["dependency-groups"]
    assert all(
        any(tool in dep for dep in groups["dev"]) for tool in ("pytest", "ruff", "pre-commit")
    )
    assert (project / ".python-version").read_text().strip() == answers["python_version"]


def test_lockfile_names_the_project(project: Path) -> None:
    lock = tomllib.loads((project / "uv.lock").read_text())
    own = [p for p in lock["package"] if p.get("source") == {"editable": "."}]
    assert [p["name"] for p in own] == [project.name]


def test_params(project: Path, case: str) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    task = answers_for(case)["task"]
    assert params["task"] == task
    expected = "sklearn:breast_cancer" if task == "classification" else "sklearn:diabetes"
    assert params["data"] == {"source": expected, "target": "target"}
    assert params["train"]["estimator"] == "random_forest"
    assert {"split", "train", "evaluate"} <= params.keys()
    # Each estimator's keyword arguments in a section of its own: switching is one -S.
    estimators = {"random_forest", "gradient_boosting", "linear"}
    assert params["train"].keys() == {"estimator", "seed", "max_rows", *estimators}
    assert params["train"]["linear"] == ({"C": 1.0} if task == "classification" else {"alpha": 1.0})
    # DVC's `-S '~key'` writes an emptied section whose name carries a comment, beside it
    # or on the next line, as a params.yaml it cannot read: keep the sections bare.
    lines = (project / "params.yaml").read_text().splitlines()
    for number, line in enumerate(lines):
        if line.strip().removesuffix(":") in estimators:
            assert line.rstrip().endswith(":"), line
            assert not lines[number + 1].lstrip().startswith("#"), lines[number + 1]


def test_readme_experiments_set_keys_params_yaml_has(project: Path) -> None:
    """`-S key=value` and `~key` name keys params.yaml has; `+key=value` one it lacks."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    lines = [line for block in readme_commands(project) for line in block]
    overrides = [
        value
        for line in lines
        for option, value in itertools.pairwise(shlex.split(line, comments=True))
        if option == "-S"
    ]
    assert len(overrides) >= 5, lines
    for override in overrides:
        key = override.lstrip("+~").split("=")[0]
        found = params
        for part in key.split("."):
            found = found.get(part) if isinstance(found, dict) else None
        assert (found is None) == override.startswith("+"), override


def test_pipeline_declares_code_inputs_params_outputs(project: Path, case: str) -> None:
    pipeline = yaml.safe_load((project / "dvc.yaml").read_text())
    assert list(pipeline["stages"]) == STAGES
    package = rendered(project)["package_name"]
    variables = {key: value for entry in pipeline["vars"] for key, value in entry.items()}
    assert variables["pkg"] == f"src/{package}"
    for name, stage in pipeline["stages"].items():
        assert stage["cmd"].startswith(f"python3 ${{pkg}} {name} ")
        assert any(dep.endswith(f"stages/{name}.py") for dep in stage["deps"])
        assert stage["params"] and (stage.get("outs") or stage.get("metrics"))
        for dep in (dep for dep in stage["deps"] if dep.startswith("${pkg}/")):
            path = project / dep.replace("${pkg}", variables["pkg"])
            assert path.exists(), f"stage {name} lists missing code {dep}"
            # Serving, monitoring and deploy code never makes dvc.lock stale.
            assert not dep.startswith(("${pkg}/serve", "${pkg}/monitoring", "${pkg}/deploy")), dep
    plotted = {next(iter(plot)) for plot in pipeline["plots"]}
    if answers_for(case)["task"] == "classification":
        assert {"Confusion matrix", "ROC curve", "Precision-recall curve"} <= plotted
    else:
        assert {"Predicted vs actual", "Residuals"} <= plotted
    assert "Feature importance" in plotted


def test_option_files(project: Path, case: str) -> None:
    answers = answers_for(case)
    for provider, path in CI_FILES.items():
        assert (project / path).exists() == (answers["ci_provider"] == provider), path
    if answers["ci_provider"] == "none":
        assert not (project / ".github").exists()
    license_text = (project / "LICENSE").read_text()
    assert LICENSE_HEADERS[answers["license"]] in license_text
    assert " ".join(answers["author_name"].split()) in " ".join(license_text.split())
    assert not (project / "_licenses").exists()
    assert not (project / "_locks").exists()
    serves = answers["serving"] == "fastapi"
    package = project / "src" / rendered(project)["package_name"]
    assert (package / "serve").is_dir() == serves
    assert (project / "serve.mk").exists() == serves
    assert bool(list(project.glob("tests/test_serve*.py"))) == serves
    recorded = rendered(project)
    assert recorded["task"] == answers["task"]
    assert "_output_dir" not in recorded


def test_is_a_dvc_repository_with_the_chosen_remote(project: Path, case: str) -> None:
    answers = answers_for(case)
    config = (project / ".dvc/config").read_text()
    assert (project / ".dvcignore").exists()
    assert "/cache" in (project / ".dvc/.gitignore").read_text()
    url = rendered(project)["dvc_remote_url"]
    if answers["dvc_remote"] == "none":
        assert "remote" not in config
        return
    assert "remote = storage" in config
    if answers["dvc_remote"] == "local":
        expected = url if url.startswith("/") else f"../{url}"
        assert f"url = {expected}" in config
    else:
        assert f"url = {url}" in config
        assert url.startswith(f"{answers['dvc_remote']}://")
    assert not (project / ".dvc/config.local").exists(), "credentials stay out of the bake"


def chosen_extras(answers: dict) -> list[str]:
    """The extras a bake with these answers installs: server, remote plugin, Dask."""
    return (
        (["serve"] if answers["serving"] == "fastapi" else [])
        + ([answers["dvc_remote"]] if answers["dvc_remote"] in PLUGINS else [])
        + (["dask"] if answers["compute"] == "dask" else [])
    )


def test_every_bake_lists_every_extra(project: Path) -> None:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    assert extras.keys() == {"serve", *PLUGINS, "dask"}
    for remote, plugin in PLUGINS.items():
        assert [d.split(">")[0] for d in extras[remote]] == [plugin]
    assert any(d.startswith("fastapi>=") for d in extras["serve"])
    assert any(d.startswith("dask[dataframe,distributed]>=") for d in extras["dask"])
    declared = {d.split(">")[0] for d in pyproject["project"]["dependencies"]}
    assert not declared & {"fastapi", "dask", *PLUGINS.values()}, "extras stay out of the base"


def test_every_bake_shares_one_lockfile(bakery, project: Path) -> None:
    default = bakery()
    theirs = (default / "uv.lock").read_text().replace(f'"{default.name}"', '"<project>"')
    ours = (project / "uv.lock").read_text().replace(f'"{project.name}"', '"<project>"')
    assert ours == theirs, "the lockfile differs by answers: every bake must share one"


def test_lockfile_is_current_for_every_extra(project: Path) -> None:
    # `uv sync --locked` refuses a lock that its pyproject would change; this is that check,
    # for every extra at once, without installing (the slow tests install each option's).
    uv = os.environ.get("UV") or shutil.which("uv") or str(TEMPLATE / ".tools/bin/uv")
    result = subprocess.run(
        [uv, "lock", "--locked", "--offline"], cwd=project, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_makefile_installs_the_chosen_extras(project: Path, case: str) -> None:
    makefile = (project / "Makefile").read_text()
    extras = re.search(r"^EXTRAS :=(.*)$", makefile, re.MULTILINE).group(1).split()
    assert extras == chosen_extras(answers_for(case))
    assert "$(UV) sync --locked $(foreach extra,$(EXTRAS),--extra $(extra))" in makefile


def test_the_image_installs_the_server_and_plugin_not_dask(project: Path, case: str) -> None:
    if not (project / "Dockerfile").exists():
        return  # serving=none bakes no image
    dockerfile = (project / "Dockerfile").read_text()
    extras = re.search(r'^ARG EXTRAS="(.*)"$', dockerfile, re.MULTILINE).group(1).split()
    assert extras[::2] == ["--extra"] * (len(extras) // 2)
    expected = [e for e in chosen_extras(answers_for(case)) if e != "dask"]
    assert extras[1::2] == expected
    syncs = re.findall(r"uv sync --locked .*", dockerfile)
    assert len(syncs) == 2 and all(s.endswith("${EXTRAS}") for s in syncs)


def test_is_a_git_repository_with_one_clean_commit(project: Path) -> None:
    log = subprocess.run(["git", "log", "--format=%s"], cwd=project, capture_output=True, text=True)
    assert log.stdout.splitlines() == ["Bake project from cookiecutter-mlops"]
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True
    )
    assert status.stdout == ""
    branch = subprocess.run(
        ["git", "branch", "--show-current"], cwd=project, capture_output=True, text=True
    )
    assert branch.stdout.strip() == "main"


def test_yaml_files_parse(project: Path) -> None:
    for path in [
        *project.glob("*.yaml"),
        *project.glob(".*.yaml"),
        *project.glob("*.yml"),
        *project.glob(".*.yml"),
        *project.glob(".github/**/*.yml"),
    ]:
        assert yaml.safe_load(path.read_text()) is not None, path


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff_is_clean(project: Path, command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command], cwd=project, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_pass_actionlint(project: Path) -> None:
    workflows = sorted(project.glob(".github/workflows/*.yml"))
    if not workflows:
        pytest.skip("no GitHub workflow in this bake")
    actionlint = Path(sys.executable).with_name("actionlint")
    result = subprocess.run(
        [actionlint, *map(str, workflows)], cwd=project, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_file_passes_its_providers_schema(project: Path, case: str) -> None:
    provider = answers_for(case)["ci_provider"]
    if provider == "none":
        pytest.skip("no CI file in this bake")
    checker = Path(sys.executable).with_name("check-jsonschema")
    # The vendored Azure schema has escapes the default (unicode) regex engine rejects.
    schema = ["--regex-variant", "nonunicode", "--builtin-schema", SCHEMAS[provider]]
    result = subprocess.run(
        [checker, *schema, str(project / CI_FILES[provider])],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def script_lines(provider: str, config: dict) -> list[str]:
    """Every shell line a CI file runs (folded and multi-line scripts joined per command)."""
    if provider == "github":
        steps = [s for job in config["jobs"].values() for s in job["steps"]]
        return [" ".join(s["run"].split()) for s in steps if "run" in s]
    if provider == "gitlab":
        jobs = [v for v in config.values() if isinstance(v, dict) and "script" in v]
        lines = [*config["default"]["before_script"]]
        lines += [line for job in jobs for line in job.get("before_script", [])]
        lines += [line for job in jobs for line in job["script"]]
        return [" ".join(line.split()) for line in lines]
    steps = []
    for stage in config["stages"]:
        for job in stage["jobs"]:
            steps += job.get("steps") or job["strategy"]["runOnce"]["deploy"]["steps"]
    return [" ".join(s["script"].split()) for s in steps if "script" in s]


def test_ci_does_its_work_through_make_targets(project: Path, case: str) -> None:
    provider = answers_for(case)["ci_provider"]
    if provider == "none":
        assert not any((project / path).exists() for path in CI_FILES.values())
        return
    config = yaml.safe_load((project / CI_FILES[provider]).read_text())
    lines = script_lines(provider, config)
    assert "make install" in lines and ("make ci TESTS=all" in lines or "make lint" in lines)
    assert any(line.startswith("make deploy") for line in lines)
    assert any(line.startswith("make drift-check") for line in lines), "no scheduled drift check"
    strays = [line for line in lines if not PLUMBING.match(line)]
    assert not strays, f"CI lines that bypass make: {strays}"
    makefile = (
        "".join(path.read_text() for path in project.glob("*.mk"))
        + (project / "Makefile").read_text()
    )
    for line in lines:
        if line.startswith("make "):
            for targets in re.findall(r"\bmake((?: [a-z-]+)+)", line):
                for target in targets.split():
                    assert re.search(rf"^{target}:", makefile, re.M), f"no make target {target!r}"


# What reaches the DVC remote: env names, secrets and variables, key steps, key plumbing.
NOT_REMOTE = {"MODEL_REGISTRY", "RETRAIN_TOKEN", "AZURE_DEVOPS_EXT_PAT", "GITLAB_API_TOKEN"}
NOT_REMOTE |= {"STAGING_URL"}  # the staging server's address, for make smoke
NOT_REMOTE |= {"LOG", "PREDICTION_LOG"}  # the monitor's folder of prediction logs
KEY_TASKS = ("DownloadSecureFile@", "InstallSSHKey@")


def ci_jobs(provider: str, config: dict) -> dict[str, dict]:
    if provider == "github":
        return config["jobs"]
    if provider == "gitlab":  # with what each job `extends` (one hidden job, by name)
        jobs = {k: v for k, v in config.items() if isinstance(v, dict) and "script" in v}
        return {k: {**config.get(v.get("extends"), {}), **v} for k, v in jobs.items()}
    jobs = [job for stage in config["stages"] for job in stage["jobs"]]
    return {job.get("job") or job["deployment"]: job for job in jobs}


def job_steps(provider: str, job: dict) -> list[dict]:
    if provider == "github":
        return [{**step, "script": step["run"]} for step in job["steps"] if "run" in step]
    if provider == "gitlab":
        return [{"script": line} for line in job["script"]]
    return job.get("steps") or job["strategy"]["runOnce"]["deploy"]["steps"]


def remote_credentials(provider: str, job: dict) -> set[str]:
    """What a CI job gives the DVC remote: env names, secrets, variables, key steps."""
    steps = job_steps(provider, job)
    if provider == "github":
        refs = re.findall(r"\$\{\{ *(?:secrets|vars)\.([A-Z_]+)", yaml.safe_dump(job))
        found = set(job.get("env", {})) | set(refs)
    elif provider == "gitlab":  # project variables reach every job; keys need installing
        plumbing = ("make ", "git ", "STAGED_VERSION=$(make ")
        found = {s["script"] for s in steps if not s["script"].startswith(plumbing)}
    else:  # secret variables reach only the steps that map them
        keys = [s for s in steps if s.get("task", "").startswith(KEY_TASKS)]
        found = {str(s["inputs"]) for s in keys}
        for step in steps:
            if re.match(r"make .*\b(ci|inputs|push)\b", step.get("script", "")):
                found |= set(step.get("env", {}))
    return found - NOT_REMOTE


def test_the_job_that_checks_a_change_gets_deploys_remote_credentials(
    project: Path, case: str
) -> None:
    """It pulls the dvc-added inputs (`make inputs`) from the remote deploy pushes to."""
    answers = answers_for(case)
    provider = answers["ci_provider"]
    if provider == "none":
        pytest.skip("no CI file in this bake")
    config = yaml.safe_load((project / CI_FILES[provider]).read_text())
    jobs = ci_jobs(provider, config)
    runs = {
        name: [" ".join(s["script"].split()) for s in job_steps(provider, job) if "script" in s]
        for name, job in jobs.items()
    }
    checks = [name for name, lines in runs.items() if "make ci TESTS=all" in lines]
    checks += [name for name, lines in runs.items() if any(" verify" in x for x in lines)]
    assert len(checks) == 1, f"which job checks a change? {checks}"
    [check] = checks
    makefile = (project / "Makefile").read_text()
    pulls = any(re.match(r"make inputs repro\b", line) for line in runs[check])
    ci_pulls = bool(re.search(r"^ci:.* inputs ", makefile, re.M))
    pulls |= "make ci TESTS=all" in runs[check] and ci_pulls
    assert pulls, f"{check} does not pull the DVC-tracked inputs: {runs[check]}"
    [deploy] = [name for name, lines in runs.items() if "make deploy DEPLOY_ENV=staging" in lines]
    needed = remote_credentials(provider, jobs[deploy])
    if answers["dvc_remote"] in PLUGINS and provider != "gitlab":
        assert needed, f"found no credentials in {deploy}: teach this test the provider"
    missing = needed - remote_credentials(provider, jobs[check])
    assert not missing, f"{check} lacks the remote credentials {sorted(missing)}"


SECRET_FILES = [
    ".env", ".env.production", "deploy/.env.local", ".netrc", "_netrc", "server.pem",
    "certs/tls.key", "id_rsa", "id_rsa.pub", "keys/id_ed25519", "id_ecdsa", "client.p12",
    "credentials.json", "config/credentials.json", "gha-creds-1a2b3c4d5e6f.json", "gcp-key.json",
    "my-project-service-account.json", "sa-key.json", "ci-sa-key.json", ".dvc/config.local",
]  # fmt: skip


def test_gitignore_keeps_secrets_out_of_git_add_all(bakery) -> None:
    """The README and the monitor job run `git add --all`: no credential file may follow."""
    project = bakery()
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", "--verbose", "--non-matching", *SECRET_FILES],
        cwd=project,
        capture_output=True,
        text=True,
    )
    unignored = [
        line.split("\t")[1] for line in result.stdout.splitlines() if line.startswith("::")
    ]
    assert not unignored, f"not ignored: {unignored}"
    example = subprocess.run(["git", "check-ignore", "-q", ".env.example"], cwd=project)
    assert example.returncode == 1, ".env.example documents variables and stays committable"
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--ignored", "--exclude-standard"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert tracked.stdout == "", f"baked files the .gitignore would drop: {tracked.stdout}"


# A stand-in for the project's environment: python and dvc print their arguments (and the
# server's address) one per line; `monitor` reports drift so drift-check runs compare too.
FAKE_TOOL = """#!/bin/sh
for arg in "$@"; do printf 'arg:%s\\n' "$arg"; done
if [ -n "$SERVE_HOST" ]; then printf 'host:%s\\nport:%s\\n' "$SERVE_HOST" "$SERVE_PORT"; fi
case " $* " in *" monitor "*) exit 1 ;; esac
"""
# Branch names may hold ; ' " ` and $( ): CI passes them to `make compare BASE=...`. A
# value like -h must stay a value too (`make promote TO=-h` printed help and exited 0).
HOSTILE_VALUES = {
    "semicolon": ("x;echo INJECTED", "x;echo INJECTED"),
    "double-quote": ('x";echo INJECTED;"', 'x";echo INJECTED;"'),
    "single-quote": ("x';echo INJECTED;'", "x';echo INJECTED;'"),
    "backtick": ("x`echo INJECTED`", "x`echo INJECTED`"),
    "command-substitution": ("x$$(echo INJECTED)", "x$(echo INJECTED)"),
    "option": ("-h", "-h"),
}


@pytest.mark.parametrize(("given", "expected"), HOSTILE_VALUES.values(), ids=HOSTILE_VALUES)
def test_make_variables_reach_commands_as_data(bakery, tmp_path, given, expected) -> None:
    """BASE, HEAD, DATA, NEWEST, HOST and PORT arrive as one argument each, as values (after
    `--`, or as --option=value); nothing in them runs."""
    project = bakery()
    for name in ("Makefile", "serve.mk"):
        (tmp_path / name).write_text((project / name).read_text())
    (tmp_path / "reports").mkdir()
    (tmp_path / "fake/bin").mkdir(parents=True)
    for name in ("python", "dvc"):
        (tmp_path / "fake/bin" / name).write_text(FAKE_TOOL)
        (tmp_path / "fake/bin" / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    runs = {
        "compare": (
            [f"BASE={given}", f"HEAD={given}"],
            [f"arg:--base={expected}", f"arg:--head={expected}"],
        ),
        "monitor": ([f"DATA={given}"], ["arg:monitor", "arg:--", f"arg:{expected}"]),
        "drift-check": (
            [f"BASE={given}", f"NEWEST={given}"],
            ["arg:monitor", "arg:--", f"arg:{expected}", f"arg:--base={expected}"],
        ),
        "serve": ([f"HOST={given}", f"PORT={given}"], [f"host:{expected}", f"port:{expected}"]),
    }
    for target, (variables, wanted) in runs.items():
        result = subprocess.run(
            ["make", "--no-print-directory", target, "VENV=fake", *variables],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        lines = [
            line
            for line in result.stdout.splitlines()
            if line.startswith(("arg:", "host:", "port:"))
        ]
        echoed = (result.stdout + result.stderr).splitlines()
        assert not [line for line in echoed if line.startswith("INJECTED")], "\n".join(echoed)
        found = iter(lines)
        assert all(line in found for line in wanted), f"{target}: {wanted} not in {lines}"


class Context(dict):
    """A GitHub expression context: a missing property is null (falsy), as in GitHub."""

    def __getattr__(self, name: str):
        value = self.get(name, Context())
        return Context(value) if isinstance(value, dict) else value


def github_expression(text: str, github: dict):
    """Evaluate ${{ }} in text, for the operators the workflow uses (==, !=, &&, ||, format)."""

    def evaluate(match: re.Match):
        source = re.sub(r"\s*&&\s*", " and ", re.sub(r"\s*\|\|\s*", " or ", match.group(1)))
        source = re.sub(r"\bformat\(", "fmt(", source)
        fmt = lambda pattern, *args: pattern.format(*args)  # noqa: E731
        return eval(source, {"__builtins__": {}}, {"github": Context(github), "fmt": fmt})

    whole = re.fullmatch(r"\$\{\{(.*)\}\}", text.strip(), re.S)
    if whole:
        return evaluate(whole)
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(evaluate(m)), text, flags=re.S)


def test_github_runs_on_main_and_the_monitor_are_never_cancelled(bakery) -> None:
    """GitHub keeps one pending run per concurrency group and cancels the one before it:
    runs on main (which may wait for a deploy's approval) and scheduled runs may share none."""
    workflow = yaml.safe_load((bakery() / CI_FILES["github"]).read_text())
    concurrency = workflow["concurrency"]

    def run(event: str, ref: str, run_id: int, **payload) -> tuple[str, bool]:
        github = {"event_name": event, "ref": ref, "run_id": run_id, "event": payload}
        cancel = github_expression(str(concurrency["cancel-in-progress"]), github)
        return github_expression(concurrency["group"], github), cancel in (True, "true")

    main = [run("push", "refs/heads/main", n) for n in (1, 2, 3)]
    scheduled = [run("schedule", "refs/heads/main", n) for n in (4, 5)]
    dispatched = run("workflow_dispatch", "refs/heads/main", 6)
    groups = [group for group, _ in (*main, *scheduled, dispatched)]
    assert len(set(groups)) == len(groups), f"runs on main share a group: {groups}"
    assert not any(cancel for _, cancel in (*main, *scheduled, dispatched))
    pull = [run("pull_request", "refs/pull/7/merge", n, pull_request={"number": 7}) for n in (7, 8)]
    assert pull[0][0] == pull[1][0] not in groups and pull[0][1], "a newer push supersedes a PR run"
    jobs = workflow["jobs"]
    for name in ("deploy", "promote", "monitor"):
        job = jobs[name]["concurrency"]
        assert job["cancel-in-progress"] is False and job.get("queue") == "max", name
    # One release queue: a promotion never runs while another run changes staging.
    assert jobs["deploy"]["concurrency"]["group"] == jobs["promote"]["concurrency"]["group"]
    assert jobs["deploy"]["concurrency"]["group"] != jobs["monitor"]["concurrency"]["group"]


def azure_macros(text: str, values: dict) -> str:
    return re.sub(r"\$\(([A-Za-z]+(?:\.[A-Za-z]+)+)\)", lambda m: values[m.group(1)], text)


@pytest.mark.parametrize(
    ("size", "line"),
    [
        (1_200, "| feature é | 0.123 | drifted ✓ |\n"),
        (5_371, "| feature é | 0.123 | drifted ✓ |\n"),
        (40_000, "| feature é | 0.123 | drifted ✓ |\n"),
        (6_001, "é"),  # the cut at 3,400 bytes falls inside a character
    ],
)
def test_azure_pull_request_description_fits_azures_limit(bakery, tmp_path, size, line) -> None:
    """Azure DevOps caps a description at 4,000 characters; a longer drift report is cut
    on a character boundary and links the full report (the drift-report artifact)."""
    pipeline = yaml.safe_load((bakery(ci_provider="azure") / CI_FILES["azure"]).read_text())
    [monitor] = [
        job for stage in pipeline["stages"] for job in stage["jobs"] if job.get("job") == "monitor"
    ]
    [step] = [s for s in monitor["steps"] if "az repos pr create" in s.get("script", "")]
    macros = {
        "Build.BuildId": "4242",
        "System.AccessToken": "token",
        "System.CollectionUri": "https://dev.azure.com/org/",
        "System.TeamProjectId": "0f1e2d3c",
    }
    script = azure_macros(step["script"], macros)
    env = {k: azure_macros(str(v), macros) for k, v in step.get("env", {}).items()}
    report = ("# Drift report\n" + line * size)[:size]
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/pull-request.md").write_text(report, encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "az").write_text(
        '#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = --description ] && printf %s "$2" > '
        '"$OUT"; shift; done\n'
    )
    for tool_path in bin_dir.iterdir():
        tool_path.chmod(0o755)
    out = tmp_path / "description.md"
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env={**os.environ, **env, "OUT": str(out), "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    description = out.read_bytes().decode("utf-8")  # strict: no character cut in half
    assert len(description) <= 4000, len(description)
    if len(report.encode()) <= 4000:
        assert description == report.rstrip("\n")
    else:
        assert report.startswith(description.split("\n\n(Cut")[0].rstrip(" \n"))
        assert "drift-report artifact" in description
        assert "https://dev.azure.com/org/0f1e2d3c/_build/results?buildId=4242" in description


@pytest.mark.parametrize("remote", ["local", "ssh"])
def test_gitlab_branch_code_never_runs_with_the_api_token(bakery, remote) -> None:
    """A merge request's code runs without GITLAB_API_TOKEN; a job that runs no project
    code (no checkout, no make) posts the note; only the scheduled monitor keeps the token."""
    project = bakery(ci_provider="gitlab", dvc_remote=remote)
    config = yaml.safe_load((project / CI_FILES["gitlab"]).read_text())
    jobs = ci_jobs("gitlab", config)
    uses_token = set()
    for name, job in jobs.items():
        before = job.get("before_script", config["default"]["before_script"])
        lines = [" ".join(line.split()) for line in [*before, *job["script"]]]
        runs_code = job.get("variables", {}).get("GIT_STRATEGY") != "none" or any(
            line.startswith("make ") for line in lines
        )
        scheduled_only = all(
            rule.get("if") == '$CI_PIPELINE_SOURCE == "schedule"' for rule in job["rules"]
        )
        if any("GITLAB_API_TOKEN" in line for line in lines if line != "unset GITLAB_API_TOKEN"):
            uses_token.add(name)
        if runs_code and not scheduled_only:
            assert before[0] == "unset GITLAB_API_TOKEN", f"{name} runs code with the token"
            assert "GITLAB_API_TOKEN" not in " ".join(job["script"]), name
    assert jobs["report"]["variables"]["GITLAB_API_TOKEN"] == ""
    [note] = [name for name, job in jobs.items() if "/notes" in " ".join(job["script"])]
    assert note != "report"
    posting = jobs[note]
    assert posting["variables"]["GIT_STRATEGY"] == "none" and posting["before_script"] == []
    assert posting["needs"] == ["report"] and posting["cache"] == []
    assert not any("make " in line for line in posting["script"])
    assert uses_token == {note, "monitor"}, uses_token
    readme = documentation(project)
    assert "`GITLAB_API_TOKEN` must be protected" in readme


@pytest.mark.parametrize("remote", ["s3", "azure", "gs", "ssh", "local"])
def test_github_write_credentials_live_only_in_main_only_environments(bakery, remote) -> None:
    """One set of names: read-only repository secrets for ci; the write ones as secrets of
    the environments deploy (staging), promote (production) and monitor (retrain) run in,
    on main only."""
    project = bakery(dvc_remote=remote)
    jobs = yaml.safe_load((project / CI_FILES["github"]).read_text())["jobs"]
    assert "environment" not in jobs["ci"] and "environment" not in jobs["comment"]
    assert jobs["deploy"]["environment"] == "staging"
    assert jobs["promote"]["environment"] == "production"
    assert jobs["monitor"]["environment"] == "retrain"
    for name in ("deploy", "promote", "monitor"):
        assert "github.ref == 'refs/heads/main'" in jobs[name]["if"], name
    names = {name: remote_credentials("github", job) for name, job in jobs.items()}
    assert names["deploy"] == names["promote"] == names["monitor"] == names["ci"], names
    if remote in PLUGINS:
        assert names["ci"], "no remote credentials found"
    readme = documentation(project)
    assert "Under Settings > Environments, create `staging`" in readme
    assert "and `retrain`, for `monitor`" in readme
    if remote in PLUGINS:
        assert "| secrets of the environment `staging` | read and write | `deploy`" in readme
        assert "| secrets of the environment `production` | read and write | `promote`" in readme
        assert "| secrets of the environment `retrain` | read and write | `monitor`" in readme
        assert "its `make push` after a drift fails" not in readme


def test_gitlab_monitor_gets_the_write_credentials_of_its_environment(bakery) -> None:
    """As on GitHub: write credentials are scoped to environments, and the monitor, whose
    `make push` after a drift writes, runs in one (retrain) without deploying."""
    project = bakery(ci_provider="gitlab", dvc_remote="s3")
    jobs = ci_jobs("gitlab", yaml.safe_load((project / CI_FILES["gitlab"]).read_text()))
    assert jobs["deploy"]["environment"]["name"] == "staging"
    assert jobs["promote"]["environment"]["name"] == "production"
    assert jobs["monitor"]["environment"] == {"name": "retrain", "action": "access"}
    readme = documentation(project)
    assert "with the environment scopes `staging`, `production` and `retrain`" in readme
    assert "its `make push` after a drift fails" not in readme


def pre_commit_hooks(project: Path) -> dict[str, dict]:
    """The hooks of the project's .pre-commit-config.yaml by id."""
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    return {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}


def test_pre_commit_runs_the_environments_tools_and_lint_skips_only_its_fixers(bakery) -> None:
    project = bakery()
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]  # no download at hook time
    hooks = pre_commit_hooks(project)
    assert set(hooks) == {
        "ruff-check",
        "ruff-format",
        "check-added-large-files",
        "detect-private-key",
        "check-merge-conflict",
        "check-yaml",
        "check-yaml-gitlab",
        "check-toml",
        "no-update-rejects",
    }
    markers = hooks.pop("check-merge-conflict")  # a pattern, run by pre-commit itself
    assert markers["language"] == "pygrep"
    assert {hook["language"] for hook in hooks.values()} == {"system"}
    for hook_id, hook in hooks.items():
        if hook_id != "no-update-rejects":
            assert hook["entry"].startswith(".venv/bin/"), hook_id
    assert "--maxkb=500 --enforce-all" in hooks["check-added-large-files"]["entry"]
    # Git's opening and closing markers, at a line's start; not a heading's underline.
    marker = re.compile(markers["entry"])
    assert marker.search("<<<<<<< HEAD") and marker.search(">>>>>>> upstream-template-new")
    assert not marker.search("=======") and not marker.search("<<<<<<<<< not git's")
    # make lint skips exactly the hooks that rewrite files: ruff checks there without fixing.
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", (project / "Makefile").read_text(), re.M)
    skipped = re.search(r"SKIP=(\S+) pre-commit run --all-files", lint[1])[1].split(",")
    fixers = {
        i for i, hook in hooks.items() if re.search(r"ruff (check --fix|format)$", hook["entry"])
    }
    assert set(skipped) == fixers == {"ruff-check", "ruff-format"}


def pre_commit_files(project: Path, hook: dict) -> list[Path]:
    """The tracked files pre-commit gives this hook (by type tag, files and exclude)."""
    extensions = {"yaml": (".yaml", ".yml"), "toml": (".toml",)}
    wanted = tuple(ext for tag in hook.get("types", []) for ext in extensions[tag])
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=project, capture_output=True, text=True, check=True
    ).stdout.split()
    return [
        project / name
        for name in tracked
        if (not wanted or name.endswith(wanted))
        and re.search(hook.get("files", ""), name)
        and not re.search(hook.get("exclude", "^$"), name)
    ]


def test_every_bakes_yaml_and_toml_pass_the_hooks_that_check_them(project: Path) -> None:
    """As check-yaml and check-toml read them with the options the config gives: several
    documents in a Kubernetes manifest, GitLab's custom tags checked for syntax only."""
    hooks = pre_commit_hooks(project)
    parser = ruamel.yaml.YAML(typ="safe")
    checked: set[str] = set()
    for hook_id in ("check-yaml", "check-yaml-gitlab"):
        entry = hooks[hook_id]["entry"]
        for path in pre_commit_files(project, hooks[hook_id]):
            if "--unsafe" in entry:
                list(parser.parse(path.read_text()))
            elif "--allow-multiple-documents" in entry:
                list(parser.load_all(path.read_text()))
            else:
                parser.load(path.read_text())
            checked.add(path.relative_to(project).as_posix())
    for path in pre_commit_files(project, hooks["check-toml"]):
        tomllib.loads(path.read_text())
        checked.add(path.relative_to(project).as_posix())
    assert {"params.yaml", "dvc.yaml", ".pre-commit-config.yaml", "pyproject.toml"} <= checked
    ci_file = CI_FILES.get(rendered(project)["ci_provider"])
    assert ci_file is None or ci_file in checked
    if rendered(project)["serving"] == "fastapi":
        assert "deploy/kubernetes/deployment.yaml" in checked


def test_an_untracked_rej_file_anywhere_fails_its_hook(bakery, tmp_path: Path) -> None:
    """pre-commit passes tracked files only; the hook asks git for untracked ones too."""
    project = tmp_path / "project"
    shutil.copytree(bakery(), project)
    command = shlex.split(pre_commit_hooks(project)["no-update-rejects"]["entry"])
    assert subprocess.run(command, cwd=project, capture_output=True).returncode == 0
    (project / "src" / "cli.py.rej").write_text("@@ -1 +1 @@\n-old\n+new\n")
    result = subprocess.run(command, cwd=project, capture_output=True, text=True)
    assert result.returncode == 1
    assert "apply each by hand from its .rej file" in result.stderr
    assert result.stderr.splitlines()[-1] == "src/cli.py.rej"


def test_readme_states_the_coverage_threshold_make_test_enforces(bakery) -> None:
    project = bakery()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    threshold = pyproject["tool"]["coverage"]["report"]["fail_under"]
    readme = documentation(project)
    assert f"`fail_under` of `[tool.coverage.report]` ({threshold}%)" in readme


# The modules make test (make ci's step) runs: the ones the project's data, params and
# derive.py reach. Every other generated test module is the template's machinery.
PROJECT_TESTS = {"test_pipeline.py", "test_derive.py", "test_params.py"}


@pytest.mark.parametrize("answers", [{}, {"serving": "none", "compute": "dask"}])
def test_make_test_runs_the_projects_tests_and_ci_runs_them_all(bakery, answers) -> None:
    project = bakery(**answers)
    for module in sorted((project / "tests").glob("test_*.py")):
        marked = re.search(r"^pytestmark = .*pytest\.mark\.machinery\b", module.read_text(), re.M)
        assert bool(marked) == (module.name not in PROJECT_TESTS), module.name
    makefile = (project / "Makefile").read_text()
    assert re.search(r"^TESTS \?= project$", makefile, re.M)
    assert '\tpytest -m "not machinery"\n' in makefile
    if answers:
        return  # the CI files are the same for these answers
    workflows = {
        "github": (".github/workflows/ci.yml", "make ci TESTS=all"),
        "gitlab": (".gitlab-ci.yml", "make test-all"),
        "azure": ("azure-pipelines.yml", "make ci TESTS=all"),
    }
    for provider, (path, command) in workflows.items():
        ci = bakery(ci_provider=provider) / path
        assert re.search(rf"^\s+- (run: |script: )?{command}$", ci.read_text(), re.M), path


def test_an_unknown_tests_value_is_refused(tmp_path: Path) -> None:
    project = bake(tmp_path)
    (project / ".venv/bin").mkdir(parents=True)
    (project / ".venv/bin/python").touch()
    result = subprocess.run(
        ["make", "test", "TESTS=every"], cwd=project, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "TESTS=every (from the command line or the environment): use TESTS=project" in (
        result.stderr
    )


def test_make_clean_removes_the_checks_caches_and_leaves_data(tmp_path: Path) -> None:
    project = bake(tmp_path)
    for cache in (".mypy_cache", ".pytest_cache", ".ruff_cache"):
        (project / cache).mkdir()
    (project / ".coverage").write_text("")
    (project / "data" / "kept.csv").write_text("a\n1\n")
    subprocess.run(["make", "clean"], cwd=project, check=True, capture_output=True)
    assert not [
        p
        for p in (".mypy_cache", ".pytest_cache", ".ruff_cache", ".coverage")
        if (project / p).exists()
    ]
    assert (project / "data" / "kept.csv").exists()


def test_the_shipped_derive_py_is_known_to_pass_rows_through(project: Path) -> None:
    """The server's lean path trusts derive.py as shipped to leave rows without dates as
    they are, by its hash: an edit to the template's derive.py must update that list."""
    package = next(project.glob("src/*/pipeline"))
    source = (package / "derive.py").read_bytes().replace(b"\r\n", b"\n")
    digest = hashlib.sha256(source).hexdigest()[:12]
    listed = re.search(
        r"PASS_THROUGH_WITHOUT_DATES = frozenset\(\{([^}]*)\}\)",
        (package / "derivation.py").read_text(),
    )
    assert listed and f'"{digest}"' in listed.group(1)
