"""Refresh the generated project's uv.lock: bake the default project, lock it, template it back.

Run through `make lock` (add UPGRADE=1 to move every dependency to its newest version).
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
TARGET = TEMPLATE / "{{cookiecutter.project_slug}}" / "uv.lock"


def main(upgrade: bool) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=scratch))
        if TARGET.exists():
            (project / "uv.lock").write_text(render_default(TARGET.read_text(), project.name))
        subprocess.run(["uv", "lock", *(["--upgrade"] if upgrade else [])], cwd=project, check=True)
        text = (project / "uv.lock").read_text()
    if re.search(r"\{[{%#]", text):
        sys.exit("uv.lock holds text Jinja would read as a tag; it cannot be templated as is")
    project_entry = f'name = "{project.name}"\nversion = "0.1.0"\nsource = {{ editable = "." }}'
    if text.count(project_entry) != 1:
        sys.exit(f"the project's own entry was not found once in uv.lock: {project_entry!r}")
    TARGET.write_text(text.replace(project_entry, project_entry.replace(
        project.name, "{{ cookiecutter.project_slug }}")))  # fmt: skip
    print(f"wrote {TARGET.relative_to(TEMPLATE)}")


def render_default(lock: str, name: str) -> str:
    return lock.replace("{{ cookiecutter.project_slug }}", name)


if __name__ == "__main__":
    main(upgrade="--upgrade" in sys.argv[1:])
