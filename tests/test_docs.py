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
        "project_name": 'Quote " Me: [yes] # no 😀 </title><script>alert(1)</script>',
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
    "/model/card",
    "the server",
    "Kubernetes",
    "Release safely",
    *sorted(SERVER_PAGES),
]


def build_site(folder: Path, site: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of the site whose mkdocs.yml is in `folder`, into `site`."""
    return subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", site],
        cwd=folder,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )


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
    built = build_site(project, tmp_path / "site")
    assert built.returncode == 0, built.stderr
    page = (tmp_path / "site" / "deploy" / "index.html").read_text()
    assert "<script>alert(1)" not in page, "the project's name reached the page as markup"
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
    built = build_site(scratch, tmp_path / "site")
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


def github_docs_jobs(config: dict) -> tuple[dict, dict]:
    """The job that builds the site (read-only) and the one that publishes it (Pages)."""
    build, publish = config["jobs"]["docs"], config["jobs"]["pages"]
    assert build["if"] == (
        "github.event_name == 'push' && github.ref == 'refs/heads/main'"
        " && vars.PUBLISH_DOCS == 'true'"
    )
    assert build["needs"] == "ci" and "permissions" not in build  # the workflow's: read
    assert config["permissions"] == {"contents": "read"}
    assert publish["needs"] == "docs"
    assert publish["permissions"] == {"pages": "write", "id-token": "write"}
    assert publish["environment"]["name"] == "github-pages"
    [step] = publish["steps"]  # no checkout, no project code where Pages can be written
    assert step["uses"].startswith("actions/deploy-pages@")
    return build, publish


@pytest.mark.parametrize("provider", ["github", "gitlab", "azure"])
def test_ci_publishes_the_site_from_main_only(bakery, provider: str) -> None:
    project = bakery(ci_provider=provider)
    config = yaml.safe_load((project / CI_FILES[provider]).read_text())
    if provider == "github":
        build, _ = github_docs_jobs(config)
        steps = build["steps"]
        runs = [step.get("run") for step in steps]
        assert runs.index("make install") < runs.index("make docs")
        assert steps[-1]["uses"].startswith("actions/upload-pages-artifact@")
        assert steps[-1]["with"]["path"] == "site"
        writers = {n for n, job in config["jobs"].items() if "pages" in job.get("permissions", {})}
        assert writers == {"pages"}, "only the publishing job may write to Pages"
    elif provider == "gitlab":
        job = config["pages"]  # GitLab Pages publishes the job of this name
        assert job["needs"] == ["lint", "test", "train"]
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


@pytest.mark.parametrize("provider", ["gitlab", "github", "azure"])
def test_the_docs_call_a_review_by_the_providers_name(bakery, provider: str) -> None:
    text = documentation(bakery(ci_provider=provider)).replace("reports/pull-request.md", "")
    other = "pull request" if provider == "gitlab" else "merge request"
    assert (
        other not in text and ("merge request" if provider == "gitlab" else "pull request") in text
    )


def test_lint_builds_the_site_and_make_docs_serves_on_loopback(bakery) -> None:
    makefile = (bakery() / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "mkdocs build --strict" in lint
    assert 'mkdocs serve --strict --dev-addr "127.0.0.1:$$DOCS_PORT"' in makefile
    assert "DOCS_PORT ?= 8001" in makefile


def test_the_templates_own_readme_is_a_start_and_its_docs_build(tmp_path: Path) -> None:
    readme = (TEMPLATE / "README.md").read_text()
    assert len(readme.splitlines()) <= README_LINES
    built = build_site(TEMPLATE, tmp_path / "site")
    assert built.returncode == 0, built.stderr
    pages = {page.name for page in (TEMPLATE / "docs").glob("*.md")}
    assert set(re.findall(r"\]\(docs/([a-z-]+\.md)\)", readme)) == pages


def test_what_make_docs_and_make_sbom_write_stays_out_of_git(bakery) -> None:
    """`git add --all` (as the README says after a run) must not take them: each is over
    the 500 KB that make lint refuses."""
    project = bakery()
    paths = ["site/index.html", "site/assets/app.js", "reports/sbom.cdx.json"]
    ignored = subprocess.run(
        ["git", "check-ignore", *paths], cwd=project, capture_output=True, text=True
    )
    assert ignored.stdout.split() == paths
