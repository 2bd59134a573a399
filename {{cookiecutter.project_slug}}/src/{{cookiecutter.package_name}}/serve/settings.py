"""Runtime settings of the server, from environment variables (SERVE_*, MODEL_REGISTRY,
DEPLOY_ENV)."""

import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..deploy.registry import PRODUCTION, RegistryError, checked_env
from ..params import load_params

PLACEHOLDER_TOKENS = {"", "changeme", "change-me", "secret", "token", "admin"}
MIN_TOKEN_LENGTH = 24  # beyond loopback; `openssl rand -hex 32` gives 64


def model_name_in_params() -> str:
    """deploy.model_name from params.yaml when the server runs in the project folder (a
    container without it sets SERVE_MODEL_NAME)."""
    if not Path("params.yaml").exists():
        return ""
    return load_params().deploy.model_name


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SERVE_", extra="ignore", protected_namespaces=())

    registry: str = Field(
        "registry", validation_alias="MODEL_REGISTRY", description="folder or fsspec URL"
    )
    deploy_env: str = Field(
        PRODUCTION, validation_alias="DEPLOY_ENV", description="the environment to serve"
    )
    model_name: str = Field(
        default_factory=model_name_in_params,
        description="the model (deploy.model_name in params.yaml)",
    )
    host: str = Field("127.0.0.1", description="beyond loopback only with an admin token")
    port: int = Field(8000, ge=0, le=65535, description="the port to listen on")
    admin_token: str = Field("", description="bearer token of /admin/...; empty: off")
    feedback_token: str = Field(
        "", description="bearer token of POST /feedback (or the admin token); empty: loopback"
    )
    poll_interval: float = Field(1.0, gt=0, le=60, description="seconds between CURRENT checks")
    max_request_rows: int = Field(10_000, ge=1, description="rows one request may send")
    max_body_mb: float = Field(10, gt=0, description="larger request bodies get 413")
    batch_wait_ms: float = Field(2.0, ge=0, description="how long a batch waits for company")
    batch_max_rows: int = Field(2048, ge=1, description="rows one predict call takes")
    prediction_log: str = Field("", description="folder for prediction logs; empty: off")
    prediction_log_max_mb: float = Field(100, gt=0, description="bound on the logs' total size")
    docs: bool | None = Field(None, description="/docs, /redoc, /openapi.json; unset: loopback")
    card: bool | None = Field(
        None, description="GET /model/card for anyone; unset: on loopback (else the admin token)"
    )
    read_timeout: float = Field(30, gt=0, description="seconds for a request head, and a body")
    max_in_flight: int = Field(
        1000,
        ge=1,
        # SERVE_MAX_CONNECTIONS, its name while uvicorn counted connections, still works.
        validation_alias=AliasChoices("SERVE_MAX_IN_FLIGHT", "SERVE_MAX_CONNECTIONS"),
        description="requests in flight per worker, beyond which 503 (not health)",
    )
    workers: int = Field(1, ge=1, description="processes on one port, each with its own model")
    drain_timeout: float = Field(20, gt=0, description="seconds a stop waits for requests")
    metrics: bool = Field(True, description="GET /metrics and the counting it needs; false: off")
    # make predict and make monitor read these two as well (deploy/graph.py).
    runtime: Literal["auto", "onnx", "skops"] = Field(
        "auto", description="auto: a version's ONNX graph if it has one; onnx: only; skops: never"
    )
    onnx_threads: int = Field(1, ge=1, description="ONNX Runtime's threads per worker")
    shadow: str = Field("", description="an environment whose version also sees requests")
    shadow_share: float = Field(1.0, gt=0, le=1, description="of requests the shadow sees")
    canary: str = Field("", description="<environment>:<percent> of requests it answers")

    @field_validator("deploy_env", mode="before")
    @classmethod
    def _environment_name(cls, value: object) -> str:
        """An empty DEPLOY_ENV means production; any other must be a valid name."""
        return checked_env(value or PRODUCTION, "DEPLOY_ENV")

    @field_validator("shadow", mode="before")
    @classmethod
    def _shadow_environment(cls, value: object) -> str:
        return checked_env(value, "SERVE_SHADOW") if value else ""

    @field_validator("canary", mode="before")
    @classmethod
    def _canary_setting(cls, value: object) -> str:
        canary_setting(str(value or ""))  # ValueError saying what is wrong
        return str(value or "")

    @property
    def canary_env_and_share(self) -> tuple[str, float] | None:
        """SERVE_CANARY's environment and its share of requests (0 to 1)."""
        setting = canary_setting(self.canary)
        return (setting[0], setting[1] / 100) if setting else None

    def check_other_environments(self) -> None:
        """A shadow or canary is another environment than the one served, and not each other."""
        canary = self.canary_env_and_share
        named = [self.deploy_env, self.shadow or None, canary[0] if canary else None]
        given = [env for env in named if env]
        if len(set(given)) < len(given):
            raise SystemExit(
                f"ERROR: DEPLOY_ENV={self.deploy_env}, SERVE_SHADOW={self.shadow or '(unset)'} "
                f"and SERVE_CANARY={self.canary or '(unset)'} must name different environments"
            )

    @property
    def docs_on(self) -> bool:
        return is_loopback(self.host) if self.docs is None else self.docs

    @property
    def card_public(self) -> bool:
        return is_loopback(self.host) if self.card is None else self.card

    def check_model_name(self) -> None:
        if not self.model_name:
            raise SystemExit(
                "ERROR: no model name - set SERVE_MODEL_NAME, or start the server in the project "
                "folder, where params.yaml names it (deploy.model_name)"
            )

    def check_exposure(self) -> None:
        """Refuse to listen beyond loopback without a real admin token."""
        token = self.admin_token.strip()
        if is_loopback(self.host):
            return
        if token.lower() in PLACEHOLDER_TOKENS or len(token) < MIN_TOKEN_LENGTH:
            raise SystemExit(
                f"ERROR: SERVE_ADMIN_TOKEN is empty, a placeholder or shorter than "
                f"{MIN_TOKEN_LENGTH} characters while binding {self.host} - set a long random "
                "token (e.g. `openssl rand -hex 32`) or bind 127.0.0.1"
            )

    def check_prediction_log(self) -> None:
        """Refuse to start when the prediction log's folder cannot be created or written."""
        if not self.prediction_log:
            return
        folder = Path(self.prediction_log)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not os.access(folder, os.W_OK | os.X_OK):
                raise PermissionError("not writable")
        except OSError as error:
            reason = error.strerror or str(error)
            raise SystemExit(
                f"ERROR: SERVE_PREDICTION_LOG={self.prediction_log}: cannot create or write "
                f"the folder ({reason}) - choose a writable folder, or unset it to log nothing"
            ) from None

    def check_workers(self) -> None:
        """One prediction log takes one writer process."""
        if self.workers > 1 and self.prediction_log:
            raise SystemExit(
                f"ERROR: SERVE_PREDICTION_LOG is set with SERVE_WORKERS={self.workers}: the "
                "prediction log takes one worker process - set SERVE_WORKERS=1 (run more "
                "servers or replicas for more throughput), or unset SERVE_PREDICTION_LOG"
            )


def variables() -> list[tuple[str, str]]:
    """Each setting's environment variable, with its default and what it does."""
    described = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            alias = alias.choices[0]
        default = field.default
        shown = "" if default in (None, "") or field.default_factory else f" ({default})"
        described.append((str(alias or f"SERVE_{name.upper()}"), f"{field.description}{shown}"))
    return described


def canary_setting(text: str) -> tuple[str, float] | None:
    """SERVE_CANARY's environment and percent; ValueError saying what is wrong."""
    if not text:
        return None
    env, colon, percent = text.rpartition(":")
    try:
        share = float(percent)
    except ValueError:
        share = float("nan")
    if not colon or not 0 < share <= 100:
        raise ValueError(
            f"SERVE_CANARY={text!r} must be <environment>:<percent>, percent above 0 and at "
            "most 100 (e.g. staging:10)"
        )
    try:
        return checked_env(env, "SERVE_CANARY"), share
    except RegistryError as error:
        raise ValueError(str(error)) from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
