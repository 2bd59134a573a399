"""Fast tier: each bake's README is a start of at most 200 lines, and its docs/ a site that
Material for MkDocs builds with --strict, holding only the pages of the features baked."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import TEMPLATE, documentation

MKDOCS = Path(sys.executable).parent / "mkdocs"
README_LINES = 200
# Every option value at least once, and the fullest and the barest bakes.
ANSWER_SETS = {
    "default": {},
    "regression-azure-dask-s3": {
        "task": "regression",
        "ci_provider": "azure",
        "compute": "dask",
        "dvc_remote": "s3",
    },
    "no-server-gitlab-gs": {"serving": "none", "ci_provider": "gitlab", "dvc_remote": "gs"},
    "bare": {"serving": "none", "ci_provider": "none", "dvc_remote": "none"},
    "ssh": {"dvc_remote": "ssh"},
    "azure-remote": {"dvc_remote": "azure"},
    "hostile-name": {
        "project_name": 'Quote " Me: [yes] # no',
        "project_slug": "quoted",
        "description": "A: b - c # d",
    },
}
CI_FILES = {
    "github": ".github/workflows/ci.yml",
    "gitlab": ".gitlab-ci.yml",
    "azure": "azure-pipelines.yml",
}
SERVER_PAGES = {"serve.md", "release.md", "kubernetes.md"}
# What only a project with a server has: its targets, settings, routes and pages.
SERVER_WORDS = [
    "make serve",
    "make image",
    "make feedback",
    "SERVE_ADMIN_TOKEN",
    "SERVE_PREDICTION_LOG",
    "/feedback",
    "the server",
    "Kubernetes",
    "Release safely",
    *sorted(SERVER_PAGES),
]


def nav_pages(nav: list) -> list[str]:
    """The Markdown files mkdocs.yml's nav names, in order, however deep."""
    pages = []
    for entry in nav:
        for value in entry.values() if isinstance(entry, dict) else [entry]:
            pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


@pytest.fixture(params=ANSWER_SETS.values(), ids=ANSWER_SETS.keys())
def project(request, bakery) -> Path:
    return bakery(**request.param)


def test_the_readme_is_a_start_of_at_most_200_lines(project: Path) -> None:
    readme = (project / "README.md").read_text()
    assert len(readme.splitlines()) <= README_LINES
    for section in ("## Quick start", "## Bring your own data", "## Add a feature"):
        assert section in readme
    assert "## Experiments" in readme and "## Deploy" in readme and "## Documentation" in readme


def test_the_site_builds_strict_and_every_page_is_in_nav_and_the_readme(
    project: Path, tmp_path: Path
) -> None:
    built = subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", tmp_path / "site"],
        cwd=project,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "deploy" / "index.html").exists()
    pages = {page.name for page in (project / "docs").glob("*.md")}
    config = yaml.safe_load((project / "mkdocs.yml").read_text())
    assert sorted(nav_pages(config["nav"])) == sorted(pages)
    linked = set(re.findall(r"\]\(docs/([a-z-]+\.md)\)", (project / "README.md").read_text()))
    assert linked == pages, "the README's table names every page, and only pages that exist"


def test_a_broken_link_fails_the_build(bakery, tmp_path: Path) -> None:
    """--strict with mkdocs.yml's validation: a heading that is not there fails, too."""
    project = bakery()
    scratch = tmp_path / "project"
    subprocess.run(["cp", "-r", project, scratch], check=True)
    page = scratch / "docs" / "data.md"
    page.write_text(page.read_text() + "\nSee [the gate](deploy.md#no-such-heading).\n")
    built = subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", tmp_path / "site"],
        cwd=scratch,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert built.returncode != 0
    assert "does not contain an anchor '#no-such-heading'" in built.stderr


@pytest.mark.parametrize("serving", ["fastapi", "none"])
def test_only_a_project_with_a_server_has_pages_about_it(bakery, serving: str) -> None:
    project = bakery(serving=serving)
    pages = {page.name for page in (project / "docs").glob("*.md")}
    text = documentation(project) + (project / "mkdocs.yml").read_text()
    named = [word for word in SERVER_WORDS if word in text]
    if serving == "fastapi":
        assert pages >= SERVER_PAGES and named == SERVER_WORDS
    else:
        assert not SERVER_PAGES & pages and not named, named


def github_docs_job(config: dict) -> dict:
    job = config["jobs"]["docs"]
    assert job["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert job["needs"] == "ci"
    assert job["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert job["environment"]["name"] == "github-pages"
    return job


@pytest.mark.parametrize("provider", ["github", "gitlab", "azure"])
def test_ci_publishes_the_site_from_main_only(bakery, provider: str) -> None:
    project = bakery(ci_provider=provider)
    config = yaml.safe_load((project / CI_FILES[provider]).read_text())
    if provider == "github":
        steps = github_docs_job(config)["steps"]
        runs = [step.get("run") for step in steps]
        assert runs.index("make install") < runs.index("make docs")
        uses = [step.get("uses", "") for step in steps]
        [upload] = [step for step in steps if step.get("uses", "").startswith("actions/upload-p")]
        assert upload["with"]["path"] == "site"
        assert uses[-1].startswith("actions/deploy-pages@")
        others = {
            name for name, job in config["jobs"].items() if "pages" in job.get("permissions", {})
        }
        assert others == {"docs"}, "only the docs job may write to Pages"
    elif provider == "gitlab":
        job = config["pages"]  # GitLab Pages publishes the job of this name
        assert job["rules"] == [
            {"if": '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE != "schedule"'}
        ]
        assert job["script"] == ["make docs SITE=public"]
        assert job["artifacts"] == {"paths": ["public"]}
    else:
        [ci] = [stage for stage in config["stages"] if stage["stage"] == "CI"]
        steps = ci["jobs"][0]["steps"]
        on_main = "and(succeeded(), eq(variables['Build.SourceBranch'], 'refs/heads/main'))"
        [build] = [step for step in steps if step.get("script") == "make docs"]
        [publish] = [step for step in steps if step.get("artifact") == "docs"]
        assert build["condition"] == publish["condition"] == on_main
        assert publish["publish"] == "site"
        assert steps.index(build) < steps.index(publish)


def test_lint_builds_the_site_and_make_docs_serves_on_loopback(bakery) -> None:
    makefile = (bakery() / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "mkdocs build --strict" in lint
    assert 'mkdocs serve --strict --dev-addr "127.0.0.1:$$DOCS_PORT"' in makefile
    assert "DOCS_PORT ?= 8001" in makefile


def test_the_templates_own_readme_is_a_start_and_its_docs_build(tmp_path: Path) -> None:
    readme = (TEMPLATE / "README.md").read_text()
    assert len(readme.splitlines()) <= README_LINES
    built = subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", tmp_path / "site"],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert built.returncode == 0, built.stderr
    pages = {page.name for page in (TEMPLATE / "docs").glob("*.md")}
    assert set(re.findall(r"\]\(docs/([a-z-]+\.md)\)", readme)) == pages
