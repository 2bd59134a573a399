"""Finish the baked project: drop files of unchosen options, record answers, configure DVC, git.

cruft runs this hook too, when `make update` regenerates the project at two template commits
in temporary folders to diff them (its context then holds `_commit`): there it only renders,
since a git repository or an answers file there would be diffed into the project.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from cookiecutter.config import BUILTIN_ABBREVIATIONS, get_user_config
from cookiecutter.repository import expand_abbreviations, is_repo_url, is_zip_file

LICENSES = Path("_licenses")
# Each provider's pipeline and dependency bot config (.github holds Dependabot's); GitLab
# and Azure share Renovate's, which stays when either is chosen.
CI_FILES = {
    "github": (Path(".github"),),
    "gitlab": (Path(".gitlab-ci.yml"), Path("renovate.json")),
    "azure": (Path("azure-pipelines.yml"), Path("renovate.json")),
}
# What `make update` never changes (cruft's skip, paths from the project's root): the data,
# models, reports and registry with the lock of their pipeline run, uv.lock (relocked from
# pyproject.toml instead of merged), the git history (the hooks of older template commits
# made a repository in their output) and this answers file, which cruft rewrites itself.
UPDATE_SKIPS = [
    "data",
    "models",
    "reports",
    "registry",
    "dvc.lock",
    "uv.lock",
    ".git",
    ".cruft.json",
]


def remove_ci(provider: str) -> None:
    """Keep only the chosen CI provider's files (none for ci_provider=none)."""
    kept = CI_FILES.get(provider, ())
    for path in {path for paths in CI_FILES.values() for path in paths} - set(kept):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def remove_server(serving: str, package: str) -> None:
    """Without a server, drop its code, tests and make targets; deploy still publishes."""
    if serving == "none":
        shutil.rmtree(Path("src", package, "serve"))
        Path("src", package, "sbom_referrer.py").unlink()  # attaches the SBOM to the image
        Path("tests", "test_sbom_referrer.py").unlink()
        for path in (*Path("tests").glob("test_serve*.py"), Path("serve.mk")):
            path.unlink()
        # The server's image and its Kubernetes manifests.
        for path in (Path("Dockerfile"), Path(".dockerignore")):
            path.unlink()
        shutil.rmtree(Path("deploy", "kubernetes"))
        if not any(Path("deploy").iterdir()):
            Path("deploy").rmdir()
        # Their documentation pages (mkdocs.yml's nav leaves them out too).
        for page in ("serve", "release", "kubernetes"):
            Path("docs", f"{page}.md").unlink()


def remove_dask(compute: str, package: str) -> None:
    """Only compute=dask brings the Dask engine (its extra is not installed otherwise)."""
    if compute != "dask":
        for module in ("dask_tables.py", "lost_callbacks.py"):
            Path("src", package, "pipeline", module).unlink()


def choose_license(name: str) -> None:
    """Move the chosen license text to LICENSE and drop the others."""
    (LICENSES / f"{name}.txt").replace("LICENSE")
    shutil.rmtree(LICENSES)


def template_folder(given: str) -> Path:
    """The folder cookiecutter read the template from, absolute. A relative path starts where
    the user ran cookiecutter (the shell's PWD), not in the new project, where hooks run."""
    for folder in (Path(os.environ.get("PWD", ".")) / given, Path(given)):
        if (folder / "cookiecutter.json").is_file():
            return folder.resolve()
    return Path(given).resolve()


def git_answer(folder: Path, *args: str) -> str | None:
    """What a git command prints in the folder, or None where it fails (not a repository)."""
    if shutil.which("git") is None:
        return None
    result = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def abbreviations() -> dict:
    """cookiecutter's gh:, gl:, bb: and the user's own from ~/.cookiecutterrc."""
    try:
        return get_user_config()["abbreviations"]
    except Exception:  # an unreadable config: cookiecutter itself would have said so
        return BUILTIN_ABBREVIATIONS


def without_credentials(url: str) -> str:
    """The URL without a user:password (or token) in it: .cruft.json is committed and CI
    logs print the template's URL. A bare user name (ssh's git@) is no secret and stays."""
    parts = urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    if ":" not in userinfo and parts.scheme.split("+")[-1] not in ("http", "https"):
        return url
    return urlunsplit(parts._replace(netloc=host))


def template_origin(answers: dict, folder: Path) -> tuple[dict, str | None]:
    """Where `make update` finds the template again and which commit the bake used: cruft's
    template, commit, checkout and directory, and a NOTE when updates will not work as is.

    The template is what the user baked from: a git URL as given (cookiecutter's gh:, gl:,
    bb: spelled out, since cruft clones with git alone), or a local path made absolute.
    """
    given = expand_abbreviations(answers["_template"], abbreviations())
    public = without_credentials(given)
    if public != given:
        print(
            f"NOTE: the template URL held credentials; .cruft.json records {public} - give "
            "git a credential helper (or an SSH key) so `make update` can clone it."
        )
        given = public
    top = git_answer(folder, "rev-parse", "--show-toplevel")
    commit = git_answer(folder, "rev-parse", "HEAD") if top else None
    origin = {
        "template": given if is_repo_url(given) or is_zip_file(given) else top or str(folder),
        "commit": commit,
        "checkout": answers.get("_checkout"),
        "directory": None,
    }
    fix = (
        "`make update` needs the template as a git repository: set template and commit in "
        ".cruft.json to its git URL and the commit you baked from"
    )
    if is_zip_file(given) or commit is None:
        origin["commit"] = None
        return origin, f"NOTE: the template {given} is not a git repository - {fix}."
    inner = folder.relative_to(Path(top).resolve()).as_posix()
    origin["directory"] = None if inner == "." else inner
    if git_answer(folder, "status", "--porcelain", "--", "."):
        return origin, (
            f"NOTE: the template at {folder} has uncommitted changes; .cruft.json records its "
            f"last commit {commit[:12]}, from which `make update` will diff (commit the "
            "template and bake again to record what you baked)."
        )
    return origin, None


def write_answers(answers: dict) -> None:
    """Record the answers and the template's origin in .cruft.json, as `cruft create` would,
    so `make update` can regenerate the project at its commit and at a newer one."""
    folder = template_folder(answers["_repo_dir"])
    origin, note = template_origin(answers, folder)
    # In cookiecutter.json's order, as cruft rewrites them at each update (tojson sorted them).
    order = [*json.loads((folder / "cookiecutter.json").read_text(encoding="utf-8")), *answers]
    private = ("_template", "_output_dir", "_repo_dir", "_checkout")
    context = {key: answers[key] for key in order if key in answers and key not in private}
    context |= {"_template": origin["template"], "_commit": origin["commit"]}
    state = {
        **{key: origin[key] for key in ("template", "commit", "checkout")},
        "context": {"cookiecutter": context},
        "directory": origin["directory"],
        "skip": UPDATE_SKIPS,
    }
    # cruft's own layout, so its rewrite at each update changes only what changed.
    text = json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": ")) + "\n"
    Path(".cruft.json").write_text(text, encoding="utf-8")
    if note:
        print(note)


def configure_remote(kind: str, url: str) -> None:
    """Point DVC's default remote at the chosen storage; credentials never go in this file."""
    lines = ["[core]", "    analytics = false"]
    if kind != "none":
        if kind == "local":
            path = Path(os.path.expanduser(url))
            # DVC resolves a relative remote path from the folder of the config file, .dvc/.
            url = (path if path.is_absolute() else Path("..") / path).as_posix()
        lines[1:1] = ["    remote = storage"]
        lines += ["['remote \"storage\"']", f"    url = {url}"]
    Path(".dvc/config").write_text("\n".join(lines) + "\n")


def git_init(author: str, email: str) -> None:
    """Create the repository with a first commit, or say why not."""
    if shutil.which("git") is None:
        print(
            "NOTE: git was not found, so the project is not a git repository yet - "
            "run 'git init -b main' once git is installed."
        )
        return
    identity = []
    for key, fallback in (("user.name", author), ("user.email", email)):
        configured = subprocess.run(["git", "config", key], capture_output=True, text=True)
        if not configured.stdout.strip():
            identity += ["-c", f"{key}={fallback}"]
    message = "Bake project from cookiecutter-mlops"
    steps = (
        ["git", "init", "--quiet", "-b", "main"],
        ["git", "add", "--all"],
        ["git", *identity, "commit", "--quiet", "--no-verify", "-m", message],
    )
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True)
        if result.returncode != 0:
            print(
                f"NOTE: '{' '.join(step)}' failed, so git is left for you to finish: "
                f"{result.stderr.strip()}"
            )
            return


def project_path() -> str:
    """The baked project as the user can `cd` to it, quoted for a shell: relative to where
    cookiecutter was started (the shell's PWD) when it lies below it, else absolute."""
    here = Path.cwd().resolve()  # hooks run in the new project
    start = Path(os.environ.get("PWD", "/")).resolve()
    return shlex.quote(str(here.relative_to(start) if start in here.parents else here))


def next_steps(answers: dict) -> str:
    """What to run after the bake; the remote and CI lines only where they need setup."""
    lines = [
        "",
        "Next steps:",
        f"  cd {project_path()}",
        "  make install   # .venv from uv.lock",
        "  make ci        # lint, tests, the DVC pipeline, the dvc.lock check, a deploy check",
    ]
    if answers["dvc_remote"] not in ("local", "none"):
        lines.append(
            f"DVC remote {answers['dvc_remote_url']}: give DVC its credentials before "
            "`make push` (docs/storage.md)."
        )
    if answers["ci_provider"] != "none":
        lines.append("CI: docs/ci.md (CI/CD) lists the secrets and variables to set.")
    lines.append("README.md starts you off; docs/ (`make docs`) explains the rest.")
    return "\n".join(lines)


def main() -> int:
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    remove_ci(answers["ci_provider"])
    choose_license(answers["license"])
    remove_server(answers["serving"], answers["package_name"])
    remove_dask(answers["compute"], answers["package_name"])
    configure_remote(answers["dvc_remote"], answers["dvc_remote_url"])
    if "_commit" in answers:  # cruft regenerating the project for `make update`
        return 0
    write_answers(answers)
    git_init(answers["author_name"], answers["author_email"])
    print(next_steps(answers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
