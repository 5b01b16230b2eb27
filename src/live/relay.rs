//! The live relay: every API process follows the notifications feed (what workers wrote, in
//! creation order) and the ticket-changes feed, and hands what is new to its own connected
//! sockets.
//!
//! Following by time alone would miss a notification written a moment late with an earlier
//! timestamp (two workers, two clocks), so each poll re-reads an overlap window behind the
//! newest notification seen and skips the ids it already delivered. A notification reaches each
//! connected recipient once per process; a client that was away catches up from its inbox
//! (`GET /api/notifications?since=`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::domain::{Clock, Notification, Ticket, TicketId};
use crate::store::{NotificationStream, ResumeToken, Store, StoreResult};

/// Where the relay hands what is new: this process's connected sockets.
#[async_trait]
pub trait LiveSink: Send + Sync + 'static {
    /// Delivers one notification to its recipient's sockets, if any are connected here.
    async fn notify(&self, notification: &Notification);

    /// Tells the sockets watching a ticket (admins, its requester, its agent) that it changed.
    async fn ticket_changed(&self, ticket: &Ticket);
}

/// Relay pacing.
#[derive(Debug, Clone, Copy)]
pub struct FeedSettings {
    /// Time between polls of the feed.
    pub poll_interval: Duration,
    /// How far behind the newest notification each poll looks again.
    pub overlap: Duration,
    /// Notifications read per query.
    pub batch: usize,
}

impl Default for FeedSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(200),
            overlap: Duration::from_secs(30),
            batch: 500,
        }
    }
}

/// Follows the notifications feed for one process.
pub struct NotificationRelay {
    store: Arc<dyn Store>,
    sink: Arc<dyn LiveSink>,
    settings: FeedSettings,
    /// The newest creation time delivered (or the start time).
    watermark: DateTime<Utc>,
    /// Ids delivered inside the overlap window, with their creation time.
    delivered: HashMap<String, DateTime<Utc>>,
    /// The newest ticket change delivered (or the start time).
    tickets_watermark: DateTime<Utc>,
    /// Ticket revisions delivered inside the overlap window, with their change time.
    changes: HashMap<(TicketId, u64), DateTime<Utc>>,
    /// Becomes `true` once the relay follows the feed (subscribed and caught up, or polled).
    ready: tokio::sync::watch::Sender<bool>,
}

impl NotificationRelay {
    /// A relay that delivers what is written from now on (earlier notifications are in the
    /// inbox).
    pub fn new(
        store: Arc<dyn Store>,
        sink: Arc<dyn LiveSink>,
        clock: &dyn Clock,
        settings: FeedSettings,
    ) -> Self {
        Self {
            store,
            sink,
            settings,
            watermark: clock.now(),
            delivered: HashMap::new(),
            tickets_watermark: clock.now(),
            changes: HashMap::new(),
            ready: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Turns `true` once the relay follows the feed: an API process is not ready before that,
    /// or a notification written meanwhile could reach its sockets late.
    pub fn ready(&self) -> tokio::sync::watch::Receiver<bool> {
        self.ready.subscribe()
    }

    fn overlap(&self) -> TimeDelta {
        TimeDelta::from_std(self.settings.overlap).unwrap_or(TimeDelta::seconds(30))
    }

    /// Reads both feeds once and delivers what is new; returns how many items were delivered.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn poll_once(&mut self) -> StoreResult<usize> {
        Ok(self.poll_notifications().await? + self.poll_tickets().await?)
    }

    /// Reads the ticket-changes feed once and delivers what is new.
    async fn poll_tickets(&mut self) -> StoreResult<usize> {
        let since = self.tickets_watermark - self.overlap();
        let changed = self
            .store
            .tickets_changed_since(since, self.settings.batch)
            .await?;
        let mut count = 0;
        for t in &changed {
            if self
                .changes
                .insert((t.id, t.revision), t.updated_at)
                .is_none()
            {
                self.sink.ticket_changed(t).await;
                count += 1;
            }
            self.tickets_watermark = self.tickets_watermark.max(t.updated_at);
        }
        let horizon = self.tickets_watermark - self.overlap();
        self.changes.retain(|_, at| *at > horizon);
        Ok(count)
    }

    /// Reads the notifications feed once and delivers what is new; returns how many.
    ///
    /// # Errors
    /// When the store fails; nothing is marked delivered that was not.
    async fn poll_notifications(&mut self) -> StoreResult<usize> {
        let mut since = self.watermark - self.overlap();
        let mut count = 0;
        loop {
            let page = self
                .store
                .list_notifications(None, Some(since), self.settings.batch)
                .await?;
            let mut fresh = 0;
            for n in &page {
                if self.deliver(n).await {
                    fresh += 1;
                }
            }
            count += fresh;
            // A full page may hide more; read on from its last instant (the ids already
            // delivered are skipped) until a page brings nothing new.
            match page.last() {
                Some(last) if page.len() == self.settings.batch && fresh > 0 => {
                    since = last.created_at - TimeDelta::milliseconds(1);
                }
                _ => break,
            }
        }
        self.forget_old();
        Ok(count)
    }

    /// Hands `n` to the sockets unless it was delivered already; returns whether it was new.
    async fn deliver(&mut self, n: &Notification) -> bool {
        self.watermark = self.watermark.max(n.created_at);
        if self.delivered.insert(n.id.clone(), n.created_at).is_some() {
            return false;
        }
        self.sink.notify(n).await;
        metrics::counter!("quickfix_live_notifications_total").increment(1);
        true
    }

    /// Drops delivered ids older than the overlap window.
    fn forget_old(&mut self) {
        let horizon = self.watermark - self.overlap();
        self.delivered.retain(|_, at| *at > horizon);
    }

    /// Runs until `cancel` fires: follows the store's change stream of notifications where it
    /// has one (resuming after the last one seen when the stream breaks), polls the feed
    /// otherwise, and polls ticket changes every `poll_interval`.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut ticker = tokio::time::interval(self.settings.poll_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stream: Option<NotificationStream> = None;
        let mut resume: Option<ResumeToken> = None;
        let mut can_watch = true;
        let mut next_watch = tokio::time::Instant::now();
        loop {
            if stream.is_none() && can_watch && tokio::time::Instant::now() >= next_watch {
                match self.store.watch_notifications(resume.clone()).await {
                    Ok(Some(opened)) => {
                        debug!(
                            resumed = resume.is_some(),
                            "following the notifications change stream"
                        );
                        stream = Some(opened);
                        // Catch up on what was written before the stream opened.
                        match self.poll_notifications().await {
                            Ok(_) => self.ready.send_replace(true),
                            Err(err) => {
                                warn!(error = %err, "the live relay could not read the feed");
                                false
                            }
                        };
                    }
                    Ok(None) => can_watch = false,
                    Err(err) => {
                        warn!(error = %err, "cannot open the notifications change stream; polling meanwhile");
                        // The position may be too old to resume from: start afresh next time
                        // (the poll covers the gap).
                        resume = None;
                        next_watch = tokio::time::Instant::now() + WATCH_RETRY;
                    }
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                item = next_item(&mut stream) => match item {
                    Some(Ok((n, position))) => {
                        self.deliver(&n).await;
                        resume = Some(position);
                    }
                    Some(Err(err)) => {
                        warn!(error = %err, "the notifications change stream broke; resuming");
                        stream = None;
                    }
                    None => stream = None,
                },
                _ = ticker.tick() => {
                    // The poll also covers what a broken stream may have missed; ids already
                    // delivered are skipped.
                    let polled = if stream.is_none() {
                        let polled = self.poll_notifications().await;
                        if polled.is_ok() {
                            self.ready.send_replace(true);
                        }
                        polled
                    } else {
                        self.forget_old();
                        Ok(0)
                    };
                    if let Err(err) = polled.and(self.poll_tickets().await) {
                        warn!(error = %err, "the live relay could not read a feed; retrying");
                    }
                }
            }
        }
    }
}

/// Time between attempts to open the change stream after a failure.
const WATCH_RETRY: Duration = Duration::from_secs(5);

/// The stream's next item, or never when there is no stream.
async fn next_item(
    stream: &mut Option<NotificationStream>,
) -> Option<StoreResult<(Notification, ResumeToken)>> {
    match stream {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::domain::{
        ComplaintId, Envelope, Event, EventMetadata, ManualClock, NotificationKind, Priority,
        TicketId, TicketRequeued, UserId,
    };
    use crate::store::Inbox;
    use crate::store::MemoryStore;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    #[async_trait]
    impl LiveSink for Recorder {
        async fn notify(&self, n: &Notification) {
            self.0.lock().unwrap().push(n.message.clone());
        }
        async fn ticket_changed(&self, t: &Ticket) {
            self.0.lock().unwrap().push(t.title.as_str().to_owned());
        }
    }

    fn note(message: &str, at: DateTime<Utc>) -> Notification {
        let meta = EventMetadata::requested("c", "t");
        let event = Envelope::new(
            Event::TicketRequeued(TicketRequeued {
                ticket_id: TicketId::generate(),
                complaint_id: ComplaintId::from_sequence(1),
                user_id: UserId::generate(),
                title: "A ticket".into(),
                category: "General".into(),
                priority: Priority::Low,
                previous_assignee: None,
                reason: "test".into(),
            }),
            meta,
            at,
        );
        Notification::of(
            &event,
            UserId::generate(),
            NotificationKind::TicketAssigned,
            message.into(),
            json!({}),
            at,
        )
    }

    #[tokio::test]
    async fn each_notification_is_delivered_once_even_when_written_late() {
        let t0 = Utc::now();
        let clock = ManualClock::new(t0);
        let store = Arc::new(MemoryStore::new());
        let sink = Arc::new(Recorder::default());
        let settings = FeedSettings {
            batch: 2,
            ..FeedSettings::default()
        };
        let mut relay = NotificationRelay::new(store.clone(), sink.clone(), &clock, settings);
        let before_start = note("old", t0 - TimeDelta::minutes(5));
        store.insert_notifications(&[before_start]).await.unwrap();
        let batch: Vec<_> = (1..=5)
            .map(|i| note(&format!("n{i}"), t0 + TimeDelta::seconds(i)))
            .collect();
        store.insert_notifications(&batch).await.unwrap();
        assert_eq!(relay.poll_once().await.unwrap(), 5);
        assert_eq!(relay.poll_once().await.unwrap(), 0, "nothing twice");
        // Written now by a worker whose clock is 10 s behind the newest notification.
        let late = note("late", t0 + TimeDelta::seconds(5) - TimeDelta::seconds(10));
        store.insert_notifications(&[late]).await.unwrap();
        assert_eq!(relay.poll_once().await.unwrap(), 1);
        let got = sink.0.lock().unwrap().clone();
        assert_eq!(got, ["n1", "n2", "n3", "n4", "n5", "late"]);
    }
}
