"""`make inputs` against a real DVC remote (a folder): it fetches, or names what is missing."""

import subprocess
from pathlib import Path

import pytest
from dvc.repo import Repo

from {{ cookiecutter.package_name }}.errors import PipelineError
from {{ cookiecutter.package_name }}.inputs import fetch

pytestmark = pytest.mark.machinery


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> Path:
    """A project whose data/external/rows.csv is dvc-added and pushed to a folder remote."""
    origin = tmp_path_factory.mktemp("inputs") / "origin"
    (origin / "data/external").mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=origin)
    repo = Repo.init(str(origin))
    with repo.config.edit() as config:
        config["core"]["remote"] = "storage"
        config["remote"]["storage"] = {"url": str(origin.parent / "storage")}
    (origin / "data/external/rows.csv").write_text("a,b\n1,2\n")
    repo.add(str(origin / "data/external/rows.csv"))
    repo.push()
    git("add", "--all", cwd=origin)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "data", cwd=origin)
    return origin


@pytest.fixture
def clone(origin: Path, tmp_path: Path, monkeypatch) -> Path:
    """A clone of it: the .dvc file without the data."""
    git("clone", "-q", str(origin), str(tmp_path / "clone"), cwd=tmp_path)
    monkeypatch.chdir(tmp_path / "clone")
    return tmp_path / "clone"


def test_missing_inputs_are_pulled_and_present_ones_left(clone: Path) -> None:
    assert fetch() == "fetched 1 DVC-tracked input(s)"
    assert (clone / "data/external/rows.csv").read_text() == "a,b\n1,2\n"
    assert fetch() == "1 DVC-tracked input(s) here: nothing to fetch"


def test_an_unreachable_remote_is_named_with_the_files(clone: Path) -> None:
    gone = str(clone.parent / "no-storage")
    with Repo(str(clone)).config.edit("local") as config:
        config["remote"]["storage"] = {"url": gone}
    with pytest.raises(PipelineError) as error:
        fetch()
    message = str(error.value)
    assert "cannot get data/external/rows.csv from the DVC remote 'storage'" in message
    assert gone in message
    assert not (clone / "data/external/rows.csv").exists()


def test_a_local_remote_this_clone_does_not_find_says_where_it_looked(clone: Path) -> None:
    """A relative folder starts at .dvc/: a clone at another depth looks elsewhere. The error
    names the folder it resolved to and how to point the clone at the real one."""
    # As the bake writes a local remote: relative, from .dvc/ (here, clone/.dvc/../..).
    (clone / ".dvc/config.local").write_text("['remote \"storage\"']\n    url = ../../elsewhere\n")
    with pytest.raises(PipelineError) as error:
        fetch()
    message = str(error.value)
    resolved = clone.parent / "elsewhere"
    assert f"the DVC remote 'storage': its folder {resolved} does not exist" in message
    assert "`dvc remote modify --local storage url <path>`" in message
    assert "CI" not in message and "fork" not in message, "no CI advice for a folder"


def test_a_local_remote_without_the_files_says_to_push_or_point_elsewhere(clone: Path) -> None:
    empty = clone.parent / "empty-storage"
    empty.mkdir()
    with Repo(str(clone)).config.edit("local") as config:
        config["remote"]["storage"] = {"url": str(empty)}
    with pytest.raises(PipelineError) as error:
        fetch()
    message = str(error.value)
    assert f"from the DVC remote 'storage' ({empty}): the remote does not hold them" in message
    assert "run `make push` where the data is" in message
    assert "dvc remote modify --local storage url" in message and "CI" not in message
