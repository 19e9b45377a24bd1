"""Throughput of ``cleo exec``'s output masking, next to what a CI step would do
without it, in one run on the same 32 MB of log-like text:

- ``cat`` alone (the floor: no masking, no extra process);
- ``cleo exec --no-mask -- cat`` (cleo starts the command, output not touched);
- ``cleo exec -- cat`` with three secrets (a token, a password, a 4-line PEM key),
  streamed through cleo's masker;
- ``cat | sed 's/<token>/***/g; ...'``: the shell way to mask the same values.

Each line of the text is ordinary log output; one line in 1,000 contains a secret.
Run with ./scripts/bench (CLEO_BIN_DIR names the release binary's folder).
"""

import os
import subprocess

import pytest

TOKEN = "tok-3f9a1c2b7d4e5f60718293a4b5c6d7e8"
PASSWORD = "pw-Zq8!rT2#vLm9"
PEM = "\n".join(
    ["-----BEGIN TEST KEY-----", "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu",
     "KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQJAIJLixBy2qpFoS4DSmoEm", "-----END TEST KEY-----"]
)
SIZE = 32 * 1024 * 1024


@pytest.fixture(scope="module")
def log_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("exec") / "build.log"
    line = "2026-12-04T07:00:00Z INFO step=compile crate=cleo-core elapsed_ms=1234 status=ok\n"
    secrets = [f"token={TOKEN}\n", f"password: {PASSWORD}\n", PEM + "\n"]
    with open(path, "w") as f:
        written, n = 0, 0
        while written < SIZE:
            text = secrets[(n // 1000) % 3] if n % 1000 == 999 else line
            f.write(text)
            written += len(text)
            n += 1
    return path


def _env():
    env = dict(os.environ)
    env.update({"CLEO_BENCH_TOKEN": TOKEN, "CLEO_BENCH_PASSWORD": PASSWORD, "CLEO_BENCH_PEM": PEM})
    return env


def _cleo():
    return os.path.join(os.environ["CLEO_BIN_DIR"], "cleo")


def _exec_args(mask):
    args = [_cleo(), "exec"]
    if not mask:
        args.append("--no-mask")
    for name in ("TOKEN", "PASSWORD", "PEM"):
        args += ["-e", f"{name}=env://CLEO_BENCH_{name}"]
    return args + ["--"]


def _run(args, env, shell=False):
    subprocess.run(args, env=env, shell=shell, check=True, stdout=subprocess.DEVNULL)


def _report(benchmark):
    median = benchmark.stats.stats.median
    benchmark.extra_info["MB/s"] = round(SIZE / median / 1e6)


def test_masking_is_complete_and_exact(log_file):
    """The figures below are of a masker that works: check it on the same file."""
    out = subprocess.run(_exec_args(True) + ["cat", str(log_file)], env=_env(), check=True,
                         stdout=subprocess.PIPE).stdout
    text = log_file.read_bytes()
    for s in (TOKEN, PASSWORD, *PEM.splitlines()[1:3]):
        assert s.encode() not in out
    expected = text.replace(PEM.encode(), b"***").replace(TOKEN.encode(), b"***").replace(
        PASSWORD.encode(), b"***")
    assert out == expected


def test_exec_cat_floor(benchmark, log_file):
    benchmark.pedantic(_run, args=(["cat", str(log_file)], _env()), rounds=8)
    _report(benchmark)


def test_exec_cleo_no_mask(benchmark, log_file):
    benchmark.pedantic(_run, args=(_exec_args(False) + ["cat", str(log_file)], _env()), rounds=8)
    _report(benchmark)


def test_exec_cleo_masked(benchmark, log_file):
    benchmark.pedantic(_run, args=(_exec_args(True) + ["cat", str(log_file)], _env()), rounds=8)
    _report(benchmark)


def test_exec_sed_masked(benchmark, log_file):
    # What a shell script would do; sed works line by line, so it can only mask the
    # PEM's lines one at a time, and a value containing a sed metacharacter would
    # need escaping (these do not).
    script = f"cat {log_file} | sed -e 's/{TOKEN}/***/g' -e 's/{PASSWORD}/***/g'"
    for line in PEM.splitlines():
        script += f" -e 's|{line}|***|g'"
    benchmark.pedantic(_run, args=(script, _env(), True), rounds=8)
    _report(benchmark)
