"""Fast tier: the development container runs `make install` on creation and forwards the
ports the project's servers listen on, in a devcontainer.json the spec accepts.

The spec's published JSON schema is served only from GitHub (no package registry carries
it), so SCHEMA below states, from the spec's property reference (containers.dev,
"devcontainer.json reference"), the types of the properties an image-based config uses,
and closes the object: a misspelled property fails here instead of being ignored by the
editor.
"""

import json
import re
from pathlib import Path

import jsonschema
import pytest

PORT = {"type": "integer", "minimum": 0, "maximum": 65535}
COMMAND = {
    "oneOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
        {
            "type": "object",
            "additionalProperties": {
                "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
            },
        },
    ]
}
PORT_ATTRIBUTES = {
    "type": "object",
    "properties": {
        "label": {"type": "string"},
        "onAutoForward": {
            "enum": ["notify", "openBrowser", "openBrowserOnce", "openPreview", "silent", "ignore"]
        },
        "protocol": {"enum": ["http", "https"]},
        "requireLocalPort": {"type": "boolean"},
        "elevateIfNeeded": {"type": "boolean"},
    },
    "additionalProperties": False,
}
SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["image"],
    "properties": {
        "name": {"type": "string"},
        "image": {"type": "string", "minLength": 1},
        "features": {"type": "object"},
        "forwardPorts": {
            "type": "array",
            "items": {"oneOf": [PORT, {"type": "string", "pattern": r"^([a-z0-9_-]+):(\d{1,5})$"}]},
        },
        "portsAttributes": {
            "type": "object",
            "patternProperties": {r"^\d+(-\d+)?$": PORT_ATTRIBUTES},
            "additionalProperties": False,
        },
        "onCreateCommand": COMMAND,
        "updateContentCommand": COMMAND,
        "postCreateCommand": COMMAND,
        "postStartCommand": COMMAND,
        "containerEnv": {"type": "object", "additionalProperties": {"type": "string"}},
        "remoteEnv": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
        "remoteUser": {"type": "string"},
        "customizations": {"type": "object"},
    },
    "additionalProperties": False,
}


def config(project: Path) -> dict:
    return json.loads((project / ".devcontainer" / "devcontainer.json").read_text())


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {"serving": "none"},
        {"python_version": "3.13"},
        {"project_name": 'Quote " Me: {yes}', "project_slug": "quoted"},
    ],
    ids=["default", "no-server", "python-3.13", "hostile-name"],
)
def test_the_devcontainer_is_valid_and_installs_the_project(bakery, answers: dict) -> None:
    project = bakery(**answers)
    devcontainer = config(project)
    jsonschema.validate(devcontainer, SCHEMA)
    assert devcontainer["postCreateCommand"] == "make install"
    version = answers.get("python_version", "3.11")
    assert devcontainer["image"] == f"mcr.microsoft.com/devcontainers/python:1-{version}-bookworm"
    assert devcontainer["name"] == answers.get("project_name", "My ML Project")


@pytest.mark.parametrize("serving", ["fastapi", "none"])
def test_the_devcontainer_forwards_the_ports_the_servers_use(bakery, serving: str) -> None:
    project = bakery(serving=serving)
    forwarded = config(project)["forwardPorts"]
    makefile = (project / "Makefile").read_text()
    docs_port = int(re.search(r"^DOCS_PORT \?= (\d+)$", makefile, re.M)[1])
    ports = [docs_port]
    if serving == "fastapi":
        server_port = int(
            re.search(r"^PORT \?= (\d+)$", (project / "serve.mk").read_text(), re.M)[1]
        )
        ports.insert(0, server_port)
    assert forwarded == ports
    assert sorted(config(project)["portsAttributes"]) == sorted(map(str, ports))


def test_the_schema_refuses_what_the_spec_does(bakery) -> None:
    """The check can fail: a misspelled property, a port out of range, a bad command."""
    good = config(bakery())
    for broken in (
        {**good, "postCreateComand": "make install"},
        {**good, "forwardPorts": [70000]},
        {**good, "postCreateCommand": 3},
        {**good, "portsAttributes": {"8000": {"onAutoForward": "shout"}}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)
