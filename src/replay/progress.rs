//! Progress of a long replay or export: a bar with rate and ETA on a terminal, plain lines
//! (every few seconds, and at the end) anywhere else, both on standard error.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain progress line is printed.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// Reports how far a replay got.
pub struct Progress {
    what: &'static str,
    bar: Option<ProgressBar>,
    plain: bool,
    total: u64,
    done: u64,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    /// Progress of `what` (e.g. `replay`) on standard error: a bar when it is a terminal,
    /// plain lines otherwise.
    pub fn on_stderr(what: &'static str) -> Self {
        let terminal = std::io::stderr().is_terminal();
        Self::new(what, terminal, true)
    }

    /// Progress that reports nothing (for tests and embedded use).
    pub fn silent() -> Self {
        Self::new("replay", false, false)
    }

    fn new(what: &'static str, terminal: bool, plain: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:40}] {pos}/{len} events, {per_sec}, ETA {eta}",
                )
                .expect("BUG: progress template")
                .progress_chars("=> "),
            );
            bar.set_message(what);
            bar
        });
        let now = Instant::now();
        Self {
            what,
            plain: plain && bar.is_none(),
            bar,
            total: 0,
            done: 0,
            started: now,
            last_line: now,
        }
    }

    /// Starts the clock; the total follows when it is known.
    pub fn start(&mut self) {
        self.started = Instant::now();
        self.last_line = self.started;
        if let Some(bar) = &self.bar {
            bar.reset();
        }
    }

    /// The replay is `total` events long.
    pub fn set_total(&mut self, total: u64) {
        self.total = total;
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    /// `n` more events done.
    pub fn advance(&mut self, n: u64) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        if self.plain && self.last_line.elapsed() >= LINE_EVERY {
            self.last_line = Instant::now();
            eprintln!("{}", self.line());
        }
    }

    /// The end: the bar is left at its final state, or a last line is printed.
    pub fn finish(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
        if self.plain {
            eprintln!("{}", self.line());
        }
    }

    /// `replay: 1200/5000 events (24%), 310/s, ETA 12s` (`replay: 1200 events, 310/s` while
    /// the total is unknown).
    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = self.done as f64 / secs;
        if self.total == 0 {
            return format!("{}: {} events, {rate:.0}/s", self.what, self.done);
        }
        let percent = self.done as f64 * 100.0 / self.total as f64;
        let left = self.total.saturating_sub(self.done);
        let eta = if rate > 0.0 {
            format!("{:.0}s", left as f64 / rate)
        } else {
            "unknown".to_owned()
        };
        format!(
            "{}: {}/{} events ({percent:.0}%), {rate:.0}/s, ETA {eta}",
            self.what, self.done, self.total
        )
    }
}
