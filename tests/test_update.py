"""Slow tier: `make update` as a user lives it, from a template repository that moves on.

The template is a git repository at commit A made of this working tree's files. A project
baked from it gets its own changes, a pipeline run and a commit; then template commit B
changes a generated file, adds one, changes a skipped path and pyproject.toml. `make
update` must bring B's changes, keep the user's, relock, leave the data and results alone
and pass `make ci`. Then template commit C and the user edit the same line: the conflict
is listed and `make lint` fails while it remains.
"""

import hashlib
import re
import shutil
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from .conftest import TEMPLATE, run

pytestmark = pytest.mark.slow
SLUG = "{{cookiecutter.project_slug}}"
GIT = "git -c user.name=Test -c user.email=test@example.com"
# What `make update` must leave byte for byte (uv.lock is relocked, so it may change).
UNTOUCHED = ("data", "models", "reports", "registry", "dvc.lock")
README_LINE = "Kept current by template commit {}."
CONFLICT_MARKER = re.compile(r"^(<<<<<<<|>>>>>>>)( |$)", re.MULTILINE)
DEV_DEPENDENCY = '{ name = "packaging", specifier = ">=24" }'  # how uv.lock records B's
ADDED_TEST = '''"""Added by template commit B, rendered with the project's answers."""

from {{ cookiecutter.package_name }} import cli


def test_the_update_brought_this_file() -> None:
    assert "update" in cli.COMMANDS
'''


def git(command: str, cwd: Path) -> str:
    return run(f"{GIT} {command}", cwd).stdout


def commit(message: str, cwd: Path) -> None:
    run(f"git add --all && {GIT} commit --quiet -m '{message}'", cwd)


def template_at_a(root: Path) -> Path:
    """A git repository of the template's files as they are in this working tree."""
    listed = git("ls-files -z --cached --others --exclude-standard", TEMPLATE)
    for name in filter(None, listed.split("\0")):
        if (TEMPLATE / name).is_file():  # a tracked file deleted in the working tree is not
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE / name, root / name)
    git("init --quiet -b main", root)
    commit("A", root)
    return root


def commit_b(template: Path) -> str:
    """A generated file changed and one added, a skipped path and pyproject.toml changed, and
    a stage's code (so the update makes dvc.lock stale until the stage reruns)."""
    readme = template / SLUG / "README.md"
    title, rest = readme.read_text().split("\n", 1)
    readme.write_text(f"{title}\n\n{README_LINE.format('B')}\n{rest}")
    (template / SLUG / "tests" / "test_template_b.py").write_text(ADDED_TEST)
    (template / SLUG / "data" / "external" / "README.md").write_text("Template commit B.\n")
    pyproject = template / SLUG / "pyproject.toml"
    pytest_line = '    "pytest>=8",\n'
    assert pyproject.read_text().count(pytest_line) == 1
    added = '    "packaging>=24",\n' + pytest_line
    pyproject.write_text(pyproject.read_text().replace(pytest_line, added))
    split = template / SLUG / "src" / "{{cookiecutter.package_name}}" / "stages" / "split.py"
    split.write_text("# Template commit B.\n" + split.read_text())
    commit("B", template)
    return git("rev-parse HEAD", template).strip()


def fingerprint(project: Path) -> dict[str, str]:
    """Each file under the paths an update must not touch, with a hash of its bytes."""
    found = {}
    for name in UNTOUCHED:
        top = project / name
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            found[str(path.relative_to(project))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path]:
    """The template at A and a project baked from it: installed, changed, run, committed."""
    template = template_at_a(tmp_path_factory.mktemp("template"))
    output = tmp_path_factory.mktemp("update")
    project = Path(cookiecutter(str(template), no_input=True, output_dir=str(output)))
    params = project / "params.yaml"
    assert params.read_text().count("  test_size: 0.2 ") == 1
    params.write_text(params.read_text().replace("  test_size: 0.2 ", "  test_size: 0.25 "))
    (project / "tests" / "test_user.py").write_text("def test_mine() -> None:\n    pass\n")
    run("make install && make repro", project)
    commit("Our own changes, run", project)
    return template, project


def test_update_brings_the_template_and_keeps_the_project(setup) -> None:
    template, project = setup
    lock = (project / "uv.lock").read_text()
    before = fingerprint(project)
    assert "data/raw/dataset.parquet" in before and "dvc.lock" in before  # a real run's files
    b = commit_b(template)

    checked = run("make template-check", project)
    assert "The template has moved on: this project is at" in checked.stdout
    assert f"is at {b[:12]} - run `make update`" in checked.stdout

    updated = run("make update", project)
    assert "uv.lock was regenerated" in updated.stdout
    assert "run `make install && make repro`" in updated.stdout
    assert "then run `make ci`" in updated.stdout
    assert README_LINE.format("B") in (project / "README.md").read_text()
    assert (project / "tests" / "test_template_b.py").exists()
    assert "test_size: 0.25 " in (project / "params.yaml").read_text()
    assert (project / "tests" / "test_user.py").exists()
    assert not (project / "data" / "external" / "README.md").exists()  # a skipped path
    assert fingerprint(project) == before
    relocked = (project / "uv.lock").read_text()
    assert DEV_DEPENDENCY not in lock and DEV_DEPENDENCY in relocked
    status = git("status --porcelain --untracked-files=all", project).splitlines()
    assert not [line for line in status if line[:2] in ("UU", "AA", "DU", "UD")]
    assert not [line for line in status if line.endswith(".rej")]
    assert not CONFLICT_MARKER.search((project / "README.md").read_text())
    assert f'"commit": "{b}"' in (project / ".cruft.json").read_text()

    # The steps it printed: B changed split's code, so split reruns and dvc.lock follows.
    rerun = run("make install && make repro", project).stdout
    assert "Running stage 'split'" in rerun, rerun
    assert "dvc.lock" in git("diff --name-only", project)
    commit("Update from the template", project)
    assert f"newest commit {b[:12]}" in run("make template-check", project).stdout
    assert "nothing to do" in run("make update", project).stdout
    run("make ci", project)


def test_a_conflicting_edit_is_listed_and_fails_lint(setup) -> None:
    template, project = setup
    for folder, words in ((template / SLUG, README_LINE.format("C")), (project, "Our words.")):
        readme = folder / "README.md"
        readme.write_text(readme.read_text().replace(README_LINE.format("B"), words))
    commit("C", template)
    commit("Our README", project)

    updated = run("make update", project, check=False)
    assert updated.returncode != 0
    assert "left 1 conflict(s) to resolve by hand:\n  README.md (unmerged)" in updated.stderr
    assert run("make lint", project, check=False).returncode != 0
    run("git add README.md", project)  # marked resolved, markers left in
    linted = run("make lint", project, check=False)
    assert linted.returncode != 0 and "README.md" in linted.stdout, linted.stdout
