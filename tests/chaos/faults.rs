//! The faults of the chaos run, spread over the stream of new tickets: a worker killed with
//! SIGKILL and replaced, an API killed with creates in flight and restarted on its address, the
//! SNS/SQS emulator frozen, an agent offline until their untouched tickets are requeued, and
//! back.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::client::Request;
use crate::cluster::{Cluster, Freeze};
use crate::run::{Person, Run};
use crate::{FREEZE, OFFLINE_AGENT, REQUEUE_WITHIN, TICKETS};

/// The faults, spread over the stream of new tickets: a worker killed and replaced, an API
/// killed while creates are in flight and started again on its address, the emulator frozen,
/// an agent offline and back.
pub async fn inflict_faults(
    run: Arc<Run>,
    cluster: Arc<Cluster>,
    aws_pid: u32,
    admin: Person,
    agent: Person,
) {
    run.wait_created(TICKETS * 15 / 100).await;
    let killed = run.mark("SIGKILL worker-1");
    cluster.kill("worker-1");
    cluster.start_worker("worker-4");
    cluster.wait_worker_ready("worker-4").await;
    let ready = run.mark("worker-4 (replacement) consuming");
    run.window("worker-1 killed", killed, ready);

    run.wait_created(TICKETS * 35 / 100).await;
    // Kill it with creates on the wire, so that some are cut off mid-request.
    let until = Instant::now() + Duration::from_secs(10);
    while run.apis.keyed_in_flight(0) == 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let in_flight = run.apis.keyed_in_flight(0);
    cluster.kill("api-1");
    let killed = run.mark(format!(
        "SIGKILL api-1 with {in_flight} create(s) in flight"
    ));
    run.creates_in_flight_at_kill
        .store(in_flight, Ordering::SeqCst);
    cluster.start_api("api-1-restarted", 0);
    cluster.wait_api_ready("api-1-restarted", 0).await;
    let ready = run.mark("api-1 restarted and ready");
    run.window("api-1 killed", killed, ready);

    run.wait_created(TICKETS * 55 / 100).await;
    let freeze = Freeze::start(aws_pid);
    let frozen = run.mark(format!("SIGSTOP the SNS/SQS emulator for {FREEZE:?}"));
    tokio::time::sleep(FREEZE).await;
    freeze.thaw();
    let thawed = run.mark("SIGCONT the SNS/SQS emulator");
    run.window("emulator frozen", frozen, thawed);

    run.wait_created(TICKETS * 70 / 100).await;
    // The agent stops starting tickets, so that some sit assigned when they go offline.
    run.paused[OFFLINE_AGENT].store(true, Ordering::SeqCst);
    let held = |run: Arc<Run>, admin: Person, agent: Person| async move {
        run.apis
            .send(
                0,
                &Request::get(
                    format!(
                        "/api/complaints?assignee={}&status=Assigned&limit=100",
                        agent.id
                    ),
                    &admin.token,
                ),
            )
            .await
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .len()
    };
    let until = Instant::now() + Duration::from_secs(60);
    let mut holding = held(run.clone(), admin.clone(), agent.clone()).await;
    while holding == 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        holding = held(run.clone(), admin.clone(), agent.clone()).await;
    }
    set_presence(&run, &admin, &agent, "offline").await;
    let offline = Instant::now();
    run.mark(format!(
        "agent {} offline, holding {holding} untouched ticket(s)",
        agent.name
    ));
    // The worker gives their untouched tickets back to the backlog; they stay offline until it
    // has (coming back first would rightly cancel the requeue).
    let mut left = held(run.clone(), admin.clone(), agent.clone()).await;
    while left > 0 && offline.elapsed() < REQUEUE_WITHIN {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = held(run.clone(), admin.clone(), agent.clone()).await;
    }
    if left > 0 {
        run.violation(format!(
            "agent {} went offline but still holds {left} untouched ticket(s) {REQUEUE_WITHIN:?} later",
            agent.name
        ));
    }
    run.mark(format!(
        "agent {}'s untouched tickets requeued after {:.1}s ({left} left)",
        agent.name,
        offline.elapsed().as_secs_f64()
    ));
    set_presence(&run, &admin, &agent, "online").await;
    run.paused[OFFLINE_AGENT].store(false, Ordering::SeqCst);
    run.mark(format!("agent {} online", agent.name));
}

/// Sets `agent`'s presence as the admin.
async fn set_presence(run: &Run, admin: &Person, agent: &Person, presence: &str) {
    run.apis
        .send(
            0,
            &Request::with_body(
                Method::PATCH,
                format!("/api/agents/{}/presence", agent.id),
                Some(&admin.token),
                &json!({"presence": presence}),
            ),
        )
        .await
        .expect(200);
}
