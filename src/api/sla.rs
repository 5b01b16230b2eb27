//! `/api/sla`: tickets at risk of missing a target, tickets that missed one, the compliance
//! report, and the policy in force. For agents and admins.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::Auth;
use super::input::{page_limit, timestamp};
use super::views::TicketView;
use super::{ApiError, AppState, ErrorBody};
use crate::domain::{Calendar, Compliance, Priority, Role, SlaTarget, ValidationError, humanize};

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;
/// The compliance window when none is given.
const DEFAULT_WINDOW_DAYS: i64 = 7;
/// The longest compliance window.
const MAX_WINDOW_DAYS: i64 = 366;

/// The SLA routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sla/at-risk", get(at_risk))
        .route("/api/sla/breached", get(breached))
        .route("/api/sla/compliance", get(compliance))
        .route("/api/sla/policy", get(policy))
}

/// Query of `GET /api/sla/at-risk`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtRiskParams {
    /// How far ahead to look: `30m`, `2h` (default `1h`, at most `30d`).
    pub within: Option<String>,
    /// At most this many, 1 to 500 (default 50).
    pub limit: Option<String>,
}

/// Query of `GET /api/sla/breached`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BreachedParams {
    /// At most this many, 1 to 500 (default 50).
    pub limit: Option<String>,
}

/// Tickets due soonest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DueList {
    /// When the list was made.
    pub as_of: DateTime<Utc>,
    /// The tickets, the soonest (or most overdue) first.
    pub items: Vec<TicketView>,
}

/// Active tickets whose next target falls due within `within`, not yet missed.
#[utoipa::path(get, path = "/api/sla/at-risk", tag = "sla", params(AtRiskParams),
    security(("bearer" = [])),
    responses((status = 200, body = DueList), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn at_risk(
    State(state): State<AppState>,
    auth: Auth,
    params: Result<Query<AtRiskParams>, QueryRejection>,
) -> Result<Json<DueList>, ApiError> {
    auth.require(&[Role::Agent, Role::Admin], "reading SLA lists")?;
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let within = match params.within.as_deref() {
        None => TimeDelta::hours(1),
        Some(raw) => humantime::parse_duration(raw.trim())
            .ok()
            .and_then(|d| TimeDelta::from_std(d).ok())
            .filter(|d| *d > TimeDelta::zero() && *d <= TimeDelta::days(30))
            .ok_or_else(|| {
                ValidationError::new("within", "must be a duration like 30m or 2h, at most 30d")
            })?,
    };
    let limit = page_limit(params.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let now = state.clock.now();
    let found = state
        .store
        .tickets_due(Some(now), now + within, limit)
        .await?;
    Ok(Json(DueList {
        as_of: now,
        items: found.iter().map(TicketView::from).collect(),
    }))
}

/// Active tickets with a target already missed and still unmet, the most overdue first.
#[utoipa::path(get, path = "/api/sla/breached", tag = "sla", params(BreachedParams),
    security(("bearer" = [])),
    responses((status = 200, body = DueList), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn breached(
    State(state): State<AppState>,
    auth: Auth,
    params: Result<Query<BreachedParams>, QueryRejection>,
) -> Result<Json<DueList>, ApiError> {
    auth.require(&[Role::Agent, Role::Admin], "reading SLA lists")?;
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = page_limit(params.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let now = state.clock.now();
    let found = state.store.tickets_due(None, now, limit).await?;
    Ok(Json(DueList {
        as_of: now,
        items: found.iter().map(TicketView::from).collect(),
    }))
}

/// Query of `GET /api/sla/compliance`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComplianceParams {
    /// Start of the window (RFC 3339; default: 7 days before `to`). Tickets opened in the
    /// window are counted.
    pub from: Option<String>,
    /// End of the window, exclusive (RFC 3339; default: now).
    pub to: Option<String>,
}

/// Outcomes of one target.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetCompliance {
    /// Met in time.
    pub met: u64,
    /// Missed (met late, or overdue).
    pub missed: u64,
    /// Neither met nor due yet.
    pub pending: u64,
    /// `met / (met + missed)`; `null` when nothing is decided yet.
    pub share_met: Option<f64>,
}

impl From<&Compliance> for TargetCompliance {
    fn from(c: &Compliance) -> Self {
        Self {
            met: c.met,
            missed: c.missed,
            pending: c.pending,
            share_met: c.share_met(),
        }
    }
}

/// Both targets of one priority (or of all).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriorityCompliance {
    /// The priority; `null` for the total.
    #[schema(value_type = Option<String>)]
    pub priority: Option<Priority>,
    /// Tickets counted.
    pub tickets: u64,
    /// Time to assignment.
    pub first_response: TargetCompliance,
    /// Time to resolution.
    pub resolution: TargetCompliance,
}

/// The compliance report.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceReport {
    /// Window start.
    pub from: DateTime<Utc>,
    /// Window end (exclusive).
    pub to: DateTime<Utc>,
    /// When the report was made (what "overdue" is measured against).
    pub as_of: DateTime<Utc>,
    /// One row per priority, Critical first.
    pub priorities: Vec<PriorityCompliance>,
    /// All priorities together.
    pub total: PriorityCompliance,
}

/// The share of SLA targets met, per priority, for tickets opened in a window.
#[utoipa::path(get, path = "/api/sla/compliance", tag = "sla", params(ComplianceParams),
    security(("bearer" = [])),
    responses((status = 200, body = ComplianceReport), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn compliance(
    State(state): State<AppState>,
    auth: Auth,
    params: Result<Query<ComplianceParams>, QueryRejection>,
) -> Result<Json<ComplianceReport>, ApiError> {
    auth.require(&[Role::Agent, Role::Admin], "reading the SLA report")?;
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let now = state.clock.now();
    let to = timestamp("to", params.to.as_deref())?.unwrap_or(now);
    let from = timestamp("from", params.from.as_deref())?
        .unwrap_or(to - TimeDelta::days(DEFAULT_WINDOW_DAYS));
    if from >= to {
        return Err(ValidationError::new("from", "must be before `to`").into());
    }
    if to - from > TimeDelta::days(MAX_WINDOW_DAYS) {
        return Err(ValidationError::new(
            "from",
            format!("the window can be at most {MAX_WINDOW_DAYS} days"),
        )
        .into());
    }
    let records = state.store.sla_records(from, to).await?;
    let mut rows: Vec<(Priority, u64, Compliance, Compliance)> = Priority::ALL
        .iter()
        .rev()
        .map(|p| (*p, 0, Compliance::default(), Compliance::default()))
        .collect();
    let mut total = (0, Compliance::default(), Compliance::default());
    for r in &records {
        let active = r.status.is_active();
        let first = r.sla.clock(SlaTarget::FirstResponse).outcome(active, now);
        let resolution = r.sla.clock(SlaTarget::Resolution).outcome(active, now);
        if let Some(row) = rows.iter_mut().find(|row| row.0 == r.priority) {
            row.1 += 1;
            row.2.count(first);
            row.3.count(resolution);
        }
        total.0 += 1;
        total.1.count(first);
        total.2.count(resolution);
    }
    let row = |priority, tickets, first: &Compliance, resolution: &Compliance| PriorityCompliance {
        priority,
        tickets,
        first_response: first.into(),
        resolution: resolution.into(),
    };
    Ok(Json(ComplianceReport {
        from,
        to,
        as_of: now,
        priorities: rows
            .iter()
            .map(|(p, n, f, r)| row(Some(*p), *n, f, r))
            .collect(),
        total: row(None, total.0, &total.1, &total.2),
    }))
}

/// The targets of one priority.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetsView {
    /// The priority.
    #[schema(value_type = String)]
    pub priority: Priority,
    /// Time allowed to assignment, e.g. `15m`.
    pub first_response: String,
    /// Time allowed to resolution, e.g. `4h`.
    pub resolution: String,
}

/// One escalation rule.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    /// The level it lifts a ticket to.
    pub level: u32,
    /// Its name.
    pub name: String,
    /// Priorities it applies to (empty: any).
    pub priorities: Vec<String>,
    /// Statuses it applies to (empty: any active).
    pub statuses: Vec<String>,
    /// The mark it measures from.
    pub since: String,
    /// Time after the mark.
    pub after: String,
    /// What it does.
    pub actions: Vec<String>,
}

/// The SLA policy in force.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    /// Targets, Critical first.
    pub targets: Vec<TargetsView>,
    /// Share of a target after which the warning is raised.
    pub warning_fraction: f64,
    /// The business-hours time zone; `null` when the clock runs round the clock.
    pub business_hours_time_zone: Option<String>,
    /// The escalation ladder.
    pub escalation: Vec<RuleView>,
}

/// The SLA targets, business hours and escalation rules in force.
#[utoipa::path(get, path = "/api/sla/policy", tag = "sla", security(("bearer" = [])),
    responses((status = 200, body = PolicyView), (status = 403, body = ErrorBody)))]
async fn policy(State(state): State<AppState>, auth: Auth) -> Result<Json<PolicyView>, ApiError> {
    auth.require(&[Role::Agent, Role::Admin], "reading the SLA policy")?;
    let policy = &state.sla;
    Ok(Json(PolicyView {
        targets: Priority::ALL
            .iter()
            .rev()
            .map(|p| TargetsView {
                priority: *p,
                first_response: humanize(policy.targets(*p).first_response),
                resolution: humanize(policy.targets(*p).resolution),
            })
            .collect(),
        warning_fraction: policy.warning_fraction(),
        business_hours_time_zone: match policy.calendar() {
            Calendar::Always => None,
            Calendar::Business(hours) => Some(hours.timezone().to_owned()),
        },
        escalation: policy
            .rules()
            .iter()
            .zip(1u32..)
            .map(|(r, level)| RuleView {
                level,
                name: r.name.clone(),
                priorities: r.priorities.iter().map(ToString::to_string).collect(),
                statuses: r.statuses.iter().map(ToString::to_string).collect(),
                since: r.since.as_str().to_owned(),
                after: humanize(r.after),
                actions: r.actions.iter().map(|a| a.as_str().to_owned()).collect(),
            })
            .collect(),
    }))
}
