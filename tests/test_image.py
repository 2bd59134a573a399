"""Slow tier: the baked project's image, built and run with podman on a Debian base made here.

No container registry is reachable from the CI machine, so the base is debootstrapped and
imported; the Dockerfile builds on it (BASE_IMAGE), and the container
serves the deployed model read-only and as non-root, predicts, passes its HEALTHCHECK and
exits 0 on SIGTERM.
"""

import json
import os
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import bake, free_port, run

pytestmark = pytest.mark.slow  # make test keeps a module on one worker (--dist loadscope)
TOKEN = "image-test-admin-token-0123456789"
SUITE = "bookworm"  # Debian 12: its python3 is 3.11, the template's default python_version
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = "python3,python3-venv"  # what the Dockerfile asks of a base
BASE = f"localhost/debian-{SUITE}-python3:test"
IMAGE = "localhost/model-server:test"
CONTAINER = "model-server"
MEMORY = Path("/dev/shm")

Podman = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    """Podman with a configuration and storage of its own: the test neither needs nor
    changes the machine's (/etc/containers, /var/lib/containers)."""
    missing = [tool for tool in ("podman", "debootstrap") if not shutil.which(tool)]
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} not installed: the image test builds a Debian base with "
            "debootstrap and runs it with podman (`apt-get install podman debootstrap runc`, "
            "as .ci/run does)"
        )
    if os.geteuid() != 0:
        pytest.skip("the image test needs root: debootstrap makes the base as root")
    folder = storage_folder(tmp_path_factory)
    settings = [
        "[containers]",
        # Podman asks the runtime for more open files and processes (up to 1,048,576) than
        # the hard limits allow, and raising those needs CAP_SYS_RESOURCE, which the CI VM's
        # bounding set lacks: setrlimit fails. With no rlimits in the OCI spec the container
        # keeps the limits podman runs with.
        "default_ulimits = []",
    ]
    if shutil.which("runc"):
        # crun (Debian's default) refuses a hybrid cgroup host whose cgroup2 hierarchy has
        # any controller, as the CI VM's has ("cgroups in hybrid mode not supported"); runc
        # runs there.
        settings += ["[engine]", 'runtime = "runc"']
    (folder / "containers.conf").write_text("\n".join(settings) + "\n")
    (folder / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\n'
        f'graphroot = "{folder / "root"}"\nrunroot = "{folder / "run"}"\n'
    )
    env = os.environ | {
        "CONTAINERS_CONF": str(folder / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(folder / "storage.conf"),
    }

    def podman(*args: str, check: bool = True, timeout: int = 900, **kwargs):
        result = subprocess.run(
            ["podman", *args], env=env, text=True, capture_output=True, timeout=timeout, **kwargs
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"`podman {' '.join(args)}` exited {result.returncode}\n"
                f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
            )
        return result

    podman.env = env  # for `make image`, which runs podman itself
    try:
        yield podman
    finally:
        # Removing the containers unmounts their layers (deleting the folder then frees the
        # images faster than `podman rmi`).
        podman("rm", "--force", "--all", "--time", "0", check=False)
        remove_storage(folder)


def storage_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where podman keeps its layers: in memory when there is room, as deleting the test's
    gigabytes of layers from the CI VM's disk took 20-120 s (2 s from tmpfs) and writing
    them slowed the disk for every other test."""
    if not (MEMORY.is_dir() and shutil.disk_usage(MEMORY).free > 8 * 2**30):
        return tmp_path_factory.mktemp("podman")
    for stale in MEMORY.glob("test-image-*"):  # of runs killed before their teardown
        if not Path("/proc", stale.name.removeprefix("test-image-")).exists():
            remove_storage(stale)
    folder = MEMORY / f"test-image-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    return folder


def remove_storage(folder: Path) -> None:
    """Delete podman's storage, unmounting what a build cut short left mounted."""
    for line in reversed(Path("/proc/self/mounts").read_text().splitlines()):
        if line.split()[1].startswith(f"{folder}/"):
            subprocess.run(["umount", "--lazy", line.split()[1]], check=False)
    shutil.rmtree(folder, ignore_errors=True)


def debian_rootfs(folder: Path) -> Path:
    """A minimal Debian with python3 and its venv module in folder, debootstrapped unless
    there (about 40 s)."""
    rootfs = folder / f"{SUITE}-{PACKAGES.replace(',', '-')}"
    if not rootfs.is_dir():
        partial = rootfs.with_name(rootfs.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        command = ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE]
        result = subprocess.run(
            [*command, str(partial), MIRROR], text=True, capture_output=True, timeout=900
        )
        if result.returncode != 0:
            pytest.fail(
                f"debootstrap from {MIRROR} exited {result.returncode} (set DEBIAN_MIRROR to "
                f"a reachable Debian mirror):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        partial.rename(rootfs)
    return rootfs


def import_base(podman: Podman, rootfs: Path) -> None:
    """The rootfs as the image BASE. It trusts the certificates this machine trusts (a
    TLS-inspecting proxy's, if any, as a company's own base would), so the build reaches
    PyPI as the host does; uv reads them from SSL_CERT_FILE."""
    bundle = os.environ.get("SSL_CERT_FILE") or ssl.get_default_verify_paths().cafile
    inside = "/etc/ssl/certs/ca-certificates.crt"
    if bundle and Path(bundle).is_file():
        shutil.copyfile(bundle, rootfs / inside.lstrip("/"))
    with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
        change = f"ENV SSL_CERT_FILE={inside}"
        podman("import", "--quiet", "--change", change, "-", BASE, stdin=tar.stdout)
    assert tar.returncode == 0, "tar could not read the cached rootfs"


def served_manifest(registry: Path) -> dict:
    """The manifest of the version the registry's production pointer names."""
    (pointer,) = registry.glob("*/CURRENT")
    version = pointer.read_text().splitlines()[0].strip()
    return json.loads((pointer.parent / "versions" / version / "manifest.json").read_text())


def call(port: int, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data, {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def wait_ready(port: int, podman: Podman, seconds: float = 90) -> dict:
    """/health/ready's answer once it is 200; fails at once if the container exits."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            status, body = call(port, "/health/ready")
            if status == 200:
                return body
        except OSError:
            pass  # not listening yet
        running = podman("inspect", "--format", "{{.State.Running}}", CONTAINER).stdout
        if running.strip() != "true" or time.monotonic() > deadline:
            logs = podman("logs", CONTAINER, check=False)
            pytest.fail(f"the container is not ready (running: {running.strip()}):\n"
                        f"{logs.stdout}{logs.stderr}")  # fmt: skip
        time.sleep(0.5)


def test_image_serves_the_deployed_model_read_only_and_stops_on_sigterm(
    podman: Podman, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # pytest's cache keeps the rootfs for later runs (`pytest --cache-clear` makes it again).
    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
    import_base(podman, debian_rootfs(cache.mkdir("image-base") if cache else tmp_path))
    root = bake(tmp_path)
    # The image holds no model, so it builds while the model trains (.dockerignore keeps
    # what training writes out of the build context).
    with ThreadPoolExecutor(1) as background:
        # make image builds in Docker's format (OCI's has no HEALTHCHECK); the base is local.
        built = background.submit(
            run, f"make image CONTAINER_TOOL=podman IMAGE={IMAGE} BASE_IMAGE={BASE}", root,
            env=podman.env,
        )  # fmt: skip
        run("make install && make repro && make deploy", root)
        built.result()
    port = free_port()
    podman(
        "run", "--detach", "--name", CONTAINER, "--read-only", "--tmpfs", "/tmp",
        "--volume", f"{root / 'registry'}:/registry:ro", "--env", f"SERVE_ADMIN_TOKEN={TOKEN}",
        "--publish", f"127.0.0.1:{port}:8000", IMAGE,
    )  # fmt: skip
    manifest = served_manifest(root / "registry")
    assert wait_ready(port, podman)["model_version"] == manifest["version"]

    status, answer = call(port, "/predict", {"records": manifest["smoke"]["rows"]})
    assert status == 200, answer
    assert answer["model_version"] == manifest["version"]
    assert len(answer["predictions"]) == len(manifest["smoke"]["rows"])
    assert podman("exec", CONTAINER, "id", "-u").stdout.strip() != "0"
    inside = set(podman("exec", CONTAINER, "ls", "-A", "/app").stdout.split())
    assert not inside & {"data", "models", "registry"}, f"the image holds {inside}"
    assert "/health/live" in podman("inspect", "--format", "{{json .Config.Healthcheck}}",
                                    CONTAINER).stdout  # fmt: skip
    podman("healthcheck", "run", CONTAINER)

    podman("stop", "--time", "30", CONTAINER)  # SIGTERM, then SIGKILL after 30 s
    state = podman("inspect", "--format", "{{.State.ExitCode}}", CONTAINER).stdout.strip()
    logs = podman("logs", CONTAINER)
    assert state == "0", f"exit code {state} after SIGTERM:\n{logs.stdout}{logs.stderr}"
