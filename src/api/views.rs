//! Response bodies: how tickets, history, users and agents look on the wire (camelCase JSON).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::schema;

use crate::domain::{
    Availability, HistoryEntry, HistoryKind, Presence, Priority, Role, Status, TargetClock, Ticket,
    TicketAsOf, Tier, User,
};

/// A ticket, as every route returns it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketView {
    /// Internal id (UUID).
    #[schema(schema_with = schema::uuid)]
    pub id: String,
    /// Human id, `COMP-00001`; accepted wherever `{id}` is.
    #[schema(schema_with = schema::complaint_id)]
    pub complaint_id: String,
    /// Summary.
    pub title: String,
    /// Details.
    pub description: String,
    /// Category.
    pub category: String,
    /// Priority.
    #[schema(schema_with = schema::priority)]
    pub priority: Priority,
    /// Status.
    #[schema(schema_with = schema::status)]
    pub status: Status,
    /// The requester's user id.
    #[schema(schema_with = schema::uuid)]
    pub user_id: String,
    /// The assigned agent's user id.
    #[schema(schema_with = schema::uuid_or_null)]
    pub assigned_to: Option<String>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was last assigned.
    pub assigned_at: Option<DateTime<Utc>>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Its SLA targets and escalation level.
    pub sla: SlaView,
}

/// A ticket as its events tell it at a given time (`GET /api/complaints/{id}?at=`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketAsOfView {
    /// Internal id (UUID).
    #[schema(schema_with = schema::uuid)]
    pub id: String,
    /// Human id.
    #[schema(schema_with = schema::complaint_id)]
    pub complaint_id: String,
    /// Summary.
    pub title: String,
    /// Details (empty when its `ticket.created` was version 1).
    pub description: String,
    /// Category.
    pub category: String,
    /// Priority then.
    #[schema(schema_with = schema::priority)]
    pub priority: Priority,
    /// Status then.
    #[schema(schema_with = schema::status)]
    pub status: Status,
    /// The requester's user id.
    #[schema(schema_with = schema::uuid)]
    pub user_id: String,
    /// The agent holding it then.
    #[schema(schema_with = schema::uuid_or_null)]
    pub assigned_to: Option<String>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// Its last change up to `asOf`.
    pub updated_at: DateTime<Utc>,
    /// Its last assignment up to `asOf`.
    pub assigned_at: Option<DateTime<Utc>>,
    /// When it was resolved, if it was resolved then.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The escalation level reached then.
    pub escalation_level: u32,
    /// The time asked for.
    pub as_of: DateTime<Utc>,
    /// How many events it was rebuilt from.
    pub events: usize,
}

impl From<&TicketAsOf> for TicketAsOfView {
    fn from(t: &TicketAsOf) -> Self {
        Self {
            id: t.id.to_string(),
            complaint_id: t.complaint_id.to_string(),
            title: t.title.clone(),
            description: t.description.clone(),
            category: t.category.clone(),
            priority: t.priority,
            status: t.status,
            user_id: t.requester.to_string(),
            assigned_to: t.assignee.map(|a| a.to_string()),
            created_at: t.created_at,
            updated_at: t.updated_at,
            assigned_at: t.assigned_at,
            resolved_at: t.resolved_at,
            escalation_level: t.escalation_level,
            as_of: t.as_of,
            events: t.events,
        }
    }
}

/// A ticket's SLA state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlaView {
    /// Time to the staff's first public reply.
    pub first_response: TargetView,
    /// The latest next-reply cycle (a customer reply waiting for the staff's answer, or the
    /// last one answered); `null` until the customer first replies.
    pub next_reply: Option<TargetView>,
    /// Time to resolution.
    pub resolution: TargetView,
    /// The highest escalation rule applied (0: never escalated).
    pub escalation_level: u32,
    /// Since when the resolution clock is paused (the ticket waits on the customer), or
    /// `null`.
    pub paused_since: Option<DateTime<Utc>>,
    /// Seconds of SLA time the resolution clock stood still in earlier pauses; its due time
    /// moved by as much.
    pub paused_seconds: i64,
    /// The plan whose targets apply (the requester's organization's when the ticket opened);
    /// `null` for the default targets.
    pub plan: Option<String>,
    /// The region whose business calendar applies; `null` for the default calendar.
    pub region: Option<String>,
}

/// One SLA target of a ticket.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetView {
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// When the warning is raised.
    pub warn_at: DateTime<Utc>,
    /// When it was met.
    pub met_at: Option<DateTime<Utc>>,
    /// When the warning was recorded.
    pub warned_at: Option<DateTime<Utc>>,
    /// When the breach was recorded.
    pub breached_at: Option<DateTime<Utc>>,
    /// When the breach was acknowledged (its escalation stopped).
    pub acknowledged_at: Option<DateTime<Utc>>,
}

impl From<&TargetClock> for TargetView {
    fn from(c: &TargetClock) -> Self {
        Self {
            due_at: c.due_at,
            warn_at: c.warn_at,
            met_at: c.met_at,
            warned_at: c.warned_at,
            breached_at: c.breached_at,
            acknowledged_at: c.acknowledged_at,
        }
    }
}

impl From<&Ticket> for SlaView {
    fn from(t: &Ticket) -> Self {
        let s = &t.sla;
        Self {
            first_response: (&s.first_response).into(),
            next_reply: s.next_reply.as_ref().map(TargetView::from),
            resolution: (&s.resolution).into(),
            escalation_level: s.escalation_level,
            paused_since: s.paused_since,
            paused_seconds: s.paused.num_seconds(),
            plan: t.terms.plan.clone(),
            region: t.terms.region.clone(),
        }
    }
}

impl From<&Ticket> for TicketView {
    fn from(t: &Ticket) -> Self {
        Self {
            id: t.id.to_string(),
            complaint_id: t.complaint_id.to_string(),
            title: t.title.as_str().to_owned(),
            description: t.description.as_str().to_owned(),
            category: t.category.as_str().to_owned(),
            priority: t.priority,
            status: t.status,
            user_id: t.requester.to_string(),
            assigned_to: t.assignee.map(|a| a.to_string()),
            created_at: t.created_at,
            updated_at: t.updated_at,
            assigned_at: t.assigned_at,
            resolved_at: t.resolved_at,
            sla: t.into(),
        }
    }
}

/// `GET /api/complaints/{id}`: the ticket, or with `at` the ticket as it was then.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum TicketOrAsOf {
    /// The ticket now.
    Ticket(Box<TicketView>),
    /// The ticket as its events tell it at the time asked for.
    AsOf(Box<TicketAsOfView>),
}

/// One page of tickets, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketPage {
    /// The tickets.
    pub items: Vec<TicketView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One entry of a ticket's history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    /// When.
    pub at: DateTime<Utc>,
    /// Who: a user id or `system`.
    pub actor: String,
    /// What: `created`, `status_changed`, `assigned`, `priority_changed`, `requeued`,
    /// `sla_warning`, `sla_breach`, `escalated`.
    #[schema(schema_with = schema::history_kind)]
    pub kind: HistoryKind,
    /// Value before.
    pub from: Option<String>,
    /// Value after.
    pub to: Option<String>,
    /// Why.
    pub note: Option<String>,
}

impl From<&HistoryEntry> for HistoryView {
    fn from(h: &HistoryEntry) -> Self {
        Self {
            at: h.at,
            actor: h.actor.clone(),
            kind: h.kind,
            from: h.from.clone(),
            to: h.to.clone(),
            note: h.note.clone(),
        }
    }
}

/// An agent's routing profile.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentProfileView {
    /// Categories taken.
    pub skills: Vec<String>,
    /// Seniority.
    #[schema(schema_with = schema::tier)]
    pub tier: Tier,
    /// Tickets held at once.
    pub capacity: u32,
    /// Set by the agent or an admin.
    #[schema(schema_with = schema::presence)]
    pub presence: Presence,
    /// Derived: available, busy or offline.
    #[schema(schema_with = schema::availability)]
    pub availability: Availability,
    /// Slots free now.
    pub free_slots: u32,
    /// Tickets held now.
    pub active_tickets: u32,
    /// When the agent last got a ticket.
    pub last_assigned_at: Option<DateTime<Utc>>,
}

/// A user; agents carry their profile.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// User id.
    #[schema(schema_with = schema::uuid)]
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
    /// customer, agent or admin.
    #[schema(schema_with = schema::role)]
    pub role: Role,
    /// Present for agents.
    pub agent: Option<AgentProfileView>,
    /// A disabled account cannot sign in.
    pub disabled: bool,
    /// The customer's organization, or `null`.
    #[schema(schema_with = schema::uuid_or_null)]
    pub organization_id: Option<String>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            name: u.name.as_str().to_owned(),
            email: u.email.as_str().to_owned(),
            role: u.role,
            agent: u.agent.as_ref().map(|a| AgentProfileView {
                skills: a.skills.iter().map(|s| s.as_str().to_owned()).collect(),
                tier: a.tier,
                capacity: a.capacity,
                presence: a.presence,
                availability: a.availability(),
                free_slots: a.free_slots,
                active_tickets: a.active_tickets(),
                last_assigned_at: a.last_assigned_at,
            }),
            disabled: u.disabled,
            organization_id: u.organization.map(|o| o.to_string()),
        }
    }
}

/// A signed-in session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// Bearer token for `Authorization: Bearer <token>`.
    pub token: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// Who signed in.
    pub user: UserView,
}
