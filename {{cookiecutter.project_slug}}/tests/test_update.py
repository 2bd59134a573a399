"""make update's checks and conflict listing, and make template-check, on small git repos."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import update
from {{ cookiecutter.package_name }}.errors import PipelineError

pytestmark = pytest.mark.machinery

SKIP = [*update.PROTECTED, ".git", ".cruft.json"]


def git(*args: str, cwd: Path | None = None) -> str:
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    command = ["git", *identity, *args]
    return subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with one commit, as the working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    git("init", "--quiet", "-b", "main")
    Path("README.md").write_text("# Project\n")
    git("add", "--all")
    git("commit", "--quiet", "-m", "start")
    return tmp_path


def write_state(template: str, commit: str | None, skip: list[str] = SKIP) -> None:
    state = {"template": template, "commit": commit, "context": {}, "skip": skip}
    Path(".cruft.json").write_text(json.dumps(state))


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A template repository with one commit."""
    folder = tmp_path / "template"
    folder.mkdir()
    git("init", "--quiet", "-b", "main", cwd=folder)
    (folder / "cookiecutter.json").write_text("{}")
    git("add", "--all", cwd=folder)
    git("commit", "--quiet", "-m", "A", cwd=folder)
    return folder


def head(folder: Path) -> str:
    return git("rev-parse", "HEAD", cwd=folder).strip()


def test_markers_are_git_conflict_lines_not_a_setext_heading() -> None:
    assert update.has_conflict_markers("a\n<<<<<<< ours\nb\n=======\nc\n>>>>>>> theirs\n")
    assert update.has_conflict_markers("a\n>>>>>>>\n")
    assert not update.has_conflict_markers("Title\n=======\n\n<<<<<<<< not eight\n")


def test_every_kind_of_conflict_is_listed_by_name(project: Path) -> None:
    Path("params.yaml").write_text("seed: 1\n")
    git("add", "--all")
    git("commit", "--quiet", "-m", "params")
    git("checkout", "--quiet", "-b", "other")
    Path("params.yaml").write_text("seed: 2\n")
    git("commit", "--quiet", "-am", "two")
    git("checkout", "--quiet", "main")
    Path("params.yaml").write_text("seed: 3\n")
    git("commit", "--quiet", "-am", "three")
    merge = subprocess.run(["git", "merge", "other"], capture_output=True, text=True)
    assert merge.returncode != 0  # the conflict this test needs
    Path("Makefile.rej").write_text("@@ -1 +1 @@\n")
    Path("src").mkdir()
    Path("src/new.py").write_text("<<<<<<< ours\nx = 1\n=======\nx = 2\n>>>>>>> theirs\n")
    assert update.conflicts() == [
        "Makefile.rej (hunks that did not apply to Makefile)",
        "params.yaml (unmerged)",
        "src/new.py (conflict markers)",
    ]


def test_unchanged_files_are_not_scanned_for_markers(project: Path) -> None:
    """Conflict lines the project committed itself (docs on git) are not the update's."""
    Path("git.md").write_text("<<<<<<< ours\n")
    git("add", "--all")
    git("commit", "--quiet", "-m", "docs")
    assert update.conflicts() == []


def test_without_cruft_json_the_error_says_how_to_link(project: Path) -> None:
    with pytest.raises(PipelineError, match=r"\.cruft\.json is missing.*cruft link"):
        update.recorded_state()


def test_without_a_template_commit_the_error_says_what_to_set(project: Path) -> None:
    write_state("/somewhere", None)
    with pytest.raises(PipelineError, match=r"names no template commit .* set template and commit"):
        update.recorded_state()


def test_a_skip_list_without_the_protected_paths_is_refused(project: Path) -> None:
    write_state("/somewhere", "abc", skip=["data", ".git"])
    lacking = r"lacks models, reports, registry, dvc\.lock, uv\.lock, which"
    with pytest.raises(PipelineError, match=lacking):
        update.recorded_state()


def test_an_unclean_work_tree_is_refused_naming_the_files(project: Path, template: Path) -> None:
    write_state(str(template), head(template))
    git("add", ".cruft.json")
    git("commit", "--quiet", "-m", "link")
    Path("notes.txt").write_text("draft\n")
    with pytest.raises(PipelineError, match=r"uncommitted changes:\n  \?\? notes\.txt\n"):
        update.update(None, "uv")


def commit_pyproject() -> None:
    Path("pyproject.toml").write_text("[project]\n")
    git("add", "--all")
    git("commit", "--quiet", "-m", "pyproject")


def test_no_relock_without_a_pyproject_change(project: Path) -> None:
    commit_pyproject()
    assert "unchanged" in update.relock("false")  # `false` would fail if it ran


def test_a_changed_pyproject_is_relocked(project: Path) -> None:
    commit_pyproject()
    Path("pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert "uv.lock was regenerated" in update.relock("true")
    # Offline, say: the update stands, and the message says how to finish it.
    assert "`false lock` failed" in update.relock("false")
    assert "run `uv lock` once" in update.relock("false")


def test_a_pyproject_with_conflicts_is_not_relocked(project: Path) -> None:
    commit_pyproject()
    Path("pyproject.toml").write_text("<<<<<<< ours\nname = 'x'\n=======\n>>>>>>> theirs\n")
    assert "once they are resolved, run `uv lock`" in update.relock("false")


def test_template_check_says_when_the_template_moved_on(project: Path, template: Path) -> None:
    baked = head(template)
    write_state(str(template), baked)
    assert f"newest commit {baked[:12]}" in update.template_check()
    (template / "README.md").write_text("new\n")
    git("add", "--all", cwd=template)
    git("commit", "--quiet", "-m", "B", cwd=template)
    report = update.template_check()
    assert f"this project is at {baked[:12]}, {template} is at {head(template)[:12]}" in report
    assert "run `make update`" in report


def test_template_check_reports_an_unreachable_template_as_a_warning_on_github(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_state(str(tmp_path / "gone"), "abc")
    assert "cannot reach the template" in update.template_check()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert update.template_check().startswith("::warning title=Template update::cannot reach")


def test_a_template_that_reads_as_a_git_option_is_never_passed_to_git(
    project: Path, tmp_path: Path
) -> None:
    """A .cruft.json edited to `--upload-pack=<command>` would run the command in CI."""
    ran = tmp_path / "ran"
    write_state(f"--upload-pack=touch {ran};", "abc")
    assert "cannot reach the template" in update.template_check()
    assert not ran.exists()


def test_template_check_without_cruft_json_reports_instead_of_failing(project: Path) -> None:
    assert "cannot check the template for updates" in update.template_check()


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"template": "/somewhere", "commit": ', r"cannot be read as JSON .* restore it from git"),
        ('["/somewhere", "abc"]', r"holds a JSON list, not an object"),
        (
            json.dumps({"template": None, "commit": "abc", "skip": SKIP}),
            r"names no template \(None\) - set template",
        ),
        (json.dumps({"template": "/x", "commit": 7, "skip": SKIP}), r"names no template commit"),
    ],
    ids=["not-json", "a-list", "template-null", "commit-a-number"],
)
def test_template_check_says_what_is_wrong_with_cruft_json_and_exits_0(
    project: Path, capsys, text: str, said: str
) -> None:
    Path(".cruft.json").write_text(text)
    update.check_main([])  # scheduled CI's `make template-check`: never an exception
    printed = capsys.readouterr().out
    assert re.search(rf"cannot check the template for updates: \.cruft\.json {said}", printed)
    with pytest.raises(PipelineError, match=said):
        update.recorded_state()


def test_a_skip_that_is_not_a_list_is_refused(project: Path) -> None:
    """A string holds every protected path as a substring: refused, not searched."""
    write_state("/somewhere", "abc", skip=" ".join(SKIP))
    with pytest.raises(PipelineError, match=r"skip of \.cruft\.json is not a list of paths"):
        update.recorded_state()


def test_a_ref_that_reads_as_an_option_is_refused(project: Path) -> None:
    with pytest.raises(PipelineError, match=r"REF='-h' looks like an option"):
        update.update("-h", "uv")
