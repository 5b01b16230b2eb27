//! Tickets on MongoDB: the `tickets` collection, numbered from the `counters` collection.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::ReturnDocument;
use serde::Deserialize;
use tracing::instrument;

use super::answer_doc::AnswerDoc;
use super::sla_doc::SlaDoc;
use super::ticket_doc::TicketDoc;
use super::{
    COMPLAINT_COUNTER, MongoStore, bson_time, conflict_on, corrupt, find_many, map_err, rev,
    to_document, with_events,
};
use crate::domain::{Category, Envelope, Priority, SlaTerms, Status, Ticket, TicketRef};
use crate::store::{
    IDEMPOTENCY_KEY, SlaRecord, StoreResult, StoredAnswer, TicketQuery, TicketStore,
};

#[async_trait]
impl TicketStore for MongoStore {
    #[instrument(skip_all)]
    async fn next_complaint_number(&self) -> StoreResult<u64> {
        let counter = self
            .counters
            .find_one_and_update(
                doc! {"_id": COMPLAINT_COUNTER},
                doc! {"$inc": {"seq": 1_i64}},
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?
            .ok_or_else(|| corrupt("counter", "the complaint counter is missing".into()))?;
        let seq = match counter.get("seq") {
            Some(Bson::Int64(n)) => *n,
            Some(Bson::Int32(n)) => i64::from(*n),
            other => {
                return Err(corrupt("counter", format!("seq is {other:?}")));
            }
        };
        u64::try_from(seq).map_err(|_| corrupt("counter", "negative sequence".into()))
    }

    #[instrument(skip_all, fields(ticket_id = %ticket.id))]
    async fn insert_ticket_answering(
        &self,
        ticket: &Ticket,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<()> {
        let doc = to_document(&TicketDoc::from_domain(ticket, events.to_vec()))?;
        self.insert_answering(&self.tickets, doc, answer, ticket.created_at, "complaintId")
            .await
    }

    #[instrument(skip_all)]
    async fn find_ticket(&self, by: TicketRef) -> StoreResult<Option<Ticket>> {
        let filter = match by {
            TicketRef::Id(id) => doc! {"_id": id.to_string()},
            TicketRef::Complaint(c) => doc! {"complaintId": c.to_string()},
        };
        self.find_ticket_where(filter, None).await
    }

    #[instrument(skip_all)]
    async fn list_tickets(&self, query: &TicketQuery) -> StoreResult<Vec<Ticket>> {
        let mut filter = Document::new();
        if let Some(r) = query.requester {
            filter.insert("requester", r.to_string());
        }
        if let Some(a) = query.assignee {
            filter.insert("assignee", a.to_string());
        }
        if let Some(s) = query.status {
            filter.insert("status", s.as_str());
        }
        if let Some(p) = query.priority {
            filter.insert("priority", p.as_str());
        }
        if let Some(c) = &query.category {
            filter.insert("category", c.as_str());
        }
        if let Some(before) = query.before {
            filter.insert("_id", doc! {"$lt": before.to_string()});
        }
        self.find_tickets_where(filter, doc! {"_id": -1}, query.limit)
            .await
    }

    #[instrument(skip_all, fields(ticket_id = %ticket.id))]
    async fn update_ticket_answering(
        &self,
        ticket: &Ticket,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<bool> {
        let mut state = to_document(&TicketDoc::from_domain(ticket, Vec::new()))?;
        state.remove("_id");
        state.remove("pendingEvents");
        state.remove("outboxPending");
        state.insert("revision", rev(ticket.revision + 1));
        let mut update = with_events(state, events)?;
        if let Some(answer) = answer {
            self.make_room_for_answer(answer, ticket.updated_at).await?;
            update.insert(
                "$push",
                doc! {"answers": AnswerDoc::from_domain(answer).to_bson()?},
            );
        }
        let result = self
            .tickets
            .update_one(
                doc! {"_id": ticket.id.to_string(), "revision": rev(ticket.revision)},
                update,
            )
            .await
            .map_err(conflict_on(IDEMPOTENCY_KEY))?;
        Ok(result.matched_count == 1)
    }

    #[instrument(skip_all)]
    async fn next_backlog_ticket(&self, skills: &[Category]) -> StoreResult<Option<Ticket>> {
        let skills: Vec<&str> = skills.iter().map(Category::as_str).collect();
        let filter = doc! {"status": Status::Open.as_str(), "category": {"$in": skills}};
        // `Ticket::backlog_key`: highest priority first, then the oldest ticket.
        self.find_ticket_where(filter, Some(doc! {"priorityRank": -1, "_id": 1}))
            .await
    }

    #[instrument(skip_all)]
    async fn count_open_tickets(&self) -> StoreResult<u64> {
        self.tickets
            .count_documents(doc! {"status": Status::Open.as_str()})
            .await
            .map_err(map_err)
    }

    #[instrument(skip_all)]
    async fn sla_checks_due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Ticket>> {
        self.find_tickets_where(sla_checks_due_filter(now), doc! {"sla.checkAt": 1}, limit)
            .await
    }

    #[instrument(skip_all)]
    async fn tickets_due(
        &self,
        after: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Ticket>> {
        let mut range = doc! {"$lte": bson_time(until)};
        if let Some(after) = after {
            range.insert("$gt", bson_time(after));
        }
        self.find_tickets_where(
            doc! {"sla.nextDueAt": range},
            doc! {"sla.nextDueAt": 1},
            limit,
        )
        .await
    }

    #[instrument(skip_all)]
    async fn tickets_changed_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Ticket>> {
        self.find_tickets_where(
            doc! {"updatedAt": {"$gt": bson_time(since)}},
            doc! {"updatedAt": 1, "_id": 1},
            limit,
        )
        .await
    }

    #[instrument(skip_all)]
    async fn sla_records(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<SlaRecord>> {
        #[derive(Deserialize)]
        struct RecordDoc {
            priority: Priority,
            status: Status,
            sla: SlaDoc,
            #[serde(default)]
            plan: Option<String>,
            #[serde(default)]
            region: Option<String>,
        }
        self.tickets
            .clone_with_type::<RecordDoc>()
            .find(doc! {"createdAt": {"$gte": bson_time(from), "$lt": bson_time(to)}})
            .projection(
                doc! {"_id": 0, "priority": 1, "status": 1, "sla": 1, "plan": 1, "region": 1},
            )
            .await
            .map_err(map_err)?
            .map_ok(|r| SlaRecord {
                priority: r.priority,
                status: r.status,
                sla: r.sla.into_domain(),
                terms: SlaTerms {
                    plan: r.plan,
                    region: r.region,
                },
            })
            .try_collect()
            .await
            .map_err(map_err)
    }
}

impl MongoStore {
    /// At most `limit` tickets matching `filter`, in `sort` order, without their outboxes.
    pub(super) async fn find_tickets_where(
        &self,
        filter: Document,
        sort: Document,
        limit: usize,
    ) -> StoreResult<Vec<Ticket>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        find_many(&self.tickets, filter, sort, Some(limit))
            .await?
            .into_iter()
            .map(TicketDoc::into_domain)
            .collect()
    }

    /// The first ticket matching `filter` (in `sort` order), without its outbox.
    pub(super) async fn find_ticket_where(
        &self,
        filter: Document,
        sort: Option<Document>,
    ) -> StoreResult<Option<Ticket>> {
        self.tickets
            .find_one(filter)
            .sort(sort.unwrap_or_default())
            .projection(doc! {"pendingEvents": 0})
            .await
            .map_err(map_err)?
            .map(TicketDoc::into_domain)
            .transpose()
    }
}

/// The escalation scan's query: tickets whose SLA check time has come. Only active tickets
/// carry `sla.checkAt`, so the index holds exactly the tickets the scan may need.
pub fn sla_checks_due_filter(now: DateTime<Utc>) -> Document {
    doc! {"sla.checkAt": {"$lte": bson_time(now)}}
}
