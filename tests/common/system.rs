//! The worker harness: the API and workers on one backend's worker queue and dead-letter
//! queue, with helpers to drive and observe them.

use std::sync::Arc;
use std::time::Duration;

use super::{Backend, Session, TestApp, eventually};
use chrono::Utc;
use quickfix::domain::{Priority, SystemClock, TicketId, TicketRef, WORKER_EVENT_TYPES};
use quickfix::worker::{ConsumerSettings, Context, Worker};
use quickfix::{MemoryTopology, Queue, SnsPublisher, SqsQueue, Store, aws_config};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(60);

/// Store, publisher, worker queue and dead-letter queue of one backend.
pub type Adapters = (
    Arc<dyn Store>,
    Arc<dyn quickfix::Publisher>,
    Arc<dyn Queue>,
    Arc<dyn Queue>,
);

/// The API and one or more workers on the worker queue, with its dead-letter queue.
pub struct System {
    pub app: TestApp,
    pub queue: Arc<dyn Queue>,
    pub dead_letters: Arc<dyn Queue>,
    pub shutdown: CancellationToken,
}

pub fn settings() -> ConsumerSettings {
    ConsumerSettings {
        wait: Duration::from_secs(1),
        visibility_timeout: Duration::from_secs(2),
        backoff_base: Duration::from_secs(1),
        ..ConsumerSettings::default()
    }
}

impl System {
    pub async fn start(backend: Backend) -> Option<Self> {
        let spec = quickfix::TopologySpec {
            visibility_timeout: Duration::from_secs(2),
            max_receive_count: 3,
            ..super::unique_spec(WORKER_EVENT_TYPES.to_vec())
        };
        let (store, publisher, queue, dead_letters): Adapters = match backend {
            Backend::Embedded => {
                let t = MemoryTopology::provision(&spec);
                (
                    Arc::new(quickfix::MemoryStore::new()),
                    t.topic,
                    t.queue,
                    t.dead_letter_queue,
                )
            }
            Backend::Real => {
                let store = super::mongo_store().await?;
                let endpoint = super::aws_endpoint()?;
                let topology = super::aws_topology(&endpoint, &spec).await;
                let config = aws_config(&super::aws_options(&endpoint)).await;
                (
                    Arc::new(store),
                    Arc::new(SnsPublisher::new(&config, &topology.topic_arn)),
                    Arc::new(SqsQueue::new(&config, &topology.queue_url)),
                    Arc::new(SqsQueue::new(&config, &topology.dead_letter_queue_url)),
                )
            }
        };
        // The test app observes nothing itself: the worker consumes the queue.
        let observer = MemoryTopology::provision(&super::unique_spec(vec![])).queue;
        let app = super::start(store, publisher, observer, 16 * 1024).await;
        let system = Self {
            app,
            queue,
            dead_letters,
            shutdown: CancellationToken::new(),
        };
        Some(system)
    }

    pub fn context(&self) -> Context {
        Context {
            store: self.app.store.clone(),
            clock: Arc::new(SystemClock),
            rules: quickfix::domain::PriorityRules::default(),
            sla: Arc::new(quickfix::domain::SlaPolicy::default()),
            outbox: self.app.server.state().outbox.clone(),
            requeue_on_offline: true,
        }
    }

    /// Starts a worker consuming until the system stops.
    pub fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        self.spawn_worker_with(self.context())
    }

    pub fn spawn_worker_with(&self, ctx: Context) -> tokio::task::JoinHandle<()> {
        let worker = Worker::new(
            self.queue.clone(),
            Some(self.dead_letters.clone()),
            ctx,
            settings(),
        );
        tokio::spawn(worker.run(self.shutdown.clone()))
    }

    pub async fn ticket(&self, id: &str) -> quickfix::domain::Ticket {
        let id = TicketId::parse(id).unwrap();
        self.app
            .store
            .find_ticket(TicketRef::Id(id))
            .await
            .unwrap()
            .unwrap()
    }

    /// Waits until the ticket satisfies `check`.
    pub async fn ticket_where(
        &self,
        id: &str,
        what: &str,
        check: impl Fn(&quickfix::domain::Ticket) -> bool,
    ) -> quickfix::domain::Ticket {
        eventually(WAIT, || async {
            let t = self.ticket(id).await;
            check(&t).then_some(t)
        })
        .await
        .unwrap_or_else(|| panic!("ticket {id} never became {what}"))
    }

    pub async fn set_presence(&self, admin: &Session, agent_id: &str, presence: &str) {
        self.app
            .patch(
                &format!("/api/agents/{agent_id}/presence"),
                Some(&admin.token),
                json!({"presence": presence}),
            )
            .await
            .expect(200);
    }

    pub async fn agent_view(&self, admin: &Session, agent_id: &str) -> Value {
        let agents = self
            .app
            .get("/api/agents", Some(&admin.token))
            .await
            .expect(200)
            .body;
        agents
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == agent_id)
            .unwrap()["agent"]
            .clone()
    }

    pub async fn notifications(&self, who: &Session) -> Vec<Value> {
        self.app
            .get("/api/notifications", Some(&who.token))
            .await
            .expect(200)
            .body
            .as_array()
            .unwrap()
            .clone()
    }

    /// Handles everything in the queue with a worker stepped by hand: when a step receives
    /// nothing, every message sent before has been handled (no background worker may run).
    pub async fn drain_queue(&self) {
        let worker = Worker::new(
            self.queue.clone(),
            Some(self.dead_letters.clone()),
            self.context(),
            settings(),
        );
        let token = CancellationToken::new();
        let until = tokio::time::Instant::now() + WAIT;
        while worker.step(&token).await.unwrap().received > 0 {
            assert!(
                tokio::time::Instant::now() < until,
                "the queue never drained"
            );
        }
    }

    /// Publishes everything written so far and handles it, so the next message a worker sees
    /// is the next one the test causes.
    pub async fn settle(&self) {
        eventually(WAIT, || async {
            self.app
                .store
                .pending_events(10)
                .await
                .unwrap()
                .is_empty()
                .then_some(())
        })
        .await
        .expect("start-up events published");
        self.drain_queue().await;
    }

    /// Stops the background workers.
    pub async fn stop_workers(&self, workers: Vec<tokio::task::JoinHandle<()>>) {
        self.shutdown.cancel();
        for w in workers {
            tokio::time::timeout(WAIT, w)
                .await
                .expect("worker stops")
                .unwrap();
        }
    }

    pub async fn stop(self, workers: Vec<tokio::task::JoinHandle<()>>) {
        self.shutdown.cancel();
        for w in workers {
            tokio::time::timeout(WAIT, w)
                .await
                .expect("worker stops")
                .unwrap();
        }
    }
}

pub fn assigned_entries(t: &quickfix::domain::Ticket) -> usize {
    t.history
        .iter()
        .filter(|h| h.kind == quickfix::domain::HistoryKind::Assigned)
        .count()
}

/// Only agent 1 (Technical, Account; capacity 1) stays online.
pub async fn only_agent1_online(s: &System, admin: &Session) -> Session {
    let agent1 = s.app.agent(1).await;
    for n in [2, 3] {
        let other = s.app.agent(n).await;
        s.set_presence(admin, &other.id, "offline").await;
    }
    agent1
}

/// Stores a ticket `customer` opened at `opened` (the API only opens tickets now), with its
/// `ticket.created` event or without it (as if the message had been lost).
pub async fn insert_ticket(
    s: &System,
    customer: &Session,
    category: &str,
    priority: Priority,
    opened: chrono::DateTime<Utc>,
    with_event: bool,
) -> quickfix::domain::Ticket {
    let store = s.app.store.clone();
    let seq = store.next_complaint_number().await.unwrap();
    let new = quickfix::domain::NewTicket {
        title: quickfix::domain::Title::parse(&format!("Ticket {seq}")).unwrap(),
        description: quickfix::domain::Description::parse("d").unwrap(),
        category: quickfix::domain::Categories::default()
            .parse("category", category)
            .unwrap(),
        priority,
        terms: Default::default(),
    };
    let requester = quickfix::domain::UserId::parse("id", &customer.id).unwrap();
    let meta = quickfix::domain::EventMetadata::requested("c", customer.id.clone());
    let (ticket, event) = quickfix::domain::Ticket::open(
        new,
        quickfix::domain::ComplaintId::from_sequence(seq),
        requester,
        &quickfix::domain::SlaPolicy::default(),
        opened,
        meta,
    );
    let events = if with_event { vec![event] } else { Vec::new() };
    store.insert_ticket(&ticket, &events).await.unwrap();
    s.app.server.state().outbox.notify_one();
    ticket
}

/// One test per backend for each listed async test function taking a [`System`].
#[macro_export]
macro_rules! on_both_backends_system {
    ($($name:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let s = $crate::common::system::System::start($crate::common::Backend::Embedded)
                        .await
                        .expect("embedded system");
                    super::$name(s).await;
                }
            )+
        }
        mod real {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(s) = $crate::common::system::System::start($crate::common::Backend::Real).await
                    else {
                        return;
                    };
                    super::$name(s).await;
                }
            )+
        }
    };
}
