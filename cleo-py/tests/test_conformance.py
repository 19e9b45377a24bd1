"""The conformance suite (cleo-testkit/src/conformance.rs), mirrored from Python.

Each source gets the same checks: exact bytes round-trip (empty, escapes, large,
binary where the store allows), a missing secret is NotFoundError, fields and
versions where supported, concurrent cold reads share one fetch, and no canary
value reaches a repr, str, f-string or exception.
"""

import json
import os
import threading
import uuid

import pytest

import cleo
from conftest import unique


class EnvFixture:
    binary = True

    def __init__(self, monkeypatch, tmp_path, admin):
        self.monkeypatch = monkeypatch

    def put(self, value: bytes) -> str:
        name = "CLEO_PY_CONF_" + uuid.uuid4().hex.upper()
        # environb takes bytes (for the binary case) and shares os.environ's data;
        # monkeypatch removes the variable after the test.
        self.monkeypatch.setitem(os.environb, name.encode(), value)
        return f"env://{name}"

    def missing(self):
        return "env://CLEO_PY_CONF_NEVER_SET"

    def put_fields(self, fields):
        return None

    def put_versions(self, first, second):
        return None


class FileFixture:
    binary = True

    def __init__(self, monkeypatch, tmp_path, admin):
        self.dir = tmp_path

    def _write(self, data: bytes):
        p = self.dir / unique("secret")
        p.write_bytes(data)
        os.chmod(p, 0o600)
        return p

    def put(self, value: bytes) -> str:
        return f"file://{self._write(value)}"

    def missing(self):
        return f"file://{self.dir}/absent"

    def put_fields(self, fields):
        return f"file://{self._write(json.dumps(dict(fields)).encode())}"

    def put_versions(self, first, second):
        return None


class VaultFixture:
    binary = False

    def __init__(self, monkeypatch, tmp_path, admin):
        self.admin = admin

    def put(self, value: bytes) -> str:
        path = unique("pyconf")
        self.admin.put_kv2(path, {"value": value.decode()})
        return f"vault://secret/{path}#value"

    def missing(self):
        return f"vault://secret/{unique('absent')}#value"

    def put_fields(self, fields):
        path = unique("pyfields")
        self.admin.put_kv2(path, dict(fields))
        return f"vault://secret/{path}"

    def put_versions(self, first, second):
        path = unique("pyversions")
        v1 = self.admin.put_kv2(path, {"value": first})
        self.admin.put_kv2(path, {"value": second})
        return f"vault://secret/{path}?version={v1}#value", f"vault://secret/{path}#value"


@pytest.fixture(params=[EnvFixture, FileFixture, VaultFixture], ids=["env", "file", "vault"])
def fixture(request, monkeypatch, tmp_path, admin):
    return request.param(monkeypatch, tmp_path, admin)


def _no_canary(canaries, *objects):
    for obj in objects:
        for text in (repr(obj), str(obj), f"{obj}"):
            for c in canaries:
                assert c not in text, f"canary leaked into {text[:80]!r}"


def test_conformance(fixture):
    client = cleo.Client()
    canaries = []

    values = [
        f"canary-plain-{uuid.uuid4().hex}".encode(),
        b"",
        f"canary-é😀\n\t\"\\ {uuid.uuid4().hex}".encode(),
        ("canary-long-" + "x" * 65536).encode(),
    ]
    if fixture.binary:
        values.append(b"\xff\xfe\x80\x01canary-bin-" + uuid.uuid4().hex.encode())
    for v in values:
        ref = fixture.put(v)
        s = client.get(ref)
        assert s.expose_bytes() == v
        assert s.reference == ref
        _no_canary([v.decode(errors="replace")] if v else [], s)
        if v:
            canaries.append(v.decode(errors="replace"))

    with pytest.raises(cleo.NotFoundError) as missing:
        client.get(fixture.missing())
    _no_canary(canaries, missing.value)

    password = f"canary-field-{uuid.uuid4().hex}"
    base = fixture.put_fields([("user", "bob"), ("password", password)])
    if base is not None:
        assert client.get(f"{base}#password").expose() == password
        with pytest.raises(cleo.NotFoundError, match="nope") as e:
            client.get(f"{base}#nope")
        _no_canary([password], e.value)

    first, second = f"canary-v1-{uuid.uuid4().hex}", f"canary-v2-{uuid.uuid4().hex}"
    versions = fixture.put_versions(first, second)
    if versions is not None:
        old, new = client.get(versions[0]), client.get(versions[1])
        assert (old.expose(), new.expose()) == (first, second)
        assert old.version != new.version

    # 32 threads reading one cold key share one fetch: every result is the same
    # fetched object (same fetch time), not 32 separate reads.
    value = f"canary-cold-{uuid.uuid4().hex}".encode()
    ref = fixture.put(value)
    fresh = cleo.Client()
    results = []
    barrier = threading.Barrier(32)

    def read():
        barrier.wait()
        results.append(fresh.get(ref))

    threads = [threading.Thread(target=read) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 32
    assert {r.expose_bytes() for r in results} == {value}
    assert len({r.fetched_at for r in results}) == 1
    _no_canary(canaries + [value.decode(errors="replace")], *results)
