"""Refresh the generated project's uv.lock: bake with the defaults, lock, template it back.

Every bake lists every extra (the server, each DVC remote's plugin, Dask) in its pyproject,
so one lockfile serves every combination of answers; `make install` picks the extras. Only
the project's own entry differs between bakes: it names the slug, a Jinja tag here.

Run through `make lock` (add UPGRADE=1 to move every dependency to its newest version).
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
TARGET = TEMPLATE / "{{cookiecutter.project_slug}}" / "uv.lock"
SLUG_TAG = "{{ cookiecutter.project_slug }}"


def lock(upgrade: bool) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=scratch))
        # The bake rendered the current lock; uv starts from it, so that without --upgrade
        # versions stay where they are and only what pyproject.toml changed moves.
        uv = os.environ.get("UV", "uv")  # the Makefile exports the uv it installed
        subprocess.run([uv, "lock", *(["--upgrade"] if upgrade else [])], cwd=project, check=True)
        text = (project / "uv.lock").read_text()
    if re.search(r"\{[{%#]", text):
        sys.exit("uv.lock holds text Jinja would read as a tag; it cannot be templated as is")
    project_entry = f'name = "{project.name}"\nversion = "0.1.0"\nsource = {{ editable = "." }}'
    if text.count(project_entry) != 1:
        sys.exit(f"the project's own entry was not found once in uv.lock: {project_entry!r}")
    TARGET.write_text(text.replace(project_entry, project_entry.replace(project.name, SLUG_TAG)))
    print(f"wrote {TARGET.relative_to(TEMPLATE)}")


if __name__ == "__main__":
    lock(upgrade="--upgrade" in sys.argv[1:])
