//! `cleo exec` with the real binary against a real OpenBao, RUST_LOG=trace: values
//! reach the child's environment and never its passed-through output; exit codes and
//! signals pass through; non-secret output stays byte-exact.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use cleo_testkit::{assert_no_canary, unique};
use common::Fixture;
use serde_json::json;

/// A PEM-like multi-line value whose every line is a canary.
fn pem() -> String {
    format!(
        "-----BEGIN TEST KEY-----\nline1-{}\nline2-{}\n-----END TEST KEY-----",
        unique("a"),
        unique("b")
    )
}

/// The token and the PEM in one Vault secret; `-e TOKEN=... -e PEM=...`.
async fn fixture_with_pem() -> (Fixture, String, Vec<String>) {
    let f = Fixture::new().await;
    let pem = pem();
    f.admin
        .put_kv2(
            "secret",
            &f.path,
            json!({"api_token": f.value, "pem": pem, "user": "bob"}),
        )
        .await;
    let args = vec![
        "exec".to_owned(),
        "-e".to_owned(),
        format!("TOKEN={}", f.reference()),
        "-e".to_owned(),
        format!("PEM=vault://secret/{}#pem", f.path),
    ];
    (f, pem, args)
}

fn with_command(mut args: Vec<String>, script: &str) -> Vec<String> {
    args.extend(["--".into(), "sh".into(), "-c".into(), script.into()]);
    args
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn values_split_across_writes_interleaved_and_multi_line_are_masked() {
    let (f, pem, args) = fixture_with_pem().await;
    // Halves of the token written apart (with a pause, so they are separate reads),
    // alternating with stderr; the PEM whole and line by line; raw bytes around.
    let script = r#"
        half=$(( ${#TOKEN} / 2 ))
        first=$(printf '%s' "$TOKEN" | cut -c1-$half)
        second=$(printf '%s' "$TOKEN" | cut -c$((half + 1))-)
        printf 'start %s' "$first"
        printf 'err %s' "$first" >&2
        sleep 0.2
        printf '%s end\n' "$second"
        printf '%s\n' "$second" >&2
        printf '%s\n' "$PEM"
        printf 'key line [%s]\n' "$(printf '%s\n' "$PEM" | sed -n 3p)"
        printf '%s\n' "$PEM" | sed -n 2p >&2
        printf 'raw:\000\001\377\r\n'
        printf 'user bob, abc, done\n'
    "#;
    let r = f.run(&strs(&with_command(args, script)));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        b"start *** end\n***\nkey line [***]\nraw:\x00\x01\xff\r\nuser bob, abc, done\n".to_vec(),
        "stdout: {:?}",
        r.stdout()
    );
    // stderr also has cleo's TRACE logs; the child's lines are masked.
    assert!(r.stderr.contains("err ***\n"), "{}", r.stderr);
    assert!(
        r.stderr.contains("\n***\n"),
        "a lone PEM line on stderr: {}",
        r.stderr
    );
    let pem_lines: Vec<&str> = pem.lines().collect();
    let mut canaries = vec![f.value.as_str(), f.admin.root_token()];
    canaries.extend(&pem_lines[1..3]);
    r.assert_clean(&canaries);
}

#[tokio::test]
async fn no_mask_passes_values_through_and_proves_the_child_had_them() {
    let (f, pem, args) = fixture_with_pem().await;
    let mut args = args;
    args.insert(1, "--no-mask".into());
    let r = f.run(&strs(&with_command(
        args,
        r#"printf '%s|%s' "$TOKEN" "$PEM""#,
    )));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout(), format!("{}|{pem}", f.value));
    assert_no_canary("stderr", &r.stderr, &[&f.value, f.admin.root_token()]);
}

#[tokio::test]
async fn exit_codes_and_signals_of_the_child_pass_through() {
    let f = Fixture::new().await;
    let env = format!("TOKEN={}", f.reference());
    let run = |script: &str| f.run(&["exec", "-e", &env, "--", "sh", "-c", script]);
    assert_eq!(run("exit 7").code, 7);
    assert_eq!(run("exit 0").code, 0);
    assert_eq!(run("kill -TERM $$").code, 128 + 15, "killed by SIGTERM");
    assert_eq!(run("kill -KILL $$").code, 128 + 9, "killed by SIGKILL");

    let r = f.run(&["exec", "-e", &env, "--", "/nonexistent/cleo-test-command"]);
    assert_eq!(r.code, 127, "{}", r.stderr);
    assert!(
        r.error_line().contains("cannot run command"),
        "{}",
        r.stderr
    );
    let script = f.home.path().join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let r = f.run(&["exec", "-e", &env, "--", script.to_str().unwrap()]);
    assert_eq!(r.code, 126, "{}", r.stderr);
    r.assert_clean(&f.canaries());
}

#[tokio::test]
async fn a_signal_to_cleo_reaches_the_child() {
    let f = Fixture::new().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cleo"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", f.home.path())
        .env("VAULT_ADDR", f.admin.addr())
        .env("VAULT_TOKEN", f.admin.root_token())
        .args(["exec", "-e", &format!("TOKEN={}", f.reference()), "--"])
        .args([
            "sh",
            "-c",
            "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.05; done",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(rest, "got-term\n");
    assert_eq!(
        status.code(),
        Some(42),
        "the child's trap ran and its code is cleo's"
    );
}

#[tokio::test]
async fn config_env_sets_the_env_table_and_env_flags_win() {
    let f = Fixture::new().await;
    let config = f.home.path().join("cleo.toml");
    std::fs::write(
        &config,
        format!(
            "[secrets]\n\"app/token\" = \"{}\"\n\n[env]\nAPP_TOKEN = \"app/token\"\nAPP_USER = \"vault://secret/{}#user\"\n",
            f.reference(),
            f.path
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let r = f.run(&[
        "--config",
        config,
        "exec",
        "--config-env",
        "--",
        "sh",
        "-c",
        r#"printf '%s %s %s' "$APP_USER" "${#APP_TOKEN}" "$APP_TOKEN""#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout(), format!("bob {} ***", f.value.len()));
    r.assert_clean(&f.canaries());

    // --env overrides the table entry of the same name.
    let r = f.run(&[
        "--config",
        config,
        "exec",
        "--config-env",
        "--no-mask",
        "-e",
        "APP_USER=env://HOME",
        "--",
        "sh",
        "-c",
        r#"printf '%s' "$APP_USER""#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout(), f.home.path().to_str().unwrap());

    // Without an [env] table, --config-env says what to add.
    std::fs::write(f.home.path().join("empty.toml"), "[secrets]\n").unwrap();
    let empty = f.home.path().join("empty.toml");
    let r = f.run(&[
        "--config",
        empty.to_str().unwrap(),
        "exec",
        "--config-env",
        "--",
        "true",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.error_line().contains("[env]"), "{}", r.stderr);
}

#[tokio::test]
async fn a_missing_secret_or_bad_flag_never_starts_the_command() {
    let f = Fixture::new().await;
    let marker = f.home.path().join("ran");
    let touch = format!("touch {}", marker.display());
    let cases: [(&[&str], i32); 4] = [
        (&["-e", "TOKEN=vault://secret/no-such-path-anywhere#x"], 3),
        (&["-e", "TOKEN"], 2),
        (&["-e", "1BAD=env://HOME"], 2),
        (&["-e", "TOKEN=nosuch://x"], 2),
    ];
    for (flags, code) in cases {
        let mut args = vec!["exec"];
        args.extend_from_slice(flags);
        args.extend(["--", "sh", "-c", &touch]);
        let r = f.run(&args);
        assert_eq!(r.code, code, "{flags:?}: {}", r.stderr);
        assert!(!marker.exists(), "{flags:?} ran the command");
        r.error_line();
        r.assert_clean(&f.canaries());
    }
    // A value pasted where a reference belongs is not echoed back.
    let pasted = format!("TOKEN={}", f.value);
    let r = f.run(&["exec", "-e", &pasted, "--", "true"]);
    assert_ne!(r.code, 0);
    r.assert_clean(&f.canaries());
}

#[tokio::test]
async fn in_github_actions_exec_announces_each_value_before_the_command_runs() {
    let (f, pem, args) = fixture_with_pem().await;
    let r = f.run_with(
        &strs(&with_command(args, "echo child-output")),
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout(), "child-output\n");
    let masks: Vec<&str> = r
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .collect();
    assert!(masks.contains(&f.value.as_str()), "{}", r.stderr);
    for line in pem.lines() {
        assert!(masks.contains(&line), "{line} not announced: {}", r.stderr);
    }
}

#[tokio::test]
async fn quiet_verbose_and_cleo_log_choose_what_reaches_stderr() {
    let f = Fixture::new().await;
    let env = format!("TOKEN={}", f.reference());
    // RUST_LOG empty: the flags and CLEO_LOG decide.
    let run = |flags: &[&str], with_env: bool, extra: &[(&str, &str)]| {
        let mut args: Vec<&str> = flags.to_vec();
        args.push("exec");
        if with_env {
            args.extend(["-e", &env]);
        }
        args.extend(["--", "true"]);
        let mut vars = vec![("RUST_LOG", "")];
        vars.extend_from_slice(extra);
        f.run_with(&args, &vars)
    };
    let warning = "no secret is set";
    let debug = "resolving for cleo exec";

    let r = run(&[], false, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(warning),
        "warnings show by default: {}",
        r.stderr
    );
    let r = run(&["-q"], false, &[]);
    assert_eq!(r.stderr, "", "-q: errors only");
    let r = run(&[], true, &[]);
    assert!(!r.stderr.contains(debug), "{}", r.stderr);
    let r = run(&["-vv"], true, &[]);
    assert!(r.stderr.contains(debug), "-vv is debug: {}", r.stderr);
    let r = run(&[], true, &[("CLEO_LOG", "debug")]);
    assert!(r.stderr.contains(debug), "CLEO_LOG=debug: {}", r.stderr);
    let r = run(&[], true, &[("CLEO_LOG", "error"), ("RUST_LOG", "debug")]);
    assert!(
        !r.stderr.contains(debug),
        "CLEO_LOG wins over RUST_LOG: {}",
        r.stderr
    );
    let r = run(&[], true, &[("RUST_LOG", "debug")]);
    assert!(r.stderr.contains(debug), "RUST_LOG alone: {}", r.stderr);
    r.assert_clean(&f.canaries());
}

#[tokio::test]
async fn ctrl_c_at_a_terminal_reaches_the_child_once() {
    // script(1) runs cleo on a pseudo-terminal; a ^C typed into it makes the kernel
    // send SIGINT to the terminal's foreground process group: cleo and its child.
    let f = Fixture::new().await;
    let child = f.home.path().join("count_sigint.py");
    std::fs::write(
        &child,
        "import signal, time\n\
         n = 0\n\
         def on_int(*_):\n    global n\n    n += 1\n\
         signal.signal(signal.SIGINT, on_int)\n\
         print('ready', flush=True)\n\
         time.sleep(2)\n\
         print('got', n, 'SIGINT', flush=True)\n",
    )
    .unwrap();
    // `exec`: the shell script(1) runs the command with would see the SIGINT too and
    // turn the exit status into 130.
    let inner = format!(
        "exec {} exec -e TOKEN={} -- python3 {}",
        env!("CARGO_BIN_EXE_cleo"),
        f.reference(),
        child.display()
    );
    let mut script = Command::new("script")
        .args(["-qfec", &inner, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", f.home.path())
        .env("TERM", "dumb")
        .env("VAULT_ADDR", f.admin.addr())
        .env("VAULT_TOKEN", f.admin.root_token())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1), from util-linux");
    let mut out = BufReader::new(script.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        assert_ne!(out.read_line(&mut line).unwrap(), 0, "no `ready` line");
    }
    let mut stdin = script.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"\x03").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    drop(stdin);
    let status = script.wait().unwrap();
    assert!(
        rest.contains("got 1 SIGINT"),
        "one Ctrl-C, one SIGINT for the child: {rest:?}"
    );
    assert!(status.success(), "{status:?} {rest:?}");
    assert_no_canary("terminal output", &rest, &f.canaries());
}

#[tokio::test]
async fn a_background_process_holding_the_output_does_not_hang_cleo() {
    let f = Fixture::new().await;
    let env = format!("TOKEN={}", f.reference());
    // Without a bound cleo would wait the 20 s for `sleep`, then print no warning.
    let r = f.run(&[
        "exec",
        "-e",
        &env,
        "--",
        "sh",
        "-c",
        "sleep 20 & echo started",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout(), "started\n");
    assert!(
        r.stderr.contains("still holds its output open"),
        "{}",
        r.stderr
    );
    r.assert_clean(&f.canaries());
}

#[tokio::test]
async fn a_value_too_large_for_the_environment_is_named_with_exit_126() {
    let f = Fixture::new().await;
    let value = format!("canary-big-{}{}", unique("v"), "x".repeat(200 * 1024));
    let file = cleo_testkit::private_file(f.home.path(), &value);
    let r = f.run(&[
        "exec",
        "-e",
        &format!("BIG=file://{}", file.display()),
        "--",
        "true",
    ]);
    assert_eq!(r.code, 126, "{}", r.stderr);
    assert!(
        r.error_line().contains("environment is too large"),
        "{}",
        r.stderr
    );
    r.assert_clean(&[&value[..48]]);
}
