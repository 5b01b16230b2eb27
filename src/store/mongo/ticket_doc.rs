//! How a ticket is stored: one `tickets` document with its history, SLA state and outbox.

use mongodb::bson;
use serde::{Deserialize, Serialize};

use super::outbox_doc::OutboxEntry;
use super::outbox_doc::outbox_entries;
use super::sla_doc::SlaDoc;
use super::{bson_time, chrono_time, corrupt, rev};
use crate::domain::{
    Category, ComplaintId, Description, Envelope, HistoryEntry, Message, MessageBody, MessageId,
    Priority, Role, SlaTerms, Status, Ticket, TicketId, Title, UserId, Visibility,
};
use crate::store::StoreResult;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HistoryDoc {
    pub(super) at: bson::DateTime,
    pub(super) actor: String,
    pub(super) kind: crate::domain::HistoryKind,
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
    pub(super) note: Option<String>,
}

/// One message of the conversation.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MessageDoc {
    pub(super) id: String,
    pub(super) author: String,
    pub(super) author_role: Role,
    pub(super) visibility: Visibility,
    pub(super) body: String,
    pub(super) at: bson::DateTime,
}

impl MessageDoc {
    fn from_domain(m: &Message) -> Self {
        Self {
            id: m.id.to_string(),
            author: m.author.to_string(),
            author_role: m.author_role,
            visibility: m.visibility,
            body: m.body.as_str().to_owned(),
            at: bson_time(m.at),
        }
    }

    fn into_domain(self) -> StoreResult<Message> {
        let bad = |e: crate::domain::ValidationError| corrupt("message", e.to_string());
        Ok(Message {
            id: MessageId::parse(&self.id).map_err(bad)?,
            author: UserId::parse("author", &self.author).map_err(bad)?,
            author_role: self.author_role,
            visibility: self.visibility,
            body: MessageBody::parse("body", &self.body).map_err(bad)?,
            at: chrono_time(self.at),
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TicketDoc {
    #[serde(rename = "_id")]
    pub(super) id: String,
    pub(super) complaint_id: String,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) category: String,
    pub(super) priority: Priority,
    /// `priority` as a number ([`Priority::rank`]), for sorting the backlog.
    pub(super) priority_rank: i32,
    pub(super) status: Status,
    pub(super) requester: String,
    pub(super) assignee: Option<String>,
    pub(super) created_at: bson::DateTime,
    pub(super) updated_at: bson::DateTime,
    pub(super) assigned_at: Option<bson::DateTime>,
    pub(super) resolved_at: Option<bson::DateTime>,
    pub(super) history: Vec<HistoryDoc>,
    /// Absent in tickets stored before conversations.
    #[serde(default)]
    pub(super) messages: Vec<MessageDoc>,
    pub(super) sla: SlaDoc,
    /// The plan the SLA runs on; absent for the default targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) plan: Option<String>,
    /// The region whose calendar the SLA runs on; absent for the default calendar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) region: Option<String>,
    pub(super) revision: i64,
    #[serde(default)]
    pub(super) pending_events: Vec<OutboxEntry>,
    #[serde(default)]
    pub(super) outbox_pending: bool,
}

impl TicketDoc {
    pub(super) fn from_domain(t: &Ticket, pending_events: Vec<Envelope>) -> Self {
        Self {
            id: t.id.to_string(),
            complaint_id: t.complaint_id.to_string(),
            title: t.title.as_str().to_owned(),
            description: t.description.as_str().to_owned(),
            category: t.category.as_str().to_owned(),
            priority: t.priority,
            priority_rank: i32::from(t.priority.rank()),
            status: t.status,
            requester: t.requester.to_string(),
            assignee: t.assignee.map(|a| a.to_string()),
            created_at: bson_time(t.created_at),
            updated_at: bson_time(t.updated_at),
            assigned_at: t.assigned_at.map(bson_time),
            resolved_at: t.resolved_at.map(bson_time),
            history: t
                .history
                .iter()
                .map(|h| HistoryDoc {
                    at: bson_time(h.at),
                    actor: h.actor.clone(),
                    kind: h.kind,
                    from: h.from.clone(),
                    to: h.to.clone(),
                    note: h.note.clone(),
                })
                .collect(),
            messages: t.messages.iter().map(MessageDoc::from_domain).collect(),
            sla: SlaDoc::from_domain(t),
            plan: t.terms.plan.clone(),
            region: t.terms.region.clone(),
            revision: rev(t.revision),
            outbox_pending: !pending_events.is_empty(),
            pending_events: outbox_entries(&pending_events),
        }
    }

    pub(super) fn into_domain(self) -> StoreResult<Ticket> {
        let bad = |e: crate::domain::ValidationError| corrupt("ticket", e.to_string());
        Ok(Ticket {
            id: TicketId::parse(&self.id).map_err(bad)?,
            complaint_id: ComplaintId::parse(&self.complaint_id).map_err(bad)?,
            title: Title::parse(&self.title).map_err(bad)?,
            description: Description::parse(&self.description).map_err(bad)?,
            category: Category::stored(self.category),
            priority: self.priority,
            status: self.status,
            requester: UserId::parse("requester", &self.requester).map_err(bad)?,
            assignee: self
                .assignee
                .as_deref()
                .map(|a| UserId::parse("assignee", a))
                .transpose()
                .map_err(bad)?,
            created_at: chrono_time(self.created_at),
            updated_at: chrono_time(self.updated_at),
            assigned_at: self.assigned_at.map(chrono_time),
            resolved_at: self.resolved_at.map(chrono_time),
            history: self
                .history
                .into_iter()
                .map(|h| HistoryEntry {
                    at: chrono_time(h.at),
                    actor: h.actor,
                    kind: h.kind,
                    from: h.from,
                    to: h.to,
                    note: h.note,
                })
                .collect(),
            messages: self
                .messages
                .into_iter()
                .map(MessageDoc::into_domain)
                .collect::<StoreResult<_>>()?,
            sla: self.sla.into_domain(),
            terms: SlaTerms {
                plan: self.plan,
                region: self.region,
            },
            revision: u64::try_from(self.revision)
                .map_err(|_| corrupt("ticket", "negative revision".into()))?,
        })
    }
}
