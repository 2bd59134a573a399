"""Finish the baked project: drop files of unchosen options, record answers, configure DVC, git."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

LICENSES = Path("_licenses")
# Each provider's pipeline and dependency bot config (.github holds Dependabot's); GitLab
# and Azure share Renovate's, which stays when either is chosen.
CI_FILES = {
    "github": (Path(".github"),),
    "gitlab": (Path(".gitlab-ci.yml"), Path("renovate.json")),
    "azure": (Path("azure-pipelines.yml"), Path("renovate.json")),
}


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
        for path in (*Path("tests").glob("test_serve*.py"), Path("serve.mk")):
            path.unlink()
        # The server's image and its Kubernetes manifests.
        for path in (Path("Dockerfile"), Path(".dockerignore")):
            path.unlink()
        shutil.rmtree(Path("deploy", "kubernetes"))
        if not any(Path("deploy").iterdir()):
            Path("deploy").rmdir()


def remove_dask(compute: str, package: str) -> None:
    """Only compute=dask brings the Dask engine (its extra is not installed otherwise)."""
    if compute != "dask":
        Path("src", package, "pipeline", "dask_tables.py").unlink()


def choose_license(name: str) -> None:
    """Move the chosen license text to LICENSE and drop the others."""
    (LICENSES / f"{name}.txt").replace("LICENSE")
    shutil.rmtree(LICENSES)


def write_answers(answers: dict) -> None:
    """Record the answers so the project can later be updated from a newer template (cruft)."""
    kept = {k: v for k, v in answers.items() if k not in ("_output_dir", "_repo_dir", "_checkout")}
    Path(".cookiecutter.json").write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n")


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


def main() -> int:
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    remove_ci(answers["ci_provider"])
    choose_license(answers["license"])
    remove_server(answers["serving"], answers["package_name"])
    remove_dask(answers["compute"], answers["package_name"])
    write_answers(answers)
    configure_remote(answers["dvc_remote"], answers["dvc_remote_url"])
    git_init(answers["author_name"], answers["author_email"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
