//! `cleo aws credential-process` and `cleo get aws-...` against the real moto that
//! scripts/test starts, with RUST_LOG=trace: the credential goes to stdout only.

use std::process::Command;

use cleo_testkit::moto::moto;
use cleo_testkit::{assert_no_canary, unique};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn cleo(home: &std::path::Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_cleo"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "trace")
        .current_dir(home)
        .args(args)
        .output()
        .expect("run cleo");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cleo.toml"),
        format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n\n\
             [aws.roles.ci]\nrole_arn = \"arn:aws:iam::123456789012:role/ci-upload\"\n\
             duration = \"15m\"\nartifact_bucket = \"acme\"\n",
            moto()
        ),
    )
    .unwrap();
    dir
}

#[test]
fn credential_process_prints_the_aws_shape_and_logs_no_secret() {
    let home = home();
    let r = cleo(home.path(), &["aws", "credential-process", "--role", "ci"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect(&r.stdout);
    assert_eq!(json["Version"], 1);
    for key in [
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    ] {
        assert!(
            json[key].as_str().is_some_and(|v| !v.is_empty()),
            "{key}: {json}"
        );
    }
    let secret = json["SecretAccessKey"].as_str().unwrap();
    let token = json["SessionToken"].as_str().unwrap();
    assert_no_canary("stderr at TRACE", &r.stderr, &[secret, token]);
    assert!(
        r.stderr.contains("assumed role"),
        "TRACE logging was on: {}",
        r.stderr
    );

    // A role ARN works without cleo.toml's roles.
    let r = cleo(
        home.path(),
        &[
            "aws",
            "credential-process",
            "--role",
            "arn:aws:iam::123456789012:role/x",
            "--duration",
            "20m",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn credential_process_errors_are_one_line_with_a_code() {
    let home = home();
    let r = cleo(
        home.path(),
        &["aws", "credential-process", "--role", "nope"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let last = r.stderr.lines().last().unwrap();
    assert!(
        last.contains("no role `nope`") && last.contains("roles defined: ci"),
        "{last}"
    );
    assert!(r.stdout.is_empty());

    let r = cleo(home.path(), &["aws", "credential-process"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.lines().last().unwrap().contains("--role"),
        "{}",
        r.stderr
    );
}

#[test]
fn get_reads_parameter_store_masked() {
    let home = home();
    let name = format!("/cleo-cli/{}", unique("p"));
    let value = unique("canary-ssm");
    // Seed through cleo's own test endpoint with a plain HTTP call (JSON protocol).
    let body = serde_json::json!({"Name": name, "Value": value, "Type": "SecureString"});
    let status = Command::new("python3")
        .args([
            "-c",
            "import sys,urllib.request as u; r=u.Request(sys.argv[1]+'/', data=sys.argv[2].encode(), method='POST', headers={'X-Amz-Target':'AmazonSSM.PutParameter','Content-Type':'application/x-amz-json-1.1','Authorization':'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=0'}); u.urlopen(r)",
            &moto(),
            &body.to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let reference = format!("aws-ssm://{name}");
    let r = cleo(home.path(), &["get", &reference]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&reference), "{}", r.stdout);
    assert_no_canary(
        "masked output",
        &format!("{}{}", r.stdout, r.stderr),
        &[&value],
    );
    let r = cleo(home.path(), &["get", "--reveal", &reference]);
    assert_eq!(r.stdout.trim_end(), value);
}
