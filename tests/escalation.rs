//! The escalation scan on a controllable clock, against both store adapters: each rule fires at
//! its boundary and not before; warning, breach and escalation come in order and once; two
//! scanners escalate once; a missed scan catches up from stored state; business hours pause the
//! clock; the scan reads only due active tickets, on its index. What an escalation does
//! (reassignment, notifications) is in `tests/escalation_actions.rs`.

mod common;

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use quickfix::Store;
use quickfix::domain::{
    Calendar, EscalationAction, EventType, HistoryKind, Mark, Priority, Role, SlaPolicy, Status,
    Tier,
};
use quickfix::worker::{Context, ScanReport, scan};
use tokio::sync::Notify;

use common::escalation::{SLA_KINDS, Scene, kinds, meta, policy, rule, t0};

async fn warning_then_breach_then_escalation_each_at_its_boundary(store: Arc<dyn Store>) {
    let s = Scene::new(
        store,
        policy(vec![rule(
            "unanswered",
            Mark::FirstResponseDue,
            TimeDelta::minutes(5),
            &[EscalationAction::RaisePriority],
        )]),
    );
    // High: first response due after 1 h, warning at 48 min.
    let t = s.open(1, Priority::High).await;
    let minute = |m: i64| t0() + TimeDelta::minutes(m);
    let just_before = |m: i64| minute(m) - TimeDelta::milliseconds(1);
    let steps = [
        (just_before(48), ScanReport::default()),
        (
            minute(48),
            ScanReport {
                warnings: 1,
                ..ScanReport::default()
            },
        ),
        (just_before(60), ScanReport::default()),
        (
            minute(60),
            ScanReport {
                breaches: 1,
                ..ScanReport::default()
            },
        ),
        (just_before(65), ScanReport::default()),
        (
            minute(65),
            ScanReport {
                escalations: 1,
                ..ScanReport::default()
            },
        ),
        (minute(66), ScanReport::default()),
    ];
    for (at, want) in steps {
        let got = s.scan_at(at).await;
        assert_eq!(ScanReport { examined: 0, ..got }, want, "at {at}: {got:?}");
    }
    let events: Vec<EventType> = s.outbox(&t).await.iter().map(|e| e.event_type()).collect();
    assert_eq!(
        events,
        [
            EventType::TicketCreated,
            EventType::SlaWarning,
            EventType::SlaBreach,
            EventType::TicketEscalated
        ]
    );
    let t = s.ticket(&t).await;
    assert_eq!(kinds(&t, &SLA_KINDS), SLA_KINDS);
    assert_eq!(t.priority, Priority::Critical);
    assert_eq!(t.sla.escalation_level, 1);
    let escalated = t
        .history
        .iter()
        .find(|h| h.kind == HistoryKind::Escalated)
        .unwrap();
    assert!(escalated.note.as_deref().unwrap().contains("`unanswered`"));
    // Critical now: the resolution target is recomputed to 4 h after opening.
    assert_eq!(t.sla.resolution.due_at, t0() + TimeDelta::hours(4));
}

async fn two_scanners_at_once_escalate_each_ticket_once(store: Arc<dyn Store>) {
    let s = Scene::new(
        store,
        policy(vec![rule(
            "late",
            Mark::FirstResponseDue,
            TimeDelta::zero(),
            &[EscalationAction::NotifyManagers],
        )]),
    );
    let mut tickets = Vec::new();
    for seq in 1..=12 {
        tickets.push(s.open(seq, Priority::Critical).await);
    }
    s.clock.set(t0() + TimeDelta::minutes(20));
    let other = Context {
        outbox: Arc::new(Notify::new()),
        ..s.ctx.clone()
    };
    let (a, b) = tokio::join!(scan(&s.ctx), scan(&other));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.escalations + b.escalations, 12, "{a:?} {b:?}");
    assert_eq!(a.breaches + b.breaches, 12, "{a:?} {b:?}");
    for t in &tickets {
        let t = s.ticket(t).await;
        assert_eq!(
            kinds(&t, &SLA_KINDS),
            [HistoryKind::SlaBreach, HistoryKind::Escalated],
            "{}",
            t.complaint_id
        );
        let escalated = s
            .outbox(&t)
            .await
            .iter()
            .filter(|e| e.event_type() == EventType::TicketEscalated)
            .count();
        assert_eq!(escalated, 1);
    }
}

async fn a_missed_scan_catches_up_from_stored_state(store: Arc<dyn Store>) {
    // The default ladder; no worker scanned for a day (it was down).
    let s = Scene::new(store, SlaPolicy::default());
    let t = s.open(1, Priority::Critical).await;
    let report = s.scan_at(t0() + TimeDelta::days(1)).await;
    assert_eq!(report.breaches, 2, "{report:?}");
    assert_eq!(
        report.warnings, 0,
        "stale warnings are not raised after the breach"
    );
    assert_eq!(report.escalations, 3, "all three rules are due: {report:?}");
    let t = s.ticket(&t).await;
    assert_eq!(t.sla.escalation_level, 3);
    assert_eq!(t.sla.check_at, None, "nothing more can happen to it");
    let levels: Vec<&str> = t
        .history
        .iter()
        .filter(|h| h.kind == HistoryKind::Escalated)
        .filter_map(|h| h.to.as_deref())
        .collect();
    assert_eq!(levels, ["1", "2", "3"]);
    assert_eq!(
        s.scan_at(t0() + TimeDelta::days(2)).await,
        ScanReport::default()
    );
}

async fn the_scan_reads_only_due_active_tickets(store: Arc<dyn Store>) {
    let s = Scene::new(store, policy(Vec::new()));
    let agent = s.user("agent@x.test", Role::Agent, Tier::Agent, 5).await;
    let critical = s.open(1, Priority::Critical).await;
    let low = s.open(2, Priority::Low).await;
    let done = s.assign(&s.open(3, Priority::Critical).await, &agent).await;
    let principal = quickfix::domain::Principal {
        id: agent.id,
        role: Role::Agent,
    };
    let mut resolved = done.clone();
    let events = resolved
        .change_status(
            &principal,
            Status::Resolved,
            None,
            &quickfix::domain::SlaPolicy::default(),
            t0(),
            meta(),
        )
        .unwrap();
    assert!(s.store.update_ticket(&resolved, &events).await.unwrap());

    // Everything active is due for its first look at opening; resolved tickets never.
    let due = s.store.sla_checks_due(t0(), 100).await.unwrap();
    let ids: Vec<_> = due.iter().map(|t| t.id).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&critical.id) && ids.contains(&low.id));
    assert!(
        s.store
            .sla_checks_due(t0() - TimeDelta::milliseconds(1), 100)
            .await
            .unwrap()
            .is_empty()
    );
    s.scan_at(t0()).await;
    // Planned: the Critical warning at 12 min, the Low one at 6 h 24 min.
    let at = |m| t0() + TimeDelta::minutes(m);
    assert_eq!(s.store.sla_checks_due(at(11), 100).await.unwrap().len(), 0);
    let due = s.store.sla_checks_due(at(12), 100).await.unwrap();
    assert_eq!(due.iter().map(|t| t.id).collect::<Vec<_>>(), [critical.id]);
    assert_eq!(
        s.store
            .sla_checks_due(at(6 * 60 + 24), 1)
            .await
            .unwrap()
            .len(),
        1
    );

    // At risk: next target due within a window; breached: already past it.
    let soon = s.store.tickets_due(Some(t0()), at(30), 100).await.unwrap();
    assert_eq!(soon.iter().map(|t| t.id).collect::<Vec<_>>(), [critical.id]);
    let overdue = s.store.tickets_due(None, at(16), 100).await.unwrap();
    assert_eq!(
        overdue.iter().map(|t| t.id).collect::<Vec<_>>(),
        [critical.id]
    );
    assert!(
        s.store
            .tickets_due(None, at(14), 100)
            .await
            .unwrap()
            .is_empty()
    );
    let all = s.store.tickets_due(None, at(9 * 60), 100).await.unwrap();
    assert_eq!(
        all.iter().map(|t| t.id).collect::<Vec<_>>(),
        [critical.id, low.id]
    );

    let records = s
        .store
        .sla_records(t0(), t0() + TimeDelta::seconds(1))
        .await
        .unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(
        records
            .iter()
            .filter(|r| r.status == Status::Resolved)
            .count(),
        1
    );
    assert!(
        s.store
            .sla_records(t0() + TimeDelta::seconds(1), at(60))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn business_hours_pause_the_clock_between_scans(store: Arc<dyn Store>) {
    let week: Vec<(&str, &str)> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| (*d, "09:00-17:00"))
        .collect();
    let hours = quickfix::domain::BusinessHours::parse("Europe/Berlin", &week).unwrap();
    let d = SlaPolicy::default();
    let policy =
        SlaPolicy::new(|p| d.targets(p), 0.8, Calendar::Business(hours), Vec::new()).unwrap();
    let s = Scene::new(store, policy);
    // Friday 27 November 2026, 16:30 in Berlin (15:30 UTC): a Medium ticket's 4 h first
    // response has 30 min on Friday and 3.5 h on Monday, due Monday 12:30 Berlin (11:30 UTC).
    let friday = Utc.with_ymd_and_hms(2026, 11, 27, 15, 30, 0).unwrap();
    s.clock.set(friday);
    let t = s.open(1, Priority::Medium).await;
    let due = Utc.with_ymd_and_hms(2026, 11, 30, 11, 30, 0).unwrap();
    assert_eq!(t.sla.first_response.due_at, due);
    // Every hour of the weekend: nothing is due.
    let mut at = friday;
    while at < Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap() {
        let report = s.scan_at(at).await;
        assert_eq!((report.warnings, report.breaches), (0, 0), "at {at}");
        at += TimeDelta::hours(1);
    }
    // 80% of 4 h is 3 h 12 min of working time: Monday 11:42 Berlin.
    let warn = Utc.with_ymd_and_hms(2026, 11, 30, 10, 42, 0).unwrap();
    assert_eq!(
        s.scan_at(warn - TimeDelta::milliseconds(1)).await.warnings,
        0
    );
    assert_eq!(s.scan_at(warn).await.warnings, 1);
    assert_eq!(
        s.scan_at(due - TimeDelta::milliseconds(1)).await.breaches,
        0
    );
    assert_eq!(s.scan_at(due).await.breaches, 1);
}

on_both_stores!(
    business_hours_pause_the_clock_between_scans,
    warning_then_breach_then_escalation_each_at_its_boundary,
    two_scanners_at_once_escalate_each_ticket_once,
    a_missed_scan_catches_up_from_stored_state,
    the_scan_reads_only_due_active_tickets,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_escalation_scan_runs_on_its_index() {
    let Some(store) = common::mongo_store().await else {
        return;
    };
    let store = Arc::new(store);
    let s = Scene::new(store.clone(), SlaPolicy::default());
    for seq in 1..=50 {
        s.open(seq, Priority::Medium).await;
    }
    let plan = store.explain_sla_scan(t0(), 500).await.unwrap();
    let stages = common::commands::stages(&plan);
    assert!(
        stages.iter().any(|(stage, index)| stage == "IXSCAN"
            && index.as_deref() == Some(quickfix::SLA_CHECK_INDEX)),
        "{stages:?}"
    );
    assert!(
        !stages.iter().any(|(stage, _)| stage == "COLLSCAN"),
        "{stages:?}"
    );
}
