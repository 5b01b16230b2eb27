//! The worker end to end: the original QuickFix "Expected Behavior" flows, idempotence,
//! poison messages, concurrency and crashes. Each runs on the embedded backends and on
//! MongoDB + SNS/SQS.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::{Backend, Session, TestApp, eventually};
use quickfix::domain::{
    EventType, HistoryKind, Priority, Status, SystemClock, TicketId, TicketRef, WORKER_EVENT_TYPES,
};
use quickfix::worker::{ConsumerSettings, Context, Worker};
use quickfix::{MemoryTopology, Queue, SnsPublisher, SqsQueue, Store, aws_config};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);

/// Store, publisher, worker queue and dead-letter queue of one backend.
type Adapters = (
    Arc<dyn Store>,
    Arc<dyn quickfix::Publisher>,
    Arc<dyn Queue>,
    Arc<dyn Queue>,
);

/// The API and one or more workers on the worker queue, with its dead-letter queue.
struct System {
    app: TestApp,
    queue: Arc<dyn Queue>,
    dead_letters: Arc<dyn Queue>,
    shutdown: CancellationToken,
}

fn settings() -> ConsumerSettings {
    ConsumerSettings {
        wait: Duration::from_secs(1),
        visibility_timeout: Duration::from_secs(2),
        backoff_base: Duration::from_secs(1),
        ..ConsumerSettings::default()
    }
}

impl System {
    async fn start(backend: Backend) -> Option<Self> {
        let spec = quickfix::TopologySpec {
            visibility_timeout: Duration::from_secs(2),
            max_receive_count: 3,
            ..common::unique_spec(WORKER_EVENT_TYPES.to_vec())
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
                let store = common::mongo_store().await?;
                let endpoint = common::aws_endpoint()?;
                let topology = common::aws_topology(&endpoint, &spec).await;
                let config = aws_config(&common::aws_options(&endpoint)).await;
                (
                    Arc::new(store),
                    Arc::new(SnsPublisher::new(&config, &topology.topic_arn)),
                    Arc::new(SqsQueue::new(&config, &topology.queue_url)),
                    Arc::new(SqsQueue::new(&config, &topology.dead_letter_queue_url)),
                )
            }
        };
        // The test app observes nothing itself: the worker consumes the queue.
        let observer = MemoryTopology::provision(&common::unique_spec(vec![])).queue;
        let app = common::start(store, publisher, observer, 16 * 1024).await;
        let system = Self {
            app,
            queue,
            dead_letters,
            shutdown: CancellationToken::new(),
        };
        Some(system)
    }

    fn context(&self) -> Context {
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
    fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        self.spawn_worker_with(self.context())
    }

    fn spawn_worker_with(&self, ctx: Context) -> tokio::task::JoinHandle<()> {
        let worker = Worker::new(
            self.queue.clone(),
            Some(self.dead_letters.clone()),
            ctx,
            settings(),
        );
        tokio::spawn(worker.run(self.shutdown.clone()))
    }

    async fn ticket(&self, id: &str) -> quickfix::domain::Ticket {
        let id = TicketId::parse(id).unwrap();
        self.app
            .store
            .find_ticket(TicketRef::Id(id))
            .await
            .unwrap()
            .unwrap()
    }

    /// Waits until the ticket satisfies `check`.
    async fn ticket_where(
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

    async fn set_presence(&self, admin: &Session, agent_id: &str, presence: &str) {
        self.app
            .patch(
                &format!("/api/agents/{agent_id}/presence"),
                Some(&admin.token),
                json!({"presence": presence}),
            )
            .await
            .expect(200);
    }

    async fn agent_view(&self, admin: &Session, agent_id: &str) -> Value {
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

    async fn notifications(&self, who: &Session) -> Vec<Value> {
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
    async fn drain_queue(&self) {
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
    async fn settle(&self) {
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
    async fn stop_workers(&self, workers: Vec<tokio::task::JoinHandle<()>>) {
        self.shutdown.cancel();
        for w in workers {
            tokio::time::timeout(WAIT, w)
                .await
                .expect("worker stops")
                .unwrap();
        }
    }

    async fn stop(self, workers: Vec<tokio::task::JoinHandle<()>>) {
        self.shutdown.cancel();
        for w in workers {
            tokio::time::timeout(WAIT, w)
                .await
                .expect("worker stops")
                .unwrap();
        }
    }
}

fn assigned_entries(t: &quickfix::domain::Ticket) -> usize {
    t.history
        .iter()
        .filter(|h| h.kind == quickfix::domain::HistoryKind::Assigned)
        .count()
}

/// Only agent 1 (Technical, Account; capacity 1) stays online.
async fn only_agent1_online(s: &System, admin: &Session) -> Session {
    let agent1 = s.app.agent(1).await;
    for n in [2, 3] {
        let other = s.app.agent(n).await;
        s.set_presence(admin, &other.id, "offline").await;
    }
    agent1
}

async fn creating_a_ticket_assigns_a_free_agent_and_notifies(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;

    // 1. the ticket is saved; 2. ticket.created is published (the outbox relay)
    let t = s
        .app
        .open_ticket(&customer, "Internet issue", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();
    // 3./4. the worker receives it and assigns the free agent
    let ticket = s
        .ticket_where(id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    assert_eq!(ticket.assignee.unwrap().to_string(), agent1.id);
    assert_eq!(assigned_entries(&ticket), 1);
    assert_eq!(ticket.history.last().unwrap().actor, "system");
    // 5. the agent is busy
    let view = s.agent_view(&admin, &agent1.id).await;
    assert_eq!(view["availability"], "busy");
    assert_eq!(view["activeTickets"], 1);
    // 6. the agent is notified (and so is the customer)
    let agent_inbox = eventually(WAIT, || async {
        let n = s.notifications(&agent1).await;
        (!n.is_empty()).then_some(n)
    })
    .await
    .expect("the agent was notified");
    assert_eq!(agent_inbox[0]["kind"], "ticketAssigned");
    assert_eq!(agent_inbox[0]["data"]["id"], id);
    assert_eq!(agent_inbox[0]["data"]["status"], "Assigned");
    let customer_inbox = eventually(WAIT, || async {
        let n = s.notifications(&customer).await;
        (!n.is_empty()).then_some(n)
    })
    .await
    .expect("the customer was notified");
    assert_eq!(customer_inbox[0]["kind"], "complaintUpdated");
    s.stop(vec![worker]).await;
}

async fn resolving_frees_the_agent_who_takes_the_next_ticket(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;
    let first = s
        .app
        .open_ticket(&customer, "First problem", "Technical")
        .await;
    let first_id = first["id"].as_str().unwrap();
    s.ticket_where(first_id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    // The agent is busy: the next tickets wait in the backlog, the urgent one first.
    let low = s
        .app
        .open_ticket(&customer, "Second problem", "Account")
        .await;
    let urgent = s
        .app
        .open_ticket(&customer, "Urgent problem", "Technical")
        .await;
    let urgent_id = urgent["id"].as_str().unwrap();
    s.ticket_where(urgent_id, "High", |t| {
        t.priority == quickfix::domain::Priority::High
    })
    .await;
    assert_eq!(
        s.ticket(low["id"].as_str().unwrap()).await.status,
        Status::Open
    );

    // 1. resolved in the store; 2. the agent's slot is given back; 3. ticket.resolved published
    s.app
        .patch(
            &format!("/api/complaints/{first_id}/status"),
            Some(&agent1.token),
            json!({"status": "Resolved", "message": "Issue fixed!"}),
        )
        .await
        .expect(200);
    // 4.-7. the worker gives the agent the next ticket: the highest priority, then the oldest
    let next = s
        .ticket_where(urgent_id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    assert_eq!(next.assignee.unwrap().to_string(), agent1.id);
    assert_eq!(
        s.ticket(low["id"].as_str().unwrap()).await.status,
        Status::Open
    );
    assert_eq!(
        s.agent_view(&admin, &agent1.id).await["availability"],
        "busy"
    );
    // 8. the agent is notified of the new ticket; 9. the customer sees the resolution
    eventually(WAIT, || async {
        let n = s.notifications(&agent1).await;
        n.iter()
            .any(|n| n["kind"] == "ticketAssigned" && n["data"]["id"] == urgent_id)
            .then_some(())
    })
    .await
    .expect("the agent was notified of the next ticket");
    eventually(WAIT, || async {
        let n = s.notifications(&customer).await;
        n.iter()
            .any(|n| n["message"].as_str().unwrap().contains("is now Resolved"))
            .then_some(())
    })
    .await
    .expect("the customer was told the ticket is resolved");
    s.stop(vec![worker]).await;
}

async fn duplicate_deliveries_change_nothing(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;
    let t = s.app.open_ticket(&customer, "Once only", "Technical").await;
    let id = t["id"].as_str().unwrap();
    let ticket = s
        .ticket_where(id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    let first_inbox = eventually(WAIT, || async {
        let n = s.notifications(&agent1).await;
        (!n.is_empty()).then_some(n)
    })
    .await
    .unwrap();

    // The same ticket.created, delivered three more times.
    let created = common::envelope(
        EventType::TicketCreated,
        json!({"ticketId": id, "complaintId": t["complaintId"], "userId": customer.id, "title": "Once only",
               "category": "Technical", "priority": "Medium", "assignedTo": null,
               "description": "Something is wrong"}),
        &quickfix::domain::EventMetadata::requested("dup", customer.id.clone()),
    );
    // And the ticket.assigned that notified the agent, again.
    let assigned_event = ticket
        .history
        .iter()
        .find(|h| h.kind == quickfix::domain::HistoryKind::Assigned)
        .unwrap();
    assert_eq!(assigned_event.actor, "system");
    s.stop_workers(vec![worker]).await;
    let attrs = vec![("eventType".to_owned(), "ticket.created".to_owned())];
    for _ in 0..3 {
        s.queue.send(&created.to_json(), &attrs).await.unwrap();
    }
    s.drain_queue().await;
    let after = s.ticket(id).await;
    assert_eq!(after.revision, ticket.revision, "the ticket did not change");
    assert_eq!(assigned_entries(&after), 1);
    let view = s.agent_view(&admin, &agent1.id).await;
    assert_eq!(view["activeTickets"], 1);
    assert_eq!(
        s.notifications(&agent1).await.len(),
        first_inbox.len(),
        "no second notification"
    );
}

async fn a_redelivered_resolution_releases_the_slot_once(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    // An agent with two slots, alone online.
    let body = json!({"name": "Two Slots", "email": "two@quickfix.dev", "password": "agent-password",
                      "skills": ["General"], "capacity": 2, "presence": "online"});
    let two = s
        .app
        .post("/api/agents", Some(&admin.token), body)
        .await
        .expect(201)
        .body;
    let two_id = two["id"].as_str().unwrap().to_owned();
    for n in [1, 2, 3] {
        let a = s.app.agent(n).await;
        s.set_presence(&admin, &a.id, "offline").await;
    }
    let a = s.app.open_ticket(&customer, "Alpha", "General").await;
    let b = s.app.open_ticket(&customer, "Beta", "General").await;
    for t in [&a, &b] {
        s.ticket_where(t["id"].as_str().unwrap(), "Assigned", |t| {
            t.status == Status::Assigned
        })
        .await;
    }
    assert_eq!(s.agent_view(&admin, &two_id).await["freeSlots"], 0);
    let token = s
        .app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "two@quickfix.dev", "password": "agent-password"}),
        )
        .await
        .expect(200)
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let a_id = a["id"].as_str().unwrap();
    s.app
        .patch(
            &format!("/api/complaints/{a_id}/status"),
            Some(&token),
            json!({"status": "Resolved"}),
        )
        .await
        .expect(200);
    eventually(WAIT, || async {
        (s.agent_view(&admin, &two_id).await["freeSlots"] == 1).then_some(())
    })
    .await
    .expect("the slot came back");
    // The same ticket.resolved, redelivered twice: still one free slot, not two.
    let resolved = common::envelope(
        EventType::TicketResolved,
        json!({"ticketId": a_id, "complaintId": "COMP-00001", "agentId": two_id, "resolvedBy": two_id,
               "resolvedAt": chrono::Utc::now(), "userId": two_id, "title": "Resolved",
               "priority": "Medium"}),
        &quickfix::domain::EventMetadata::requested("dup", two_id.clone()),
    );
    s.stop_workers(vec![worker]).await;
    let attrs = vec![("eventType".to_owned(), "ticket.resolved".to_owned())];
    s.queue.send(&resolved.to_json(), &attrs).await.unwrap();
    s.queue.send(&resolved.to_json(), &attrs).await.unwrap();
    s.drain_queue().await;
    let view = s.agent_view(&admin, &two_id).await;
    assert_eq!(view["freeSlots"], 1);
    assert_eq!(view["activeTickets"], 1);
}

async fn poison_messages_are_dead_lettered_and_the_worker_keeps_going(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let attrs = |t: &str| vec![("eventType".to_owned(), t.to_owned())];
    s.queue
        .send("this is not JSON", &attrs("ticket.created"))
        .await
        .unwrap();
    s.queue
        .send(
            r#"{"eventType":"ticket.exploded","version":1}"#,
            &attrs("ticket.exploded"),
        )
        .await
        .unwrap();
    let future = json!({"eventId": uuid::Uuid::new_v4(), "eventType": "ticket.created", "version": 3,
                        "timestamp": chrono::Utc::now(), "data": {}, "metadata": {"correlationId": "c", "causationId": null, "actor": "x"}});
    s.queue
        .send(&future.to_string(), &attrs("ticket.created"))
        .await
        .unwrap();
    let missing = json!({"eventId": uuid::Uuid::new_v4(), "eventType": "ticket.created", "version": 1,
                         "timestamp": chrono::Utc::now(), "data": {}, "metadata": {"correlationId": "c", "causationId": null, "actor": "x"}});
    s.queue
        .send(&missing.to_string(), &attrs("ticket.created"))
        .await
        .unwrap();

    // The worker keeps going.
    let t = s
        .app
        .open_ticket(&customer, "After the poison", "Technical")
        .await;
    s.ticket_where(t["id"].as_str().unwrap(), "Assigned", |t| {
        t.status == Status::Assigned
    })
    .await;

    let letters = eventually(WAIT, || async {
        let l = quickfix::worker::dead_letters::list(s.dead_letters.as_ref(), 10)
            .await
            .unwrap();
        (l.len() >= 4).then_some(l)
    })
    .await
    .expect("four dead letters");
    let mut reasons: Vec<String> = letters
        .iter()
        .map(|l| l.reason.clone().unwrap_or_default())
        .collect();
    reasons.sort();
    assert!(
        reasons.iter().any(|r| r.contains("not JSON")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("unknown eventType `ticket.exploded`")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("unsupported ticket.created version 3")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("invalid ticket.created payload")
                && r.contains("missing field `ticketId`")),
        "{reasons:?}"
    );
    assert!(letters.iter().all(|l| l.receive_count >= 1));

    // Redrive brings them back to the worker queue (where the worker dead-letters them again).
    s.shutdown.cancel();
    tokio::time::timeout(WAIT, worker).await.unwrap().unwrap();
    let moved = quickfix::worker::dead_letters::redrive(s.dead_letters.as_ref(), s.queue.as_ref())
        .await
        .unwrap();
    assert_eq!(moved, 4);
    // The queue also carries what the relay still publishes after the worker stopped (the
    // last ticket's events): read until every redriven message is back.
    let poison = [
        "this is not JSON".to_owned(),
        r#"{"eventType":"ticket.exploded","version":1}"#.to_owned(),
        future.to_string(),
        missing.to_string(),
    ];
    let mut back = Vec::new();
    let until = tokio::time::Instant::now() + WAIT;
    while !poison.iter().all(|p| back.contains(p)) && tokio::time::Instant::now() < until {
        back.extend(common::collect_bodies(s.queue.as_ref(), 1, Duration::from_secs(5)).await);
    }
    assert!(poison.iter().all(|p| back.contains(p)), "{back:?}");
    assert!(
        quickfix::worker::dead_letters::list(s.dead_letters.as_ref(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn an_agent_going_offline_has_untouched_tickets_rerouted(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;
    let t = s
        .app
        .open_ticket(&customer, "Reroute me", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();
    s.ticket_where(id, "Assigned to agent 1", |t| {
        t.assignee.is_some_and(|a| a.to_string() == agent1.id)
    })
    .await;
    let agent3 = s.app.agent(3).await;
    s.set_presence(&admin, &agent3.id, "online").await;
    s.set_presence(&admin, &agent1.id, "offline").await;

    let moved = s
        .ticket_where(id, "Assigned to agent 3", |t| {
            t.assignee.is_some_and(|a| a.to_string() == agent3.id)
        })
        .await;
    assert!(
        moved
            .history
            .iter()
            .any(|h| h.kind == quickfix::domain::HistoryKind::Requeued)
    );
    assert_eq!(s.agent_view(&admin, &agent1.id).await["activeTickets"], 0);
    assert_eq!(
        s.agent_view(&admin, &agent3.id).await["availability"],
        "busy"
    );
    s.stop(vec![worker]).await;
}

async fn an_agent_coming_online_takes_the_backlog(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    for n in [1, 2, 3] {
        let a = s.app.agent(n).await;
        s.set_presence(&admin, &a.id, "offline").await;
    }
    let normal = s.app.open_ticket(&customer, "Normal", "Billing").await;
    let outage = s
        .app
        .open_ticket(&customer, "Payments outage", "Billing")
        .await;
    let outage_id = outage["id"].as_str().unwrap();
    s.ticket_where(outage_id, "Critical", |t| {
        t.priority == quickfix::domain::Priority::Critical
    })
    .await;
    assert_eq!(s.ticket(outage_id).await.status, Status::Open);

    let agent2 = s.app.agent(2).await;
    s.set_presence(&admin, &agent2.id, "online").await;
    let taken = s
        .ticket_where(outage_id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    assert_eq!(taken.assignee.unwrap().to_string(), agent2.id);
    assert_eq!(
        s.ticket(normal["id"].as_str().unwrap()).await.status,
        Status::Open,
        "capacity 1: one ticket"
    );
    s.stop(vec![worker]).await;
}

async fn four_workers_share_the_load_without_double_assignment(s: System) {
    let workers: Vec<_> = (0..4).map(|_| s.spawn_worker()).collect();
    let admin = s.app.admin().await;
    let customer = s.app.customer(1).await;
    for n in [1, 2, 3] {
        let a = s.app.agent(n).await;
        s.set_presence(&admin, &a.id, "offline").await;
    }
    let mut agents = Vec::new();
    for i in 0..10 {
        let email = format!("pool{i}@quickfix.dev");
        let body = json!({"name": format!("Pool {i}"), "email": email, "password": "agent-password",
                          "skills": ["General"], "capacity": 2, "presence": "online"});
        let id = s
            .app
            .post("/api/agents", Some(&admin.token), body)
            .await
            .expect(201)
            .body["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let token = s
            .app
            .post(
                "/api/auth/login",
                None,
                json!({"email": email, "password": "agent-password"}),
            )
            .await
            .expect(200)
            .body["token"]
            .as_str()
            .unwrap()
            .to_owned();
        agents.push(Session { token, id });
    }
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(
            s.app
                .open_ticket(&customer, &format!("Load ticket {i}"), "General")
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    // Agents resolve whatever they hold until every ticket is resolved; the invariants hold at
    // every look.
    let until = tokio::time::Instant::now() + Duration::from_secs(240);
    loop {
        for agent in s
            .app
            .store
            .list_users(quickfix::domain::Role::Agent)
            .await
            .unwrap()
        {
            let p = agent.agent.unwrap();
            assert!(
                p.holds.len() <= p.capacity as usize,
                "agent over capacity: {p:?}"
            );
            assert_eq!(p.free_slots as usize + p.holds.len(), p.capacity as usize);
        }
        let mut resolved_now = 0;
        for agent in &agents {
            let mine = s
                .app
                .get(
                    "/api/complaints?status=Assigned&limit=100",
                    Some(&agent.token),
                )
                .await
                .expect(200)
                .body;
            let mine = mine["items"].as_array().unwrap();
            assert!(mine.len() <= 2, "an agent holds {} tickets", mine.len());
            for t in mine {
                let path = format!("/api/complaints/{}/status", t["id"].as_str().unwrap());
                s.app
                    .patch(&path, Some(&agent.token), json!({"status": "Resolved"}))
                    .await
                    .expect(200);
                resolved_now += 1;
            }
        }
        let done = s
            .app
            .get(
                "/api/complaints?status=Resolved&limit=100",
                Some(&admin.token),
            )
            .await
            .expect(200)
            .body;
        if done["items"].as_array().unwrap().len() == 100 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "not every ticket was assigned and resolved"
        );
        if resolved_now == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for id in &ids {
        let t = s.ticket(id).await;
        assert_eq!(
            assigned_entries(&t),
            1,
            "ticket {id} was assigned {} times",
            assigned_entries(&t)
        );
        assert_eq!(t.status, Status::Resolved);
    }
    s.stop(workers).await;
}

async fn a_worker_killed_mid_handler_leaves_the_message_to_another(s: System) {
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent2 = s.app.agent(2).await;
    s.set_presence(&admin, &agent2.id, "offline").await;
    // Handle the start-up events first, so the ticket's is the only message worker A sees.
    s.settle().await;

    // Worker A freezes after claiming an agent, before writing the ticket; then it is killed.
    let hanging = common::faulty_store::FaultyStore::hanging(s.app.store.clone());
    let mut ctx = s.context();
    ctx.store = hanging.clone();
    let doomed = s.spawn_worker_with(ctx);
    let t = s
        .app
        .open_ticket(&customer, "Crash test", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();
    tokio::time::timeout(WAIT, hanging.hung.notified())
        .await
        .expect("worker A reached the write");
    // While its handler runs, the heartbeat keeps the message hidden well past the 2 s
    // visibility timeout.
    let stolen = s.queue.receive(10, Duration::from_secs(5)).await.unwrap();
    assert!(
        stolen.is_empty(),
        "a running handler's message was redelivered"
    );
    doomed.abort();
    let _ = doomed.await;
    let claimed_by_dead: Vec<_> = s
        .app
        .store
        .list_users(quickfix::domain::Role::Agent)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| {
            a.agent
                .as_ref()
                .unwrap()
                .holds
                .iter()
                .any(|h| h.ticket.to_string() == id)
        })
        .map(|a| a.id)
        .collect();
    assert_eq!(claimed_by_dead.len(), 1, "worker A had claimed one agent");
    assert_eq!(s.ticket(id).await.status, Status::Open);

    // The message comes back after its visibility timeout; worker B applies it once.
    let survivor = s.spawn_worker();
    let ticket = s
        .ticket_where(id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    assert_eq!(assigned_entries(&ticket), 1);
    let holder = ticket.assignee.unwrap();
    assert_ne!(
        holder, claimed_by_dead[0],
        "the dead worker's claim is not reused"
    );

    // The sweep gives back the slot the dead worker claimed.
    let report = quickfix::worker::sweep(&s.context(), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(report.released, 1);
    for agent in s
        .app
        .store
        .list_users(quickfix::domain::Role::Agent)
        .await
        .unwrap()
    {
        let holds: Vec<String> = agent
            .agent
            .unwrap()
            .holds
            .iter()
            .map(|h| h.ticket.to_string())
            .collect();
        if agent.id == holder {
            assert_eq!(holds, vec![id.to_owned()]);
        } else {
            assert!(holds.is_empty(), "{} still holds {holds:?}", agent.id);
        }
    }
    s.stop(vec![survivor]).await;
}

async fn a_failing_handler_backs_off_then_lands_in_the_dead_letter_queue(s: System) {
    let customer = s.app.customer(1).await;
    s.settle().await;
    let failing = common::faulty_store::FaultyStore::failing(s.app.store.clone());
    let mut ctx = s.context();
    ctx.store = failing;
    let worker = Worker::new(
        s.queue.clone(),
        Some(s.dead_letters.clone()),
        ctx,
        settings(),
    );
    let t = s
        .app
        .open_ticket(&customer, "Never assignable", "Technical")
        .await;
    let token = CancellationToken::new();

    // maxReceiveCount is 3: three failed attempts, each retried later than the one before.
    let mut attempts = Vec::new();
    let until = tokio::time::Instant::now() + WAIT;
    while attempts.len() < 3 {
        assert!(
            tokio::time::Instant::now() < until,
            "the message did not come back"
        );
        let report = worker.step(&token).await.unwrap();
        if report.received > 0 {
            assert_eq!(report.retried, 1);
            attempts.push(tokio::time::Instant::now());
        }
    }
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps[0] >= Duration::from_millis(900),
        "first retry after ~1 s, was {:?}",
        gaps[0]
    );
    assert!(
        gaps[1] >= Duration::from_millis(1900),
        "second retry after ~2 s, was {:?}",
        gaps[1]
    );
    // The next receive moves it to the dead-letter queue instead of delivering it.
    let dead = common::eventually(WAIT, || async {
        let _ = worker.step(&token).await.unwrap();
        let l = quickfix::worker::dead_letters::list(s.dead_letters.as_ref(), 10)
            .await
            .unwrap();
        (!l.is_empty()).then_some(l)
    })
    .await
    .expect("dead-lettered after maxReceiveCount");
    assert_eq!(dead[0].ticket_id.as_deref(), t["id"].as_str());
    assert_eq!(
        dead[0].reason, None,
        "moved by the queue's redrive policy, not as poison"
    );
    assert_eq!(
        s.ticket(t["id"].as_str().unwrap()).await.status,
        Status::Open
    );
    // The failed attempts gave their claimed slots back.
    for agent in s
        .app
        .store
        .list_users(quickfix::domain::Role::Agent)
        .await
        .unwrap()
    {
        assert!(agent.agent.unwrap().holds.is_empty());
    }
}

async fn the_sweep_assigns_a_ticket_whose_event_was_lost(s: System) {
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;
    // Written without its event, as if the message had been lost.
    let ticket = insert_ticket(&s, &customer, "Account", Priority::Low, Utc::now(), false).await;

    let report = quickfix::worker::sweep(&s.context(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(report.assigned, 1);
    assert_eq!(report.released, 0);
    let t = s.ticket(&ticket.id.to_string()).await;
    assert_eq!(t.status, Status::Assigned);
    assert_eq!(t.assignee.unwrap().to_string(), agent1.id);
}

async fn a_reopened_ticket_is_routed_again_without_overbooking(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;
    let first = s
        .app
        .open_ticket(&customer, "Comes back", "Technical")
        .await;
    let first_id = first["id"].as_str().unwrap();
    s.ticket_where(first_id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    let waiting = s.app.open_ticket(&customer, "Waiting", "Technical").await;
    let waiting_id = waiting["id"].as_str().unwrap();
    let path = format!("/api/complaints/{first_id}/status");
    s.app
        .patch(&path, Some(&agent1.token), json!({"status": "Resolved"}))
        .await
        .expect(200);
    // The freed agent takes the waiting ticket.
    s.ticket_where(waiting_id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    // The customer reopens the first: it waits for a free agent instead of overbooking agent 1.
    s.app
        .patch(&path, Some(&customer.token), json!({"status": "Open"}))
        .await
        .expect(200);
    s.settle().await;
    let reopened = s.ticket(first_id).await;
    assert_eq!(reopened.status, Status::Open);
    assert!(reopened.assignee.is_none());
    let view = s.agent_view(&admin, &agent1.id).await;
    assert_eq!(view["activeTickets"], 1);
    // Once agent 3 comes online, the reopened ticket is routed to them.
    let agent3 = s.app.agent(3).await;
    s.set_presence(&admin, &agent3.id, "online").await;
    let routed = s
        .ticket_where(first_id, "Assigned again", |t| t.status == Status::Assigned)
        .await;
    assert_eq!(routed.assignee.unwrap().to_string(), agent3.id);
    s.stop(vec![worker]).await;
}

/// One test per backend for each listed function taking a [`System`].
/// Stores a ticket `customer` opened at `opened` (the API only opens tickets now), with its
/// `ticket.created` event or without it (as if the message had been lost).
async fn insert_ticket(
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

async fn an_unanswered_ticket_breaches_escalates_and_alerts_admins(s: System) {
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    for n in 1..=3 {
        let agent = s.app.agent(n).await;
        s.set_presence(&admin, &agent.id, "offline").await;
    }
    let _worker = s.spawn_worker();
    tokio::spawn(quickfix::worker::run_escalations(
        s.context(),
        Duration::from_millis(200),
        s.shutdown.clone(),
    ));
    // Nobody is online; the ticket has waited 20 minutes against a 15-minute target.
    let opened = Utc::now() - chrono::TimeDelta::minutes(20);
    let ticket = insert_ticket(&s, &customer, "Technical", Priority::Critical, opened, true).await;
    let t = s
        .ticket_where(&ticket.id.to_string(), "escalated", |t| {
            t.sla.escalation_level >= 1
        })
        .await;
    let kinds: Vec<HistoryKind> = t.history.iter().map(|h| h.kind).collect();
    assert!(kinds.contains(&HistoryKind::SlaBreach), "{kinds:?}");
    assert!(!kinds.contains(&HistoryKind::SlaWarning), "{kinds:?}");
    assert_eq!(t.status, Status::Open);
    // The breach and the escalation travel as events to the worker, which notifies admins.
    let inbox = eventually(WAIT, || async {
        let reply = s
            .app
            .get("/api/notifications", Some(&admin.token))
            .await
            .expect(200);
        let kinds: Vec<String> = reply
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["data"]["id"] == ticket.id.to_string())
            .map(|n| n["kind"].as_str().unwrap().to_owned())
            .collect();
        (kinds.len() >= 2).then_some(kinds)
    })
    .await
    .expect("the admin is told of the breach and the escalation");
    assert!(inbox.contains(&"slaBreached".to_owned()), "{inbox:?}");
    assert!(inbox.contains(&"ticketEscalated".to_owned()), "{inbox:?}");
}

macro_rules! on_both_backends_system {
    ($($name:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let s = super::System::start(super::Backend::Embedded).await.expect("embedded system");
                    super::$name(s).await;
                }
            )+
        }
        mod real {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(s) = super::System::start(super::Backend::Real).await else { return };
                    super::$name(s).await;
                }
            )+
        }
    };
}

on_both_backends_system!(
    creating_a_ticket_assigns_a_free_agent_and_notifies,
    resolving_frees_the_agent_who_takes_the_next_ticket,
    duplicate_deliveries_change_nothing,
    a_redelivered_resolution_releases_the_slot_once,
    poison_messages_are_dead_lettered_and_the_worker_keeps_going,
    an_agent_going_offline_has_untouched_tickets_rerouted,
    an_agent_coming_online_takes_the_backlog,
    four_workers_share_the_load_without_double_assignment,
    a_worker_killed_mid_handler_leaves_the_message_to_another,
    a_failing_handler_backs_off_then_lands_in_the_dead_letter_queue,
    the_sweep_assigns_a_ticket_whose_event_was_lost,
    a_reopened_ticket_is_routed_again_without_overbooking,
    an_unanswered_ticket_breaches_escalates_and_alerts_admins,
);
