"""A cached secret read from Python, cleo next to the tools a Python job would use
instead, in one run against the same servers:

- cleo: ``client.get`` of a Vault secret already in cleo's cache;
- a plain ``dict`` lookup: the floor;
- hvac: ``read_secret_version`` of the same OpenBao secret (hvac has no cache, so
  every read is an HTTP request; this is what a job without cleo pays);
- aws-secretsmanager-caching: ``get_secret_string`` of a moto secret from its cache,
  next to cleo's cached ``aws-sm://`` read of the same secret, and boto3's uncached
  ``get_secret_value``;
- the ``bao`` and ``aws`` CLIs and ``cleo get``: one process per read, as a shell
  script pays.

Run with ./scripts/bench (it starts OpenBao and moto and exports their addresses).
"""

import os
import subprocess
import uuid

import boto3
import hvac
import pytest
from aws_secretsmanager_caching import SecretCache, SecretCacheConfig

import cleo

VALUE = "x" * 32


@pytest.fixture(scope="module")
def vault_path():
    addr, token = os.environ["CLEO_TEST_VAULT_ADDR"], os.environ["CLEO_TEST_VAULT_TOKEN"]
    os.environ["VAULT_ADDR"], os.environ["VAULT_TOKEN"] = addr, token
    path = "bench-" + uuid.uuid4().hex[:8]
    hvac.Client(url=addr, token=token).secrets.kv.v2.create_or_update_secret(
        path=path, secret={"api_token": VALUE}, mount_point="secret"
    )
    return path


def test_cleo_cached_get(benchmark, vault_path):
    client = cleo.Client()
    ref = f"vault://secret/{vault_path}#api_token"
    client.get(ref)
    s = benchmark(client.get, ref)
    assert s.expose() == VALUE


def test_dict_lookup(benchmark):
    d = {"vault://secret/app#api_token": VALUE}
    assert benchmark(d.get, "vault://secret/app#api_token") == VALUE


def test_hvac_read(benchmark, vault_path):
    c = hvac.Client(url=os.environ["VAULT_ADDR"], token=os.environ["VAULT_TOKEN"])

    def read():
        return c.secrets.kv.v2.read_secret_version(path=vault_path, mount_point="secret", raise_on_deleted_version=True)

    assert benchmark(read)["data"]["data"]["api_token"] == VALUE


@pytest.fixture(scope="module")
def moto_secret():
    """One Secrets Manager secret on moto, read by every AWS contender."""
    os.environ.update(
        AWS_ENDPOINT_URL=os.environ["CLEO_TEST_AWS_ENDPOINT"],
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    sm = boto3.client("secretsmanager")
    name = "bench-" + uuid.uuid4().hex[:8]
    sm.create_secret(Name=name, SecretString=VALUE)
    return sm, name


def test_aws_secretsmanager_caching_cached_read(benchmark, moto_secret):
    sm, name = moto_secret
    cache = SecretCache(config=SecretCacheConfig(), client=sm)
    cache.get_secret_string(name)
    assert benchmark(cache.get_secret_string, name) == VALUE


def test_cleo_cached_get_aws_sm(benchmark, moto_secret):
    _, name = moto_secret
    client = cleo.Client()
    ref = f"aws-sm://{name}"
    client.get(ref)
    s = benchmark(client.get, ref)
    assert s.expose() == VALUE


def test_boto3_get_secret_value(benchmark, moto_secret):
    sm, name = moto_secret
    assert benchmark(sm.get_secret_value, SecretId=name)["SecretString"] == VALUE


def _cli(args, env):
    out = subprocess.run(args, env=env, capture_output=True, check=True)
    return out.stdout


def test_bao_cli_kv_get(benchmark, vault_path):
    env = dict(os.environ)
    out = benchmark.pedantic(
        _cli, args=(["bao", "kv", "get", "-mount=secret", "-field=api_token", vault_path], env), rounds=20
    )
    assert out.strip() == VALUE.encode()


def test_cleo_cli_get_reveal(benchmark, vault_path):
    env = dict(os.environ)
    cleo_bin = os.path.join(os.environ["CLEO_BIN_DIR"], "cleo")
    out = benchmark.pedantic(
        _cli, args=([cleo_bin, "get", "--reveal", f"vault://secret/{vault_path}#api_token"], env), rounds=20
    )
    assert out == VALUE.encode()


def test_aws_cli_get_secret_value(benchmark, moto_secret):
    _, name = moto_secret
    env = dict(os.environ)
    out = benchmark.pedantic(
        _cli,
        args=(["aws", "secretsmanager", "get-secret-value", "--secret-id", name,
               "--query", "SecretString", "--output", "text"], env),
        rounds=20,
    )
    assert out.strip() == VALUE.encode()


def test_cleo_cli_get_reveal_aws_sm(benchmark, moto_secret):
    _, name = moto_secret
    env = dict(os.environ)
    cleo_bin = os.path.join(os.environ["CLEO_BIN_DIR"], "cleo")
    out = benchmark.pedantic(_cli, args=([cleo_bin, "get", "--reveal", f"aws-sm://{name}"], env), rounds=20)
    assert out == VALUE.encode()
