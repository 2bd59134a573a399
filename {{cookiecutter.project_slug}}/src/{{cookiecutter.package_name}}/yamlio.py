"""YAML read with libyaml's C parser where PyYAML has it (its wheels do): params.yaml and
dvc.yaml are read by every command, some many times a run, and the pure-Python parser
takes milliseconds a file."""

import yaml

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str):
    """The document, as yaml.safe_load gives it."""
    return yaml.load(text, Loader=SafeLoader)  # a safe loader: plain data, no objects
