//! The store contract for tickets: complaint numbers, unique keys, conditional updates,
//! changes since a time, filtered listing with a cursor, and the idempotency answers stored in
//! the same write as a ticket or an account. Every test runs against the in-memory store and
//! against MongoDB (a fresh database per test); the rest of the contract is in
//! `tests/store_contract_agents.rs`, `tests/store_contract_outbox.rs` and
//! `tests/store_contract_notifications.rs`.

mod common;

use std::sync::Arc;

use quickfix::domain::{
    Categories, ComplaintId, Principal, Priority, Role, Status, Ticket, TicketRef, UserId,
};
use quickfix::{Store, StoreError, TicketQuery};

use common::fixtures::{insert_ticket, meta, new_ticket, now, stored_answer, user};

async fn complaint_numbers_are_unique_under_concurrency(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.next_complaint_number().await.unwrap() })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=30).collect::<Vec<u64>>());
}

async fn tickets_round_trip_by_id_and_complaint_id(store: Arc<dyn Store>) {
    let requester = UserId::generate();
    let ticket = insert_ticket(store.as_ref(), requester, "Billing", Priority::High).await;
    let by_id = store
        .find_ticket(TicketRef::Id(ticket.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_id, ticket);
    let by_complaint = store
        .find_ticket(TicketRef::Complaint(ticket.complaint_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_complaint, ticket);
    let missing = store
        .find_ticket(TicketRef::Complaint(ComplaintId::from_sequence(999_999)))
        .await
        .unwrap();
    assert!(missing.is_none());
}

async fn duplicate_complaint_ids_and_emails_are_refused(store: Arc<dyn Store>) {
    let (a, _) = new_ticket(7, UserId::generate(), "Technical", Priority::Low);
    let (b, _) = new_ticket(7, UserId::generate(), "Technical", Priority::Low);
    store.insert_ticket(&a, &[]).await.unwrap();
    let err = store.insert_ticket(&b, &[]).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                field: "complaintId"
            }
        ),
        "{err:?}"
    );

    store
        .insert_user(&user("dup@example.com", Role::Customer), &[])
        .await
        .unwrap();
    let err = store
        .insert_user(&user("dup@example.com", Role::Customer), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "email" }),
        "{err:?}"
    );
    let found = store
        .find_user_by_email("dup@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.email.as_str(), "dup@example.com");
}

async fn updates_apply_only_at_the_expected_revision(store: Arc<dyn Store>) {
    let requester = UserId::generate();
    let ticket = insert_ticket(store.as_ref(), requester, "Technical", Priority::Medium).await;
    let admin = Principal {
        id: UserId::generate(),
        role: Role::Admin,
    };

    let mut first = ticket.clone();
    let events = first
        .change_status(
            &admin,
            Status::Closed,
            Some("spam".into()),
            &quickfix::domain::SlaPolicy::default(),
            now(),
            meta(),
        )
        .unwrap();
    assert!(store.update_ticket(&first, &events).await.unwrap());

    // A writer still holding revision 0 loses.
    let mut stale = ticket.clone();
    stale.priority = Priority::Critical;
    assert!(!store.update_ticket(&stale, &[]).await.unwrap());

    let stored = store
        .find_ticket(TicketRef::Id(ticket.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, Status::Closed);
    assert_eq!(stored.priority, Priority::Medium);
    assert_eq!(stored.revision, 1);
    assert_eq!(stored.history.last().unwrap().note.as_deref(), Some("spam"));
}

async fn changed_tickets_are_listed_oldest_change_first(store: Arc<dyn Store>) {
    let requester = UserId::generate();
    let first = insert_ticket(store.as_ref(), requester, "Technical", Priority::Low).await;
    let second = insert_ticket(store.as_ref(), requester, "Billing", Priority::Low).await;
    let before = first.updated_at - chrono::Duration::milliseconds(1);
    let ids = |v: Vec<Ticket>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
    let both = store.tickets_changed_since(before, 10).await.unwrap();
    assert_eq!(ids(both), [first.id, second.id]);

    let mut changed = first.clone();
    let later = second.updated_at + chrono::Duration::seconds(1);
    let admin = Principal {
        id: UserId::generate(),
        role: Role::Admin,
    };
    let events = changed
        .change_status(
            &admin,
            Status::Closed,
            None,
            &quickfix::domain::SlaPolicy::default(),
            later,
            meta(),
        )
        .unwrap();
    assert!(store.update_ticket(&changed, &events).await.unwrap());
    let since_second = store
        .tickets_changed_since(second.updated_at, 10)
        .await
        .unwrap();
    assert_eq!(ids(since_second), [first.id]);
    let all = store.tickets_changed_since(before, 10).await.unwrap();
    assert_eq!(ids(all), [second.id, first.id], "by last change");
    assert_eq!(
        store.tickets_changed_since(before, 1).await.unwrap().len(),
        1
    );
}

async fn listing_filters_newest_first_with_a_stable_cursor(store: Arc<dyn Store>) {
    let alice = UserId::generate();
    let bob = UserId::generate();
    let mut alices = Vec::new();
    for i in 0..5 {
        let priority = if i % 2 == 0 {
            Priority::High
        } else {
            Priority::Low
        };
        alices.push(insert_ticket(store.as_ref(), alice, "Technical", priority).await);
    }
    insert_ticket(store.as_ref(), bob, "Billing", Priority::High).await;

    let mut seen = Vec::new();
    let mut query = TicketQuery {
        requester: Some(alice),
        limit: 2,
        ..TicketQuery::default()
    };
    loop {
        let page = store.list_tickets(&query).await.unwrap();
        assert!(page.iter().all(|t| t.requester == alice));
        seen.extend(page.iter().map(|t| t.id));
        match page.last() {
            Some(last) if page.len() == 2 => query.before = Some(last.id),
            _ => break,
        }
    }
    let expected: Vec<_> = alices.iter().rev().map(|t| t.id).collect();
    assert_eq!(seen, expected, "every ticket once, newest first");

    let high = TicketQuery {
        requester: Some(alice),
        priority: Some(Priority::High),
        limit: 10,
        ..TicketQuery::default()
    };
    assert_eq!(store.list_tickets(&high).await.unwrap().len(), 3);
    let billing = TicketQuery {
        category: Some(Categories::default().parse("category", "Billing").unwrap()),
        limit: 10,
        ..TicketQuery::default()
    };
    let billing = store.list_tickets(&billing).await.unwrap();
    assert_eq!(billing.len(), 1);
    assert_eq!(billing[0].requester, bob);
    let open = TicketQuery {
        status: Some(Status::Open),
        limit: 100,
        ..TicketQuery::default()
    };
    assert_eq!(store.list_tickets(&open).await.unwrap().len(), 6);
}

/// Racing writes with one `Idempotency-Key`: one is stored, every other is refused as a
/// conflict on the key (not on the ticket's own unique fields), whichever check catches it.
async fn racing_answers_under_one_key_conflict_on_the_key(store: Arc<dyn Store>) {
    let requester = UserId::generate();
    let key = format!("u:{}", uuid::Uuid::new_v4());
    let mut racers = Vec::new();
    for _ in 0..8 {
        let seq = store.next_complaint_number().await.unwrap();
        let (ticket, event) = new_ticket(seq, requester, "Billing", Priority::Low);
        let answer = stored_answer(&key, ticket.created_at + chrono::TimeDelta::hours(1));
        let store = store.clone();
        racers.push(tokio::spawn(async move {
            store
                .insert_ticket_answering(&ticket, &[event], Some(&answer))
                .await
        }));
    }
    let mut stored = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(()) => stored += 1,
            Err(quickfix::StoreError::Conflict { field }) => assert_eq!(field, "Idempotency-Key"),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(stored, 1);
}

async fn answers_are_stored_with_their_write_once_per_key_until_they_expire(store: Arc<dyn Store>) {
    let requester = UserId::generate();
    let seq = store.next_complaint_number().await.unwrap();
    let (ticket, event) = new_ticket(seq, requester, "Billing", Priority::Low);
    let answer = stored_answer("u:k", ticket.created_at + chrono::TimeDelta::hours(1));
    store
        .insert_ticket_answering(&ticket, &[event], Some(&answer))
        .await
        .unwrap();
    assert_eq!(
        store.find_answer("u:k", ticket.created_at).await.unwrap(),
        Some(answer.clone())
    );
    assert_eq!(
        store
            .find_answer("u:other", ticket.created_at)
            .await
            .unwrap(),
        None
    );

    // The key answers once: a second write with it is refused, and stores nothing.
    let seq = store.next_complaint_number().await.unwrap();
    let (twin, twin_event) = new_ticket(seq, requester, "Billing", Priority::Low);
    let refused = store
        .insert_ticket_answering(&twin, &[twin_event], Some(&answer))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, quickfix::StoreError::Conflict { field } if field == "Idempotency-Key"),
        "{refused:?}"
    );
    assert!(
        store
            .find_ticket(TicketRef::Id(twin.id))
            .await
            .unwrap()
            .is_none()
    );
    let mut user = user("answered@example.com", Role::Customer);
    assert!(matches!(
        store.insert_user_answering(&user, &[], Some(&answer)).await,
        Err(quickfix::StoreError::Conflict { .. })
    ));

    // Once expired it is gone, and the key can answer again.
    let later = ticket.created_at + chrono::TimeDelta::hours(2);
    assert_eq!(store.find_answer("u:k", later).await.unwrap(), None);
    user.created_at = later;
    let again = stored_answer("u:k", later + chrono::TimeDelta::hours(1));
    store
        .insert_user_answering(&user, &[], Some(&again))
        .await
        .unwrap();
    assert_eq!(store.find_answer("u:k", later).await.unwrap(), Some(again));
}

async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
}

on_both_stores!(
    complaint_numbers_are_unique_under_concurrency,
    tickets_round_trip_by_id_and_complaint_id,
    duplicate_complaint_ids_and_emails_are_refused,
    updates_apply_only_at_the_expected_revision,
    changed_tickets_are_listed_oldest_change_first,
    listing_filters_newest_first_with_a_stable_cursor,
    answers_are_stored_with_their_write_once_per_key_until_they_expire,
    racing_answers_under_one_key_conflict_on_the_key,
    ping_answers,
);
