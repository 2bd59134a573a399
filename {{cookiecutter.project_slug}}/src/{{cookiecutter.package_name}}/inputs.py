"""`make inputs`: fetch the DVC-tracked inputs (the files `dvc add`ed) that are missing here.

A clean clone, as CI has, holds only the .dvc files of such inputs. This pulls just those
from the default DVC remote before the pipeline runs. Without tracked inputs it does
nothing and needs no remote; when the remote cannot give them it fails naming the remote
and the files, so CI never passes without the project's data.
"""

import subprocess
from pathlib import Path

import yaml
from dvc.exceptions import CheckoutError
from dvc.repo import Repo

from .errors import PipelineError


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


def remote(repo: Repo) -> str:
    """The default remote as `'name' (url)`, for messages."""
    name = repo.config["core"].get("remote")
    if not name:
        return "(none is configured: `dvc remote add -d storage <url>`)"
    return f"{name!r} ({repo.config['remote'].get(name, {}).get('url', 'no url')})"


def local_remote(repo: Repo) -> tuple[str, Path] | None:
    """The default remote's name and folder when it is a path, not a URL. DVC resolves a
    relative path from the folder of the config file, .dvc/, so a clone at another depth
    looks for the storage somewhere else."""
    name = repo.config["core"].get("remote")
    url = str(repo.config["remote"].get(name, {}).get("url", "")) if name else ""
    return (name, Path(url)) if url and "://" not in url else None


def missing_error(repo: Repo, files: str, reason: str) -> PipelineError:
    """Why the remote did not give the files, and what to do: for a folder, point this clone
    at the one that holds the data; for storage elsewhere, push there and give CI access."""
    local = local_remote(repo)
    if local is None:
        return PipelineError(
            f"cannot get {files} from the DVC remote {remote(repo)}: {reason} - run `make push` "
            "where the data is, and give CI the remote's credentials (docs/ci.md); a pull "
            "request from a fork gets no secrets, so run it from a branch of this repository"
        )
    name, folder = local
    point = (
        "point this clone at the folder that holds them: "
        f"`dvc remote modify --local {name} url <path>`"
    )
    if not folder.is_dir():
        return PipelineError(
            f"cannot get {files} from the DVC remote {name!r}: its folder {folder} does not "
            f"exist (a relative url starts at this clone's .dvc/) - {point}"
        )
    return PipelineError(
        f"cannot get {files} from the DVC remote {name!r} ({folder}): {reason} - run "
        f"`make push` where the data is, or {point}"
    )


def fetch() -> str:
    """Pull the tracked inputs that are missing; return what happened or raise naming them."""
    tracked = tracked_inputs()
    missing = {
        dvc_file: [p for p in paths if not p.exists()] for dvc_file, paths in tracked.items()
    }
    missing = {dvc_file: paths for dvc_file, paths in missing.items() if paths}
    if not missing:
        return f"{len(tracked)} DVC-tracked input(s) here: nothing to fetch"
    repo = Repo()
    reason = "the remote does not hold them"
    try:
        repo.pull(targets=[str(dvc_file) for dvc_file in missing])
    except CheckoutError:
        pass  # DVC's way to say the files are neither in the cache nor on the remote
    except Exception as error:  # each remote's filesystem raises its own kinds
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
    still = [path for paths in missing.values() for path in paths if not path.exists()]
    if still:
        raise missing_error(repo, ", ".join(map(str, still)), reason)
    return f"fetched {sum(len(paths) for paths in missing.values())} DVC-tracked input(s)"


def main(argv: list[str]) -> None:
    print(fetch())
