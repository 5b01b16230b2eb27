//! Round trips per operation, on the MongoDB-compatible server: the commands each operation that
//! carries QuickFix's load sends, counted with the driver's command monitoring, against a stated
//! budget; and the query plans (`explain`) of the two queries that must stay on an index, a
//! list page and an assignment's claim. The budgets are the table "Round trips per operation" in
//! docs/operations.md.
//!
//! The operations run through the code that runs them in production: the API's router (without
//! its relay, so nothing else talks to the database meanwhile) and the worker's `dispatch` and
//! `scan`. Sessions are checked against the store on every request here (the auth cache is off),
//! so each API budget includes that one read, which the cache usually saves.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, TimeZone, Utc};
use common::commands::{Commands, assert_on_index, check, explain, secantus_version, stages};
use quickfix::app::{AppConfig, Server};
use quickfix::domain::{
    AgentProfile, Categories, ComplaintId, Description, Email, EventMetadata, EventType,
    ManualClock, NewTicket, PasswordHash, PersonName, Presence, Priority, PriorityRules, Role,
    SlaPolicy, Ticket, TicketId, TicketRef, Tier, Title, User, UserId,
};
use quickfix::worker::{Context, dispatch, scan};
use quickfix::{
    ApiLimits, MemoryStore, MemoryTopology, MongoStore, MongoStoreOptions, Outbox, OutboxOwner,
    RelaySettings, Sessions, Store, TicketStore, TokenKeys, TopologySpec, UserStore,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tower::ServiceExt;

/// `POST /api/complaints`: the session check, the complaint number (one `findAndModify` on the
/// counter) and the ticket with its `ticket.created` event (one `insert`).
const CREATE_BUDGET: usize = 3;

/// `GET /api/complaints?limit=20` for a customer: the session check and one `find` (a page of up
/// to 100 fits the first batch, so there is no `getMore`, and no count).
const LIST_PAGE_BUDGET: usize = 2;

/// The worker handling `ticket.created` up to the assignment: the handler reads the ticket (for
/// the priority rules), routing starts from that read, claims the agent's slot (one sorted
/// `findAndModify`) and writes the ticket with its `ticket.assigned`.
const ASSIGN_BUDGET: usize = 3;

/// `PATCH /api/complaints/{id}/status` to Resolved by the assigned agent: the session check,
/// the ticket (the agent holds it, so their skills are not read), and the conditional write
/// with its events.
const RESOLVE_BUDGET: usize = 3;

/// The worker handling that `ticket.resolved` with an empty backlog: the ticket, the slot given
/// back, the agent, and the backlog query that finds nothing.
const RESOLVED_BUDGET: usize = 4;

/// One SLA scan batch: two reads whatever the batch's size (the page of due tickets, asked for
/// in one batch, and the read that finds nothing left)...
const SCAN_READS: usize = 2;
/// ...and one conditional write per due ticket (its warning, breach and escalation step together).
const SCAN_WRITES_PER_TICKET: usize = 1;

/// Due tickets in the scanned batch: more than a server's default first batch (101), so a page
/// read in several batches would show.
const SCAN_BATCH: usize = 120;

/// Password hashes are never checked here: tokens are issued directly.
const NO_PASSWORD: &str = "";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

/// The API's router and the worker's context over one monitored store, with a customer and an
/// online agent taking `Technical` tickets.
struct Rig {
    store: Arc<MongoStore>,
    database: String,
    commands: Commands,
    clock: Arc<ManualClock>,
    api: axum::Router,
    worker: Context,
    customer: String,
    agent: User,
    agent_token: String,
    /// Lends its state to `api`; serves and relays on a memory store of its own.
    _template: Server,
}

impl Rig {
    /// `None` (skip) when no server is configured outside CI; in CI a missing server fails.
    async fn new() -> Option<Self> {
        let uri = common::mongo_uri()?;
        let database = format!("qf_test_{}", uuid::Uuid::new_v4().simple());
        let commands = Commands::default();
        let store = MongoStore::connect_monitored(
            &uri,
            &database,
            MongoStoreOptions::default(),
            commands.handler(),
        )
        .await
        .expect("connect to the test MongoDB");
        let store = Arc::new(store);
        let dyn_store: Arc<dyn Store> = store.clone();
        let clock = Arc::new(ManualClock::new(t0()));
        let sla = Arc::new(SlaPolicy::default());
        let keys = || {
            TokenKeys::new(
                &SecretString::from(common::JWT_SECRET),
                Duration::from_secs(3600),
            )
        };
        let limits = ApiLimits::generous(65_536);
        // A real server's state with the monitored store swapped in, and no relay: nothing else
        // talks to the database while an operation is measured.
        let template = Server::start(
            AppConfig {
                store: Arc::new(MemoryStore::new()),
                publisher: MemoryTopology::provision(&TopologySpec::default()).topic,
                clock: clock.clone(),
                tokens: keys(),
                categories: Categories::default(),
                sla: sla.clone(),
                relay: RelaySettings::default(),
                limits: limits.clone(),
                access: common::test_access(),
                metrics_addr: None,
                shutdown_grace: common::STOP_GRACE,
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .expect("start the template server");
        let sessions = Arc::new(Sessions::new(keys(), dyn_store.clone(), Duration::ZERO));
        let mut state = template.state().clone();
        state.store = dyn_store.clone();
        state.sessions = sessions.clone();
        state.outbox = Arc::new(Notify::new());
        let worker = Context {
            store: dyn_store,
            clock: clock.clone(),
            rules: PriorityRules::default(),
            sla,
            outbox: Arc::new(Notify::new()),
            requeue_on_offline: true,
        };
        let customer = user(Role::Customer, "customer", None);
        let mut agent = user(
            Role::Agent,
            "agent",
            Some(AgentProfile::new(vec![technical()], Tier::Agent, 5).unwrap()),
        );
        let online = agent
            .set_presence(Presence::Online, t0(), meta())
            .expect("the agent goes online");
        store.insert_user(&customer, &[]).await.unwrap();
        store.insert_user(&agent, &[online]).await.unwrap();
        let rig = Self {
            customer: sessions.issue(&customer),
            agent_token: sessions.issue(&agent),
            agent,
            store,
            database,
            commands,
            clock,
            api: quickfix::router(state, &limits),
            worker,
            _template: template,
        };
        rig.commands.take();
        Some(rig)
    }

    /// Sends one request to the API; returns its status and JSON body.
    async fn request(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let mut request = request
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let client: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(client));
        let response = self.api.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Opens a ticket in `category` through the API, unmeasured; returns its id.
    async fn open(&self, n: usize, category: &str) -> TicketId {
        let (status, body) = self
            .request(
                Method::POST,
                "/api/complaints",
                &self.customer,
                Some(complaint(n, category)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        self.commands.take();
        TicketId::parse(body["id"].as_str().unwrap()).unwrap()
    }

    /// The stored event of `event_type` that `ticket`'s outbox holds (not yet relayed).
    async fn pending(&self, ticket: TicketId, event_type: EventType) -> quickfix::domain::Envelope {
        let pending = self.store.pending_events(1000).await.unwrap();
        self.commands.take();
        pending
            .into_iter()
            .filter(|p| p.owner == OutboxOwner::Ticket(ticket))
            .flat_map(|p| p.events)
            .find(|e| e.event_type() == event_type)
            .unwrap_or_else(|| panic!("no pending {event_type:?} for {ticket}"))
    }

    async fn ticket(&self, id: TicketId) -> Ticket {
        let ticket = self
            .store
            .find_ticket(TicketRef::Id(id))
            .await
            .unwrap()
            .unwrap();
        self.commands.take();
        ticket
    }
}

fn meta() -> EventMetadata {
    EventMetadata::requested("test", "test")
}

fn technical() -> quickfix::domain::Category {
    Categories::default()
        .parse("category", "Technical")
        .unwrap()
}

fn user(role: Role, name: &str, agent: Option<AgentProfile>) -> User {
    User::new(
        PersonName::parse("Test Person").unwrap(),
        Email::parse(&format!("{name}-{}@example.com", UserId::generate())).unwrap(),
        role,
        PasswordHash::from_phc(NO_PASSWORD.into()),
        agent,
        t0(),
    )
}

/// A complaint in `category`.
fn complaint(n: usize, category: &str) -> Value {
    json!({"title": format!("Printer jams on page {n}"), "description": "Every time.",
           "category": category})
}

/// Creates a ticket, lists a page, lets the worker assign it, resolves it and lets the worker
/// take the resolution: each keeps to its budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_the_worker_keep_to_their_round_trip_budgets() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    // Enough of the customer's tickets that a page is full, none of which the agent takes: the
    // backlog is empty for the agent when the ticket is resolved.
    for n in 0..25 {
        rig.open(n, "General").await;
    }
    let ((status, created), create) = rig
        .commands
        .measure(
            "create (POST /api/complaints)",
            CREATE_BUDGET,
            rig.request(
                Method::POST,
                "/api/complaints",
                &rig.customer,
                Some(complaint(99, "Technical")),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = TicketId::parse(created["id"].as_str().unwrap()).unwrap();

    let ((status, page), list) = rig
        .commands
        .measure(
            "list page (GET /api/complaints?limit=20)",
            LIST_PAGE_BUDGET,
            rig.request(Method::GET, "/api/complaints?limit=20", &rig.customer, None),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 20);
    assert_eq!(page["items"][0]["id"], created["id"], "newest first");

    let event = rig.pending(id, EventType::TicketCreated).await;
    let (handled, assign) = rig
        .commands
        .measure(
            "assign (worker: ticket.created)",
            ASSIGN_BUDGET,
            dispatch(&rig.worker, &event),
        )
        .await;
    handled.unwrap();
    assert_eq!(rig.ticket(id).await.assignee, Some(rig.agent.id));

    let ((status, resolved), resolve) = rig
        .commands
        .measure(
            "resolve (PATCH /api/complaints/{id}/status)",
            RESOLVE_BUDGET,
            rig.request(
                Method::PATCH,
                &format!("/api/complaints/{id}/status"),
                &rig.agent_token,
                Some(json!({"status": "Resolved"})),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");

    let event = rig.pending(id, EventType::TicketResolved).await;
    let (handled, after) = rig
        .commands
        .measure(
            "resolve, worker side (ticket.resolved)",
            RESOLVED_BUDGET,
            dispatch(&rig.worker, &event),
        )
        .await;
    handled.unwrap();
    let agent = rig.store.find_user(rig.agent.id).await.unwrap().unwrap();
    assert!(agent.agent.unwrap().holds.is_empty(), "the slot is back");

    check(&[create, list, assign, resolve, after]);
}

/// One scan over a batch of due tickets: a fixed number of reads, one write per ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sla_scan_batch_keeps_to_its_round_trip_budget() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    let sla = SlaPolicy::default();
    let tickets: Vec<Ticket> = (1..=SCAN_BATCH as u64)
        .map(|seq| {
            let new = NewTicket {
                title: Title::parse(&format!("Checkout broken {seq}")).unwrap(),
                description: Description::parse("Nobody can pay").unwrap(),
                category: technical(),
                priority: Priority::Medium,
                terms: Default::default(),
            };
            let requester = UserId::generate();
            Ticket::open(
                new,
                ComplaintId::from_sequence(seq),
                requester,
                &sla,
                t0(),
                meta(),
            )
            .0
        })
        .collect();
    rig.store.insert_tickets(&tickets).await.unwrap();
    // First response due: each ticket gets its warning, its breach and the "unanswered" step.
    let due = tickets[0].sla.first_response.due_at;
    rig.clock.set(due);
    rig.commands.take();

    let budget = SCAN_READS + SCAN_WRITES_PER_TICKET * SCAN_BATCH;
    let (report, batch) = rig
        .commands
        .measure(
            "one SLA scan batch (120 due tickets)",
            budget,
            scan(&rig.worker),
        )
        .await;
    let report = report.unwrap();
    assert_eq!(report.breaches, SCAN_BATCH, "{report:?}");
    check(&[batch]);
}

/// The list page's `find` and the claim's `findAndModify`, exactly as sent, run on an index
/// (the server's `explain`: an `IXSCAN` of the expected index, no `COLLSCAN`).
///
/// SecantusDB explains both, but its planner puts a query on an index only when the filter is
/// equalities on the index's leading fields plus at most one range on the next field, and it
/// sorts in memory unless the sort is on the index's first field. So it reports a `SORT` for the
/// list page, and a `COLLSCAN` for the claim, whose filter has two operators (`$gt` on the free
/// slots, `$ne` on the held ticket). That answer is pinned: the day SecantusDB plans the claim,
/// this test says so. Elsewhere the claim must scan `routing` and the page must not sort.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_page_and_an_assignment_claim_use_an_index() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    for n in 0..5 {
        rig.open(n, "General").await;
    }
    let id = rig.open(5, "Technical").await;
    let (_, list) = rig
        .commands
        .measure(
            "list page",
            LIST_PAGE_BUDGET,
            rig.request(Method::GET, "/api/complaints?limit=20", &rig.customer, None),
        )
        .await;
    let event = rig.pending(id, EventType::TicketCreated).await;
    let (_, assign) = rig
        .commands
        .measure("assign", ASSIGN_BUDGET, dispatch(&rig.worker, &event))
        .await;

    let database = mongodb::Client::with_uri_str(common::mongo_uri().unwrap())
        .await
        .unwrap()
        .database(&rig.database);
    let secantus = secantus_version(&database).await;
    let list = explain(&database, list.command("find", "tickets")).await;
    println!("list page: {:?}", stages(&list));
    assert_on_index("list page", &list, "requester_newest");
    if secantus.is_none() {
        // `{requester: 1, _id: -1}` yields the page in its order: no sort in memory.
        assert!(
            !stages(&list).iter().any(|(stage, _)| stage == "SORT"),
            "the list page sorts in memory: {list}"
        );
    }

    let claim = explain(&database, assign.command("findAndModify", "users")).await;
    println!("claim: {:?}", stages(&claim));
    match secantus {
        None => assert_on_index("claim", &claim, "routing"),
        Some(version) => assert_eq!(
            stages(&claim),
            [("COLLSCAN".to_owned(), None)],
            "SecantusDB {version} plans the claim differently now: {claim}"
        ),
    }
}
