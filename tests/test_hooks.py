"""The pre-gen hook refuses bad answers with `ERROR: <what> - <how to fix>`, before any file."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.environment import StrictEnvironment
from cookiecutter.exceptions import FailedHookException
from cookiecutter.generate import generate_context, generate_files
from cookiecutter.prompt import prompt_for_config

from .conftest import OPTIONS, TEMPLATE, bake

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

spec = importlib.util.spec_from_file_location("pre_gen", TEMPLATE / "hooks" / "pre_gen_project.py")
pre_gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pre_gen)

# A complete set of valid answers, as cookiecutter hands them to the hook.
VALID = {
    "project_name": "Churn",
    "project_slug": "churn",
    "package_name": "churn",
    "description": "Predict churn.",
    "author_name": "A",
    "author_email": "a@example.com",
    "python_version": "3.11",
    "task": "classification",
    "ci_provider": "github",
    "dvc_remote": "local",
    "dvc_remote_url": "../churn-dvc-storage",
    "serving": "fastapi",
    "compute": "local",
    "license": "MIT",
}

BAD_ANSWERS = {
    "slug-with-space": ({"project_slug": "Bad Slug!"}, "project_slug"),
    "slug-uppercase": ({"project_slug": "MyProject"}, "project_slug"),
    "slug-leading-digit": ({"project_slug": "1-project"}, "project_slug"),
    "slug-injection": ({"project_slug": "x'; import os; os.system('id') #"}, "project_slug"),
    "package-keyword": ({"package_name": "class"}, "package_name"),
    "package-not-identifier": ({"package_name": "my-package"}, "package_name"),
    "package-shadows-dvc": ({"package_name": "dvc"}, "package_name"),
    "package-shadows-sklearn": ({"package_name": "sklearn"}, "package_name"),
    "package-shadows-pandas": ({"package_name": "pandas"}, "package_name"),
    "package-shadows-test": ({"package_name": "test"}, "package_name"),
    "package-shadows-stdlib": ({"package_name": "json"}, "package_name"),
    "slug-is-a-dependency": ({"project_slug": "orjson", "package_name": "churn"}, "project_slug"),
    "slug-is-a-server-dependency": (
        {"project_slug": "uvicorn", "package_name": "churn"},
        "project_slug",
    ),
    "slug-is-scikit-learn": (
        {"project_slug": "scikit-learn", "package_name": "churn"},
        "project_slug",
    ),
    "slug-is-the-remote-plugin": (
        {"project_slug": "dvc-s3", "package_name": "churn", "dvc_remote": "s3"},
        "project_slug",
    ),
    "slug-is-the-build-backend": (
        {"project_slug": "hatchling", "package_name": "churn"},
        "project_slug",
    ),
    "package-is-a-dependency": ({"package_name": "orjson"}, "package_name"),
    "package-is-a-server-dependency": ({"package_name": "fastapi"}, "package_name"),
    "package-is-a-dev-dependency": ({"package_name": "pre_commit"}, "package_name"),
    "email-missing-at": ({"author_email": "nobody"}, "author_email"),
    "email-with-space": ({"author_email": "a b@example.com"}, "author_email"),
    "python-too-old": ({"python_version": "3.9"}, "python_version"),
    "python-unknown": ({"python_version": "three"}, "python_version"),
    "remote-url-for-local": ({"dvc_remote_url": "s3://bucket/path"}, "dvc_remote_url"),
    "remote-url-without-remote": (
        {"dvc_remote": "none", "dvc_remote_url": "/srv/storage"},
        "dvc_remote_url",
    ),
    "remote-s3-given-a-path": ({"dvc_remote": "s3", "dvc_remote_url": "/srv/x"}, "dvc_remote_url"),
    "remote-azure-given-s3": (
        {"dvc_remote": "azure", "dvc_remote_url": "s3://bucket/x"},
        "dvc_remote_url",
    ),
    "remote-gs-without-bucket": ({"dvc_remote": "gs", "dvc_remote_url": "gs://"}, "dvc_remote_url"),
    "remote-ssh-with-space": (
        {"dvc_remote": "ssh", "dvc_remote_url": "ssh://host/my dir"},
        "dvc_remote_url",
    ),
    "remote-local-with-newline": ({"dvc_remote_url": "../x\n[core]"}, "dvc_remote_url"),
    "remote-ssh-with-password": (
        {"dvc_remote": "ssh", "dvc_remote_url": "ssh://user:pass@host/srv/dvc"},
        "dvc_remote_url",
    ),
}
# Locations that would commit a secret or a control character, by remote kind; the refusal
# says where credentials go and never repeats the value.
SECRET_LOCATIONS = {
    "ssh-password": ("ssh", "ssh://user:hunter2@host/srv/dvc"),
    "s3-key-and-secret": ("s3", "s3://AKIAEXAMPLE:wJalrXUtnFEMI@my-bucket/dvc"),
    "gs-user-password": ("gs", "gs://user:hunter2@my-bucket/dvc"),
    "azure-sas-signature": ("azure", "azure://container/dvc?sv=2022-11-02&sig=hunter2"),
    "azure-account-key": ("azure", "azure://container/dvc;AccountKey=hunter2"),
    "s3-presigned": ("s3", "s3://my-bucket/dvc?X-Amz-Credential=AKIA&X-Amz-Signature=hunter2"),
    "gs-token": ("gs", "gs://my-bucket/dvc?access_token=hunter2"),
    "local-given-https-password": ("local", "https://user:hunter2@host/dvc"),
    "ssh-newline": ("ssh", "ssh://host/srv/dvc\nhunter2"),
    "s3-carriage-return": ("s3", "s3://my-bucket/dvc\rhunter2"),
    "local-newline": ("local", "../storage\nhunter2"),
    "local-tab": ("local", "../storage\thunter2"),
    "local-line-separator": ("local", "../storage\u2028hunter2"),
    "local-escape": ("local", "../storage\x1b[2Jhunter2"),
}


@pytest.mark.parametrize(("kind", "url"), SECRET_LOCATIONS.values(), ids=SECRET_LOCATIONS.keys())
def test_a_remote_location_with_credentials_or_control_characters_is_refused(
    kind: str, url: str
) -> None:
    (line,) = pre_gen.problems(VALID | {"dvc_remote": kind, "dvc_remote_url": url})
    assert line.startswith("ERROR: dvc_remote_url ") and " - " in line
    assert "hunter2" not in line, "the refusal must not print the secret"
    if "hunter2@" in url or "=hunter2" in url or "sig=" in url:
        assert "environment variables" in line and "dvc remote modify --local" in line


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("ssh", "ssh://user@host/srv/dvc"),
        ("ssh", "ssh://dvc@storage.example.com:2222/srv/dvc/churn"),
        ("s3", "s3://my-bucket/dvc/date=2024-01-01"),
        ("azure", "azure://container/dvc-storage"),
        ("local", "../my dvc storage"),
    ],
)
def test_a_remote_location_without_credentials_passes(kind: str, url: str) -> None:
    assert pre_gen.problems(VALID | {"dvc_remote": kind, "dvc_remote_url": url}) == []


@pytest.mark.parametrize(("answers", "field"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_bad_answer_fails_the_bake_naming_the_field(tmp_path, capfd, answers, field) -> None:
    """A bad answer stops the bake with an ERROR line that names the field and the fix."""
    with pytest.raises(FailedHookException):
        bake(tmp_path, **answers)
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR:")]
    assert any(line.startswith(f"ERROR: {field} ") and " - " in line for line in errors), errors
    assert not any(tmp_path.iterdir()), "nothing may be written when the hook refuses"


def test_every_problem_is_reported_at_once() -> None:
    """Several bad answers give several ERROR lines, so one retry can fix them all."""
    answers = VALID | {
        "project_name": "x",
        "project_slug": "Bad Slug!",
        "package_name": "import",
        "author_email": "nope",
        "python_version": "2.7",
        "dvc_remote": "local",
        "dvc_remote_url": "../storage",
    }
    fields = [line.split()[1] for line in pre_gen.problems(answers)]
    assert fields == ["project_slug", "package_name", "author_email", "python_version"]


@pytest.mark.parametrize("version", pre_gen.SUPPORTED_PYTHON)
def test_supported_python_versions_pass(version: str) -> None:
    assert pre_gen.problems(VALID | {"python_version": version}) == []


def test_a_dependency_name_is_refused_for_both_answers_naming_the_dependency() -> None:
    """A slug taken by a dependency breaks `uv sync`, a package of its name shadows it."""
    assert pre_gen.problems(VALID | {"project_slug": "uvicorn", "package_name": "orjson"}) == [
        "ERROR: project_slug 'uvicorn' is the name of a dependency of the generated project "
        "(uvicorn) - choose another name, e.g. 'uvicorn-model'",
        "ERROR: package_name 'orjson' is the name of a dependency of the generated project "
        "(orjson) and would shadow it - choose another name, e.g. 'orjson_model'",
    ]
    # Names compare as PEP 503 normalises them: case and runs of -_. do not matter.
    (line,) = pre_gen.problems(VALID | {"package_name": "scikit_learn"})
    assert line.startswith("ERROR: package_name 'scikit_learn' ") and "(scikit-learn)" in line


@pytest.mark.parametrize(
    ("answer", "name", "options"),
    [
        ("package_name", "dask", {"compute": "local"}),
        ("project_slug", "uvicorn", {"serving": "none"}),
        ("package_name", "dvc_s3", {"dvc_remote": "local"}),
    ],
)
def test_an_extras_dependency_is_refused_whether_chosen_or_not(answer, name, options) -> None:
    """Every bake locks every extra, so its names are taken even where it is not installed."""
    (line,) = pre_gen.problems(VALID | options | {answer: name})
    assert line.startswith(f"ERROR: {answer} {name!r} is the name of a dependency"), line


def test_a_module_of_the_dask_extra_is_refused_as_package() -> None:
    """distributed comes with dask[distributed] and the Dask engine imports it."""
    (line,) = pre_gen.problems(VALID | {"package_name": "distributed"})
    assert line.startswith("ERROR: package_name 'distributed' would shadow the module"), line


@pytest.mark.parametrize("serving", OPTIONS["serving"])
def test_dependency_names_are_those_tomllib_reads(serving: str) -> None:
    """The hook's small TOML reader (Python 3.10 has no tomllib) agrees with tomllib."""
    answers = VALID | {"serving": serving}
    source = (TEMPLATE / pre_gen.PYPROJECT).read_text()
    text = StrictEnvironment(context={"cookiecutter": answers}).from_string(source)
    pyproject = tomllib.loads(text.render(cookiecutter=answers))
    requirements = [
        *pyproject["project"]["dependencies"],
        *(r for extra in pyproject["project"]["optional-dependencies"].values() for r in extra),
        *pyproject["build-system"]["requires"],
        *(r for group in pyproject["dependency-groups"].values() for r in group),
    ]
    names = {pre_gen.normalise(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in requirements}
    assert set(pre_gen.dependencies(answers)) == names
    assert {"uvicorn", "dask", "dvc-s3"} <= names  # every extra, whatever the answers


def test_a_relative_template_path_bakes(tmp_path: Path) -> None:
    """`cookiecutter .`: the hook finds the template from where cookiecutter was started."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cookiecutter"), "--no-input", "-o", str(tmp_path), "."],
        cwd=TEMPLATE,
        env={**os.environ, "PWD": str(TEMPLATE)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "my-ml-project/pyproject.toml").exists()


post_spec = importlib.util.spec_from_file_location(
    "post_gen", TEMPLATE / "hooks" / "post_gen_project.py"
)
post_gen = importlib.util.module_from_spec(post_spec)
post_spec.loader.exec_module(post_gen)


def git_head(folder: Path) -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True)
    return result.stdout.decode().strip()


def test_cruft_json_records_a_relative_template_path_absolute_and_its_commit(tmp_path) -> None:
    """`cookiecutter .`: make update later clones the template from the recorded path."""
    subprocess.run(
        [str(Path(sys.executable).parent / "cookiecutter"), "--no-input", "-o", str(tmp_path), "."],
        cwd=TEMPLATE,
        env={**os.environ, "PWD": str(TEMPLATE)},
        capture_output=True,
        check=True,
    )
    state = json.loads((tmp_path / "my-ml-project/.cruft.json").read_text())
    assert (state["template"], state["commit"]) == (str(TEMPLATE), git_head(TEMPLATE))
    assert state["directory"] is None
    answers = state["context"]["cookiecutter"]
    assert (answers["_template"], answers["_commit"]) == (str(TEMPLATE), git_head(TEMPLATE))
    assert answers["package_name"] == "my_ml_project"
    assert not {"_output_dir", "_repo_dir", "_checkout"} & set(answers)
    protected = {"data", "models", "reports", "registry", "dvc.lock", "uv.lock", ".git"}
    assert protected | {".cruft.json"} <= set(state["skip"])
    assert not (tmp_path / "my-ml-project/.cookiecutter.json").exists()


def test_a_git_url_is_recorded_as_given_with_abbreviations_spelled_out() -> None:
    """cruft clones with git alone, which knows no gh: prefix."""
    origin, _ = post_gen.template_origin({"_template": "gh:acme/mlops"}, TEMPLATE)
    assert origin["template"] == "https://github.com/acme/mlops.git"
    assert origin["commit"] == git_head(TEMPLATE)


def test_a_template_outside_git_records_no_commit_and_says_so(tmp_path) -> None:
    (tmp_path / "cookiecutter.json").write_text("{}")
    origin, note = post_gen.template_origin({"_template": str(tmp_path)}, tmp_path)
    assert (origin["template"], origin["commit"]) == (str(tmp_path), None)
    assert "is not a git repository - `make update` needs" in note


def test_hooks_run_by_cruft_render_only(tmp_path, capfd) -> None:
    """cruft regenerates the project with `_commit` in the context and no `_repo_dir` (as
    below, from its cruft/_commands/utils): no git repository or answers file may appear
    there, since cruft diffs that output into the project."""
    context = generate_context(context_file=str(TEMPLATE / "cookiecutter.json"))
    context["cookiecutter"] = prompt_for_config(context, no_input=True)
    context["cookiecutter"] |= {"_template": str(TEMPLATE), "_commit": git_head(TEMPLATE)}
    project = Path(generate_files(repo_dir=str(TEMPLATE), context=context, output_dir=tmp_path))
    assert (project / "pyproject.toml").exists() and (project / "LICENSE").exists()
    assert not (project / ".git").exists()
    assert not (project / ".cruft.json").exists()
    assert "Next steps" not in capfd.readouterr().out, "cruft's renders are no bake"


@pytest.mark.parametrize(
    ("given", "recorded"),
    [
        (
            "https://oauth2:glpat-SECRET@gitlab.example.com/ml/t.git",
            "https://gitlab.example.com/ml/t.git",
        ),
        ("https://ghp_SECRET@github.com/acme/t.git", "https://github.com/acme/t.git"),
        ("git+https://ghp_SECRET@github.com/acme/t.git", "git+https://github.com/acme/t.git"),
        ("ssh://git:SECRET@host/t.git", "ssh://host/t.git"),
        ("ssh://git@host/t.git", "ssh://git@host/t.git"),  # a user name, no secret
        ("git@github.com:acme/t.git", "git@github.com:acme/t.git"),
        ("https://github.com/acme/t.git", "https://github.com/acme/t.git"),
    ],
)
def test_cruft_json_never_records_credentials_of_the_template_url(given, recorded) -> None:
    """.cruft.json is committed and CI logs print the template's URL."""
    origin, _ = post_gen.template_origin({"_template": given}, Path("/nonexistent"))
    assert origin["template"] == recorded


def bake_output(cwd: Path, *args: str) -> str:
    """What `cookiecutter --no-input <template> <args>` prints, started from cwd by a shell."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cookiecutter"), "--no-input", str(TEMPLATE), *args],
        cwd=cwd,
        env={**os.environ, "PWD": str(cwd)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_bake_ends_with_the_next_steps(tmp_path: Path) -> None:
    """The last lines say where to go and what to run, and point at the README."""
    steps = bake_output(tmp_path, "-o", "out").split("Next steps:\n")[-1].splitlines()
    assert steps[:3] == [
        "  cd out/my-ml-project",
        "  make install   # .venv from uv.lock",
        "  make ci        # lint, tests, the DVC pipeline, the dvc.lock check, a deploy check",
    ]
    assert "CI/CD" in steps[3] and "README.md" in steps[-1]
    assert not any("credentials" in line for line in steps), "a local remote needs none"


def test_the_next_steps_name_a_cloud_remote_and_skip_ci_without_one(tmp_path: Path) -> None:
    steps = bake_output(tmp_path, "dvc_remote=gs", "ci_provider=none").split("Next steps:")[-1]
    assert "  cd my-ml-project\n" in steps
    assert "DVC remote gs://my-ml-project-dvc/storage: give DVC its credentials" in steps
    assert "CI/CD" not in steps


def test_the_next_steps_cd_to_an_output_folder_elsewhere_by_its_absolute_path(tmp_path) -> None:
    (tmp_path / "here").mkdir()
    output = bake_output(tmp_path / "here", "-o", str(tmp_path / "there"))
    assert f"  cd {tmp_path / 'there' / 'my-ml-project'}\n" in output
