//! QuickFix end to end with the official JavaScript clients, against `quickfix dev` (API and
//! worker in one process): the `socket.io-client` from npm sees live notifications
//! (`tests/e2e/live.mjs`), and a headless Chromium driven by `playwright-core` uses the dashboard,
//! its conversation included, as a customer and as an admin (`tests/e2e/dashboard.mjs`, which
//! leaves a screenshot in `artifacts/`).

mod common;

use std::process::Command;
use std::time::Duration;

use common::process::{assert_stops_cleanly_on_sigterm, start_dev};

/// Runs `node <script> <base>` in the e2e folder and returns its stdout; fails with its stderr.
fn node(dir: &str, script: &str, base: &str, env: &[(&str, &str)]) -> String {
    let out = Command::new("node")
        .current_dir(dir)
        .arg(script)
        .arg(base)
        .envs(env.iter().copied())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_official_client_hears_assignment_and_update_live() {
    let Some(dir) = common::e2e_dir() else {
        return;
    };
    let mut dev = start_dev();
    let base = dev.base.clone();
    let out = node(&dir, "live.mjs", &base, &[]);
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    assert_eq!(report["ok"], true);
    assert_eq!(report["ticketAssigned"], report["complaintId"]);
    assert!(
        report["refusal"]
            .as_str()
            .unwrap()
            .contains("invalid or expired token")
    );
    assert_stops_cleanly_on_sigterm(&mut dev.child, Duration::from_secs(20));
}

/// The board, the detail pane and the conversation across an admin's and a customer's pages,
/// live (`tests/e2e/dashboard.mjs` says what it checks).
#[test]
fn a_ticket_opened_in_one_page_appears_in_another_without_reload() {
    let (Some(dir), Some(chromium)) = (common::e2e_dir(), common::chromium()) else {
        return;
    };
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut dev = start_dev();
    let base = dev.base.clone();
    let out = node(
        &dir,
        "dashboard.mjs",
        &base,
        &[
            ("CHROMIUM", &chromium),
            ("SCREENSHOT", screenshot.to_str().unwrap()),
        ],
    );
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    assert_eq!(report["ok"], true);
    assert_eq!(
        report["staffThread"],
        serde_json::json!(["internal", "public", "public"]),
        "the staff see the note, the reply and the customer's answer"
    );
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 1000,
        "the screenshot is kept in artifacts/"
    );
    assert_stops_cleanly_on_sigterm(&mut dev.child, Duration::from_secs(20));
}
