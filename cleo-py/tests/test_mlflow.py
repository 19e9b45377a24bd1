"""The MLflow auth plugin against a real MLflow server with basic auth (started by
scripts/test) and the real OpenBao: discovery through MLflow's entry point, the
401-then-refetch retry, the override warning, and the 30 s rotation job."""

import base64
import json
import logging
import os
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import requests

import cleo
import cleo.mlflow as plugin
from conftest import _require, unique

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mlflow_uri():
    return _require("CLEO_TEST_MLFLOW_URI")


def _admin(method, uri, path, body):
    pair = "admin:" + _require("CLEO_MLFLOW_ADMIN_PASSWORD")
    req = urllib.request.Request(
        f"{uri}{path}", data=json.dumps(body).encode(), method=method,
        headers={"Content-Type": "application/json",
                 "Authorization": "Basic " + base64.b64encode(pair.encode()).decode()},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


@pytest.fixture
def mlflow_user(admin, mlflow_uri, tmp_path):
    """An MLflow user whose password lives in OpenBao; returns (user, kv path, set_password)."""
    user = unique("py-user")
    path = "mlflow-" + user

    def set_password(password, vault=True, server=True):
        if vault:
            admin.put_kv2(path, {"username": user, "password": password})
        if server:
            _admin("PATCH", mlflow_uri, "/api/2.0/mlflow/users/update-password",
                   {"username": user, "password": password})

    first = "pw-" + secrets.token_urlsafe(16)
    _admin("POST", mlflow_uri, "/api/2.0/mlflow/users/create", {"username": user, "password": first})
    admin.put_kv2(path, {"username": user, "password": first})
    return user, path, set_password


@pytest.fixture(autouse=True)
def fresh_plugin():
    plugin._auth = None
    yield
    plugin._auth = None


def _probe(uri, auth):
    # Any authenticated user may search experiments (default permission READ); no
    # credentials, or wrong ones, get 401.
    return requests.get(f"{uri}/api/2.0/mlflow/experiments/search", params={"max_results": 1},
                        auth=auth, timeout=10)


def test_mlflow_finds_the_plugin_by_its_entry_point(monkeypatch, mlflow_user):
    from mlflow.tracking.request_auth.registry import fetch_auth

    _, path, _ = mlflow_user
    monkeypatch.setenv("CLEO_MLFLOW_USERNAME", f"vault://secret/{path}#username")
    monkeypatch.setenv("CLEO_MLFLOW_PASSWORD", f"vault://secret/{path}#password")
    auth = fetch_auth("cleo")
    assert isinstance(auth, plugin.CleoAuth)
    assert fetch_auth("cleo") is auth, "one auth object per process"


def test_a_rotated_password_costs_one_401_not_a_failure(mlflow_uri, mlflow_user):
    user, path, set_password = mlflow_user
    auth = plugin.CleoAuth(cleo.Client(), username=f"vault://secret/{path}#username",
                           password=f"vault://secret/{path}#password")
    assert _probe(mlflow_uri, auth).status_code == 200
    new = "pw-" + secrets.token_urlsafe(16)
    set_password(new)  # OpenBao first, then MLflow: the cached old password is now refused
    r = _probe(mlflow_uri, auth)
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [401]
    assert new not in repr(auth)
    # The new value is cached: the next request goes through at once.
    r = _probe(mlflow_uri, auth)
    assert r.status_code == 200 and r.history == []


def test_a_password_that_stays_wrong_is_retried_once_only(mlflow_uri, mlflow_user):
    _, path, set_password = mlflow_user
    auth = plugin.CleoAuth(cleo.Client(), username=f"vault://secret/{path}#username",
                           password=f"vault://secret/{path}#password")
    set_password("pw-" + secrets.token_urlsafe(16), vault=False)  # MLflow only: the store is stale
    r = _probe(mlflow_uri, auth)
    assert r.status_code == 401
    assert len(r.history) == 1


def test_warns_when_mlflow_variables_would_be_overridden(monkeypatch, caplog, mlflow_user):
    _, path, _ = mlflow_user
    monkeypatch.setenv("CLEO_MLFLOW_TOKEN", f"vault://secret/{path}#password")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "canary-env-token")
    with caplog.at_level(logging.WARNING, logger="cleo.mlflow"):
        plugin.CleoRequestAuthProvider().get_auth()
    assert "MLFLOW_TRACKING_TOKEN is set (value redacted)" in caplog.text
    assert "canary-env-token" not in caplog.text


def test_no_credentials_named_is_a_clear_error(monkeypatch):
    for var in ("CLEO_MLFLOW_TOKEN", "CLEO_MLFLOW_USERNAME", "CLEO_MLFLOW_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValueError, match="CLEO_MLFLOW_TOKEN"):
        plugin.CleoRequestAuthProvider().get_auth()


def test_logical_names_from_cleo_toml_select_basic_auth(tmp_path, mlflow_uri, mlflow_user):
    _, path, _ = mlflow_user
    (tmp_path / "cleo.toml").write_text(
        "[secrets]\n"
        f'"mlflow/username" = "vault://secret/{path}#username"\n'
        f'"mlflow/password" = "vault://secret/{path}#password"\n'
    )
    auth = plugin.CleoRequestAuthProvider().get_auth()
    assert auth.references == ["mlflow/username", "mlflow/password"]
    assert _probe(mlflow_uri, auth).status_code == 200


def test_the_rotation_job_sees_zero_failed_calls(mlflow_uri, admin):
    env = dict(os.environ, MLFLOW_TRACKING_URI=mlflow_uri, DURATION="30")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "mlflow_rotation.py")],
                         env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert " 0 failed calls" in out.stdout, out.stdout
    rotations = int(out.stdout.split(" password rotations")[0].split(", ")[-1])
    assert rotations >= 5, out.stdout
