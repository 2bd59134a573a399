"""Validate the answers before anything is written; exit 1 with one ERROR line per problem."""

import json
import keyword
import os
import re
import sys
import unicodedata
from pathlib import Path

from cookiecutter.environment import StrictEnvironment

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
# Credentials in the remote's location would be committed (.dvc/config, .cruft.json,
# README): a password in the user part (scheme://user:password@host), or a key, token or
# signature as a parameter (?sig=, AccountKey=, X-Amz-Signature=, a pasted connection string).
URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*:[^/?#@]*@")
CREDENTIAL_PARAMETER = re.compile(
    r"(?:^|[?&;#/])\s*(?:x-amz-[a-z0-9-]+|x-goog-[a-z0-9-]+|sig|signature|sas|token|"
    r"[a-z_]*(?:access_?token|api_?key|access_?key|account_?key|secret|password|passwd|pwd)"
    r"[a-z_]*|key|keyfile|credentials?|sharedaccesssignature)\s*=",
    re.IGNORECASE,
)
WHERE_CREDENTIALS_GO = (
    "remove it from the location and keep credentials in environment variables or in "
    "your clone's untracked .dvc/config.local (`dvc remote modify --local storage <option> "
    "<value>`), as the generated README's Storage section says"
)
# The generated project's pyproject.toml, a Jinja template in the template folder (the name
# is written in a raw block since this file is rendered by Jinja itself before it runs).
# {% raw %}
PYPROJECT = Path("{{cookiecutter.project_slug}}", "pyproject.toml")
# {% endraw %}
# A TOML string (basic or literal), and a key whose value is an array of strings.
TOML_STRING = r"""("(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
TOML_COMMENT = re.compile(TOML_STRING + r"|#[^\n]*")
TOML_TABLE = re.compile(r"^[ \t]*\[\[?[ \t]*([^\[\]]+?)[ \t]*\]\]?[ \t]*$", re.MULTILINE)
TOML_ARRAY = re.compile(
    r"^[ \t]*\"?([A-Za-z0-9_-]+)\"?[ \t]*=[ \t]*\[\s*((?:" + TOML_STRING + r"\s*(?:,\s*)?)*)\]",
    re.MULTILINE,
)
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
# The direct dependencies' names come from the generated pyproject itself (see dependencies());
# this hand list keeps only what it cannot tell: import names that differ from distribution
# names (sklearn, yaml), modules of indirect dependencies the generated code imports (numpy,
# fsspec, starlette, distributed), the uv tool, the project's own folders and the standard
# library.
RESERVED_PACKAGES = frozenset(
    {
        "sklearn", "yaml", "numpy", "fsspec", "starlette", "distributed", "uv", "test", "tests",
        "src", "data", "models", "reports", "params", "setup", "conftest",
    }
    | set(sys.stdlib_module_names)
)  # fmt: skip


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them: lowercase, runs of -_. as one hyphen."""
    return re.sub(r"[-_.]+", "-", name).lower()


def toml_string_arrays(text: str) -> dict[str, list[str]]:
    """Every array of strings in a TOML text, by 'table.key'.

    Enough TOML for the template's pyproject: Python 3.10, which the template supports, has
    no tomllib, and one parser everywhere means the checked names never depend on the Python.
    """
    text = TOML_COMMENT.sub(lambda match: match.group(1) or "", text)
    headers = list(TOML_TABLE.finditer(text))
    starts = [(0, "")] + [(header.end(), header.group(1)) for header in headers]
    ends = [header.start() for header in headers] + [len(text)]
    arrays = {}
    for (start, table), end in zip(starts, ends, strict=True):
        for match in TOML_ARRAY.finditer(text, start, end):
            items = re.findall(TOML_STRING, match.group(2))
            values = [json.loads(s) if s.startswith('"') else s[1:-1] for s in items]
            arrays[f"{table}.{match.group(1)}".lstrip(".")] = values
    return arrays


def template_folder(answers: dict) -> Path | None:
    """The template's folder. Cookiecutter passes the path as given (`cookiecutter .`), while
    the hook runs in the new project's folder: a relative path starts where the user ran
    cookiecutter, which the shell's PWD tells. None when cruft regenerates a baked project
    (`make update`): it renders from a clone it names to no hook."""
    given = answers.get("_repo_dir")
    if not given and "_commit" in answers:
        return None
    if not given:  # imported by the tests, not rendered by a bake
        return Path(__file__).resolve().parent.parent
    candidates = [Path(given)]
    if not Path(given).is_absolute():
        candidates = [Path(os.environ.get("PWD", ".")) / given, Path.cwd() / given]
    for folder in candidates:
        if (folder / "cookiecutter.json").is_file():
            return folder
    raise SystemExit(
        f"ERROR: the template folder {given!r} was not found from the hook - "
        "bake with an absolute path to the template"
    )


def dependencies(answers: dict) -> dict[str, str]:
    """The generated project's direct dependencies for these answers, normalised name: name.

    Read from its pyproject.toml rendered as the bake will render it: the project's
    dependencies, every extra (each bake lists them all and locks them in one uv.lock, chosen
    or not), every dependency group (dev) and the build backend.
    """
    template = template_folder(answers)
    if template is None:  # the names were checked when the project was baked
        return {}
    # Jinja as cookiecutter sets it up for the bake (strict, its extensions); the hook runs on
    # the interpreter that runs cookiecutter, so cookiecutter is importable here.
    environment = StrictEnvironment(context={"cookiecutter": answers})
    source = (template / PYPROJECT).read_text(encoding="utf-8")
    arrays = toml_string_arrays(environment.from_string(source).render(cookiecutter=answers))
    wanted = ("project.dependencies", "build-system.requires")
    wanted_tables = ("project.optional-dependencies.", "dependency-groups.")
    found = {}
    for key, values in arrays.items():
        if key in wanted or key.startswith(wanted_tables):
            for requirement in values:
                name = REQUIREMENT_NAME.match(requirement)
                if name:
                    found[normalise(name.group(1))] = name.group(1)
    return found


def problems(answers: dict) -> list[str]:
    """Return one 'ERROR: what - how to fix' line per invalid answer."""
    found = []
    # A project cannot depend on a distribution of its own name (uv sync fails), and a package
    # of a dependency's name would shadow it.
    taken = dependencies(answers)
    slug = answers["project_slug"]
    if not SLUG.match(slug):
        found.append(
            f"ERROR: project_slug {slug!r} is not valid - use lowercase letters, digits and "
            "single hyphens, starting with a letter (e.g. 'churn-model')"
        )
    elif normalise(slug) in taken:
        found.append(
            f"ERROR: project_slug {slug!r} is the name of a dependency of the generated project "
            f"({taken[normalise(slug)]}) - choose another name, e.g. '{slug}-model'"
        )
    package = answers["package_name"]
    if not package.isidentifier() or not package.isascii() or package != package.lower():
        found.append(
            f"ERROR: package_name {package!r} is not a lowercase Python identifier - "
            "use lowercase letters, digits and underscores, starting with a letter"
        )
    elif keyword.iskeyword(package) or keyword.issoftkeyword(package):
        found.append(f"ERROR: package_name {package!r} is a Python keyword - choose another name")
    elif normalise(package) in taken:
        found.append(
            f"ERROR: package_name {package!r} is the name of a dependency of the generated "
            f"project ({taken[normalise(package)]}) and would shadow it - choose another name, "
            f"e.g. '{package}_model'"
        )
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


def control_character(text: str) -> bool:
    """A newline, tab or other control or line-separator character (not a plain space)."""
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def remote_problems(kind: str, url: str) -> list[str]:
    """The remote location must suit the remote kind: a path, a URL of its scheme, or nothing.

    It is committed, so it may hold no credentials and no control characters. The refusal
    never repeats the value, which may be a secret.
    """
    if control_character(url):
        return [
            "ERROR: dvc_remote_url contains a newline or another control character - "
            "give the location on one line, without control characters"
        ]
    if URL_PASSWORD.match(url):
        return [
            "ERROR: dvc_remote_url contains a password (user:password@ in the URL) - "
            + WHERE_CREDENTIALS_GO
            + " (a user name alone is fine, as in ssh://user@host/path)"
        ]
    if CREDENTIAL_PARAMETER.search(url):
        return [
            "ERROR: dvc_remote_url contains a key, token or signature parameter (such as "
            "?sig=, AccountKey= or X-Amz-Signature=) - " + WHERE_CREDENTIALS_GO
        ]
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
