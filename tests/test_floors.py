"""Slow tier: the generated project works with its dependencies at their declared floors.

uv's lowest-direct resolution installs every direct dependency at the lowest version its
pyproject allows (and what those pull in as new as they allow), every extra included: the
unit tests must pass, dvc must load the pipeline and Dask must run the engine's calls. A
floor below the first release that works fails here, as pandera>=0.22 did (no
pandera.pandas) and dvc>=3.59 did (it breaks with pathspec 1).
"""

import os
import re
import shutil

import pytest

from .conftest import TEMPLATE, bake, run

pytestmark = pytest.mark.slow
# The uv the Makefiles use; `make test` exports it as UV.
UV = os.environ.get("UV") or shutil.which("uv") or str(TEMPLATE / ".tools/bin/uv")
CHECKED = ("dvc", "pandas", "pandera", "dask")  # the resolution really took these floors
# The Dask engine's calls (pipeline/dask_tables.py) on the dask extra's floor beside pandas's:
# a cluster, partitions mapped with a shared (delayed) argument, as the engine ships a model
# (dask before 2025.5 fails here), parts written by tasks, joblib's work on the workers.
DASK_SMOKE = """
import dask, dask.dataframe as dd, pandas as pd, sys
from distributed import Client, LocalCluster
from joblib import parallel_config
from sklearn.ensemble import RandomForestClassifier

def scaled(part, factors, partition_info=None):
    return part.assign(z=part.x * factors["k"])

def write(part, number):
    part.to_parquet(f"{sys.argv[1]}/part-{number}.parquet")
    return len(part)

with LocalCluster(n_workers=1, processes=False) as cluster, Client(cluster) as client:
    frame = pd.DataFrame({"x": range(100), "y": [0, 1] * 50})
    factors = dask.delayed({"k": 2}, pure=True, traverse=False)
    meta = scaled(frame.iloc[:0], {"k": 2})
    table = dd.from_pandas(frame, npartitions=4).map_partitions(scaled, factors, meta=meta)
    tasks = [dask.delayed(write)(part, n) for n, part in enumerate(table.to_delayed())]
    assert sum(client.gather(client.compute(tasks))) == 100
    assert dd.read_parquet(sys.argv[1]).z.sum().compute() == 2 * frame.x.sum()
    with parallel_config(backend="dask"):
        RandomForestClassifier(n_estimators=4, n_jobs=2).fit(frame[["x"]], frame.y)
"""


def release(version: str) -> tuple[int, ...]:
    """'0.28' and '0.28.0' alike: a plain release version without its trailing zeros."""
    parts = [int(part) for part in version.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def test_project_works_at_its_dependency_floors(tmp_path) -> None:
    project = bake(tmp_path)
    pyproject = (project / "pyproject.toml").read_text()
    # Not --locked: the lowest-direct resolution replaces this bake's uv.lock. Every extra,
    # so each one's floors must resolve with the others' and install.
    run(f"{UV} sync --resolution lowest-direct --all-extras", project)
    for name in CHECKED:
        floor = re.search(rf'"{name}(?:\[[^\]]*\])?>=([\d.]+)"', pyproject).group(1)
        shown = run(f"{UV} pip show --python .venv/bin/python {name}", project).stdout
        installed = re.search(r"^Version: (\S+)$", shown, re.MULTILINE).group(1)
        assert release(installed) == release(floor), f"{name} {installed} is not its floor {floor}"
    run(".venv/bin/dvc dag", project)  # dvc reads dvc.yaml and its ignore rules
    (tmp_path / "smoke.py").write_text(DASK_SMOKE)
    (tmp_path / "parts").mkdir()
    run(f".venv/bin/python {tmp_path / 'smoke.py'} {tmp_path / 'parts'}", project)
    run(".venv/bin/pytest -q -x", project)
