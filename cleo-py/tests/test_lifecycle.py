"""The Python-facing lifecycle: awaitable gets, environment blocks, closing."""

import asyncio
import os

import pytest

import cleo
from conftest import unique


def test_get_async_from_asyncio(seeded):
    ref, value = seeded

    async def main():
        client = cleo.Client()
        first = await client.get_async(ref)
        many = await asyncio.gather(*(client.get_async(ref) for _ in range(10)))
        with pytest.raises(cleo.NotFoundError):
            await client.get_async(f"vault://secret/{unique('absent')}#k")
        return first, many

    first, many = asyncio.run(main())
    assert first.expose() == value
    assert {s.expose() for s in many} == {value}


def test_get_async_does_not_block_the_event_loop(hanging_server, tmp_path):
    cfg = tmp_path / "slow.toml"
    cfg.write_text(f'[vault]\naddress = "{hanging_server}"\ntimeout = "1s"\n')
    client = cleo.Client(config=str(cfg))

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        t = asyncio.create_task(ticker())
        with pytest.raises(cleo.UnavailableError):
            await client.get_async("vault://secret/app#k")
        t.cancel()
        return ticks

    # The loop kept running while cleo waited on the hung server.
    assert asyncio.run(main()) > 20


def test_env_sets_and_restores(seeded, monkeypatch):
    ref, value = seeded
    monkeypatch.setenv("CLEO_PY_EXISTING", "before")
    monkeypatch.delenv("CLEO_PY_NEW", raising=False)
    client = cleo.Client()
    with client.env({"CLEO_PY_EXISTING": ref, "CLEO_PY_NEW": ref}):
        assert os.environ["CLEO_PY_EXISTING"] == value
        assert os.environ["CLEO_PY_NEW"] == value
    assert os.environ["CLEO_PY_EXISTING"] == "before"
    assert "CLEO_PY_NEW" not in os.environ


def test_env_with_a_missing_secret_changes_nothing(seeded, monkeypatch):
    ref, _ = seeded
    monkeypatch.delenv("CLEO_PY_A", raising=False)
    client = cleo.Client()
    with pytest.raises(cleo.NotFoundError):
        with client.env({"CLEO_PY_A": ref, "CLEO_PY_B": f"vault://secret/{unique('absent')}#k"}):
            pass
    assert "CLEO_PY_A" not in os.environ


def test_client_as_a_context_manager(seeded):
    ref, value = seeded
    with cleo.Client() as client:
        assert client.get(ref).expose() == value
        client.invalidate(ref)
    # Closed: the cache is empty, and the client still works.
    assert client.get(ref).expose() == value


def test_a_name_and_its_reference_share_one_entry(admin, tmp_path):
    path = unique("alias")
    admin.put_kv2(path, {"k": "one"})
    ref = f"vault://secret/{path}#k"
    cfg = tmp_path / "cleo.toml"
    cfg.write_text(f'[secrets]\n"app/k" = "{ref}"\n')
    client = cleo.Client(config=str(cfg))
    assert client.get("app/k").expose() == "one"
    admin.put_kv2(path, {"k": "two"})
    # Both spellings answer from the same cached entry...
    assert client.get(ref).expose() == "one"
    # ...and invalidating either drops it for both.
    client.invalidate(ref)
    assert client.get("app/k").expose() == "two"
    with pytest.raises(cleo.InvalidReferenceError):
        client.invalidate("bogus://x/y")
    with pytest.raises(cleo.NotFoundError):
        client.invalidate("not/configured")


def test_ctrl_c_interrupts_a_slow_call(hanging_server, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    cfg = tmp_path / "slow.toml"
    cfg.write_text(f'[vault]\naddress = "{hanging_server}"\ntimeout = "60s"\n')
    code = (
        "import cleo, signal, sys, time\n"
        # Python leaves SIGINT ignored when it starts with it ignored (a background
        # job of a non-interactive shell, as some CI runners start tests); a job at
        # a terminal has the default handler, which is what this test is about.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        f"c = cleo.Client(config={str(cfg)!r})\n"
        "print('ready', flush=True)\n"
        "t = time.monotonic()\n"
        "try:\n"
        "    c.get('vault://secret/app#k')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted after %.2f' % (time.monotonic() - t), flush=True)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=20)
    # The call was waiting on a server that never answers (60 s timeout); Ctrl-C ended it.
    assert "interrupted after" in out, out
    assert time.monotonic() - sent < 10
