//! `cleo doctor`: checks what a job needs before it needs it.
//!
//! Each check is one row: ok, warn (works, but against the ADR or soon to break),
//! fail (a job would fail), or skip (not configured, or not checkable with the
//! identity at hand). Only a failed check makes `cleo doctor` exit non-zero, so a
//! CI job can run it as its first step. Nothing here prints a value: rows name
//! files, variables, identities and policies; secrets are read to prove they can be.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use cleo_core::{Config, Error, ErrorKind, Result};
use serde_json::{Value, json};

use crate::app::App;
use crate::cli::DoctorArgs;
use crate::inspect::one_line;

/// Clock skew up to this is normal (NTP, a one-second `Date` header).
const SKEW_OK: f64 = 5.0;
/// Past this, JWT `iat`/`nbf` checks and AWS request signing start to fail.
const SKEW_FAIL: f64 = 60.0;
/// A token with less than this left and no renewal will likely die mid-job.
const SHORT_TTL: Duration = Duration::from_secs(5 * 60);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

struct Check {
    name: String,
    status: Status,
    detail: String,
    hint: Option<String>,
}

#[derive(Default)]
struct Report {
    checks: Vec<Check>,
}

impl Report {
    fn add(&mut self, name: impl Into<String>, status: Status, detail: impl Into<String>) {
        self.checks.push(Check {
            name: name.into(),
            status,
            detail: detail.into(),
            hint: None,
        });
    }

    fn hint(
        &mut self,
        name: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.add(name, status, detail);
        if let Some(last) = self.checks.last_mut() {
            last.hint = Some(hint.into());
        }
    }

    /// A failed operation as a row: the error's own text says what to do.
    fn error(&mut self, name: impl Into<String>, e: &Error) {
        self.add(name, Status::Fail, e.to_string());
    }

    fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    fn count(&self, s: Status) -> usize {
        self.checks.iter().filter(|c| c.status == s).count()
    }

    fn render(&self, as_json: bool) -> String {
        if as_json {
            let checks: Vec<Value> = self
                .checks
                .iter()
                .map(|c| {
                    json!({"check": c.name, "status": c.status.as_str(), "detail": c.detail, "hint": c.hint})
                })
                .collect();
            return format!("{}\n", json!({"ok": !self.failed(), "checks": checks}));
        }
        let width = self
            .checks
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(0)
            .max("CHECK".len());
        let mut out = format!("{:<width$}  STATUS  DETAIL\n", "CHECK");
        for c in &self.checks {
            out.push_str(&format!(
                "{:<width$}  {:<6}  {}\n",
                one_line(&c.name),
                c.status.as_str(),
                one_line(&c.detail)
            ));
            if let Some(h) = &c.hint {
                out.push_str(&format!("{:<width$}          -> {}\n", "", one_line(h)));
            }
        }
        out.push_str(&format!(
            "doctor: {} ok, {} warnings, {} failed, {} skipped\n",
            self.count(Status::Ok),
            self.count(Status::Warn),
            self.count(Status::Fail),
            self.count(Status::Skip),
        ));
        out
    }
}

/// Runs every check; returns 0 when none failed, 1 otherwise.
pub async fn run(config_path: Option<&Path>, keep_token: bool, args: &DoctorArgs) -> Result<u8> {
    let mut report = Report::default();
    let app = match Config::discover(config_path) {
        Err(e) => {
            report.error("config", &e);
            None
        }
        Ok(config) => {
            config_row(&mut report, &config);
            match App::build(config_path) {
                Ok(app) => Some(app),
                Err(e) => {
                    report.error("backends", &e);
                    None
                }
            }
        }
    };
    if let Some(app) = &app {
        vault_checks(&mut report, app).await;
        aws_checks(&mut report, app).await;
        secret_checks(&mut report, app).await;
        mlflow_check(&mut report, app.client.config());
        app.finish(keep_token).await;
    }
    let out = report.render(args.json);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .map_err(|e| Error::new(ErrorKind::Unexpected, "cannot write to stdout").with_source(e))?;
    Ok(u8::from(report.failed()))
}

fn config_row(report: &mut Report, config: &Config) {
    let names = config.secrets().count();
    match config.path() {
        Some(p) => report.add(
            "config",
            Status::Ok,
            format!("{} ({names} logical names)", p.display()),
        ),
        None => report.hint(
            "config",
            Status::Warn,
            "no config file: only full references (vault://, env://...) can be read",
            "pass --config, set CLEO_CONFIG, or put a cleo.toml in the working directory",
        ),
    }
}

/// Whether any logical name points at one of these schemes.
fn uses(config: &Config, schemes: &[&str]) -> bool {
    config
        .secrets()
        .any(|(_, e)| schemes.contains(&e.reference.scheme()))
}

async fn vault_checks(report: &mut Report, app: &App) {
    let vault = &app.vault;
    let addresses = vault.addresses();
    let needed = uses(app.client.config(), &[cleo_vault::SCHEME]);
    if addresses.is_empty() {
        if needed {
            report.hint(
                "vault address",
                Status::Fail,
                "logical names point at vault:// but no Vault address is configured",
                "set VAULT_ADDR, or [vault] address in cleo.toml",
            );
        } else {
            report.add("vault", Status::Skip, "not configured");
        }
        return;
    }
    report.add(
        "vault address",
        Status::Ok,
        format!("{} (from {})", addresses.join(", "), vault.address_origin()),
    );

    let mut reachable = false;
    let mut worst_skew: Option<f64> = None;
    let first_node_row = report.checks.len();
    for node in vault.health().await {
        let name = format!("vault node {}", node.address);
        let tls = tls_words(&node.address, vault);
        match node.result {
            Err(e) => report.error(name, &e),
            Ok(h) => {
                let version = h.version.as_deref().unwrap_or("unknown version");
                let rtt = h.round_trip.as_millis();
                if let Some(s) = h.clock_skew {
                    worst_skew =
                        Some(worst_skew.map_or(s, |w: f64| if s.abs() > w.abs() { s } else { w }));
                }
                if !h.initialized {
                    report.hint(
                        name,
                        Status::Fail,
                        format!("{version}, not initialised"),
                        "initialise the server (bao operator init)",
                    );
                } else if h.sealed {
                    report.hint(
                        name,
                        Status::Fail,
                        format!("{version}, sealed: it serves no secret"),
                        "unseal it (bao operator unseal), or remove it from the address list",
                    );
                } else {
                    reachable = true;
                    let role = if h.standby || h.performance_standby {
                        "standby"
                    } else {
                        "active"
                    };
                    report.add(
                        name,
                        Status::Ok,
                        format!("{role}, {version}, {tls}, {rtt} ms"),
                    );
                }
            }
        }
    }
    if reachable {
        // With failover, reads go on through the nodes that answer: a node that
        // does not is worth fixing, not a reason to fail the job.
        for check in &mut report.checks[first_node_row..] {
            if check.status == Status::Fail {
                check.status = Status::Warn;
                check.hint = Some(format!(
                    "{} Reads fail over to the nodes that answer; bring it back or take it off the list",
                    check.hint.take().map(|h| format!("{h}.")).unwrap_or_default()
                ).trim_start().to_owned());
            }
        }
    }
    match worst_skew {
        Some(s) if s.abs() <= SKEW_OK => {
            report.add("vault clock skew", Status::Ok, format!("{s:+.0} s"));
        }
        Some(s) => report.hint(
            "vault clock skew",
            if s.abs() > SKEW_FAIL {
                Status::Fail
            } else {
                Status::Warn
            },
            format!("{s:+.0} s between this machine and Vault"),
            "synchronise this machine's clock (NTP): token expiry and JWT validation depend on it",
        ),
        None if reachable => {
            report.add("vault clock skew", Status::Skip, "the server sent no time")
        }
        None => {}
    }

    if let Some(file) = vault.token_file() {
        token_file_row(report, &file);
    }
    if !reachable {
        report.add("vault auth", Status::Skip, "no Vault node answered");
        return;
    }

    let token_info = vault.token_info().await;
    let authenticated = token_info.is_ok();
    match token_info {
        Err(e) => report.error("vault auth", &e),
        Ok(info) => {
            let policies = if info.policies.is_empty() {
                "-".to_owned()
            } else {
                info.policies.join(", ")
            };
            let detail = format!(
                "{} from {}, as `{}`, policies: {policies}",
                info.method, info.origin, info.display_name
            );
            if info.is_root() {
                report.hint("vault auth", Status::Warn, detail, "a root token can read everything: use a token, AppRole or JWT role with a narrow policy (least privilege)");
            } else {
                report.add("vault auth", Status::Ok, detail);
            }
            let renew = if info.renewable {
                "renewable"
            } else {
                "not renewable"
            };
            match info.ttl {
                None => report.hint("vault token ttl", Status::Warn, "never expires", "long-lived tokens are what the ADR rules out: use a login method, or a token with a TTL"),
                Some(ttl) if ttl < SHORT_TTL && app.vault.login_method().is_none() => report.hint(
                    "vault token ttl",
                    Status::Warn,
                    format!("{} left, {renew}", humantime::format_duration(Duration::from_secs(ttl.as_secs()))),
                    "less than 5 minutes left; renewal stops at the token's max TTL and cleo cannot log in by itself: log in again, or configure [vault.auth]",
                ),
                Some(ttl) => report.add(
                    "vault token ttl",
                    Status::Ok,
                    format!("{} left, {renew}", humantime::format_duration(Duration::from_secs(ttl.as_secs()))),
                ),
            }
        }
    }

    if !authenticated {
        report.add(
            "vault audit",
            Status::Skip,
            "needs a token Vault accepts (see vault auth)",
        );
        return;
    }
    match vault.audit_devices().await {
        Ok(cleo_vault::AuditDevices::Listed(devices)) if devices.is_empty() => report.hint(
            "vault audit",
            Status::Warn,
            "no audit device is enabled: reads leave no audit trail",
            "the ADR requires one: bao audit enable file file_path=/var/log/openbao/audit.log",
        ),
        Ok(cleo_vault::AuditDevices::Listed(devices)) => report.add(
            "vault audit",
            Status::Ok,
            devices
                .iter()
                .map(|d| format!("{} ({})", d.path, d.kind))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Ok(cleo_vault::AuditDevices::NotPermitted) => report.add(
            "vault audit",
            Status::Skip,
            "this token may not read sys/audit (it needs sudo): an operator can check with `bao audit list`",
        ),
        Err(e) => report.error("vault audit", &e),
    }
}

fn tls_words(address: &str, vault: &cleo_vault::VaultSource) -> String {
    if address.starts_with("http://") {
        return "plain HTTP".to_owned();
    }
    let mut words = match vault.ca_cert() {
        Some(ca) => format!("TLS verified (system roots and {})", ca.display()),
        None => "TLS verified".to_owned(),
    };
    if vault.has_client_certificate() {
        words.push_str(", client certificate");
    }
    words
}

fn token_file_row(report: &mut Report, file: &Path) {
    use std::os::unix::fs::MetadataExt;
    let name = "vault token file";
    match std::fs::metadata(file) {
        Err(e) => report.add(name, Status::Fail, format!("{}: {e}", file.display())),
        Ok(meta) if meta.mode() & 0o077 != 0 => report.hint(
            name,
            Status::Fail,
            format!(
                "{} has mode {:04o}: others can read the token",
                file.display(),
                meta.mode() & 0o7777
            ),
            format!("chmod 600 {}", file.display()),
        ),
        Ok(meta) => report.add(
            name,
            Status::Ok,
            format!("{} (mode {:04o})", file.display(), meta.mode() & 0o7777),
        ),
    }
}

async fn aws_checks(report: &mut Report, app: &App) {
    let config = app.client.config();
    let configured = config
        .section::<Option<Value>>("aws")
        .ok()
        .flatten()
        .is_some();
    let needed = uses(
        config,
        &[
            cleo_aws::SCHEME_SECRETS_MANAGER,
            cleo_aws::SCHEME_PARAMETER_STORE,
        ],
    );
    if !configured && !needed {
        report.add("aws", Status::Skip, "not configured");
        return;
    }
    let aws = &app.aws;
    match aws.region().await {
        Some(r) => report.add("aws region", Status::Ok, r),
        None => {
            report.hint(
                "aws region",
                Status::Fail,
                "no region",
                "set AWS_REGION, or [aws] region in cleo.toml",
            );
            return;
        }
    }
    match aws.caller_identity().await {
        Ok(id) => report.add(
            "aws identity",
            Status::Ok,
            format!(
                "{} in account {} ({})",
                id.arn,
                id.account,
                aws.credential_source()
            ),
        ),
        Err(e) => {
            report.error("aws identity", &e);
            return;
        }
    }
    for (name, entry) in config.secrets() {
        if entry.reference.scheme() != cleo_aws::SCHEME_SECRETS_MANAGER {
            continue;
        }
        let row = format!("aws kms {name}");
        match aws.secret_encryption(entry.reference.path()).await {
            Ok(enc) if enc.uses_default_key() => report.hint(
                row,
                Status::Warn,
                format!("encrypted with the AWS-managed key {}", cleo_aws::DEFAULT_SECRETS_MANAGER_KEY),
                "the ADR asks for a customer-managed KMS key, whose policy limits who can decrypt: aws secretsmanager update-secret --kms-key-id ...",
            ),
            Ok(enc) => report.add(row, Status::Ok, format!("customer-managed key {}", enc.kms_key_id.unwrap_or_default())),
            Err(e) => report.error(row, &e),
        }
    }
}

/// Reads every logical name: the value is read (proving access) but never shown.
async fn secret_checks(report: &mut Report, app: &App) {
    let names: Vec<String> = app
        .client
        .config()
        .secrets()
        .map(|(n, _)| n.to_owned())
        .collect();
    for name in names {
        let row = format!("secret {name}");
        match app.resolve(&name).await {
            Ok(secret) => {
                let m = secret.meta();
                let version = m
                    .version
                    .as_deref()
                    .map(|v| format!(", version {v}"))
                    .unwrap_or_default();
                report.add(
                    row,
                    Status::Ok,
                    format!("readable ({}{version})", m.reference),
                );
            }
            Err(e) => report.error(row, &e),
        }
    }
}

/// Which credentials an MLflow client in this environment would send: the same
/// order as the `cleo` plugin (cleo-py/python/cleo/mlflow.py), then MLflow's own.
fn mlflow_check(report: &mut Report, config: &Config) {
    let name = "mlflow auth";
    let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
    let env = |v: &str| std::env::var(v).unwrap_or_default();
    let static_vars: Vec<&str> = [
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
    ]
    .into_iter()
    .filter(|v| set(v))
    .collect();
    if env("MLFLOW_TRACKING_AUTH") == "cleo" {
        // The variables should hold references, but are named, not quoted: one that
        // holds the secret itself by mistake must not reach a CI log.
        let from = if set("CLEO_MLFLOW_TOKEN") {
            Some("bearer token from the reference in CLEO_MLFLOW_TOKEN".to_owned())
        } else if set("CLEO_MLFLOW_USERNAME") && set("CLEO_MLFLOW_PASSWORD") {
            Some(
                "basic auth from the references in CLEO_MLFLOW_USERNAME and CLEO_MLFLOW_PASSWORD"
                    .to_owned(),
            )
        } else if config.secret("mlflow/username").is_some()
            && config.secret("mlflow/password").is_some()
        {
            Some("basic auth from mlflow/username and mlflow/password".to_owned())
        } else if config.secret("mlflow/api_token").is_some() {
            Some("bearer token from mlflow/api_token".to_owned())
        } else {
            None
        };
        match from {
            None => report.hint(
                name,
                Status::Fail,
                "MLFLOW_TRACKING_AUTH=cleo, but no credentials are named",
                "set CLEO_MLFLOW_TOKEN to a reference, or define mlflow/api_token in cleo.toml",
            ),
            Some(from) if !static_vars.is_empty() => report.hint(
                name,
                Status::Warn,
                format!(
                    "cleo plugin, {from}; {} also set and ignored",
                    static_vars.join(", ")
                ),
                "unset them: a secret left in the environment is what cleo replaces",
            ),
            Some(from) => report.add(
                name,
                Status::Ok,
                format!("cleo plugin, {from}, read per request"),
            ),
        }
    } else if !static_vars.is_empty() {
        report.hint(
            name,
            Status::Warn,
            format!(
                "static credentials from {} (not rotated, visible to every child process)",
                static_vars.join(", ")
            ),
            "set MLFLOW_TRACKING_AUTH=cleo and name the secret in cleo.toml (mlflow/api_token)",
        );
    } else if config.secret("mlflow/api_token").is_some()
        || config.secret("mlflow/password").is_some()
    {
        report.hint(
            name,
            Status::Skip,
            "MLflow would send no credentials: MLFLOW_TRACKING_AUTH is not `cleo`",
            "set MLFLOW_TRACKING_AUTH=cleo in the job to send the cleo.toml MLflow credentials",
        );
    } else {
        report.add(name, Status::Skip, "no MLflow credentials configured");
    }
}
