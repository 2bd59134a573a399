"""Refresh the generated project's lockfiles: bake, lock and template back each variant.

The dependencies differ by the `serving` option and by the DVC plugin of `dvc_remote`, so
each pair has a lockfile in _locks/ (`<serving>.lock` without a plugin, else
`<serving>-<remote>.lock`) and the post-gen hook keeps the chosen one as uv.lock.

Run through `make lock` (add UPGRADE=1 to move every dependency to its newest version).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
LOCKS = TEMPLATE / "{{cookiecutter.project_slug}}" / "_locks"
OPTIONS = json.loads((TEMPLATE / "cookiecutter.json").read_text())


PLUGIN_REMOTES = ("s3", "azure", "gs", "ssh")


def lock(serving: str, remote: str, upgrade: bool) -> None:
    target = LOCKS / (f"{serving}-{remote}.lock" if remote in PLUGIN_REMOTES else f"{serving}.lock")
    if not target.exists():  # a new option value starts from its server's lock
        target.write_text((LOCKS / f"{serving}.lock").read_text())
    answers = {"serving": serving, "dvc_remote": remote}
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(
            cookiecutter(str(TEMPLATE), no_input=True, output_dir=scratch, extra_context=answers)
        )
        # Start from the current lock, so that without --upgrade versions stay where they are.
        if target.exists():
            (project / "uv.lock").write_text(render_default(target.read_text(), project.name))
        uv = os.environ.get("UV", "uv")  # the Makefile exports the uv it installed
        subprocess.run([uv, "lock", *(["--upgrade"] if upgrade else [])], cwd=project, check=True)
        text = (project / "uv.lock").read_text()
    if re.search(r"\{[{%#]", text):
        sys.exit("uv.lock holds text Jinja would read as a tag; it cannot be templated as is")
    project_entry = f'name = "{project.name}"\nversion = "0.1.0"\nsource = {{ editable = "." }}'
    if text.count(project_entry) != 1:
        sys.exit(f"the project's own entry was not found once in uv.lock: {project_entry!r}")
    templated = project_entry.replace(project.name, "{{ cookiecutter.project_slug }}")
    target.write_text(text.replace(project_entry, templated))
    print(f"wrote {target.relative_to(TEMPLATE)}")


def render_default(lock: str, name: str) -> str:
    return lock.replace("{{ cookiecutter.project_slug }}", name)


def main(upgrade: bool) -> None:
    remotes = ["local", *PLUGIN_REMOTES]  # 'local' and 'none' need no plugin: one lock
    for serving in OPTIONS["serving"]:
        for remote in remotes:
            lock(serving, remote, upgrade)


if __name__ == "__main__":
    main(upgrade="--upgrade" in sys.argv[1:])
