use chrono::{TimeZone, Utc};

use super::*;
use crate::domain::Calendar;
use crate::domain::EventType;
use crate::domain::{
    BusinessHours, Categories, ComplaintId, Description, EventMetadata, HistoryKind, NewTicket,
    Principal, Role, Ticket, Title, UserId,
};

fn meta() -> EventMetadata {
    EventMetadata::system("c")
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

fn ms(n: i64) -> TimeDelta {
    TimeDelta::milliseconds(n)
}

fn open(priority: Priority, policy: &SlaPolicy, at: DateTime<Utc>) -> Ticket {
    let new = NewTicket {
        title: Title::parse("Checkout is down").unwrap(),
        description: Description::parse("Nobody can pay").unwrap(),
        category: Categories::default()
            .parse("category", "Technical")
            .unwrap(),
        priority,
        terms: Default::default(),
    };
    Ticket::open(
        new,
        ComplaintId::from_sequence(1),
        UserId::generate(),
        policy,
        at,
        meta(),
    )
    .0
}

/// Gives the ticket to a new agent at `at`, who answers it publicly at once.
fn answered(t: &mut Ticket, policy: &SlaPolicy, at: DateTime<Utc>) {
    let agent = Principal {
        id: UserId::generate(),
        role: Role::Agent,
    };
    t.assign(agent.id, "system", None, at, meta()).unwrap();
    let body = crate::domain::MessageBody::parse("body", "On it").unwrap();
    t.reply(&agent, body, policy, at, meta()).unwrap();
}

fn rule(name: &str, since: Mark, after: TimeDelta, actions: &[EscalationAction]) -> EscalationRule {
    EscalationRule {
        name: name.into(),
        priorities: Vec::new(),
        statuses: Vec::new(),
        since,
        after,
        actions: actions.to_vec(),
    }
}

fn policy_with(rules: Vec<EscalationRule>) -> SlaPolicy {
    let d = SlaPolicy::default();
    SlaPolicy::new(|p| d.targets(p), 0.8, Calendar::Always, rules).unwrap()
}

/// Runs what a scan would do at `now`, without reassignment.
fn scan_at(ticket: &mut Ticket, policy: &SlaPolicy, now: DateTime<Utc>) -> Vec<EventType> {
    let mut events = Vec::new();
    for mark in ticket.due_sla_marks(now) {
        events.push(ticket.record_sla_mark(mark, policy, now, meta()));
    }
    if let Some((level, rule)) = ticket.due_escalation(policy, now) {
        let rule = rule.clone();
        events.extend(
            ticket
                .escalate(level, &rule, policy, None, now, meta())
                .events,
        );
    }
    ticket.plan_sla_check(policy);
    events.into_iter().map(|e| e.event_type()).collect()
}

#[test]
fn default_targets_give_the_due_and_warning_times() {
    let t = open(Priority::Critical, &SlaPolicy::default(), t0());
    assert_eq!(t.sla.first_response.due_at, t0() + TimeDelta::minutes(15));
    assert_eq!(t.sla.first_response.warn_at, t0() + TimeDelta::minutes(12));
    assert_eq!(t.sla.resolution.due_at, t0() + TimeDelta::hours(4));
    assert_eq!(t.sla.resolution.warn_at, t0() + TimeDelta::minutes(192));
    assert_eq!(t.sla.check_at, Some(t0()));
    let low = open(Priority::Low, &SlaPolicy::default(), t0());
    assert_eq!(low.sla.first_response.due_at, t0() + TimeDelta::hours(8));
    assert_eq!(low.sla.resolution.due_at, t0() + TimeDelta::hours(72));
}

#[test]
fn warning_fires_at_its_boundary_and_not_before() {
    let policy = policy_with(Vec::new());
    let t = open(Priority::Critical, &policy, t0());
    let warn_at = t.sla.first_response.warn_at;
    assert!(t.due_sla_marks(warn_at - ms(1)).is_empty());
    assert_eq!(
        t.due_sla_marks(warn_at),
        [SlaMark::Warning(SlaTarget::FirstResponse)]
    );
}

#[test]
fn breach_fires_at_its_boundary_and_not_before() {
    let policy = policy_with(Vec::new());
    let mut t = open(Priority::Critical, &policy, t0());
    let due = t.sla.first_response.due_at;
    let warn = t.sla.first_response.warn_at;
    scan_at(&mut t, &policy, warn);
    assert!(t.due_sla_marks(due - ms(1)).is_empty());
    assert_eq!(
        t.due_sla_marks(due),
        [SlaMark::Breach(SlaTarget::FirstResponse)]
    );
}

#[test]
fn each_mark_is_recorded_once_and_planned_in_order() {
    let policy = policy_with(Vec::new());
    let mut t = open(Priority::Critical, &policy, t0());
    let warn = t.sla.first_response.warn_at;
    let due = t.sla.first_response.due_at;
    assert_eq!(scan_at(&mut t, &policy, t0()), []);
    assert_eq!(t.sla.check_at, Some(warn));
    assert_eq!(scan_at(&mut t, &policy, warn), [EventType::SlaWarning]);
    assert_eq!(scan_at(&mut t, &policy, warn), []);
    assert_eq!(t.sla.check_at, Some(due));
    assert_eq!(scan_at(&mut t, &policy, due), [EventType::SlaBreach]);
    assert_eq!(scan_at(&mut t, &policy, due + ms(1)), []);
    // Next: the resolution warning.
    assert_eq!(t.sla.check_at, Some(t.sla.resolution.warn_at));
    let kinds: Vec<HistoryKind> = t.history.iter().map(|h| h.kind).collect();
    assert_eq!(
        kinds,
        [
            HistoryKind::Created,
            HistoryKind::SlaWarning,
            HistoryKind::SlaBreach
        ]
    );
    assert_eq!(t.history[2].to.as_deref(), Some("firstResponse"));
    assert!(
        t.history[2]
            .note
            .as_deref()
            .unwrap()
            .starts_with("Critical first response target 15m")
    );
}

#[test]
fn a_late_scan_records_the_breach_without_the_stale_warning() {
    let policy = policy_with(Vec::new());
    let mut t = open(Priority::Critical, &policy, t0());
    let late = t.sla.first_response.due_at + TimeDelta::hours(1);
    assert_eq!(scan_at(&mut t, &policy, late), [EventType::SlaBreach]);
    assert!(t.sla.first_response.warned_at.is_none());
    assert_eq!(scan_at(&mut t, &policy, late), []);
}

#[test]
fn a_target_met_in_time_raises_nothing() {
    let policy = policy_with(Vec::new());
    let mut t = open(Priority::Critical, &policy, t0());
    answered(&mut t, &policy, t0() + TimeDelta::minutes(5));
    assert_eq!(
        t.sla.first_response.met_at,
        Some(t0() + TimeDelta::minutes(5))
    );
    assert_eq!(t.sla.check_at, Some(t0() + TimeDelta::minutes(5)));
    assert_eq!(scan_at(&mut t, &policy, t0() + TimeDelta::minutes(20)), []);
    assert_eq!(t.sla.check_at, Some(t.sla.resolution.warn_at));
}

#[test]
fn a_target_met_late_is_still_recorded_as_breached() {
    let policy = policy_with(Vec::new());
    let mut t = open(Priority::Critical, &policy, t0());
    answered(&mut t, &policy, t0() + TimeDelta::minutes(20));
    assert_eq!(
        scan_at(&mut t, &policy, t0() + TimeDelta::minutes(21)),
        [EventType::SlaBreach]
    );
}

#[test]
fn resolved_tickets_are_not_checked_again() {
    let policy = policy_with(Vec::new());
    let mut t = open(Priority::High, &policy, t0());
    let agent = Principal {
        id: UserId::generate(),
        role: Role::Agent,
    };
    t.assign(agent.id, "system", None, t0(), meta()).unwrap();
    t.change_status(
        &agent,
        Status::Resolved,
        None,
        &SlaPolicy::default(),
        t0() + TimeDelta::hours(1),
        meta(),
    )
    .unwrap();
    assert_eq!(t.sla.check_at, None);
    assert!(t.due_sla_marks(t0() + TimeDelta::days(9)).is_empty());
    assert_eq!(
        t.sla.resolution.outcome(false, t0() + TimeDelta::days(9)),
        Outcome::Met
    );
}

#[test]
fn raising_the_priority_recomputes_the_due_times() {
    let policy = SlaPolicy::default();
    let mut t = open(Priority::Low, &policy, t0());
    t.raise_priority(Priority::Critical, "outage", &policy, t0() + ms(5), meta())
        .unwrap();
    assert_eq!(t.sla.first_response.due_at, t0() + TimeDelta::minutes(15));
    assert_eq!(t.sla.resolution.due_at, t0() + TimeDelta::hours(4));
}

#[test]
fn a_rule_fires_at_its_boundary_and_not_before() {
    let policy = policy_with(vec![rule(
        "stuck",
        Mark::Created,
        TimeDelta::minutes(30),
        &[EscalationAction::NotifyManagers],
    )]);
    let t = open(Priority::Low, &policy, t0());
    let at = t0() + TimeDelta::minutes(30);
    assert!(t.due_escalation(&policy, at - ms(1)).is_none());
    let (level, fired) = t.due_escalation(&policy, at).unwrap();
    assert_eq!((level, fired.name.as_str()), (1, "stuck"));
}

#[test]
fn warning_then_breach_then_escalation_in_order() {
    let policy = policy_with(vec![rule(
        "unanswered",
        Mark::FirstResponseDue,
        TimeDelta::minutes(5),
        &[EscalationAction::RaisePriority],
    )]);
    let mut t = open(Priority::High, &policy, t0());
    let mut seen = Vec::new();
    // Scan every minute for two hours, as the worker would.
    for minute in 0..120 {
        seen.extend(scan_at(&mut t, &policy, t0() + TimeDelta::minutes(minute)));
    }
    assert_eq!(
        seen,
        [
            EventType::SlaWarning,
            EventType::SlaBreach,
            EventType::TicketEscalated
        ]
    );
    let escalated = t
        .history
        .iter()
        .find(|h| h.kind == HistoryKind::Escalated)
        .unwrap();
    assert_eq!(escalated.at, t0() + TimeDelta::minutes(65));
    assert_eq!(t.priority, Priority::Critical);
    assert_eq!(t.sla.escalation_level, 1);
    assert!(escalated.note.as_deref().unwrap().contains("`unanswered`"));
}

#[test]
fn the_ladder_only_climbs_and_the_first_match_wins() {
    let policy = policy_with(vec![
        rule(
            "first",
            Mark::Created,
            TimeDelta::minutes(10),
            &[EscalationAction::NotifyManagers],
        ),
        rule(
            "second",
            Mark::Created,
            TimeDelta::minutes(10),
            &[EscalationAction::NotifyManagers],
        ),
        rule(
            "third",
            Mark::Created,
            TimeDelta::minutes(20),
            &[EscalationAction::NotifyManagers],
        ),
    ]);
    let mut t = open(Priority::Low, &policy, t0());
    let at = t0() + TimeDelta::minutes(10);
    assert_eq!(t.due_escalation(&policy, at).unwrap().1.name, "first");
    scan_at(&mut t, &policy, at);
    // The second rule is due as well: the scan is asked to come back at once.
    assert_eq!(t.sla.check_at, Some(at));
    scan_at(&mut t, &policy, at);
    assert_eq!(t.sla.escalation_level, 2);
    assert_eq!(t.sla.check_at, Some(t0() + TimeDelta::minutes(20)));
    // A late scan that could match both the third rule and nothing else fires it once.
    scan_at(&mut t, &policy, t0() + TimeDelta::hours(5));
    assert_eq!(t.sla.escalation_level, 3);
    assert!(
        t.due_escalation(&policy, t0() + TimeDelta::days(5))
            .is_none()
    );
}

#[test]
fn rules_match_on_priority_and_status() {
    let mut only_critical_in_progress = rule(
        "x",
        Mark::StatusEntered,
        TimeDelta::minutes(1),
        &[EscalationAction::NotifyManagers],
    );
    only_critical_in_progress.priorities = vec![Priority::Critical];
    only_critical_in_progress.statuses = vec![Status::InProgress];
    let policy = policy_with(vec![only_critical_in_progress]);
    let mut t = open(Priority::Critical, &policy, t0());
    assert!(
        t.due_escalation(&policy, t0() + TimeDelta::days(1))
            .is_none()
    );
    let agent = Principal {
        id: UserId::generate(),
        role: Role::Agent,
    };
    t.assign(agent.id, "system", None, t0(), meta()).unwrap();
    let started = t0() + TimeDelta::minutes(3);
    t.change_status(&agent, Status::InProgress, None, &policy, started, meta())
        .unwrap();
    assert_eq!(t.status_since(), started);
    assert!(t.due_escalation(&policy, started + ms(59_999)).is_none());
    assert!(
        t.due_escalation(&policy, started + TimeDelta::minutes(1))
            .is_some()
    );
}

#[test]
fn business_hours_pause_the_clock() {
    let hours = BusinessHours::parse(
        "Europe/Berlin",
        &[
            ("monday", "09:00-17:00"),
            ("tuesday", "09:00-17:00"),
            ("wednesday", "09:00-17:00"),
            ("thursday", "09:00-17:00"),
            ("friday", "09:00-17:00"),
        ],
    )
    .unwrap();
    let d = SlaPolicy::default();
    let policy =
        SlaPolicy::new(|p| d.targets(p), 0.8, Calendar::Business(hours), Vec::new()).unwrap();
    // Friday 16:00 in Berlin (15:00 UTC): a High ticket's 1h first response is due at 17:00
    // Berlin; its 8h resolution runs 1h on Friday and 7h on Monday, due Monday 16:00 Berlin.
    let friday = Utc.with_ymd_and_hms(2026, 11, 27, 15, 0, 0).unwrap();
    let mut t = open(Priority::High, &policy, friday);
    assert_eq!(
        t.sla.first_response.due_at,
        Utc.with_ymd_and_hms(2026, 11, 27, 16, 0, 0).unwrap()
    );
    let monday_due = Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap();
    assert_eq!(t.sla.resolution.due_at, monday_due);
    answered(&mut t, &policy, friday);
    // Over the whole weekend nothing is due.
    let sunday_night = Utc.with_ymd_and_hms(2026, 11, 29, 23, 0, 0).unwrap();
    assert!(t.due_sla_marks(sunday_night).is_empty());
    assert_eq!(
        t.due_sla_marks(monday_due),
        [SlaMark::Breach(SlaTarget::Resolution)]
    );
}

#[test]
fn compliance_counts_met_missed_and_pending() {
    let policy = policy_with(Vec::new());
    let now = t0() + TimeDelta::hours(1);
    let mut on_time = open(Priority::Critical, &policy, t0());
    answered(&mut on_time, &policy, t0() + TimeDelta::minutes(1));
    let late = open(Priority::Critical, &policy, t0());
    let fresh = open(Priority::Critical, &policy, now);
    let mut c = Compliance::default();
    for t in [&on_time, &late, &fresh] {
        c.count(t.sla.first_response.outcome(true, now));
    }
    assert_eq!(
        c,
        Compliance {
            met: 1,
            missed: 1,
            pending: 1
        }
    );
    assert_eq!(c.share_met(), Some(0.5));
    assert_eq!(Compliance::default().share_met(), None);
}

#[test]
fn policies_reject_nonsense() {
    let d = SlaPolicy::default();
    let inverted = |p| Targets {
        first_response: d.targets(p).resolution,
        next_reply: d.targets(p).next_reply,
        resolution: d.targets(p).first_response,
    };
    assert_eq!(
        SlaPolicy::new(inverted, 0.8, Calendar::Always, Vec::new())
            .unwrap_err()
            .field,
        "targets.Low"
    );
    assert_eq!(
        SlaPolicy::new(|p| d.targets(p), 1.0, Calendar::Always, Vec::new())
            .unwrap_err()
            .field,
        "warning_fraction"
    );
    let no_action = rule("r", Mark::Created, TimeDelta::zero(), &[]);
    assert_eq!(
        SlaPolicy::new(|p| d.targets(p), 0.5, Calendar::Always, vec![no_action])
            .unwrap_err()
            .field,
        "escalation[0]"
    );
}
