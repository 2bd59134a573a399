"""The pre-gen hook refuses bad answers with `ERROR: <what> - <how to fix>`, before any file."""

import importlib.util

import pytest
from cookiecutter.exceptions import FailedHookException

from .conftest import TEMPLATE, bake

spec = importlib.util.spec_from_file_location("pre_gen", TEMPLATE / "hooks" / "pre_gen_project.py")
pre_gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pre_gen)

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
}


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
    answers = {
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
    answers = {
        "project_name": "Churn",
        "project_slug": "churn",
        "package_name": "churn",
        "author_email": "a@example.com",
        "python_version": version,
        "dvc_remote": "local",
        "dvc_remote_url": "../churn-dvc-storage",
    }
    assert pre_gen.problems(answers) == []
