"""The generated CI files: the delivery path each provider takes, and the files run for real.

Fast tier: for each provider and serving option, which jobs run on a pull request and on a
push to main (conditions evaluated as the provider would), what they run and with which
credentials: the image is built on pull requests and pushed, tagged with the commit, only
from main; staging is deployed and smoke-tested before an approval-gated promotion.
Slow tier: GitLab's whole push pipeline (lint, test, train, deploy to staging, promote)
and the merge-request report job run under gitlab-ci-local with the shell executor, each
job in its own copy. GitHub: the `ci` job's `run` steps, taken from the workflow, run in
order in a fresh clone of a pull-request branch, as the runner would (conditions evaluated
for a pull request).
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import FAST_INSTALL, SERVER_TESTS_RAN_ELSEWHERE, TEMPLATE, bake, run, tool
from .test_bake import CI_FILES, Context, ci_jobs, job_steps

GITLAB_CI_LOCAL = TEMPLATE / "tests/tools/node_modules/.bin/gitlab-ci-local"
PULL_REQUEST = "github.event_name == 'pull_request'"
PROVIDERS = ["github", "gitlab", "azure"]
EVENTS = ["pull_request", "main"]
PROMOTE = "make promote FROM=staging TO=production"


# --- Which jobs run: each provider's conditions, evaluated for an event ---------------------


def github_condition(text: str, event: str) -> bool:
    """A job's `if` (the operators the workflow uses), for a pull request or a push to main."""
    github = {
        "event_name": {"pull_request": "pull_request", "schedule": "schedule"}.get(event, "push"),
        "ref": "refs/pull/7/merge" if event == "pull_request" else "refs/heads/main",
        "repository": "owner/repo",
        "event": {"pull_request": {"head": {"repo": {"full_name": "owner/repo"}}}},
    }
    source = re.sub(r"\s*&&\s*", " and ", re.sub(r"\s*\|\|\s*", " or ", text))
    scope = {"github": Context(github), "vars": Context({"MODEL_REGISTRY": "s3://models"})}
    return bool(eval(source, {"__builtins__": {}}, scope))


def gitlab_condition(text: str, event: str) -> bool:
    """A rule's `if`: $VARIABLES, ==, !=, && and || over the pipeline's variables."""
    variables = {
        "CI_PIPELINE_SOURCE": {"pull_request": "merge_request_event", "schedule": "schedule"}.get(
            event, "push"
        ),
        "CI_DEFAULT_BRANCH": "main",
        "MODEL_REGISTRY": "s3://models",
    }
    if event != "pull_request":
        variables["CI_COMMIT_BRANCH"] = "main"
    source = re.sub(r"\s*&&\s*", " and ", re.sub(r"\s*\|\|\s*", " or ", text))
    source = re.sub(r"\$([A-Z_]+)", r"variables.get('\1')", source)
    return bool(eval(source, {"__builtins__": {}}, {"variables": variables}))


def azure_condition(text: str, event: str, variables: dict, succeeded: bool = True) -> bool:
    """A stage's, job's or step's condition: the functions the pipeline uses."""
    variables = {
        **variables,
        "Build.Reason": {"pull_request": "PullRequest", "schedule": "Schedule"}.get(
            event, "IndividualCI"
        ),
        "Build.SourceBranch": "refs/pull/7/merge" if event == "pull_request" else "refs/heads/main",
        "MODEL_REGISTRY": "s3://models",
    }
    functions = {
        "and_": lambda *args: all(args),
        "or_": lambda *args: any(args),
        "not_": lambda arg: not arg,
        "eq": lambda a, b: str(a or "").lower() == str(b or "").lower(),
        "ne": lambda a, b: str(a or "").lower() != str(b or "").lower(),
        "in_": lambda value, *choices: value in choices,
        "succeeded": lambda: succeeded,
        "failed": lambda: not succeeded,
        "always": lambda: True,
    }
    source = re.sub(r"\b(and|or|not|in)\(", r"\1_(", " ".join(text.split()))
    scope = {**functions, "variables": Context(variables)}
    return bool(eval(source, {"__builtins__": {}}, scope))


def jobs_on(provider: str, config: dict, event: str) -> dict[str, dict]:
    """The jobs that run for a pull request or a push to main, by name (`-` for `_`)."""
    if provider == "github":
        jobs = config["jobs"]
        ran: dict[str, bool] = {}

        def runs(name: str) -> bool:
            if name not in ran:
                job = jobs[name]
                needs = job.get("needs", [])
                needs = [needs] if isinstance(needs, str) else needs
                own = github_condition(job["if"], event) if "if" in job else True
                ran[name] = own and all(runs(need) for need in needs)
            return ran[name]

        return {name: job for name, job in jobs.items() if runs(name)}
    if provider == "gitlab":
        selected = {}
        for name, job in ci_jobs("gitlab", config).items():
            rules = job.get("rules", [{}])
            rule = next(
                (r for r in rules if "if" not in r or gitlab_condition(r["if"], event)), None
            )
            if rule is not None and rule.get("when") != "never":
                selected[name] = job
        return selected
    variables = config.get("variables", {})
    selected, stages_run = {}, set()
    for stage in config["stages"]:
        depends = stage.get("dependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        upstream = all(name in stages_run for name in depends)
        if not azure_condition(stage.get("condition", "succeeded()"), event, variables, upstream):
            continue
        stages_run.add(stage["stage"])
        for job in stage["jobs"]:
            if azure_condition(job.get("condition", "succeeded()"), event, variables):
                name = job.get("job") or job["deployment"]
                selected[name.replace("_", "-")] = {**job, "stage": stage}
    return selected


# --- What a job does and holds ---------------------------------------------------------------


def lines(provider: str, job: dict) -> list[str]:
    return [
        " ".join(step["script"].split()) for step in job_steps(provider, job) if "script" in step
    ]


def environment(provider: str, job: dict) -> str | None:
    value = job.get("environment")
    return value.get("name") if isinstance(value, dict) else value


def writes_the_registry(provider: str, job: dict) -> bool:
    """Whether a job can push images: a write token, a registry login or a push."""
    text = yaml.safe_dump(job)
    if provider == "github":
        pushes = any(
            step.get("uses", "").startswith("docker/build-push-action")
            and step.get("with", {}).get("push") is not False
            for step in job["steps"]
        )
        login = "docker/login-action" in text
        return job.get("permissions", {}).get("packages") == "write" or login or pushes
    if provider == "gitlab":
        return bool(re.search(r"CI_REGISTRY_PASSWORD|CI_JOB_TOKEN|buildah (login|push)", text))
    steps = job.get("steps") or job["strategy"]["runOnce"]["deploy"]["steps"]
    docker = [s["inputs"] for s in steps if s.get("task", "").startswith("Docker@")]
    return any("containerRegistry" in i or i.get("command") != "build" for i in docker)


def builds_the_image(provider: str, job: dict) -> bool:
    """Whether a job builds the project's Dockerfile, with the project as the context."""
    if provider == "github":
        return any(
            step.get("uses", "").startswith("docker/build-push-action")
            and step["with"]["context"] == "."
            for step in job["steps"]
        )
    if provider == "gitlab":
        return any(re.match(r"buildah build .* \.$", line) for line in lines(provider, job))
    steps = job.get("steps", [])
    return any(
        s.get("task", "").startswith("Docker@")
        and s["inputs"]["Dockerfile"] == "Dockerfile"
        and s["inputs"]["buildContext"] == "."
        for s in steps
    )


def pipeline(bakery, provider: str, serving: str) -> tuple[Path, dict]:
    project = bakery(ci_provider=provider, serving=serving)
    return project, yaml.safe_load((project / CI_FILES[provider]).read_text())


# --- Fast tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("serving", ["fastapi", "none"])
def test_the_image_is_built_on_pull_requests_and_pushed_only_from_main(
    bakery, provider: str, serving: str
) -> None:
    """With a server, pull requests build the Dockerfile without registry credentials and
    main pushes it, tagged with the commit; without one, no job touches an image."""
    project, config = pipeline(bakery, provider, serving)
    pull_request, main = (jobs_on(provider, config, event) for event in EVENTS)
    writers = {name for name, job in pull_request.items() if writes_the_registry(provider, job)}
    assert not writers, f"jobs that run on pull requests can push images: {writers}"
    if serving == "none":
        for jobs in (pull_request, main):
            assert not any(builds_the_image(provider, job) for job in jobs.values())
            assert not any(writes_the_registry(provider, job) for job in jobs.values())
        assert not (project / "Dockerfile").exists()
        return
    assert (project / "Dockerfile").exists()
    assert builds_the_image(provider, pull_request["build-image"])
    assert "secrets." not in yaml.safe_dump(pull_request["build-image"])
    assert "build-image" not in main and "publish-image" not in pull_request
    [publisher] = [name for name, job in main.items() if writes_the_registry(provider, job)]
    assert publisher == "publish-image"
    job = main[publisher]
    assert builds_the_image(provider, job)
    if provider == "github":
        assert job["needs"] == "ci"
        [meta] = [s for s in job["steps"] if s.get("uses", "").startswith("docker/metadata")]
        assert meta["with"]["images"] == "ghcr.io/${{ github.repository }}"  # lowercased
        assert meta["with"]["tags"] == "type=sha,format=long,prefix="  # the commit's SHA
        [push] = [s for s in job["steps"] if s.get("with", {}).get("push") is True]
        assert push["with"]["tags"] == f"${{{{ steps.{meta['id']}.outputs.tags }}}}"
        others = {
            name for name, j in config["jobs"].items() if "packages" in j.get("permissions", {})
        }
        assert others == {publisher}, "only the image job may write packages"
    elif provider == "gitlab":
        assert 'buildah push "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA"' in lines(provider, job)
        assert any('--tag "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA"' in x for x in lines(provider, job))
        assert job["stage"] not in ("lint", "test", "train")  # after the checks
    else:
        assert job["stage"]["dependsOn"] == "CI"
        [push] = [s for s in job["steps"] if s.get("inputs", {}).get("command") == "buildAndPush"]
        assert push["inputs"]["tags"] == "$(Build.SourceVersion)"
        assert push["inputs"]["containerRegistry"] == "$(ACR_SERVICE_CONNECTION)"


def test_azure_pushes_the_image_only_once_a_registry_is_named(bakery) -> None:
    """ACR_SERVICE_CONNECTION empty (as baked): the job warns and pushes nothing."""
    _, config = pipeline(bakery, "azure", "fastapi")
    assert config["variables"]["ACR_SERVICE_CONNECTION"] == ""
    job = jobs_on("azure", config, "main")["publish-image"]

    def steps_run(connection: str) -> list[dict]:
        variables = {**config["variables"], "ACR_SERVICE_CONNECTION": connection}
        return [s for s in job["steps"] if azure_condition(s["condition"], "main", variables)]

    [warning] = steps_run("")
    assert "task.logissue type=warning" in warning["script"]
    assert "ACR_SERVICE_CONNECTION" in warning["script"]
    [push] = steps_run("my-acr")
    assert push["inputs"]["command"] == "buildAndPush"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("serving", ["fastapi", "none"])
def test_main_deploys_to_staging_then_promotes_behind_an_approval(
    bakery, provider: str, serving: str
) -> None:
    """deploy: DEPLOY_ENV=staging in the environment staging, then (with a server) the smoke
    check of staging; promote: after deploy, in the approval-gated environment production,
    the very version staging serves; pull requests run neither."""
    project, config = pipeline(bakery, provider, serving)
    pull_request, main = (jobs_on(provider, config, event) for event in EVENTS)
    assert not {"deploy", "promote"} & set(pull_request)
    deploy, promote = main["deploy"], main["promote"]
    assert environment(provider, deploy) == "staging"
    assert environment(provider, promote) == "production"
    steps = lines(provider, deploy)
    assert steps.index("make inputs repro") < steps.index("make deploy DEPLOY_ENV=staging")
    smoke = [i for i, line in enumerate(steps) if line.startswith("make smoke")]
    if serving == "fastapi":
        [at] = smoke
        assert at > steps.index("make deploy DEPLOY_ENV=staging")
        assert steps[at].startswith('make smoke DEPLOY_ENV=staging URL="$STAGING_URL"')
        if provider == "github":  # the variable reaches the step
            [step] = [s for s in deploy["steps"] if s.get("run", "").startswith("make smoke")]
            assert step["env"]["STAGING_URL"] == "${{ vars.STAGING_URL }}"
    else:
        assert not smoke, "no server to smoke-test without serving"
    # The promotion reads no data and trains nothing.
    before = promote.get("before_script", config.get("default", {}).get("before_script", []))
    commands = (
        [*before, *lines(provider, promote)] if provider == "gitlab" else lines(provider, promote)
    )
    # Promote is pinned to the version its own deploy checked: anything that moved staging
    # while the approval waited is refused, never shipped unchecked (and no version: fail).
    pinned = ' VERSION="${STAGED_VERSION:?deploy passed on no version}"'
    assert [x for x in commands if x.startswith("make ")] == ["make install", PROMOTE + pinned]
    [record] = [x for x in lines(provider, deploy) if x.startswith("STAGED_VERSION=$(make")]
    assert record.startswith("STAGED_VERSION=$(make --silent version DEPLOY_ENV=staging) && ")
    assert steps.index(record) > max([steps.index("make deploy DEPLOY_ENV=staging"), *smoke])
    if provider == "gitlab":
        assert deploy["artifacts"]["reports"]["dotenv"] == "staged.env"
        assert record.endswith("> staged.env")
    elif provider == "github":
        handed = promote["steps"][-1]["env"]["STAGED_VERSION"]
        assert handed == "${{ needs.deploy.outputs.version }}"
        assert deploy["outputs"]["version"] == "${{ steps.staged.outputs.version }}"
    else:
        wanted = "stageDependencies.Staging.deploy.outputs['deploy.staged.STAGED_VERSION']"
        assert wanted in promote["stage"]["variables"]["STAGED_VERSION"]
    if provider == "github":
        assert promote["needs"] == "deploy"
        header = (project / CI_FILES[provider]).read_text().split("\nname:")[0]
        assert re.search(r'"production" \(required reviewers', header), "say where approval lives"
        groups = {job["concurrency"]["group"] for job in (deploy, promote)}
        assert len(groups) == 1 and deploy["concurrency"]["cancel-in-progress"] is False
    elif provider == "gitlab":
        assert promote["needs"] == ["deploy"]
        assert [rule.get("when") for rule in promote["rules"]] == ["manual"]
        assert promote["stage"] != deploy["stage"]
        assert deploy["resource_group"] == promote["resource_group"]
        assert deploy["interruptible"] is promote["interruptible"] is False
    else:
        assert "deployment" in promote  # a deployment job: the environment's checks gate it
        assert promote["stage"]["dependsOn"] == deploy["stage"]["stage"]
        assert promote["stage"]["condition"] == "succeeded()"
        assert deploy["stage"]["lockBehavior"] == promote["stage"]["lockBehavior"] == "sequential"


@pytest.mark.parametrize("provider", ["github", "azure"])
def test_promote_gets_the_same_registry_credentials_as_deploy(bakery, provider: str) -> None:
    """Both write to the model registry: the same names (the values come from each job's
    environment). GitLab's variables reach jobs by environment scope, without mapping."""
    project = bakery(ci_provider=provider, dvc_remote="gs")
    config = yaml.safe_load((project / CI_FILES[provider]).read_text())
    jobs = jobs_on(provider, config, "main")
    deploy, promote = jobs["deploy"], jobs["promote"]
    if provider == "github":
        assert promote["env"] == deploy["env"] and "MODEL_REGISTRY" in promote["env"]
        key = [s for s in deploy["steps"] if "GCP_SERVICE_ACCOUNT_KEY" in str(s.get("env"))]
        assert key and all(step in promote["steps"] for step in key), "the key file step"
    else:
        [to_staging] = [
            s for s in job_steps(provider, deploy) if s.get("script", "").startswith("make deploy")
        ]
        [to_production] = [
            s for s in job_steps(provider, promote) if s.get("script", "").startswith(PROMOTE)
        ]
        assert to_production["env"] == to_staging["env"]
        assert "MODEL_REGISTRY" in to_production["env"]
        key_tasks = [
            s for s in job_steps(provider, promote) if s.get("task") == "DownloadSecureFile@1"
        ]
        assert key_tasks, "the key file the credentials name"


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
    assert re.search(r"train\.random_forest\.n_estimators\s*\|\s*200\s*\|\s*50", text), text
    assert re.search(r"roc_auc\s*\|\s*0\.\d+\s*\|\s*0\.\d+\s*\|\s*-?0\.\d+", text), text


def gitlab_ci_local(project: Path, *args: str) -> str:
    command = [str(GITLAB_CI_LOCAL), "--force-shell-executor", "--shell-isolation", *args]
    # Share the machine's uv cache instead of each job downloading every package.
    command += ["--variable", f"UV_CACHE_DIR={Path.home() / '.cache/uv'}"]
    # The jobs' wiring is what is tested here: the server's tests ran in a full make ci TESTS=all.
    variables = FAST_INSTALL | SERVER_TESTS_RAN_ELSEWHERE
    command += [f"--variable={key}={value}" for key, value in variables.items()]
    result = run(" ".join(f"'{part}'" for part in command), project, check=False, timeout=1200)
    output = result.stdout + result.stderr
    # The tail, and before it any failure a job's pytest or make named further up.
    failures = [line for line in output.splitlines() if re.search(r"FAILED |^\S+ +> E  ", line)]
    assert result.returncode == 0, "\n".join(failures[:60]) + "\n...\n" + output[-8000:]
    return output


@pytest.mark.slow
def test_gitlab_pipeline_runs_green_under_gitlab_ci_local(tmp_path: Path) -> None:
    """The push pipeline up to production: the checks, deploy to staging with its smoke
    check against a local server, and the manual promotion (started here by hand). The
    image jobs need Buildah's container; the fast tests check them."""
    tool(GITLAB_CI_LOCAL, "npm: gitlab-ci-local")
    project = bake(tmp_path, ci_provider="gitlab")
    with_reviewed_change(project)
    run("git checkout --quiet main", project)
    registry = tmp_path / "model-registry"
    to_production = ["promote", "--needs", "--manual", "promote"]
    output = gitlab_ci_local(project, "--variable", f"MODEL_REGISTRY={registry}", *to_production)
    for job in ("lint", "test", "train", "deploy", "promote"):
        assert re.search(rf"PASS\s+{job}\b", output), f"{job} did not pass:\n{output[-4000:]}"
    assert "dvc.lock is unchanged: the pipeline reproduces" in output  # train's verify
    [staging] = registry.glob("*/CURRENT.staging")
    production = staging.with_name("CURRENT")
    assert production.exists(), "promote pointed production at nothing"
    assert production.read_text().split()[0] == staging.read_text().split()[0]

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


@pytest.mark.slow
def test_github_ci_job_steps_run_in_order_on_a_pull_request(tmp_path: Path) -> None:
    project = bake(tmp_path, ci_provider="github")
    origin = with_reviewed_change(project)
    workflow = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
    job = workflow["jobs"]["ci"]["steps"]
    steps = [step["run"] for step in job if "run" in step and runs(step)]
    assert steps[:2] == ["make install", "make ci TESTS=all"]
    checkout = tmp_path / "runner"  # what actions/checkout leaves: a clone with origin
    run(f"git clone --quiet --branch fewer-trees {origin} {checkout}", tmp_path)
    summary = tmp_path / "step-summary.md"
    env = {"GITHUB_BASE_REF": "main", "GITHUB_STEP_SUMMARY": str(summary), "CI": "true"}
    env |= SERVER_TESTS_RAN_ELSEWHERE  # the steps are what is tested here; make ci ran them all
    for step in steps:
        run(step, checkout, env=env)
    assert_report(summary.read_text(), "origin/main")
    assert (checkout / "dvc_plots/index.html").exists()


# --- Maintenance: the Python matrix, the dependency bot, the weekly template check ----------

SUPPORTED_PYTHONS = ["3.10", "3.11", "3.12", "3.13"]  # requires-python >=3.10; the lock's range
BOT_FILES = {"github": ".github/dependabot.yml", "renovate": "renovate.json"}
UV = TEMPLATE / ".tools/bin/uv"


def matrix(provider: str, job: dict) -> tuple[list[str], str, str]:
    """A matrix job's Python versions, the variable holding one, and how it installs it."""
    if provider == "github":
        [setup] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python")]
        step = next(s for s in job["steps"] if s.get("run", "").startswith("make test-python"))
        assert step["env"]["PYTHON_VERSION"] == "${{ matrix.python-version }}"
        return job["strategy"]["matrix"]["python-version"], "$PYTHON_VERSION", str(setup)
    if provider == "gitlab":
        [entry] = job["parallel"]["matrix"]
        return entry["TEST_PYTHON"], "$TEST_PYTHON", job["image"]
    versions = [v["TEST_PYTHON"] for v in job["strategy"]["matrix"].values()]
    [use] = [s for s in job["steps"] if s.get("task") == "UsePythonVersion@0"]
    return versions, "$TEST_PYTHON", str(use["inputs"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tests_run_on_every_supported_python_through_one_make_target(bakery, provider: str) -> None:
    """One job per Python 3.10-3.13 runs `make test-python`, on that interpreter, for every
    change; the pipeline stays on .python-version and deploy does not wait for the matrix."""
    project, config = pipeline(bakery, provider, "fastapi")
    assert 'requires-python = ">=3.10"' in (project / "pyproject.toml").read_text()
    assert re.search(r"^test-python: ", (project / "Makefile").read_text(), re.M)
    for event in EVENTS:
        jobs = jobs_on(provider, config, event)
        versions, variable, interpreter = matrix(provider, jobs["test-python"])
        assert versions == SUPPORTED_PYTHONS
        assert lines(provider, jobs["test-python"]) == [
            f'make test-python PYTHON_VERSION="{variable}"'
        ]
        assert ("matrix.python-version" if provider == "github" else "TEST_PYTHON") in interpreter
    if provider == "github":
        ci = config["jobs"]["ci"]
        assert "python-version-file: .python-version" in yaml.safe_dump(ci["steps"])
        assert config["jobs"]["deploy"]["needs"] == "ci"
    elif provider == "gitlab":
        assert "test-python" not in config["deploy"]["needs"]
        assert config["test-python"]["before_script"] == ["unset GITLAB_API_TOKEN"]
    else:
        staging = next(s for s in config["stages"] if s["stage"] == "Staging")
        assert staging["dependsOn"] == "CI"


def test_test_python_names_what_is_missing(bakery) -> None:
    """Without a version, or for one that neither exists here nor can be downloaded, the
    target fails saying what to pass or what to install (no environment is made)."""
    project = bakery()
    env = {"UV": str(tool(UV, "the template's uv: make install in the template"))}
    unnamed = run("make test-python", project, check=False, env=env)
    assert unnamed.returncode == 2
    assert "name the interpreter: make test-python PYTHON_VERSION=3.12" in unnamed.stderr
    missing = run("make test-python PYTHON_VERSION=3.99", project, check=False, env=env)
    assert missing.returncode == 2
    assert "no Python 3.99 here and uv could not download it" in missing.stderr
    assert "uv python install 3.99" in missing.stderr
    assert not (project / ".venv-3.99").exists()


@pytest.mark.parametrize("provider", [*PROVIDERS, "none"])
def test_each_provider_gets_a_weekly_dependency_bot_with_one_lock_update(
    bakery, provider: str
) -> None:
    """GitHub: Dependabot, one grouped pull request for uv.lock (floors kept) and one for the
    actions. GitLab and Azure: Renovate, whose weekly lock file maintenance is the one merge
    request for uv.lock. No CI provider: no bot file."""
    project = bakery(ci_provider=provider)
    bot = {"github": "github", "gitlab": "renovate", "azure": "renovate"}.get(provider)
    for name, path in BOT_FILES.items():
        assert (project / path).exists() == (name == bot), path
    if bot is None:
        return
    checker = Path(sys.executable).with_name("check-jsonschema")
    schema = {"github": "vendor.dependabot", "renovate": "vendor.renovate"}[bot]
    checked = subprocess.run(
        [checker, "--builtin-schema", schema, str(project / BOT_FILES[bot])],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    if bot == "github":
        updates = yaml.safe_load((project / BOT_FILES[bot]).read_text())["updates"]
        by_ecosystem = {u["package-ecosystem"]: u for u in updates}
        assert by_ecosystem.keys() == {"uv", "github-actions"}
        for update in updates:
            assert update["schedule"]["interval"] == "weekly"
            assert update["directory"] == "/"
            groups = update["groups"].values()
            assert all(g["patterns"] == ["*"] for g in groups), "one pull request per kind"
        assert by_ecosystem["uv"]["versioning-strategy"] == "lockfile-only"
        applies = sorted(g.get("applies-to") for g in by_ecosystem["uv"]["groups"].values())
        assert applies == ["security-updates", "version-updates"]
        return
    config = json.loads((project / BOT_FILES[bot]).read_text())
    assert config["enabledManagers"] == ["pep621"]  # uv.lock; not the CI file's Python
    maintenance = config["lockFileMaintenance"]
    assert maintenance["enabled"] is True
    assert maintenance["schedule"] == config["schedule"] == ["before 6am on monday"]
    [single] = config["packageRules"]
    assert single["enabled"] is False and "lockFileMaintenance" not in single["matchUpdateTypes"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_weekly_schedule_reports_whether_the_template_moved_on(bakery, provider: str) -> None:
    """The scheduled run has a job that runs `make template-check` (it exits 0 either way),
    beside the drift check; pushes and pull requests never run it."""
    _, config = pipeline(bakery, provider, "fastapi")
    scheduled = jobs_on(provider, config, "schedule")
    checking = [
        name for name, job in scheduled.items() if "make template-check" in lines(provider, job)
    ]
    assert checking == ["template-check"]
    assert any(
        line.startswith("make drift-check")
        for job in scheduled.values()
        for line in lines(provider, job)
    ), "the scheduled run also monitors"
    job = scheduled["template-check"]
    if provider == "gitlab":  # the default before_script installs, without the api token
        assert "before_script" not in job and "make install" in config["default"]["before_script"]
    else:
        assert lines(provider, job) == ["make install", "make template-check"]
    for event in EVENTS:
        assert "template-check" not in jobs_on(provider, config, event)
