"""Validate the answers before anything is written; exit 1 with one ERROR line per problem."""

import json
import keyword
import re
import sys

SUPPORTED_PYTHON = ("3.10", "3.11", "3.12", "3.13")
SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
EMAIL = re.compile(r"^[^@\s\"'<>]+@[^@\s\"'<>]+\.[A-Za-z]{2,}$")
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# The URL scheme DVC expects for each remote kind, and an example location.
REMOTE_SCHEMES = {
    "s3": ("s3://", "s3://my-bucket/dvc-storage"),
    "azure": ("azure://", "azure://my-container/dvc-storage"),
    "gs": ("gs://", "gs://my-bucket/dvc-storage"),
    "ssh": ("ssh://", "ssh://user@host/srv/dvc-storage"),
}
# Names that would shadow a dependency, a tool or a standard-library module on import.
RESERVED_PACKAGES = frozenset(
    {
        "dvc", "sklearn", "scikit_learn", "pandas", "numpy", "scipy", "pandera", "pyarrow",
        "pydantic", "yaml", "joblib", "fsspec", "pytest", "ruff", "uv", "test", "tests",
        "src", "data", "models", "reports", "params", "setup", "conftest",
    }
    | set(sys.stdlib_module_names)
)  # fmt: skip


def problems(answers: dict) -> list[str]:
    """Return one 'ERROR: what - how to fix' line per invalid answer."""
    found = []
    slug = answers["project_slug"]
    if not SLUG.match(slug):
        found.append(
            f"ERROR: project_slug {slug!r} is not valid - use lowercase letters, digits and "
            "single hyphens, starting with a letter (e.g. 'churn-model')"
        )
    package = answers["package_name"]
    if not package.isidentifier() or not package.isascii() or package != package.lower():
        found.append(
            f"ERROR: package_name {package!r} is not a lowercase Python identifier - "
            "use lowercase letters, digits and underscores, starting with a letter"
        )
    elif keyword.iskeyword(package) or keyword.issoftkeyword(package):
        found.append(f"ERROR: package_name {package!r} is a Python keyword - choose another name")
    elif package in RESERVED_PACKAGES:
        found.append(
            f"ERROR: package_name {package!r} would shadow the module of the same name - "
            f"choose a more specific name (e.g. '{package}_model')"
        )
    email = answers["author_email"]
    if not EMAIL.match(email):
        found.append(
            f"ERROR: author_email {email!r} is not an email address - use the form name@example.com"
        )
    version = answers["python_version"]
    if version not in SUPPORTED_PYTHON:
        found.append(
            f"ERROR: python_version {version!r} is not supported - "
            f"choose one of {', '.join(SUPPORTED_PYTHON)}"
        )
    found += remote_problems(answers["dvc_remote"], answers["dvc_remote_url"])
    if not answers["project_name"].strip():
        found.append("ERROR: project_name is empty - give the project a name")
    return found


def remote_problems(kind: str, url: str) -> list[str]:
    """The remote location must suit the remote kind: a path, a URL of its scheme, or nothing."""
    if kind == "local" and (not url.strip() or URL_SCHEME.match(url)):
        return [
            f"ERROR: dvc_remote_url {url!r} is not a directory path - for dvc_remote=local give "
            "a path such as '../my-project-dvc-storage' or '/srv/dvc-storage'"
        ]
    if kind == "none" and url.strip():
        return [
            f"ERROR: dvc_remote_url {url!r} was given but dvc_remote is 'none' - "
            "leave dvc_remote_url empty or choose a remote kind"
        ]
    if kind in REMOTE_SCHEMES:
        scheme, example = REMOTE_SCHEMES[kind]
        rest = url[len(scheme) :] if url.startswith(scheme) else ""
        if not rest.strip("/") or any(c.isspace() for c in url):
            return [
                f"ERROR: dvc_remote_url {url!r} is not a {kind} location - "
                f"give a URL such as '{example}'"
            ]
    return []


def main() -> int:
    # tojson escapes quotes and backslashes, so any answer arrives as data, never as code.
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    found = problems(answers)
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
