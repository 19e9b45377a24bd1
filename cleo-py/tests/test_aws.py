"""aws-sm:// and aws-ssm:// from Python, against the real moto scripts/test starts
(AWS_ENDPOINT_URL and test keys come from scripts/test)."""

import json
import os

import boto3
import pytest

import cleo
from conftest import _require, unique


@pytest.fixture(scope="module")
def aws():
    endpoint = _require("CLEO_TEST_AWS_ENDPOINT")
    kw = dict(endpoint_url=endpoint, region_name="us-east-1",
              aws_access_key_id="testing", aws_secret_access_key="testing")
    return boto3.client("secretsmanager", **kw), boto3.client("ssm", **kw)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    # HOME moves per test (conftest); the AWS settings must not depend on it.
    for var in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        _require(var)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_secrets_manager_fields_stages_and_rotation(aws):
    sm, _ = aws
    name = unique("py-sm")
    old, new = "canary-" + unique("old"), "canary-" + unique("new")
    sm.create_secret(Name=name, SecretString=json.dumps({"password": old}))
    client = cleo.Client()
    ref = f"aws-sm://{name}#password"
    s = client.get(ref)
    assert s.expose() == old
    assert old not in repr(s) and old not in str(s)

    sm.put_secret_value(SecretId=name, SecretString=json.dumps({"password": new}))
    assert client.get(ref).expose() == old, "served from the cache until it is due"
    client.invalidate(ref)
    assert client.get(ref).expose() == new
    assert client.get(f"aws-sm://{name}?stage=AWSPREVIOUS#password").expose() == old


def test_parameter_store_securestring(aws):
    _, ssm = aws
    name = "/cleo-py/" + unique("p")
    value = "canary-" + unique("ssm")
    ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    s = cleo.get(f"aws-ssm://{name}")
    assert s.expose() == value
    assert value not in repr(s)


def test_missing_aws_secret_is_not_found():
    with pytest.raises(cleo.NotFoundError, match="ResourceNotFoundException"):
        cleo.get("aws-sm://" + unique("absent"))
    with pytest.raises(cleo.NotFoundError, match="ParameterNotFound"):
        cleo.get("aws-ssm:///" + unique("absent"))


def test_boto3_uses_cleo_as_credential_process(tmp_path, monkeypatch):
    """An AWS profile with `credential_process = cleo aws credential-process`: boto3
    gets an assumed-role session with no code and no stored key."""
    cli = _require("CLEO_TEST_CLI")
    cfg = tmp_path / "cleo.toml"
    cfg.write_text(
        '[aws.roles.ci]\nrole_arn = "arn:aws:iam::123456789012:role/ci-upload"\n'
        'session_name = "boto3-via-cleo"\n'
    )
    aws_config = tmp_path / "aws-config"
    aws_config.write_text(
        f"[profile ci]\nregion = us-east-1\n"
        f"credential_process = {cli} --config {cfg} aws credential-process --role ci\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))
    session = boto3.Session(profile_name="ci")
    creds = session.get_credentials()
    assert creds.method == "custom-process"
    arn = session.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).get_caller_identity()["Arn"]
    assert arn.endswith(":assumed-role/ci-upload/boto3-via-cleo"), arn
