//! What the chaos deployment holds once the run is over, read through the API and the store:
//! the tickets, which are still active and why, the slots still held, and whether every event
//! stored has been published.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::Request;
use crate::cluster::Settings;
use crate::observer::Observer;
use crate::run::{Person, Run};
use crate::{DRAIN_WITHIN, LEASE_SECONDS, OUTBOX_DRAIN_WITHIN, STALL_WITHIN};

/// Tickets still open, assigned or in progress (at most a page of each).
async fn active_tickets(run: &Run, admin: &Person) -> Vec<Value> {
    let mut active = Vec::new();
    for status in ["Open", "Assigned", "InProgress"] {
        let page = run
            .apis
            .send(
                0,
                &Request::get(
                    format!("/api/complaints?status={status}&limit=100"),
                    &admin.token,
                ),
            )
            .await
            .expect(200);
        active.extend(page["items"].as_array().unwrap().iter().cloned());
    }
    active
}

/// Polls until no ticket is active; when, or `None` once the active tickets stop draining for
/// [`STALL_WITHIN`] or are still there [`DRAIN_WITHIN`] after the last create.
pub async fn wait_all_resolved(run: &Run, admin: &Person, last_create: Instant) -> Option<Instant> {
    let mut fewest = usize::MAX;
    let mut last_progress = Instant::now();
    loop {
        let active = active_tickets(run, admin).await.len();
        if active == 0 {
            return Some(Instant::now());
        }
        if active < fewest {
            fewest = active;
            last_progress = Instant::now();
        }
        if last_progress.elapsed() > STALL_WITHIN || last_create.elapsed() > DRAIN_WITHIN {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What the tickets that never got resolved look like, with their histories.
pub async fn stuck_tickets(run: &Run, admin: &Person) -> String {
    let mut report = Vec::new();
    for t in active_tickets(run, admin).await.iter().take(20) {
        let id = t["id"].as_str().unwrap();
        let history = run
            .apis
            .send(
                0,
                &Request::get(format!("/api/complaints/{id}/history"), &admin.token),
            )
            .await
            .body;
        report.push(format!(
            "{} {} {} {} assigned to {}; history {history}",
            t["complaintId"], t["status"], t["category"], t["priority"], t["assignedTo"]
        ));
    }
    let agents = run
        .apis
        .send(0, &Request::get("/api/agents", &admin.token))
        .await
        .body;
    format!(
        "tickets still active (none resolved for {STALL_WITHIN:?}, or {DRAIN_WITHIN:?} after the last create):\n{}\nagents: {agents}",
        report.join("\n")
    )
}

/// Once everything is resolved, every slot must come back (the worker releases it on
/// `ticket.resolved`; the sweep frees what a crash left behind).
pub async fn slots_left_held(run: &Run, admin: &Person) -> Option<String> {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let agents = run
            .apis
            .send(0, &Request::get("/api/agents", &admin.token))
            .await
            .expect(200);
        let holding: Vec<String> = agents
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["agent"]["activeTickets"].as_i64() != Some(0))
            .map(|a| format!("{}: {}", a["name"], a["agent"]))
            .collect();
        if holding.is_empty() {
            return None;
        }
        if Instant::now() > until {
            return Some(format!(
                "slots still held 60 s after every ticket was resolved: {holding:#?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every ticket, page by page, as the admin lists them.
pub async fn all_tickets(run: &Run, admin: &Person) -> Vec<Value> {
    let mut tickets = Vec::new();
    let mut path = "/api/complaints?limit=100".to_owned();
    loop {
        let page = run
            .apis
            .send(0, &Request::get(path, &admin.token))
            .await
            .expect(200);
        tickets.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => path = format!("/api/complaints?limit=100&cursor={next}"),
            None => return tickets,
        }
    }
}

/// Every event stored must reach the topic: waits until no document holds an unpublished event,
/// then until the observer has heard nothing for two leases. Returns how long the outbox took
/// to empty (from now), and the broken promise if that took longer than
/// [`OUTBOX_DRAIN_WITHIN`].
pub async fn wait_outbox_published(
    settings: &Settings,
    observer: &Observer,
) -> (Option<Duration>, Option<String>) {
    let store = mongodb::Client::with_uri_str(&settings.mongo_uri)
        .await
        .expect("connect to the store")
        .database(&settings.database);
    let outbox_started = Instant::now();
    let mut outbox_drained: Option<Instant> = None;
    let mut failure = None;
    loop {
        if outbox_drained.is_none() && unpublished(&store).await == 0 {
            outbox_drained = Some(Instant::now());
        }
        if let Some(drained) = outbox_drained
            && observer.quiet_for(drained) >= Duration::from_secs(2 * LEASE_SECONDS)
        {
            break;
        }
        if outbox_started.elapsed() > OUTBOX_DRAIN_WITHIN {
            failure = Some(format!(
                "{} documents still hold unpublished events {OUTBOX_DRAIN_WITHIN:?} after every ticket was resolved",
                unpublished(&store).await
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    (outbox_drained.map(|at| at - outbox_started), failure)
}

/// Documents (tickets and agents) holding events not yet published (`pendingEvents`).
async fn unpublished(store: &mongodb::Database) -> u64 {
    let filter = mongodb::bson::doc! {"pendingEvents.0": {"$exists": true}};
    let mut count = 0;
    for collection in ["tickets", "users"] {
        count += store
            .collection::<mongodb::bson::Document>(collection)
            .count_documents(filter.clone())
            .await
            .expect("count unpublished events");
    }
    count
}
