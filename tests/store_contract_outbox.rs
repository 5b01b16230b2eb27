//! The store contract for the outbox: events kept in order until cleared, leased to one relay
//! until cleared or expired, renewed only by the relay that still holds them, claimed once by
//! concurrent relays, held outboxes passed over for free ones, and agent events not starved by a backlog of ticket events. Every test
//! runs against the in-memory store and against MongoDB (a fresh database per test).

mod common;

use std::sync::Arc;

use quickfix::domain::{
    EventType, Principal, Priority, Role, SlaPolicy, Status, Ticket, TicketRef, UserId,
};
use quickfix::{OutboxOwner, Store};
use serde_json::json;

use common::fixtures::{insert_ticket, lease, meta, now, online_agent};

/// Opens a ticket and closes it as an admin: its outbox holds `ticket.created`, then
/// `ticket.status_changed`. Returns the ticket as it was opened.
async fn insert_closed_ticket(store: &dyn Store) -> Ticket {
    let ticket = insert_ticket(store, UserId::generate(), "Technical", Priority::Medium).await;
    let admin = Principal {
        id: UserId::generate(),
        role: Role::Admin,
    };
    let mut closed = ticket.clone();
    let events = closed
        .change_status(
            &admin,
            Status::Closed,
            None,
            &SlaPolicy::default(),
            now(),
            meta(),
        )
        .unwrap();
    assert!(store.update_ticket(&closed, &events).await.unwrap());
    ticket
}

async fn outbox_keeps_events_in_order_until_cleared(store: Arc<dyn Store>) {
    assert!(store.pending_events(10).await.unwrap().is_empty());
    let ticket = insert_closed_ticket(store.as_ref()).await;
    let agent = online_agent(store.as_ref(), "outbox@example.com").await;

    let pending = store.pending_events(10).await.unwrap();
    let ticket_events = pending
        .iter()
        .find(|p| p.owner == OutboxOwner::Ticket(ticket.id))
        .unwrap();
    let types: Vec<_> = ticket_events
        .events
        .iter()
        .map(|e| e.event_type())
        .collect();
    assert_eq!(
        types,
        [EventType::TicketCreated, EventType::TicketStatusChanged]
    );
    assert_eq!(
        ticket_events.events[0].data()["complaintId"],
        json!(ticket.complaint_id.to_string())
    );
    let agent_events = pending
        .iter()
        .find(|p| p.owner == OutboxOwner::User(agent.id))
        .unwrap();
    assert_eq!(
        agent_events.events[0].event_type(),
        EventType::AgentAvailabilityChanged
    );

    // Clearing the first event leaves the second, still pending.
    let first = ticket_events.events[0].event_id;
    store
        .clear_events(OutboxOwner::Ticket(ticket.id), &[first], "relay-a")
        .await
        .unwrap();
    let pending = store.pending_events(10).await.unwrap();
    let rest = pending
        .iter()
        .find(|p| p.owner == OutboxOwner::Ticket(ticket.id))
        .unwrap();
    assert_eq!(rest.events.len(), 1);
    assert_eq!(rest.events[0].event_type(), EventType::TicketStatusChanged);

    store
        .clear_events(
            OutboxOwner::Ticket(ticket.id),
            &[rest.events[0].event_id],
            "relay-a",
        )
        .await
        .unwrap();
    store
        .clear_events(
            OutboxOwner::User(agent.id),
            &[agent_events.events[0].event_id],
            "relay-a",
        )
        .await
        .unwrap();
    assert!(store.pending_events(10).await.unwrap().is_empty());
    // Clearing does not change the ticket itself.
    let stored = store
        .find_ticket(TicketRef::Id(ticket.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.revision, 1);
    assert_eq!(stored.status, Status::Closed);
}

async fn an_outbox_is_leased_to_one_relay_until_cleared_or_expired(store: Arc<dyn Store>) {
    let ticket = insert_closed_ticket(store.as_ref()).await;
    let owner = OutboxOwner::Ticket(ticket.id);
    let t0 = now();

    let a = store.claim_events(&lease("a", t0, 30), 10).await.unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].owner, owner);
    assert_eq!(a[0].events.len(), 2);
    assert!(!a[0].taken_over);
    assert!(
        store
            .claim_events(&lease("b", t0, 30), 10)
            .await
            .unwrap()
            .is_empty(),
        "a leased outbox is nobody else's"
    );
    assert_eq!(
        store
            .claim_events(&lease("a", t0, 30), 10)
            .await
            .unwrap()
            .len(),
        1,
        "the holder renews its own lease"
    );

    // Clearing ends the holder's lease: the next event is anyone's at once.
    store
        .clear_events(owner, &[a[0].events[0].event_id], "a")
        .await
        .unwrap();
    let c = store.claim_events(&lease("c", t0, 30), 10).await.unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].events.len(), 1);
    assert!(!c[0].taken_over);

    // A lease that ended is taken over.
    let later = t0 + chrono::TimeDelta::seconds(31);
    assert!(
        store
            .claim_events(&lease("b", t0, 30), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let b = store
        .claim_events(&lease("b", later, 30), 10)
        .await
        .unwrap();
    assert_eq!(b.len(), 1);
    assert!(b[0].taken_over);
    // The old holder's late clear still removes what it published.
    store
        .clear_events(owner, &[c[0].events[0].event_id], "c")
        .await
        .unwrap();
    assert!(store.pending_events(10).await.unwrap().is_empty());
    assert!(
        store
            .claim_events(&lease("b", later, 30), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_relay_renews_only_the_leases_it_still_holds(store: Arc<dyn Store>) {
    let requester = UserId::generate();
    let first = insert_ticket(store.as_ref(), requester, "Technical", Priority::Medium).await;
    let second = insert_ticket(store.as_ref(), requester, "Billing", Priority::Low).await;
    let agent = online_agent(store.as_ref(), "renewed@example.com").await;
    let (first, second, agent) = (
        OutboxOwner::Ticket(first.id),
        OutboxOwner::Ticket(second.id),
        OutboxOwner::User(agent.id),
    );
    let t0 = now();
    assert_eq!(
        store
            .claim_events(&lease("a", t0, 30), 10)
            .await
            .unwrap()
            .len(),
        3
    );
    // The lease ran out; relay b takes the first ticket over before a publishes it.
    let later = t0 + chrono::TimeDelta::seconds(31);
    let taken = store.claim_events(&lease("b", later, 30), 1).await.unwrap();
    assert_eq!(taken.len(), 1);
    let lost = taken[0].owner;

    let mut renewed = store
        .renew_leases(&lease("a", later, 30), &[first, second, agent])
        .await
        .unwrap();
    renewed.sort();
    let mut expected: Vec<OutboxOwner> = [first, second, agent]
        .into_iter()
        .filter(|o| *o != lost)
        .collect();
    expected.sort();
    assert_eq!(
        renewed, expected,
        "a keeps what nobody took, not what b holds"
    );
    // The renewal holds: at the time the first lease would have ended, nobody else gets them.
    let after_renewal = later + chrono::TimeDelta::seconds(20);
    assert!(
        store
            .claim_events(&lease("c", after_renewal, 30), 10)
            .await
            .unwrap()
            .is_empty(),
        "renewed leases (and b's) are nobody else's"
    );
    assert!(
        store
            .renew_leases(&lease("a", later, 30), &[])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_backlog_of_ticket_events_does_not_starve_agent_events(store: Arc<dyn Store>) {
    let requester = UserId::generate();
    for _ in 0..4 {
        insert_ticket(store.as_ref(), requester, "Billing", Priority::Low).await;
    }
    let agent = online_agent(store.as_ref(), "starved@example.com").await;
    let claimed = store.claim_events(&lease("r", now(), 30), 2).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(
        claimed
            .iter()
            .any(|p| p.owner == OutboxOwner::User(agent.id)),
        "the agent's event is in the first batch"
    );
}

async fn a_relay_passes_over_outboxes_other_relays_hold(store: Arc<dyn Store>) {
    let requester = UserId::generate();
    for _ in 0..5 {
        insert_ticket(store.as_ref(), requester, "Billing", Priority::Low).await;
    }
    let t0 = now();
    let first = store.claim_events(&lease("a", t0, 30), 3).await.unwrap();
    assert_eq!(first.len(), 3);
    // The oldest three are held: the next relay's batch is the two after them, not nothing.
    let second = store.claim_events(&lease("b", t0, 30), 3).await.unwrap();
    let mut owners: Vec<OutboxOwner> = first.iter().chain(&second).map(|p| p.owner).collect();
    owners.sort();
    owners.dedup();
    assert_eq!(second.len(), 2, "{second:?}");
    assert_eq!(owners.len(), 5, "every outbox claimed once: {owners:?}");
    assert!(second.iter().all(|p| !p.taken_over));
}

async fn concurrent_relays_claim_each_outbox_once(store: Arc<dyn Store>) {
    let requester = UserId::generate();
    for _ in 0..20 {
        insert_ticket(store.as_ref(), requester, "Billing", Priority::Low).await;
    }
    let t0 = now();
    let claims = (0..5).map(|n| {
        let store = store.clone();
        async move {
            store
                .claim_events(&lease(&format!("relay-{n}"), t0, 30), 100)
                .await
                .unwrap()
        }
    });
    let won: Vec<OutboxOwner> = futures::future::join_all(claims)
        .await
        .into_iter()
        .flatten()
        .map(|p| p.owner)
        .collect();
    let mut distinct = won.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(won.len(), 20, "every outbox claimed: {won:?}");
    assert_eq!(distinct.len(), 20, "and each by one relay");
}

on_both_stores!(
    outbox_keeps_events_in_order_until_cleared,
    an_outbox_is_leased_to_one_relay_until_cleared_or_expired,
    concurrent_relays_claim_each_outbox_once,
    a_relay_passes_over_outboxes_other_relays_hold,
    a_relay_renews_only_the_leases_it_still_holds,
    a_backlog_of_ticket_events_does_not_starve_agent_events,
);
