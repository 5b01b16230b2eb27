//! Production commands refuse unsafe settings at start, with a message naming the setting.

use std::io::Write;
use std::process::{Output, Stdio};

use crate::common::{self, process::quickfix};

const GOOD_SECRET: &str = "a-random-secret-of-more-than-thirty-two-bytes-0123456789";

/// Runs `quickfix <args>` with `env`, expecting it to exit at once; `api` gets a free port.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = quickfix();
    cmd.args(args);
    if args.first() == Some(&"api") {
        cmd.args(["--addr", "127.0.0.1:0"]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null()).output().expect("run quickfix")
}

#[track_caller]
fn assert_refused(out: &Output, setting: &str) {
    assert!(
        !out.status.success(),
        "should have refused to start: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(setting),
        "the message names {setting}: {stderr}"
    );
}

#[test]
fn api_refuses_a_missing_short_or_example_token_secret() {
    let memory = [("QUICKFIX_STORE", "memory"), ("QUICKFIX_BUS", "memory")];
    assert_refused(&run(&["api"], &memory), "JWT_SECRET");
    let short = [memory[0], memory[1], ("JWT_SECRET", "only-twenty-bytes-ok")];
    let out = run(&["api"], &short);
    assert_refused(&out, "JWT_SECRET");
    assert!(String::from_utf8_lossy(&out.stderr).contains("32"));
    let example = [
        memory[0],
        memory[1],
        ("JWT_SECRET", quickfix::config::EXAMPLE_JWT_SECRET),
    ];
    let out = run(&["api"], &example);
    assert_refused(&out, "JWT_SECRET");
    assert!(String::from_utf8_lossy(&out.stderr).contains("example"));
    assert_eq!(
        quickfix::config::EXAMPLE_JWT_SECRET,
        include_str!("../../.env.example")
            .lines()
            .find_map(|l| l.strip_prefix("JWT_SECRET="))
            .unwrap(),
        "the refused value is the one .env.example shows"
    );
}

#[test]
fn api_refuses_to_fall_back_to_memory_without_being_told() {
    let secret = ("JWT_SECRET", GOOD_SECRET);
    assert_refused(
        &run(&["api"], &[secret, ("QUICKFIX_BUS", "memory")]),
        "MONGODB_URI",
    );
    assert_refused(
        &run(&["api"], &[secret, ("QUICKFIX_STORE", "memory")]),
        "SNS_TOPIC_ARN",
    );
}

#[test]
fn out_of_range_values_are_refused_not_clamped() {
    for (args, setting) in [
        (vec!["worker", "--wait-seconds", "25"], "--wait-seconds"),
        (vec!["worker", "--concurrency", "0"], "--concurrency"),
        (
            vec!["api", "--auth-cache-seconds", "31"],
            "--auth-cache-seconds",
        ),
        (vec!["api", "--jwt-ttl-seconds", "5"], "--jwt-ttl-seconds"),
        (
            vec!["api", "--outbox-batch-size", "0"],
            "--outbox-batch-size",
        ),
        (
            vec!["api", "--customer-max-priority", "Urgent"],
            "--customer-max-priority",
        ),
        (vec!["api", "--cors-origins", "*"], "--cors-origins"),
    ] {
        let out = run(&args, &[("JWT_SECRET", GOOD_SECRET)]);
        assert_refused(&out, setting);
    }
    // From the environment too, named by its variable.
    let out = run(&["worker"], &[("WORKER_VISIBILITY_TIMEOUT_SECONDS", "0")]);
    assert_refused(&out, "WORKER_VISIBILITY_TIMEOUT_SECONDS");
}

#[test]
fn api_starts_on_memory_when_told_so_explicitly() {
    let mut child = quickfix()
        .args([
            "api",
            "--addr",
            "127.0.0.1:0",
            "--store",
            "memory",
            "--bus",
            "memory",
        ])
        .env("JWT_SECRET", GOOD_SECRET)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = common::process::wait_for_log_line(&mut child, "QuickFix API listening");
    assert!(line.contains("127.0.0.1:"), "{line}");
    common::process::assert_stops_cleanly_on_sigterm(
        &mut child,
        std::time::Duration::from_secs(20),
    );
}

#[test]
fn admin_create_reads_the_password_from_stdin_and_is_idempotent() {
    let Some(uri) = common::mongo_uri() else {
        return;
    };
    let db = format!("qf_admin_{}", uuid::Uuid::new_v4().simple());
    let create = |password_on_stdin: &str, extra: &[&str]| {
        let mut child = quickfix()
            .args([
                "admin",
                "create",
                "--email",
                "root@example.com",
                "--name",
                "Root",
            ])
            .args(extra)
            .env("MONGODB_URI", &uri)
            .env("MONGODB_DATABASE", &db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password_on_stdin}").unwrap();
        child.wait_with_output().unwrap()
    };
    let first = create("a long passphrase", &[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("created admin root@example.com"));
    let again = create("a long passphrase", &[]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("already exists"));
    let short = quickfix()
        .args([
            "admin",
            "create",
            "--email",
            "other@example.com",
            "--name",
            "Other",
        ])
        .env("MONGODB_URI", &uri)
        .env("MONGODB_DATABASE", &db)
        .env("QUICKFIX_ADMIN_PASSWORD", "short")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_refused(&short, "password");
}
