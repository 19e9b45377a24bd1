"""Fixtures for cleo's Python tests: the real OpenBao started by scripts/test."""

import json
import os
import socket
import threading
import urllib.request
import uuid

import pytest


def _require(name):
    value = os.environ.get(name)
    if not value:
        # A missing peer is a failure, not a skip: CI must not pass without OpenBao.
        pytest.fail(f"{name} is not set: run the tests with ./scripts/test (it starts OpenBao)")
    return value


class VaultAdmin:
    """Sets up secrets, mounts and tokens over OpenBao's HTTP API with the root token."""

    def __init__(self, addr, token):
        self.addr = addr
        self.token = token

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.addr}/v1/{path}", data=data, method=method, headers={"X-Vault-Token": self.token}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read()
        return json.loads(text) if text else None

    def put_kv2(self, path, data, mount="secret"):
        return self.call("POST", f"{mount}/data/{path}", {"data": data})["data"]["version"]

    def kv_mount(self, version):
        path = unique(f"kv{version}")
        self.call("POST", f"sys/mounts/{path}", {"type": "kv", "options": {"version": str(version)}})
        return path


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def admin():
    return VaultAdmin(_require("CLEO_TEST_VAULT_ADDR"), _require("CLEO_TEST_VAULT_TOKEN"))


@pytest.fixture(autouse=True)
def vault_env(admin, monkeypatch, tmp_path):
    """Every test sees the test server as VAULT_ADDR/VAULT_TOKEN and no stray config."""
    monkeypatch.setenv("VAULT_ADDR", admin.addr)
    monkeypatch.setenv("VAULT_TOKEN", admin.token)
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("BAO_ADDR", "BAO_TOKEN", "CLEO_CONFIG", "VAULT_NAMESPACE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def seeded(admin):
    """A KV v2 secret with a canary value; returns (reference, value)."""
    path = unique("py")
    value = "canary-" + uuid.uuid4().hex
    admin.put_kv2(path, {"api_token": value, "user": "bob"})
    return f"vault://secret/{path}#api_token", value


@pytest.fixture
def hanging_server():
    """A TCP server that accepts connections and never answers: the fault OpenBao cannot make."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join()
    for c in conns:
        c.close()
    srv.close()
