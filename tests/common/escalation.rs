//! The escalation scene: a store, a manual clock at [`t0`] and the worker's context with an SLA
//! policy, to open tickets, add users and agents, assign through the atomic claim and run the
//! escalation scan at a chosen time (`tests/escalation*.rs`).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use quickfix::domain::{
    AgentProfile, Calendar, Categories, Clock, ComplaintId, Description, Email, Envelope,
    EscalationAction, EscalationRule, EventMetadata, HistoryKind, ManualClock, Mark, NewTicket,
    PasswordHash, PersonName, Presence, Priority, PriorityRules, Role, SlaPolicy, Ticket,
    TicketRef, Tier, Title, User, UserId,
};
use quickfix::worker::{Context, ScanReport, scan};
use quickfix::{OutboxOwner, Store, commit_claimed};
use tokio::sync::Notify;

/// The scene's start: Monday 23 November 2026, 10:00 UTC.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

/// The metadata of every event the scene writes.
pub fn meta() -> EventMetadata {
    EventMetadata::requested("test", "test")
}

/// An escalation rule for every priority and status: `after` past `since`, take `actions`.
pub fn rule(
    name: &str,
    since: Mark,
    after: TimeDelta,
    actions: &[EscalationAction],
) -> EscalationRule {
    EscalationRule {
        name: name.into(),
        priorities: Vec::new(),
        statuses: Vec::new(),
        since,
        after,
        actions: actions.to_vec(),
    }
}

/// The default targets and 80% warning, around the clock, with `rules` as the ladder. Agents
/// have 30 days to act on a ticket, so acceptance (`tests/acceptance.rs`) stays out of the way.
pub fn policy(rules: Vec<EscalationRule>) -> SlaPolicy {
    let d = SlaPolicy::default();
    SlaPolicy::new(|p| d.targets(p), 0.8, Calendar::Always, rules)
        .unwrap()
        .with_acceptance(|_| TimeDelta::days(30), 2)
        .unwrap()
}

/// A store, a manual clock at [`t0`] and a worker context on both, with an SLA policy.
pub struct Scene {
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub ctx: Context,
}

impl Scene {
    /// A scene on `store` under `policy`, its clock at [`t0`].
    pub fn new(store: Arc<dyn Store>, policy: SlaPolicy) -> Self {
        let clock = Arc::new(ManualClock::new(t0()));
        let ctx = Context {
            store: store.clone(),
            clock: clock.clone(),
            rules: PriorityRules::default(),
            sla: Arc::new(policy),
            outbox: Arc::new(Notify::new()),
            requeue_on_offline: true,
        };
        Self { store, clock, ctx }
    }

    /// Opens a Technical ticket numbered `seq` now, and stores it with its event.
    pub async fn open(&self, seq: u64, priority: Priority) -> Ticket {
        let new = NewTicket {
            title: Title::parse(&format!("Checkout broken {seq}")).unwrap(),
            description: Description::parse("Nobody can pay").unwrap(),
            category: Categories::default()
                .parse("category", "Technical")
                .unwrap(),
            priority,
            terms: Default::default(),
        };
        let (ticket, event) = Ticket::open(
            new,
            ComplaintId::from_sequence(seq),
            UserId::generate(),
            &self.ctx.sla,
            self.clock.now(),
            meta(),
        );
        self.store.insert_ticket(&ticket, &[event]).await.unwrap();
        ticket
    }

    /// Stores a user; an agent (Technical, `tier`, `capacity`) is online.
    pub async fn user(&self, email: &str, role: Role, tier: Tier, capacity: u32) -> User {
        let agent = (role == Role::Agent).then(|| {
            let skills = vec![Categories::default().parse("skills", "Technical").unwrap()];
            AgentProfile::new(skills, tier, capacity).unwrap()
        });
        let mut user = User::new(
            PersonName::parse("Test Person").unwrap(),
            Email::parse(email).unwrap(),
            role,
            PasswordHash::from_phc("$argon2id$fake".into()),
            agent,
            self.clock.now(),
        );
        let events: Vec<Envelope> = if role == Role::Agent {
            vec![
                user.set_presence(Presence::Online, self.clock.now(), meta())
                    .unwrap(),
            ]
        } else {
            Vec::new()
        };
        self.store.insert_user(&user, &events).await.unwrap();
        user
    }

    /// Gives `ticket` to `agent` through the atomic claim.
    pub async fn assign(&self, ticket: &Ticket, agent: &User) -> Ticket {
        let mut current = self.ticket(ticket).await;
        self.store
            .take_slot(agent.id, current.id, self.clock.now())
            .await
            .unwrap()
            .expect("the agent has a free slot");
        let event = current
            .assign(agent.id, "test", None, self.clock.now(), meta())
            .unwrap();
        assert!(
            commit_claimed(self.store.as_ref(), &current, agent.id, &[event], None)
                .await
                .unwrap()
        );
        self.ticket(ticket).await
    }

    /// The stored ticket.
    pub async fn ticket(&self, t: &Ticket) -> Ticket {
        self.store
            .find_ticket(TicketRef::Id(t.id))
            .await
            .unwrap()
            .unwrap()
    }

    /// Moves the clock to `at` and runs one escalation scan.
    pub async fn scan_at(&self, at: DateTime<Utc>) -> ScanReport {
        self.clock.set(at);
        scan(&self.ctx).await.unwrap()
    }

    /// The ticket's unpublished events, in order.
    pub async fn outbox(&self, t: &Ticket) -> Vec<Envelope> {
        self.store
            .pending_events(1000)
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.owner == OutboxOwner::Ticket(t.id))
            .map(|p| p.events)
            .unwrap_or_default()
    }

    /// The agent's free slots as stored.
    pub async fn free_slots(&self, u: &User) -> u32 {
        let user = self.store.find_user(u.id).await.unwrap().unwrap();
        user.agent.unwrap().free_slots
    }
}

/// The ticket's history kinds that are among `of`, in order.
pub fn kinds(t: &Ticket, of: &[HistoryKind]) -> Vec<HistoryKind> {
    t.history
        .iter()
        .map(|h| h.kind)
        .filter(|k| of.contains(k))
        .collect()
}

/// The history kinds the scan writes.
pub const SLA_KINDS: [HistoryKind; 3] = [
    HistoryKind::SlaWarning,
    HistoryKind::SlaBreach,
    HistoryKind::Escalated,
];
