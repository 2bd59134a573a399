"""Slow tier: data, models and the run cache travel through real DVC remotes and back.

Each remote is a real server on loopback, started here: a folder, S3 (moto's server), Azure
Blob (Azurite), Google Cloud Storage (gcp-storage-emulator) and SSH (Debian's sshd, on its
own port with throwaway host and client keys). For each: bake, repro, `make push`, commit,
fresh clone, `make pull`; then `dvc status` is clean, every output is byte-identical and
`dvc repro` reruns nothing. The S3, Azure and GCS tests also publish and promote a model to
a registry on the same server. The SSH test stops at the round trip: the registry replaces
a pointer by a rename in a folder or one PUT in an object store, and names no ssh:// (over
SFTP a pointer would be rewritten in place, so a server could read half of one).
"""

import filecmp
import getpass
import os
import sys
from pathlib import Path

import boto3  # comes with moto
import pandas as pd
import pytest
import yaml

from .conftest import TEMPLATE, bake, free_port, run, server, tool

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
SSHD = Path("/usr/sbin/sshd")  # Debian's openssh-server
AZURITE_KEY = (  # Azurite's documented development account key, not a secret
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
# Load the current version back from the registry with every check a server makes.
LOAD_CURRENT = """
import os, sys, yaml
from {package}.deploy.bundle import check_and_load
from {package}.deploy.registry import Registry
name = yaml.safe_load(open("params.yaml"))["deploy"]["model_name"]
registry = Registry(os.environ["MODEL_REGISTRY"], name)
version = registry.current()
manifest = registry.manifest(version)
files = {{file: registry.read(version, file) for file in manifest["sha256"]}}
print("loaded", check_and_load(manifest, files).version)
"""


def outputs(project: Path) -> list[Path]:
    """Every file the pipeline wrote, as dvc.lock lists them."""
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    paths = {out["path"] for stage in lock["stages"].values() for out in stage.get("outs", [])}
    files = []
    for path in sorted(paths):
        full = project / path
        files += sorted(p for p in full.rglob("*") if p.is_file()) if full.is_dir() else [full]
    return files


def round_trip(project: Path, configure: str, env: dict) -> Path:
    """Repro and push from the bake; clone, pull and check; return the clone."""
    run(f"make install && {configure} && make repro && make push", project, env=env)
    run("git add --all && git commit --quiet -m 'Run the pipeline'", project)
    clone = project.with_name(project.name + "-clone")
    run(f"git clone --quiet {project} {clone}", project.parent)
    run(f"make install && {configure} && make pull", clone, env=env)
    status = run(".venv/bin/dvc status", clone, env=env)
    assert "Data and pipelines are up to date." in status.stdout, status.stdout
    originals = outputs(project)
    assert len(originals) >= 8
    for original in originals:
        copy = clone / original.relative_to(project)
        assert filecmp.cmp(original, copy, shallow=False), f"{copy} differs after the pull"
    repro = run("make repro", clone, env=env)
    assert "Running stage" not in repro.stdout, repro.stdout
    assert run("git status --porcelain", clone).stdout == ""
    return clone


def deploy_and_load(clone: Path, registry: str, env: dict) -> None:
    """Publish and promote to the registry on the same storage; load it back, checked."""
    env = {**env, "MODEL_REGISTRY": registry}
    deployed = run("make deploy", clone, env=env)
    assert "deployed version 0001-" in deployed.stdout, deployed.stdout
    assert registry in deployed.stdout
    assert "* 0001-" in run("make models", clone, env=env).stdout
    answers = yaml.safe_load((clone / ".cruft.json").read_text())["context"]["cookiecutter"]
    package = answers["package_name"]
    script = LOAD_CURRENT.format(package=package)
    loaded = run(f".venv/bin/python -c '{script}'", clone, env=env)
    assert "loaded 0001-" in loaded.stdout


def test_local_remote_round_trip(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    project = bake(tmp_path, dvc_remote_url=str(storage))
    round_trip(project, "true", {})
    assert any(storage.rglob("*")), "nothing reached the local remote"


def test_s3_remote_round_trip_and_registry(tmp_path: Path) -> None:
    moto = tool(BIN / "moto_server", "moto[server], in the template's dev group")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    env = {key.upper(): value for key, value in keys.items()} | {"AWS_DEFAULT_REGION": "us-east-1"}
    with server([str(moto), "-H", "127.0.0.1", "-p", str(port)], port, tmp_path / "moto.log"):
        project = bake(tmp_path, dvc_remote="s3", dvc_remote_url="s3://dvc-store/project")
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys)
        s3.create_bucket(Bucket="dvc-store")
        # The endpoint goes into .dvc/config.local (git-ignored), as the README says.
        configure = f".venv/bin/dvc remote modify --local storage endpointurl {endpoint}"
        clone = round_trip(project, configure, env)
        assert "endpointurl" not in (project / ".dvc/config").read_text()
        assert ".dvc/config.local" not in run("git ls-files .dvc", project).stdout
        deploy_and_load(clone, "s3://dvc-store/registry", {**env, "AWS_ENDPOINT_URL": endpoint})
        read_in_place(clone, s3, {**env, "AWS_ENDPOINT_URL": endpoint})


def read_in_place(clone: Path, s3, env: dict) -> None:
    """A dataset in object storage read in place, as the generated README's Scale out says:
    data.source and an external dependency of ingest name the same folder; DVC records its
    objects' ETags, so a new object reruns ingest, and caches none of the data."""
    s3.create_bucket(Bucket="events")
    rows = pd.DataFrame({"size": [float(i % 17) for i in range(60)], "target": [0, 1] * 30})
    for number in range(2):
        part = rows.iloc[number * 30 : (number + 1) * 30].to_parquet(index=False)
        s3.put_object(Bucket="events", Key=f"in/part-{number}.parquet", Body=part)
    params = yaml.safe_load((clone / "params.yaml").read_text())
    params["data"]["source"] = "s3://events/in/"
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    pipeline = (clone / "dvc.yaml").read_text()
    external = "      - ${paths.external}\n"
    (clone / "dvc.yaml").write_text(
        pipeline.replace(external, external + "      - s3://events/in/\n", 1)
    )
    cache = sum(path.stat().st_size for path in (clone / ".dvc/cache").rglob("*") if path.is_file())
    ingested = run(".venv/bin/dvc repro ingest", clone, env=env)
    assert "ingested 60 rows" in ingested.stderr + ingested.stdout
    grown = sum(path.stat().st_size for path in (clone / ".dvc/cache").rglob("*") if path.is_file())
    snapshot = (clone / "data/raw/dataset.parquet").stat().st_size
    assert grown - cache < snapshot + 4096, (
        "the input's objects were cached, not only ingest's output"
    )
    assert "up to date" in run(".venv/bin/dvc status ingest", clone, env=env).stdout
    s3.put_object(
        Bucket="events", Key="in/part-2.parquet", Body=rows.head(5).to_parquet(index=False)
    )
    status = run(".venv/bin/dvc status ingest", clone, env=env).stdout
    assert "modified:           s3://events/in/" in status, status
    assert "ingested 65 rows" in run(".venv/bin/dvc repro ingest", clone, env=env).stderr


def cache_size(project: Path) -> int:
    files = (path for path in (project / ".dvc/cache").rglob("*") if path.is_file())
    return sum(path.stat().st_size for path in files)


def test_azure_remote_round_trip_and_registry(tmp_path: Path) -> None:
    azurite = tool(TEMPLATE / "tests/tools/node_modules/.bin/azurite-blob", "npm: Azurite")
    port = free_port()
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    command = [str(azurite), "--blobHost", "127.0.0.1", "--blobPort", str(port)]
    command += ["--location", str(tmp_path / "azurite"), "--skipApiVersionCheck", "--silent"]
    with server(command, port, tmp_path / "azurite.log"):
        project = bake(tmp_path, dvc_remote="azure", dvc_remote_url="azure://dvc-store/project")
        make_container = (
            '.venv/bin/python -c "import sys; from azure.storage.blob import BlobServiceClient;'
            " BlobServiceClient.from_connection_string(sys.argv[1]).create_container('dvc-store')\""
            f" '{connection}'"
        )
        configure = f".venv/bin/dvc remote modify --local storage connection_string '{connection}'"
        run(f"make install && {make_container}", project)
        clone = round_trip(project, configure, {})
        registry_env = {"AZURE_STORAGE_CONNECTION_STRING": connection}
        deploy_and_load(clone, "az://dvc-store/registry", registry_env)


def test_gs_remote_round_trip_and_registry(tmp_path: Path) -> None:
    emulator = tool(BIN / "gcp-storage-emulator", "in the template's dev group")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # gcsfs first asks Google's Storage Control API (gRPC) what kind of bucket it is; the
    # emulator serves only the JSON API, so each ask would wait out a 60 s timeout before
    # gcsfs falls back to the JSON API. Its plain filesystem skips the ask; GCS itself
    # answers it, so a real project needs nothing of the kind.
    env = {"GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}
    command = [str(emulator), "start", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--default-bucket", "dvc-store", "--in-memory"]
    with server(command, port, tmp_path / "gcs.log", cwd=tmp_path):
        project = bake(tmp_path, dvc_remote="gs", dvc_remote_url="gs://dvc-store/project")
        # The emulator's endpoint and anonymous access go into .dvc/config.local only.
        dvc = ".venv/bin/dvc remote modify --local storage"
        configure = f"{dvc} endpointurl {endpoint} && {dvc} allow_anonymous_login true"
        clone = round_trip(project, configure, env)
        assert "endpointurl" not in (project / ".dvc/config").read_text()
        # The registry reaches the emulator through gcsfs's STORAGE_EMULATOR_HOST.
        deploy_and_load(
            clone, "gs://dvc-store/registry", {**env, "STORAGE_EMULATOR_HOST": endpoint}
        )


def test_ssh_remote_round_trip(tmp_path: Path) -> None:
    sshd = tool(SSHD, "Debian's openssh-server", install="apt-get install openssh-server")
    if os.geteuid() == 0:  # sshd run by root wants its privilege separation folder
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    keys = tmp_path / "ssh"
    keys.mkdir()
    for name in ("host_key", "client_key"):
        run(f"ssh-keygen -q -t ed25519 -N '' -C '' -f {name}", keys)
    (keys / "authorized_keys").write_text((keys / "client_key.pub").read_text())
    port = free_port()
    (keys / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {keys / 'host_key'}\n"
        f"AuthorizedKeysFile {keys / 'authorized_keys'}\nPidFile {keys / 'sshd.pid'}\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        "Subsystem sftp internal-sftp\n"
    )
    command = [str(sshd), "-D", "-e", "-f", str(keys / "sshd_config")]
    storage = tmp_path / "storage"
    with server(command, port, tmp_path / "sshd.log"):
        project = bake(tmp_path, dvc_remote="ssh", dvc_remote_url=f"ssh://127.0.0.1{storage}")
        # Port, user and key go into .dvc/config.local, as the README says for a key. No
        # known_hosts: dvc-ssh connects through sshfs, which turns asyncssh's host key
        # check off (known_hosts=None), so DVC reads none.
        dvc = ".venv/bin/dvc remote modify --local storage"
        configure = (
            f"{dvc} port {port} && {dvc} user {getpass.getuser()} && "
            f"{dvc} keyfile {keys / 'client_key'}"
        )
        round_trip(project, configure, {})
        assert "keyfile" not in (project / ".dvc/config").read_text()
        assert any(storage.rglob("*")), "nothing reached the SSH remote"
