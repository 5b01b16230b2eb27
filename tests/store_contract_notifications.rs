//! The store contract for notifications: stored once per id, listed per recipient and as the
//! feed oldest first, read only by their recipient. Every test runs against the in-memory store
//! and against MongoDB (a fresh database per test).

mod common;

use std::sync::Arc;

use quickfix::Store;
use quickfix::domain::UserId;
use serde_json::json;

use common::fixtures::now;

async fn notifications_are_stored_once_and_read_per_recipient(store: Arc<dyn Store>) {
    let ann = UserId::generate();
    let bob = UserId::generate();
    let event = common::some_event();
    let kind = quickfix::domain::NotificationKind::TicketAssigned;
    let n = |who, at| {
        quickfix::domain::Notification::of(
            &event,
            who,
            kind,
            "hello".into(),
            json!({"id": "t"}),
            at,
        )
    };
    let t0 = now();
    let first = n(ann, t0);
    store
        .insert_notifications(&[first.clone(), n(bob, t0)])
        .await
        .unwrap();
    store
        .insert_notifications(std::slice::from_ref(&first))
        .await
        .unwrap();
    let later_event = common::some_event();
    let second = quickfix::domain::Notification::of(
        &later_event,
        ann,
        quickfix::domain::NotificationKind::ComplaintUpdated,
        "changed".into(),
        json!({"status": "Resolved"}),
        t0 + chrono::Duration::seconds(1),
    );
    store
        .insert_notifications(std::slice::from_ref(&second))
        .await
        .unwrap();

    let inbox = store.list_notifications(Some(ann), None, 10).await.unwrap();
    assert_eq!(
        inbox,
        vec![first.clone(), second.clone()],
        "once each, oldest first"
    );
    assert_eq!(
        store
            .list_notifications(Some(ann), Some(t0), 10)
            .await
            .unwrap(),
        vec![second.clone()]
    );
    assert_eq!(
        store
            .list_notifications(Some(bob), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // The feed: everyone's, oldest first.
    let feed = store.list_notifications(None, None, 10).await.unwrap();
    assert_eq!(feed.len(), 3);
    assert_eq!(feed[2], second);
    assert_eq!(
        store.list_notifications(None, Some(t0), 10).await.unwrap(),
        vec![second.clone()]
    );
    assert_eq!(
        store.list_notifications(None, None, 2).await.unwrap().len(),
        2
    );

    assert!(
        !store
            .mark_notification_read(bob, &first.id, now())
            .await
            .unwrap(),
        "not Bob's"
    );
    assert!(
        store
            .mark_notification_read(ann, &first.id, now())
            .await
            .unwrap()
    );
    assert!(
        store
            .mark_notification_read(ann, &first.id, now())
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_notification_read(ann, "nope", now())
            .await
            .unwrap()
    );
    let inbox = store.list_notifications(Some(ann), None, 10).await.unwrap();
    assert!(inbox[0].read_at.is_some());
    assert!(inbox[1].read_at.is_none());
}

on_both_stores!(notifications_are_stored_once_and_read_per_recipient,);
