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


def _role_config(tmp_path, session_name="py-aws-credentials"):
    cfg = tmp_path / "cleo.toml"
    cfg.write_text(
        '[aws]\nrole = "ci"\n'
        '[aws.roles.ci]\nrole_arn = "arn:aws:iam::123456789012:role/py-ci"\n'
        f'session_name = "{session_name}"\n'
    )
    return cfg


def test_aws_credentials_of_a_named_role_work_with_boto3(tmp_path):
    client = cleo.Client(config=str(_role_config(tmp_path)))
    creds = client.aws_credentials("ci")
    assert creds.access_key_id.startswith("ASIA")
    assert creds.expires_at is not None and creds.expires_at > __import__("time").time()
    kw = creds.expose()
    assert set(kw) == {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"}
    # The repr names the key id and expiry only; the secret parts never show.
    for part in (kw["aws_secret_access_key"], kw["aws_session_token"]):
        assert part not in repr(creds) and part not in str(creds) and part not in f"{creds}"
    sts = boto3.client("sts", endpoint_url=_require("CLEO_TEST_AWS_ENDPOINT"),
                       region_name="us-east-1", **kw)
    arn = sts.get_caller_identity()["Arn"]
    assert arn.endswith(":assumed-role/py-ci/py-aws-credentials"), arn


def test_aws_credentials_are_cached_per_role_and_default_to_aws_role(tmp_path):
    client = cleo.Client(config=str(_role_config(tmp_path)))
    first = client.aws_credentials()
    again = client.aws_credentials("ci")
    assert again.access_key_id == first.access_key_id, "the cached credentials, not a new AssumeRole"
    by_arn = client.aws_credentials("arn:aws:iam::123456789012:role/py-other")
    assert by_arn.access_key_id != first.access_key_id


def test_aws_credentials_cannot_be_pickled_or_copied(tmp_path):
    import copy
    import pickle

    creds = cleo.Client(config=str(_role_config(tmp_path))).aws_credentials("ci")
    for attempt in (lambda: pickle.dumps(creds), lambda: copy.copy(creds), lambda: copy.deepcopy(creds)):
        with pytest.raises(TypeError, match="cannot be pickled or copied"):
            attempt()


def test_aws_credentials_without_a_role_is_a_clear_config_error(tmp_path):
    cfg = tmp_path / "cleo.toml"
    cfg.write_text("[secrets]\n")
    with pytest.raises(cleo.ConfigError, match=r"which role\?"):
        cleo.Client(config=str(cfg)).aws_credentials()
    with pytest.raises(cleo.ConfigError, match="nope"):
        cleo.Client(config=str(cfg)).aws_credentials("nope")
