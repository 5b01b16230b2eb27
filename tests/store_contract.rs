//! One contract for both store adapters: every test runs against the in-memory store and
//! against MongoDB (a fresh database per test).

mod common;

use std::sync::Arc;

use chrono::Utc;
use quickfix::domain::{
    AgentProfile, Categories, ComplaintId, Description, Email, Envelope, EventMetadata, EventType,
    NewTicket, PasswordHash, PersonName, Presence, Principal, Priority, Role, SlaPolicy, Status,
    Ticket, TicketId, TicketRef, Tier, Title, User, UserId,
};
use quickfix::{OutboxOwner, Store, StoreError, TicketQuery};
use serde_json::json;

fn meta() -> EventMetadata {
    EventMetadata::requested("corr", "tester")
}

fn now() -> chrono::DateTime<Utc> {
    quickfix::domain::Clock::now(&quickfix::domain::SystemClock)
}

fn new_ticket(
    store_seq: u64,
    requester: UserId,
    category: &str,
    priority: Priority,
) -> (Ticket, Envelope) {
    let new = NewTicket {
        title: Title::parse(&format!("Ticket {store_seq}")).unwrap(),
        description: Description::parse("details").unwrap(),
        category: Categories::default().parse("category", category).unwrap(),
        priority,
    };
    Ticket::open(
        new,
        ComplaintId::from_sequence(store_seq),
        requester,
        &SlaPolicy::default(),
        now(),
        meta(),
    )
}

async fn insert_ticket(
    store: &dyn Store,
    requester: UserId,
    category: &str,
    priority: Priority,
) -> Ticket {
    let seq = store.next_complaint_number().await.unwrap();
    let (ticket, event) = new_ticket(seq, requester, category, priority);
    store.insert_ticket(&ticket, &[event]).await.unwrap();
    ticket
}

fn user(email: &str, role: Role) -> User {
    let agent = (role == Role::Agent).then(|| {
        let skills = vec![Categories::default().parse("skills", "Technical").unwrap()];
        AgentProfile::new(skills, Tier::Agent, 2).unwrap()
    });
    User::new(
        PersonName::parse("Test Person").unwrap(),
        Email::parse(email).unwrap(),
        role,
        PasswordHash::from_phc("$argon2id$fake".into()),
        agent,
        now(),
    )
}

async fn online_agent(store: &dyn Store, email: &str) -> User {
    let mut agent = user(email, Role::Agent);
    let event = agent.set_presence(Presence::Online, now(), meta()).unwrap();
    store.insert_user(&agent, &[event]).await.unwrap();
    agent
}

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
        .change_status(&admin, Status::Closed, Some("spam".into()), now(), meta())
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
        .change_status(&admin, Status::Closed, None, later, meta())
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

async fn outbox_keeps_events_in_order_until_cleared(store: Arc<dyn Store>) {
    assert!(store.pending_events(10).await.unwrap().is_empty());
    let requester = UserId::generate();
    let ticket = insert_ticket(store.as_ref(), requester, "Technical", Priority::Medium).await;
    let admin = Principal {
        id: UserId::generate(),
        role: Role::Admin,
    };
    let mut changed = ticket.clone();
    let more = changed
        .change_status(&admin, Status::Closed, None, now(), meta())
        .unwrap();
    assert!(store.update_ticket(&changed, &more).await.unwrap());
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

async fn agent(store: &dyn Store, email: &str, skill: &str, capacity: u32) -> User {
    let skills = vec![Categories::default().parse("skills", skill).unwrap()];
    let mut a = user(email, Role::Agent);
    a.agent = Some(AgentProfile::new(skills, Tier::Agent, capacity).unwrap());
    a.set_presence(Presence::Online, now(), meta());
    store.insert_user(&a, &[]).await.unwrap();
    a
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

fn lease(relay: &str, now: chrono::DateTime<chrono::Utc>, seconds: i64) -> quickfix::OutboxLease {
    quickfix::OutboxLease {
        relay: relay.to_owned(),
        now,
        until: now + chrono::TimeDelta::seconds(seconds),
    }
}

async fn an_outbox_is_leased_to_one_relay_until_cleared_or_expired(store: Arc<dyn Store>) {
    let requester = UserId::generate();
    let ticket = insert_ticket(store.as_ref(), requester, "Technical", Priority::Medium).await;
    let admin = Principal {
        id: UserId::generate(),
        role: Role::Admin,
    };
    let mut closed = ticket.clone();
    let events = closed
        .change_status(&admin, Status::Closed, None, now(), meta())
        .unwrap();
    assert!(store.update_ticket(&closed, &events).await.unwrap());
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

fn stored_answer(key: &str, expires_at: chrono::DateTime<chrono::Utc>) -> quickfix::StoredAnswer {
    quickfix::StoredAnswer {
        key: key.to_owned(),
        fingerprint: "f".into(),
        status: 201,
        body: r#"{"id":"x"}"#.into(),
        expires_at,
    }
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
    slots_are_claimed_atomically_and_never_exceed_capacity,
    offline_agents_and_customers_have_no_slots_to_take,
    user_updates_keep_slot_counters,
    outbox_keeps_events_in_order_until_cleared,
    an_outbox_is_leased_to_one_relay_until_cleared_or_expired,
    concurrent_relays_claim_each_outbox_once,
    a_relay_renews_only_the_leases_it_still_holds,
    a_backlog_of_ticket_events_does_not_starve_agent_events,
    answers_are_stored_with_their_write_once_per_key_until_they_expire,
    racing_answers_under_one_key_conflict_on_the_key,
    claims_go_to_the_least_loaded_then_longest_idle_skilled_agent,
    concurrent_claims_never_overbook,
    the_backlog_serves_highest_priority_then_oldest_for_the_skills,
    notifications_are_stored_once_and_read_per_recipient,
    ping_answers,
);
