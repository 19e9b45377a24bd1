"""Run by scripts/test inside a fresh virtual environment where only
`pip install ./cleo-py` happened: the wheel installs as users are told, under its own
distribution name, as one abi3 wheel, with the MLflow plugin's entry point."""

import importlib.metadata as md
import sys

import cleo

dist = md.distribution("cleo-secrets")
assert dist.metadata["Name"] == "cleo-secrets", dist.metadata["Name"]
wheel = dist.read_text("WHEEL") or ""
tags = [line.split(": ", 1)[1] for line in wheel.splitlines() if line.startswith("Tag: ")]
assert tags and all("-abi3-" in t for t in tags), f"not an abi3 wheel: {tags}"
eps = md.entry_points(group="mlflow.request_auth_provider")
assert [e.value for e in eps if e.name == "cleo"] == ["cleo.mlflow:CleoRequestAuthProvider"], list(eps)
# The module answers without any server: an env:// read and a typed error.
import os

os.environ["CLEO_WHEEL_CHECK"] = "canary-wheel-value"
secret = cleo.Client().get("env://CLEO_WHEEL_CHECK")
assert "canary" not in repr(secret) and secret.expose() == "canary-wheel-value"
try:
    cleo.get("nosuch://x")
except cleo.CleoError as e:
    assert "nosuch" in str(e)
else:
    raise AssertionError("an unknown scheme did not raise")
print(f"wheel ok: cleo-secrets {dist.version}, tags {tags}, python {sys.version.split()[0]}")
