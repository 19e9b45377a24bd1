"""cleo from Python against a real OpenBao: values, metadata, redaction, errors."""

import copy
import os
import pickle
import threading
import time

import pytest

import cleo
from conftest import unique


def test_get_returns_the_exact_value_and_metadata(seeded):
    ref, value = seeded
    s = cleo.Client().get(ref)
    assert s.expose() == value
    assert s.expose_bytes() == value.encode()
    assert (s.reference, s.backend, s.version, s.renewable) == (ref, "vault", "1", False)
    assert s.expires_at is None
    assert abs(s.fetched_at - time.time()) < 60


def test_module_level_get_uses_a_default_client(seeded):
    ref, value = seeded
    assert cleo.get(ref).expose() == value


def test_no_way_to_print_or_copy_the_value_by_accident(seeded):
    ref, value = seeded
    s = cleo.get(ref)
    shown = [repr(s), str(s), f"{s}", f"{s!r}", f"{s:>40}", "%s" % s, "{}".format(s), str([s]), str({"k": s})]
    for text in shown:
        assert value not in text
    assert "redacted" in repr(s) and ref in repr(s)
    for attempt in (lambda: pickle.dumps(s), lambda: copy.copy(s), lambda: copy.deepcopy(s)):
        with pytest.raises(TypeError, match="cannot be pickled"):
            attempt()
    with pytest.raises(TypeError):
        bytes(s)


def test_whole_map_and_unicode_values(admin):
    path = unique("map")
    admin.put_kv2(path, {"a": "é😀", "n": 3})
    whole = cleo.get(f"vault://secret/{path}")
    import json

    assert json.loads(whole.expose()) == {"a": "é😀", "n": 3}
    assert cleo.get(f"vault://secret/{path}#a").expose_bytes() == "é😀".encode()


def test_versions_and_kv1(admin):
    path = unique("ver")
    admin.put_kv2(path, {"k": "one"})
    admin.put_kv2(path, {"k": "two"})
    assert cleo.get(f"vault://secret/{path}?version=1#k").expose() == "one"
    assert cleo.get(f"vault://secret/{path}#k").version == "2"
    mount = admin.kv_mount(1)
    admin.call("POST", f"{mount}/app", {"k": "v1-value"})
    assert cleo.get(f"vault://{mount}/app#k").expose() == "v1-value"


def test_logical_names_from_a_config_file(seeded, tmp_path):
    ref, value = seeded
    cfg = tmp_path / "cleo.toml"
    cfg.write_text(f'[secrets]\n"mlflow/api_token" = "{ref}"\n')
    assert cleo.Client(config=str(cfg)).get("mlflow/api_token").expose() == value
    # ./cleo.toml is found without being named.
    assert cleo.Client().get("mlflow/api_token").expose() == value
    assert cleo.Client().config_path is not None


ERRORS = [
    ("bogus://a/b", cleo.InvalidReferenceError, "known schemes"),
    ("vault:/x", cleo.InvalidReferenceError, "://"),
    ("vault://secret/" + unique("absent") + "#k", cleo.NotFoundError, "no secret at"),
    ("env://CLEO_SURELY_UNSET", cleo.NotFoundError, "is not set"),
    ("not/configured", cleo.NotFoundError, "unknown logical name"),
    # scripts/test points AWS_ENDPOINT_URL at moto.
    ("aws-sm://" + unique("absent") + "#k", cleo.NotFoundError, "ResourceNotFoundException"),
]


@pytest.mark.parametrize("ref,exc,needle", ERRORS)
def test_errors_are_typed_under_one_base(ref, exc, needle):
    with pytest.raises(exc, match=needle) as info:
        cleo.get(ref)
    assert isinstance(info.value, cleo.CleoError)


def test_missing_field_names_the_fields_but_not_values(seeded):
    ref, value = seeded
    with pytest.raises(cleo.NotFoundError) as info:
        cleo.get(ref.replace("#api_token", "#nope"))
    assert "fields present: api_token, user" in str(info.value)
    assert value not in str(info.value) and value not in repr(info.value)


def test_wrong_token_is_unauthenticated(seeded, monkeypatch, admin):
    ref, value = seeded
    monkeypatch.setenv("VAULT_TOKEN", "canary-wrong-token")
    with pytest.raises(cleo.UnauthenticatedError) as info:
        cleo.Client().get(ref)
    for secret in ("canary-wrong-token", value, admin.token):
        assert secret not in str(info.value)


def test_token_file_with_trailing_newline(seeded, monkeypatch, tmp_path, admin):
    ref, value = seeded
    monkeypatch.delenv("VAULT_TOKEN")
    token_file = tmp_path / ".vault-token"
    token_file.write_text(admin.token + "\n")
    os.chmod(token_file, 0o644)
    with pytest.raises(cleo.ConfigError, match="chmod 600"):
        cleo.Client().get(ref)
    os.chmod(token_file, 0o600)
    assert cleo.Client().get(ref).expose() == value


def test_server_down_is_unavailable(seeded, monkeypatch):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    monkeypatch.setenv("VAULT_ADDR", f"http://127.0.0.1:{port}")
    with pytest.raises(cleo.UnavailableError, match="cannot connect"):
        cleo.Client().get(seeded[0])


def test_file_permissions_and_non_utf8(tmp_path):
    p = tmp_path / "secret.bin"
    p.write_bytes(b"\xff\xfecanary")
    os.chmod(p, 0o644)
    with pytest.raises(cleo.ConfigError, match="chmod 600"):
        cleo.get(f"file://{p}")
    os.chmod(p, 0o600)
    s = cleo.get(f"file://{p}")
    assert s.expose_bytes() == b"\xff\xfecanary"
    with pytest.raises(cleo.InvalidDataError, match="not UTF-8"):
        s.expose()


def test_the_gil_is_released_while_waiting(hanging_server, tmp_path):
    cfg = tmp_path / "slow.toml"
    cfg.write_text(f'[vault]\naddress = "{hanging_server}"\ntimeout = "2s"\n')
    client = cleo.Client(config=str(cfg))
    outcome = {}

    def slow():
        try:
            client.get("vault://secret/app#k")
        except cleo.CleoError as e:
            outcome["error"] = e

    t = threading.Thread(target=slow)
    started = time.monotonic()
    t.start()
    spins = 0
    while t.is_alive() and time.monotonic() - started < 10:
        spins += 1
    t.join()
    # Python code kept running in this thread while the other waited on the network.
    assert spins > 10_000
    assert isinstance(outcome.get("error"), cleo.UnavailableError)
    assert "did not answer within 2.0 s" in str(outcome["error"])


def test_exception_tree():
    for name in (
        "NotFoundError",
        "PermissionDeniedError",
        "UnauthenticatedError",
        "InvalidReferenceError",
        "ConfigError",
        "UnsupportedError",
        "UnavailableError",
        "InvalidDataError",
    ):
        assert issubclass(getattr(cleo, name), cleo.CleoError)
    assert issubclass(cleo.RateLimitedError, cleo.UnavailableError)
    assert issubclass(cleo.CleoError, Exception)


def test_cleo_log_sends_logs_to_stderr_without_values(seeded, admin):
    import subprocess
    import sys

    ref, value = seeded
    code = f"import cleo; print(len(cleo.get({ref!r}).expose()))"
    env = dict(os.environ, CLEO_LOG="trace")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(len(value))
    assert "fetching secret" in out.stderr and "vault request" in out.stderr
    for secret in (value, admin.token):
        assert secret not in out.stderr and secret not in out.stdout
