use std::sync::Mutex;

use chrono::{DateTime, Duration, DurationRound, Utc};

/// The source of "now" for every timestamp QuickFix stores.
///
/// Injected so tests can move time by hand instead of sleeping. Timestamps are truncated to
/// milliseconds because that is what MongoDB stores: both store adapters then round-trip the
/// same value.
pub trait Clock: Send + Sync + 'static {
    /// The current time, millisecond precision.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        truncate_to_millis(Utc::now())
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(truncate_to_millis(start)),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().expect("BUG: clock mutex poisoned");
        *now += by;
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().expect("BUG: clock mutex poisoned") = truncate_to_millis(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("BUG: clock mutex poisoned")
    }
}

fn truncate_to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::milliseconds(1))
        .expect("BUG: millisecond truncation of a valid timestamp")
}
