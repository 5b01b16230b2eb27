//! A process's background tasks, named, and stopped within a grace period.
//!
//! A replica that is told to stop must stop: an open connection or a stuck call may delay it by
//! the grace period, never forever. What is still running then is aborted and named in the log.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use tokio::task::{Id, JoinSet};
use tracing::warn;

/// Named tasks that are stopped together.
#[derive(Default)]
pub struct Tasks {
    set: JoinSet<()>,
    names: HashMap<Id, &'static str>,
}

impl Tasks {
    /// No tasks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `task` in the background under `name`.
    pub fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let handle = self.set.spawn(task);
        self.names.insert(handle.id(), name);
    }

    /// Waits up to `grace` for every task to finish (their stop must already be signalled),
    /// then aborts the rest. Returns the names of the tasks that had to be aborted.
    pub async fn stop_within(mut self, grace: Duration) -> Vec<&'static str> {
        let finished = tokio::time::timeout(grace, async {
            while let Some(done) = self.set.join_next_with_id().await {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(err) => {
                        warn!(task = self.names.get(&err.id()).copied().unwrap_or("?"), error = %err, "a task ended abnormally");
                        err.id()
                    }
                };
                self.names.remove(&id);
            }
        })
        .await;
        if finished.is_ok() {
            return Vec::new();
        }
        let mut unfinished: Vec<_> = self.names.values().copied().collect();
        unfinished.sort_unstable();
        warn!(?grace, tasks = ?unfinished, "still running after the grace period; aborted");
        self.set.abort_all();
        while self.set.join_next().await.is_some() {}
        unfinished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_that_finish_are_not_reported() {
        let mut tasks = Tasks::new();
        tasks.spawn("quick", async {});
        assert!(tasks.stop_within(Duration::from_secs(30)).await.is_empty());
    }

    #[tokio::test]
    async fn a_task_that_never_finishes_is_aborted_and_named() {
        let mut tasks = Tasks::new();
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        tasks.spawn("stuck", async move {
            let _held = dropped_tx;
            std::future::pending::<()>().await;
        });
        tasks.spawn("quick", async {});
        assert_eq!(
            tasks.stop_within(Duration::from_millis(100)).await,
            vec!["stuck"]
        );
        // Aborted, not left running: its state was dropped.
        assert!(dropped_rx.await.is_err());
    }
}
