"""`make update` and `make template-check`: keep the project current with its template.

.cruft.json, written at the bake, records the template (a git URL or path), the commit the
project was baked from and the answers. cruft regenerates the project at that commit and
at the newest one (or REF) and applies the difference with a three-way merge, so the
project's own changes stay; what it cannot merge is left as conflict markers or .rej files,
which are listed here by name. The paths in .cruft.json's skip are never touched: data,
models, reports, the registry, dvc.lock, and uv.lock, which is relocked from pyproject.toml
instead of merged.
"""

import argparse
import json
import os
import re
import subprocess
from pathlib import Path

from cruft import update as cruft_update

from .errors import PipelineError, not_an_option

STATE = Path(".cruft.json")
# What an update must never change; each must be in the skip list of .cruft.json.
PROTECTED = ("data", "models", "reports", "registry", "dvc.lock", "uv.lock")
# The lines git writes around a conflict (`=======` alone also starts Markdown headings).
CONFLICT_MARKER = re.compile(r"^(<<<<<<<|>>>>>>>)( |$)", re.MULTILINE)
# A template change to code a stage depends on makes dvc.lock stale until the stage reruns.
NEXT_STEPS = (
    "review `git status` and `git diff HEAD`; run `make install && make repro` (changed "
    "pipeline code reruns its stages: check `make metrics`); commit it all, dvc.lock too; "
    "then run `make ci`"
)


def git(*args: str) -> str:
    """What a git command prints; its error, naming the command, if it fails."""
    result = subprocess.run(["git", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise PipelineError(f"`git {' '.join(args)}` failed: {result.stderr.strip()}")
    return result.stdout


def paths(listing: str) -> list[str]:
    """The paths of a NUL-separated git listing (-z: names with spaces or quotes stay whole)."""
    return [name for name in listing.split("\0") if name]


def recorded_state(state_file: Path = STATE) -> dict:
    """The template's origin and the answers, or an error saying how to record them."""
    if not state_file.is_file():
        raise PipelineError(
            f"{state_file} is missing: this project was baked before the template recorded "
            "its origin - link it once with `cruft link <template git URL>` (say the commit "
            "you baked from), add the skip list docs/update.md gives to it, and commit it"
        )
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # unreadable, not UTF-8, not JSON
        raise PipelineError(
            f"{state_file} cannot be read as JSON ({error}) - restore it from git "
            f"(`git log -- {state_file}`) or with `cruft link`"
        ) from None
    if not isinstance(state, dict):
        raise PipelineError(
            f"{state_file} holds a JSON {type(state).__name__}, not an object of template, "
            f"commit and skip - restore it from git (`git log -- {state_file}`)"
        )
    if not isinstance(state.get("template"), str) or not state["template"]:
        raise PipelineError(
            f"{state_file} names no template ({state.get('template')!r}) - set template to the "
            "template's git URL or path, and commit it"
        )
    if not isinstance(state.get("commit"), str) or not state["commit"]:
        raise PipelineError(
            f"{state_file} names no template commit (the template was not a git repository "
            "when the project was baked) - set template and commit in it to the template's "
            "git URL and the commit you baked from, and commit it"
        )
    skip = state.get("skip", [])
    if not isinstance(skip, list) or not all(isinstance(path, str) for path in skip):
        # A string would pass the check below one substring at a time ("data" in "...data...").
        raise PipelineError(
            f"the skip of {state_file} is not a list of paths ({skip!r:.60}) - make it a JSON "
            f"list, such as [{', '.join(json.dumps(path) for path in PROTECTED)}], and commit it"
        )
    unprotected = [path for path in PROTECTED if path not in skip]
    if unprotected:
        raise PipelineError(
            f"the skip list of {state_file} lacks {', '.join(unprotected)}, which an update "
            "must never change - add them to it and commit it"
        )
    return state


def unclean() -> list[str]:
    """Changed and untracked files, as `git status --short` shows them."""
    return git("status", "--porcelain", "--untracked-files=all").splitlines()


def has_conflict_markers(text: str) -> bool:
    return CONFLICT_MARKER.search(text) is not None


def conflicts() -> list[str]:
    """Each file the update left for a hand to merge, with how it shows the conflict."""
    unmerged = paths(git("diff", "--name-only", "-z", "--diff-filter=U"))
    changed = paths(git("diff", "--name-only", "-z", "HEAD"))
    added = paths(git("ls-files", "--others", "--exclude-standard", "-z"))
    found = {name: "unmerged" for name in unmerged}
    for name in changed + added:
        path = Path(name)
        if name in found:
            continue
        if name.endswith(".rej"):
            found[name] = f"hunks that did not apply to {name.removesuffix('.rej')}"
        elif path.is_file() and has_conflict_markers(path.read_text(errors="ignore")):
            found[name] = "conflict markers"
    return [f"{name} ({how})" for name, how in sorted(found.items())]


def relock(uv: str) -> str:
    """Regenerate uv.lock when the update changed pyproject.toml; lockfiles are not merged."""
    if not git("diff", "--name-only", "HEAD", "--", "pyproject.toml").strip():
        return "pyproject.toml is unchanged: uv.lock stays as it is."
    if has_conflict_markers(Path("pyproject.toml").read_text(encoding="utf-8")):
        return (
            "pyproject.toml changed but has conflicts: once they are resolved, run `uv lock` "
            "to regenerate uv.lock."
        )
    result = subprocess.run([uv, "lock"], capture_output=True, text=True)
    if result.returncode != 0:  # the update is applied all the same: say how to finish it
        return (
            f"pyproject.toml changed but `{uv} lock` failed ({result.stderr.strip()}): run "
            "`uv lock` once pyproject.toml is right and the package index can be reached."
        )
    return "pyproject.toml changed: uv.lock was regenerated from it (`uv lock`)."


def update(ref: str | None, uv: str) -> str:
    """Apply the template's changes since the recorded commit; raise listing any conflict."""
    if ref is not None:
        not_an_option(ref, "REF")
    before = recorded_state()["commit"]
    changes = unclean()
    if changes:
        shown = "\n".join(f"  {line}" for line in changes[:10])
        raise PipelineError(
            f"the work tree has uncommitted changes:\n{shown}\ncommit or stash them "
            "(`git stash --include-untracked`) first, so the update is a change of its own"
        )
    try:
        cruft_update(Path(), skip_apply_ask=True, checkout=ref)
    except Exception as error:  # cruft, cookiecutter (a failed hook) and GitPython's own kinds
        raise PipelineError(
            f"cruft could not regenerate the project from its template: {error!r} - check "
            f"that the template named in {STATE} can be cloned and holds the commit "
            f"{before[:12]}, and that REF names one of its tags, branches or commits"
        ) from error
    after = recorded_state()["commit"]
    if after == before and not unclean():
        return f"The project is at the template's commit {after[:12]} already: nothing to do."
    relocked = relock(uv)
    left = conflicts()
    if left:
        listing = "\n".join(f"  {line}" for line in left)
        raise PipelineError(
            f"the update to template commit {after[:12]} left {len(left)} conflict(s) to "
            f"resolve by hand:\n{listing}\n{relocked}\nIn each file keep the right lines and "
            "remove the markers; apply or dismiss each .rej file's hunks and delete it; "
            f"`git add` them, then {NEXT_STEPS}"
        )
    return f"{relocked}\nUpdated to template commit {after[:12]}: {NEXT_STEPS}."


def newest_commit(template: str) -> tuple[str | None, str]:
    """The commit the template's default branch is at, or None and why it is unknown."""
    if template.startswith("-"):  # git would read it as an option (--upload-pack runs commands)
        return None, "it is not a git URL or path"
    try:
        listed = subprocess.run(
            ["git", "ls-remote", "--", template, "HEAD"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},  # no password prompt in CI
        )
    except subprocess.TimeoutExpired:
        return None, "no answer in 120 s"
    if listed.returncode != 0 or not listed.stdout.strip():
        error = listed.stderr.strip().splitlines()
        return None, error[-1] if error else "it lists no HEAD"
    return listed.stdout.split()[0], ""


def template_check() -> str:
    """Whether the template has commits newer than the project's, for a scheduled job.

    Never an error: a template out of reach (offline, private, moved) is reported as such.
    On GitHub Actions the report is a warning annotation, so it shows on the run's page.
    """
    try:
        state = recorded_state()
    except PipelineError as error:
        message = f"cannot check the template for updates: {error}"
    else:
        template, baked = state["template"], state["commit"]
        newest, reason = newest_commit(template)
        if newest == baked:
            return f"The project is at the template's newest commit {baked[:12]} ({template})."
        if newest is None:
            message = f"cannot reach the template {template} ({reason}): not checked for updates"
        else:
            message = (
                f"The template has moved on: this project is at {baked[:12]}, {template} is "
                f"at {newest[:12]} - run `make update` (docs/update.md)"
            )
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return f"::warning title=Template update::{message}"
    return message


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="update", description="update from the template")
    parser.add_argument("--ref", help="template tag, branch or commit (default: its newest)")
    args = parser.parse_args(argv)
    print(update(args.ref or None, os.environ.get("UV") or "uv"))


def check_main(argv: list[str]) -> None:
    print(template_check())
