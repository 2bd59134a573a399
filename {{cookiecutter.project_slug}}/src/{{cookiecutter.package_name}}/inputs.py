"""`make inputs`: fetch the DVC-tracked inputs (the files `dvc add`ed) that are missing here.

A clean clone, as CI has, holds only the .dvc files of such inputs. This pulls just those
from the default DVC remote before the pipeline runs. Without tracked inputs it does
nothing and needs no remote; when the remote cannot give them it fails naming the remote
and the files, so CI never passes without the project's data.
"""

import subprocess
import sys
from itertools import chain
from pathlib import Path

import yaml

from .errors import PipelineError


def dvc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True)


def tracked_inputs() -> dict[Path, list[Path]]:
    """Each .dvc file git knows (committed or not ignored), with the paths it tracks."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "*.dvc"],
        capture_output=True,
        text=True,
    )
    if listed.returncode != 0:
        raise PipelineError(f"cannot list the .dvc files with git: {listed.stderr.strip()}")
    tracked = {}
    for name in filter(None, listed.stdout.split("\0")):
        dvc_file = Path(name)
        try:
            outs = yaml.safe_load(dvc_file.read_text())["outs"]
            tracked[dvc_file] = [dvc_file.parent / out["path"] for out in outs]
        except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
            raise PipelineError(
                f"{dvc_file} is not a readable .dvc file ({error!r}) - restore it with git, "
                "or `dvc add` its data again"
            ) from error
    return tracked


def remote() -> str:
    """The default remote as `'name' (url)`, for messages."""
    name = dvc("remote", "default").stdout.strip()
    if not name:
        return "(none is configured: `dvc remote add -d storage <url>`)"
    for line in dvc("remote", "list").stdout.splitlines():  # name, url, maybe (default)
        words = line.split()
        if len(words) >= 2 and words[0] == name:
            return f"{name!r} ({words[1]})"
    return repr(name)


def reason(pulled: subprocess.CompletedProcess) -> str:
    """Why `dvc pull` did not bring the files, in DVC's words where it has some."""
    if "do not exist neither locally nor on remote" in pulled.stderr:
        return "the remote does not hold them"
    errors = [line for line in pulled.stderr.splitlines() if line.startswith("ERROR:")]
    if errors:
        return errors[0].removeprefix("ERROR:").strip()
    return f"`dvc pull` exited {pulled.returncode}"


def fetch() -> str:
    """Pull the tracked inputs that are missing; return what happened or raise naming them."""
    tracked = tracked_inputs()
    missing = {
        dvc_file: [p for p in paths if not p.exists()] for dvc_file, paths in tracked.items()
    }
    missing = {dvc_file: paths for dvc_file, paths in missing.items() if paths}
    if not missing:
        return f"{len(tracked)} DVC-tracked input(s) here: nothing to fetch"
    pulled = dvc("pull", *map(str, missing))
    still = [path for paths in missing.values() for path in paths if not path.exists()]
    if pulled.returncode != 0 or still:
        files = ", ".join(str(path) for path in still or chain(*missing.values()))
        raise PipelineError(
            f"cannot get {files} from the DVC remote {remote()}: {reason(pulled)} - run `make "
            "push` where the data is, and give CI the remote's credentials (README: CI/CD); a "
            "pull request from a fork gets no secrets, so run it from a branch of this repository"
        )
    return f"fetched {sum(len(paths) for paths in missing.values())} DVC-tracked input(s)"


def main(argv: list[str]) -> None:
    print(fetch())
