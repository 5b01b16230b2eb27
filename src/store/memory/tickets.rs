//! Tickets in memory, with the indexes kept in step on every write.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{IndexKeys, MemoryStore, Record};
use crate::domain::{Category, Envelope, Ticket, TicketRef};
use crate::store::{
    OutboxOwner, SlaRecord, StoreError, StoreResult, StoredAnswer, TicketQuery, TicketStore,
};

#[async_trait]
impl TicketStore for MemoryStore {
    async fn next_complaint_number(&self) -> StoreResult<u64> {
        let mut inner = self.lock();
        inner.complaint_counter += 1;
        Ok(inner.complaint_counter)
    }

    async fn insert_ticket_answering(
        &self,
        ticket: &Ticket,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<()> {
        let mut inner = self.lock();
        inner.check_answer(answer, ticket.created_at)?;
        if inner.by_complaint.contains_key(&ticket.complaint_id) {
            return Err(StoreError::Conflict {
                field: "complaintId",
            });
        }
        if inner.tickets.contains_key(&ticket.id) {
            return Err(StoreError::Conflict { field: "id" });
        }
        inner.by_complaint.insert(ticket.complaint_id, ticket.id);
        inner.keep_answer(answer);
        inner.reindex(None, ticket);
        inner.tickets.insert(
            ticket.id,
            Record {
                doc: ticket.clone(),
                outbox: events.to_vec(),
                lease: None,
            },
        );
        inner.add_events(OutboxOwner::Ticket(ticket.id), events);
        Ok(())
    }

    async fn find_ticket(&self, by: TicketRef) -> StoreResult<Option<Ticket>> {
        let inner = self.lock();
        let id = match by {
            TicketRef::Id(id) => Some(id),
            TicketRef::Complaint(c) => inner.by_complaint.get(&c).copied(),
        };
        Ok(id
            .and_then(|id| inner.tickets.get(&id))
            .map(|r| r.doc.clone()))
    }

    async fn list_tickets(&self, query: &TicketQuery) -> StoreResult<Vec<Ticket>> {
        let inner = self.lock();
        let range = match query.before {
            Some(before) => inner.tickets.range(..before),
            None => inner.tickets.range(..),
        };
        Ok(range
            .rev()
            .map(|(_, r)| &r.doc)
            .filter(|t| query.matches(t))
            .take(query.limit)
            .cloned()
            .collect())
    }

    async fn update_ticket_answering(
        &self,
        ticket: &Ticket,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<bool> {
        let mut inner = self.lock();
        inner.check_answer(answer, ticket.updated_at)?;
        let Some(record) = inner.tickets.get_mut(&ticket.id) else {
            return Ok(false);
        };
        if record.doc.revision != ticket.revision {
            return Ok(false);
        }
        let before = IndexKeys::of(&record.doc);
        record.doc = ticket.clone();
        record.doc.revision += 1;
        record.outbox.extend_from_slice(events);
        inner.add_events(OutboxOwner::Ticket(ticket.id), events);
        inner.keep_answer(answer);
        inner.reindex(Some(before), ticket);
        Ok(true)
    }

    async fn next_backlog_ticket(&self, skills: &[Category]) -> StoreResult<Option<Ticket>> {
        let inner = self.lock();
        Ok(inner
            .backlog
            .iter()
            .filter_map(|(_, id)| inner.tickets.get(id))
            .map(|r| &r.doc)
            .find(|t| skills.contains(&t.category))
            .cloned())
    }

    async fn count_open_tickets(&self) -> StoreResult<u64> {
        Ok(self.lock().backlog.len() as u64)
    }

    async fn sla_checks_due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Ticket>> {
        let inner = self.lock();
        Ok(inner
            .sla_checks
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .filter_map(|(_, id)| inner.tickets.get(id).map(|r| r.doc.clone()))
            .collect())
    }

    async fn tickets_due(
        &self,
        after: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Ticket>> {
        let inner = self.lock();
        Ok(inner
            .sla_due
            .iter()
            .skip_while(|(at, _)| after.is_some_and(|a| *at <= a))
            .take_while(|(at, _)| *at <= until)
            .take(limit)
            .filter_map(|(_, id)| inner.tickets.get(id).map(|r| r.doc.clone()))
            .collect())
    }

    async fn tickets_changed_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Ticket>> {
        let inner = self.lock();
        Ok(inner
            .changed
            .iter()
            .rev()
            .take_while(|(at, _)| *at > since)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .take(limit)
            .filter_map(|(_, id)| inner.tickets.get(id).map(|r| r.doc.clone()))
            .collect())
    }

    async fn sla_records(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<SlaRecord>> {
        Ok(self
            .lock()
            .tickets
            .values()
            .map(|r| &r.doc)
            .filter(|t| t.created_at >= from && t.created_at < to)
            .map(|t| SlaRecord {
                priority: t.priority,
                status: t.status,
                sla: t.sla,
                terms: t.terms.clone(),
            })
            .collect())
    }
}
