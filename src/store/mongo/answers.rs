//! Stored answers on MongoDB: the `answers` array of the document each request changed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use tracing::instrument;

use super::answer_doc::AnswerDoc;
use super::answer_doc::AnswersDoc;
use super::{MongoStore, bson_time, conflict_on, map_err};
use crate::store::{Answers, IDEMPOTENCY_KEY, StoreError, StoreResult, StoredAnswer};

#[async_trait]
impl Answers for MongoStore {
    #[instrument(skip_all)]
    async fn find_answer(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<StoredAnswer>> {
        Ok(self
            .answer_under(key)
            .await?
            .map(|(answer, _)| answer)
            .filter(|a| a.expires_at > now))
    }
}

impl MongoStore {
    /// Inserts `doc` with `answer` in its `answers`, in one write. A duplicate key is a
    /// conflict on the `Idempotency-Key` when a racing twin stored the same answer first, on
    /// `unique` (the collection's own unique field) otherwise.
    pub(super) async fn insert_answering<T: Send + Sync>(
        &self,
        collection: &Collection<T>,
        mut doc: Document,
        answer: Option<&StoredAnswer>,
        now: DateTime<Utc>,
        unique: &'static str,
    ) -> StoreResult<()> {
        if let Some(answer) = answer {
            self.make_room_for_answer(answer, now).await?;
            doc.insert("answers", vec![AnswerDoc::from_domain(answer).to_bson()?]);
        }
        match collection
            .clone_with_type::<Document>()
            .insert_one(doc)
            .await
            .map_err(conflict_on(unique))
        {
            Err(StoreError::Conflict { .. }) if self.answer_taken(answer, now).await? => {
                Err(StoreError::Conflict {
                    field: IDEMPOTENCY_KEY,
                })
            }
            other => other.map(|_| ()),
        }
    }

    /// Whether an unexpired answer now holds `answer`'s key.
    async fn answer_taken(
        &self,
        answer: Option<&StoredAnswer>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let Some(answer) = answer else {
            return Ok(false);
        };
        Ok(self.find_answer(&answer.key, now).await?.is_some())
    }

    /// Makes room for `answer`: refuses it while an unexpired answer holds its key (the unique
    /// indexes guard each collection against a racing twin; this covers the other
    /// collection), and removes an expired one, which the unique index would still count.
    pub(super) async fn make_room_for_answer(
        &self,
        answer: &StoredAnswer,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        match self.answer_under(&answer.key).await? {
            None => Ok(()),
            Some((held, _)) if held.expires_at > now => Err(StoreError::Conflict {
                field: IDEMPOTENCY_KEY,
            }),
            Some((_, collection)) => {
                let expired = doc! {"key": &answer.key, "expiresAt": {"$lte": bson_time(now)}};
                collection
                    .update_many(
                        doc! {"answers": {"$elemMatch": expired.clone()}},
                        doc! {"$pull": {"answers": expired}},
                    )
                    .await
                    .map_err(map_err)?;
                Ok(())
            }
        }
    }

    /// The answer stored under `key`, expired or not, and the collection that holds it.
    pub(super) async fn answer_under(
        &self,
        key: &str,
    ) -> StoreResult<Option<(StoredAnswer, Collection<Document>)>> {
        for collection in [
            self.tickets.clone_with_type::<Document>(),
            self.users.clone_with_type::<Document>(),
        ] {
            let found = collection
                .clone_with_type::<AnswersDoc>()
                .find_one(doc! {"answers.key": key})
                .projection(doc! {"answers": 1})
                .await
                .map_err(map_err)?;
            if let Some(answer) = found
                .and_then(|doc| doc.answers.into_iter().find(|a| a.key == key))
                .map(AnswerDoc::into_domain)
            {
                return Ok(Some((answer, collection)));
            }
        }
        Ok(None)
    }
}

/// Each `Idempotency-Key` (scoped to its sender) answers once across the collection; documents
/// without answers are not indexed.
pub(super) fn answers_unique() -> IndexModel {
    IndexModel::builder()
        .keys(doc! {"answers.key": 1})
        .options(
            IndexOptions::builder()
                .unique(true)
                .partial_filter_expression(doc! {"answers.key": {"$exists": true}})
                .name("answers_key".to_owned())
                .build(),
        )
        .build()
}
