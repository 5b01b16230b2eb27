//! The `quickfix` binary as a child process: started clean of the caller's environment, read
//! line by line, stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `quickfix` binary, with no setting inherited from the caller.
pub fn quickfix() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quickfix"));
    // Nothing from the caller's environment decides what these tests see.
    for var in [
        "MONGODB_URI",
        "SNS_TOPIC_ARN",
        "JWT_SECRET",
        "QUICKFIX_ADDR",
        "AWS_ENDPOINT_URL",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}

/// Reads the child's stdout until a line contains `marker`; returns that line.
pub fn wait_for_line(child: &mut Child, marker: &str) -> String {
    first_line_with(child.stdout.take().expect("piped stdout"), marker)
}

/// Reads the child's stderr (where logs go) until a line contains `marker`; returns that line.
pub fn wait_for_log_line(child: &mut Child, marker: &str) -> String {
    first_line_with(child.stderr.take().expect("piped stderr"), marker)
}

fn first_line_with(stdout: impl std::io::Read + Send + 'static, marker: &str) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let marker = marker.to_owned();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains(&marker) {
                let _ = tx.send(line);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the line never came")
}

/// Sends SIGTERM and asserts the process exits with status 0 within `within`.
pub fn assert_stops_cleanly_on_sigterm(child: &mut Child, within: Duration) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_for_exit(child, within);
    assert!(exit.success(), "exit status {exit:?}");
}

pub fn wait_for_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let until = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < until, "did not exit within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running `quickfix dev`, killed if the test ends (or panics) before stopping it.
pub struct Dev {
    /// The child process.
    pub child: Child,
    /// The API's base URL.
    pub base: String,
}

impl Drop for Dev {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `quickfix dev` on a free port.
pub fn start_dev() -> Dev {
    let mut child = quickfix()
        .args(["dev", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = wait_for_line(&mut child, "API:");
    let base = line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches("/api/complaints")
        .to_owned();
    Dev { child, base }
}

/// A TCP port on 127.0.0.1 that was free a moment ago, for a server that must come back on the
/// same address after a restart.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// The last `lines` lines of a log file (empty when it cannot be read), for failure messages.
pub fn log_tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
