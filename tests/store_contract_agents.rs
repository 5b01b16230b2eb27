//! The store contract for agents and their slots: atomic slot claims within capacity, no slots
//! for offline agents or customers, user updates that keep the slot counters, claims that go to
//! the least loaded then longest idle skilled agent without overbooking, and the backlog served
//! highest priority then oldest. Every test runs against the in-memory store and against
//! MongoDB (a fresh database per test).

mod common;

use std::sync::Arc;

use quickfix::Store;
use quickfix::domain::{Categories, Presence, Priority, Role, SlaPolicy, TicketId, UserId};

use common::fixtures::{agent, insert_ticket, meta, now, online_agent, user};

async fn slots_are_claimed_atomically_and_never_exceed_capacity(store: Arc<dyn Store>) {
    let agent = online_agent(store.as_ref(), "slots@example.com").await;
    let tickets: Vec<TicketId> = (0..8).map(|_| TicketId::generate()).collect();
    let tasks: Vec<_> = tickets
        .iter()
        .map(|&t| {
            let store = store.clone();
            tokio::spawn(
                async move { store.take_slot(agent.id, t, now()).await.unwrap().is_some() },
            )
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 2, "capacity 2: exactly two claims win");
    let stored = store.find_user(agent.id).await.unwrap().unwrap();
    let profile = stored.agent.unwrap();
    assert_eq!(profile.free_slots, 0);
    assert!(profile.last_assigned_at.is_some());

    let held: Vec<TicketId> = profile.holds.iter().map(|h| h.ticket).collect();
    assert_eq!(held.len(), 2);
    assert!(store.release_slot(agent.id, held[0]).await.unwrap());
    assert!(
        !store.release_slot(agent.id, held[0]).await.unwrap(),
        "releasing twice releases once"
    );
    let not_held = tickets.iter().find(|t| !held.contains(t)).unwrap();
    assert!(!store.release_slot(agent.id, *not_held).await.unwrap());
    assert!(store.release_slot(agent.id, held[1]).await.unwrap());
    let profile = store
        .find_user(agent.id)
        .await
        .unwrap()
        .unwrap()
        .agent
        .unwrap();
    assert_eq!(profile.free_slots, 2);
    assert!(profile.holds.is_empty());
    // One slot per ticket: the same ticket cannot be held twice.
    let t = TicketId::generate();
    assert!(store.take_slot(agent.id, t, now()).await.unwrap().is_some());
    assert!(store.take_slot(agent.id, t, now()).await.unwrap().is_none());
}

async fn offline_agents_and_customers_have_no_slots_to_take(store: Arc<dyn Store>) {
    let offline = user("offline@example.com", Role::Agent);
    store.insert_user(&offline, &[]).await.unwrap();
    let t = TicketId::generate();
    assert!(
        store
            .take_slot(offline.id, t, now())
            .await
            .unwrap()
            .is_none()
    );
    let customer = user("cust@example.com", Role::Customer);
    store.insert_user(&customer, &[]).await.unwrap();
    assert!(
        store
            .take_slot(customer.id, t, now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.release_slot(customer.id, t).await.unwrap());
}

async fn user_updates_keep_slot_counters(store: Arc<dyn Store>) {
    let agent = online_agent(store.as_ref(), "keep@example.com").await;
    store
        .take_slot(agent.id, TicketId::generate(), now())
        .await
        .unwrap()
        .unwrap();
    let mut current = store.find_user(agent.id).await.unwrap().unwrap();
    let event = current
        .set_presence(Presence::Offline, now(), meta())
        .unwrap();
    // The copy read before the claim is stale.
    assert!(!store.update_user(&agent, &[]).await.unwrap());
    assert!(store.update_user(&current, &[event]).await.unwrap());
    let stored = store.find_user(agent.id).await.unwrap().unwrap();
    let profile = stored.agent.unwrap();
    assert_eq!(profile.presence, Presence::Offline);
    assert_eq!(
        profile.free_slots, 1,
        "the claim made before the update is kept"
    );
    assert_eq!(profile.holds.len(), 1);
    let agents = store.list_users(Role::Agent).await.unwrap();
    assert_eq!(agents.len(), 1);
}

async fn claims_go_to_the_least_loaded_then_longest_idle_skilled_agent(store: Arc<dyn Store>) {
    let technical = Categories::default()
        .parse("category", "Technical")
        .unwrap();
    let busy = agent(store.as_ref(), "busy@example.com", "Technical", 3).await;
    let idle = agent(store.as_ref(), "idle@example.com", "Technical", 3).await;
    let other = agent(store.as_ref(), "other@example.com", "Billing", 3).await;
    store
        .take_slot(busy.id, TicketId::generate(), now())
        .await
        .unwrap()
        .unwrap();

    let first = store
        .claim_agent(&technical, None, TicketId::generate(), now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.id, idle.id, "the agent holding nothing goes first");
    // Both hold one now; `busy` was assigned longer ago.
    let later = now() + chrono::Duration::seconds(5);
    let second = store
        .claim_agent(&technical, None, TicketId::generate(), later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.id, busy.id, "then the longest idle");
    assert!(
        store
            .find_user(other.id)
            .await
            .unwrap()
            .unwrap()
            .agent
            .unwrap()
            .holds
            .is_empty()
    );
    // A ticket is never held twice by the same agent, even through claim_agent.
    let t = TicketId::generate();
    let a = store
        .claim_agent(&technical, None, t, now())
        .await
        .unwrap()
        .unwrap();
    let b = store
        .claim_agent(&technical, None, t, now())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(a.id, b.id);
    let account = Categories::default().parse("category", "Account").unwrap();
    assert!(
        store
            .claim_agent(&account, None, TicketId::generate(), now())
            .await
            .unwrap()
            .is_none()
    );
}

async fn concurrent_claims_never_overbook(store: Arc<dyn Store>) {
    let technical = Categories::default()
        .parse("category", "Technical")
        .unwrap();
    for i in 0..3 {
        agent(store.as_ref(), &format!("a{i}@example.com"), "Technical", 2).await;
    }
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (store, technical) = (store.clone(), technical.clone());
            tokio::spawn(async move {
                store
                    .claim_agent(&technical, None, TicketId::generate(), now())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(won, 6, "three agents with two slots each");
    for a in store.list_users(Role::Agent).await.unwrap() {
        let p = a.agent.unwrap();
        assert_eq!(p.free_slots, 0);
        assert_eq!(p.holds.len(), 2);
    }
}

async fn the_backlog_serves_highest_priority_then_oldest_for_the_skills(store: Arc<dyn Store>) {
    let requester = UserId::generate();
    let old_low = insert_ticket(store.as_ref(), requester, "Technical", Priority::Low).await;
    let old_high = insert_ticket(store.as_ref(), requester, "Technical", Priority::High).await;
    let new_high = insert_ticket(store.as_ref(), requester, "Technical", Priority::High).await;
    let billing = insert_ticket(store.as_ref(), requester, "Billing", Priority::Critical).await;
    let skills = vec![Categories::default().parse("skills", "Technical").unwrap()];

    let next = store.next_backlog_ticket(&skills).await.unwrap().unwrap();
    assert_eq!(next.id, old_high.id);
    // Assigned tickets leave the backlog.
    let mut taken = next.clone();
    taken
        .assign(UserId::generate(), "system", None, now(), meta())
        .unwrap();
    assert!(store.update_ticket(&taken, &[]).await.unwrap());
    assert_eq!(
        store
            .next_backlog_ticket(&skills)
            .await
            .unwrap()
            .unwrap()
            .id,
        new_high.id
    );
    // A raised priority moves a ticket up.
    let mut raised = old_low.clone();
    raised
        .raise_priority(
            Priority::Critical,
            "outage",
            &SlaPolicy::default(),
            now(),
            meta(),
        )
        .unwrap();
    assert!(store.update_ticket(&raised, &[]).await.unwrap());
    assert_eq!(
        store
            .next_backlog_ticket(&skills)
            .await
            .unwrap()
            .unwrap()
            .id,
        old_low.id
    );
    let all = vec![
        Categories::default().parse("skills", "Technical").unwrap(),
        Categories::default().parse("skills", "Billing").unwrap(),
    ];
    let first = store.next_backlog_ticket(&all).await.unwrap().unwrap();
    assert_eq!(
        first.id, old_low.id,
        "the Critical tickets first, the older of the two before the other"
    );
    assert_ne!(first.id, billing.id);
    let account = vec![Categories::default().parse("skills", "Account").unwrap()];
    assert!(store.next_backlog_ticket(&account).await.unwrap().is_none());
}

on_both_stores!(
    slots_are_claimed_atomically_and_never_exceed_capacity,
    offline_agents_and_customers_have_no_slots_to_take,
    user_updates_keep_slot_counters,
    claims_go_to_the_least_loaded_then_longest_idle_skilled_agent,
    concurrent_claims_never_overbook,
    the_backlog_serves_highest_priority_then_oldest_for_the_skills,
);
