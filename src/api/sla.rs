//! `/api/sla`: tickets at risk of missing a target, tickets that missed one, the compliance
//! report, and the policy in force. For agents and admins.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Auth;
use super::input::{page_limit, timestamp};
use super::views::TicketView;
use super::{ApiError, AppState, ErrorBody, schema};
use crate::domain::{
    Calendar, Compliance, Priority, Role, SlaPolicy, SlaTarget, SlaTerms, ValidationError, humanize,
};
use crate::store::SlaRecord;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;
/// The compliance window when none is given.
const DEFAULT_WINDOW_DAYS: i64 = 7;
/// The longest compliance window.
const MAX_WINDOW_DAYS: i64 = 366;

/// The SLA routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(at_risk))
        .routes(routes!(breached))
        .routes(routes!(compliance))
        .routes(routes!(policy))
}

/// Query of `GET /api/sla/at-risk`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtRiskParams {
    /// How far ahead to look: `30m`, `2h` (default `1h`, at most `30d`).
    #[param(schema_with = schema::within)]
    pub within: Option<String>,
    /// At most this many, 1 to 500 (default 50).
    #[param(schema_with = schema::limit_500)]
    pub limit: Option<String>,
}

/// Query of `GET /api/sla/breached`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BreachedParams {
    /// At most this many, 1 to 500 (default 50).
    #[param(schema_with = schema::limit_500)]
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
#[utoipa::path(get, path = "/api/sla/at-risk", operation_id = "listTicketsAtRisk", tag = "sla", params(AtRiskParams),
    security(("bearer" = [])),
    responses((status = 200, body = DueList),
        (status = 403, body = ErrorBody, description = "Customers may not read SLA lists")))]
async fn at_risk(
    State(state): State<AppState>,
    auth: Auth,
    params: Result<Query<AtRiskParams>, QueryRejection>,
) -> Result<Json<DueList>, ApiError> {
    auth.require(&[Role::Agent, Role::Admin], "reading SLA lists")?;
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let within = match params.within.as_deref() {
        None => TimeDelta::hours(1),
        Some(raw) => parse_within(raw).ok_or_else(|| {
            ValidationError::new(
                "within",
                "must be a whole number and a unit (s, m, h or d) like 30m or 2h, at most 30d",
            )
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
#[utoipa::path(get, path = "/api/sla/breached", operation_id = "listBreachedTickets", tag = "sla", params(BreachedParams),
    security(("bearer" = [])),
    responses((status = 200, body = DueList),
        (status = 403, body = ErrorBody, description = "Customers may not read SLA lists")))]
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
    /// window are counted. Must be before `to`, and at most 366 days before it.
    #[param(schema_with = schema::date_time)]
    pub from: Option<String>,
    /// End of the window, exclusive (RFC 3339; default: now).
    #[param(schema_with = schema::date_time)]
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

/// Every target of one priority (or of all).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriorityCompliance {
    /// The priority; `null` for the total.
    #[schema(schema_with = schema::priority_or_null)]
    pub priority: Option<Priority>,
    /// Tickets counted.
    pub tickets: u64,
    /// Time to the staff's first public reply.
    pub first_response: TargetCompliance,
    /// Time from each customer reply to the staff's next public reply, every reply counted.
    pub next_reply: TargetCompliance,
    /// Time to resolution.
    pub resolution: TargetCompliance,
    /// SLA time the tickets' resolution clocks stood still while they waited on the customer
    /// (`Pending`), in seconds, up to the report's time.
    pub paused_seconds: i64,
}

/// What the report adds up for one priority (or for all).
#[derive(Default)]
struct Tally {
    tickets: u64,
    first_response: Compliance,
    next_reply: Compliance,
    resolution: Compliance,
    paused: TimeDelta,
}

impl Tally {
    fn count(&mut self, r: &SlaRecord, policy: &SlaPolicy, now: DateTime<Utc>) {
        let active = r.status.is_active();
        let outcome = |target| r.sla.clock(target).map(|c| c.outcome(active, now));
        self.tickets += 1;
        if let Some(o) = outcome(SlaTarget::FirstResponse) {
            self.first_response.count(o);
        }
        if let Some(o) = outcome(SlaTarget::Resolution) {
            self.resolution.count(o);
        }
        self.next_reply.add(&r.sla.next_reply_outcomes(active, now));
        self.paused += r.sla.paused
            + r.sla.paused_since.map_or(TimeDelta::zero(), |since| {
                policy.calendar_under(&r.terms).elapsed(since, now)
            });
    }

    fn row(&self, priority: Option<Priority>) -> PriorityCompliance {
        PriorityCompliance {
            priority,
            tickets: self.tickets,
            first_response: (&self.first_response).into(),
            next_reply: (&self.next_reply).into(),
            resolution: (&self.resolution).into(),
            paused_seconds: self.paused.num_seconds(),
        }
    }
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
#[utoipa::path(get, path = "/api/sla/compliance", operation_id = "slaCompliance", tag = "sla", params(ComplianceParams),
    security(("bearer" = [])),
    responses((status = 200, body = ComplianceReport),
        (status = 403, body = ErrorBody, description = "Customers may not read the SLA report"),
        (status = 422, body = ErrorBody, description = "A time is invalid, or the window is \
            empty (`from` not before `to`) or wider than 366 days; `details.field` names the \
            parameter")))]
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
    let mut rows: Vec<(Priority, Tally)> = Priority::ALL
        .iter()
        .rev()
        .map(|p| (*p, Tally::default()))
        .collect();
    let mut total = Tally::default();
    for r in &records {
        if let Some((_, tally)) = rows.iter_mut().find(|(p, _)| *p == r.priority) {
            tally.count(r, &state.sla, now);
        }
        total.count(r, &state.sla, now);
    }
    Ok(Json(ComplianceReport {
        from,
        to,
        as_of: now,
        priorities: rows.iter().map(|(p, t)| t.row(Some(*p))).collect(),
        total: total.row(None),
    }))
}

/// The targets of one priority.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetsView {
    /// The priority.
    #[schema(schema_with = schema::priority)]
    pub priority: Priority,
    /// Time allowed to the staff's first public reply, e.g. `15m`.
    pub first_response: String,
    /// Time allowed from a customer reply to the staff's next public reply, e.g. `30m`.
    pub next_reply: String,
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
    #[schema(schema_with = priorities)]
    pub priorities: Vec<String>,
    /// Statuses it applies to (empty: any active).
    #[schema(schema_with = statuses)]
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
    /// Dates on which the business clock stands still.
    pub holidays: Vec<NaiveDate>,
    /// The customer plans: the targets a ticket of an organization on the plan runs on, Critical
    /// first (the plan's rows, and the default rows for the priorities it leaves out).
    pub plans: Vec<PlanView>,
    /// The regions' business calendars.
    pub regions: Vec<RegionView>,
    /// The escalation ladder.
    pub escalation: Vec<RuleView>,
}

/// One customer plan.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanView {
    /// Its name.
    pub name: String,
    /// Its targets, Critical first.
    pub targets: Vec<TargetsView>,
}

/// One region's calendar.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegionView {
    /// Its name.
    pub name: String,
    /// Its time zone.
    pub time_zone: Option<String>,
    /// Its holidays.
    pub holidays: Vec<NaiveDate>,
}

/// The rows of targets under `terms`, Critical first.
fn target_rows(policy: &SlaPolicy, terms: &SlaTerms) -> Vec<TargetsView> {
    Priority::ALL
        .iter()
        .rev()
        .map(|p| {
            let t = policy.targets_under(terms, *p);
            TargetsView {
                priority: *p,
                first_response: humanize(t.first_response),
                next_reply: humanize(t.next_reply),
                resolution: humanize(t.resolution),
            }
        })
        .collect()
}

/// A calendar's time zone (`None` round the clock) and holidays.
fn zone_and_holidays(calendar: &Calendar) -> (Option<String>, Vec<NaiveDate>) {
    match calendar {
        Calendar::Always => (None, Vec::new()),
        Calendar::Business(hours) => (
            Some(hours.timezone().to_owned()),
            hours.holidays().collect(),
        ),
    }
}

/// The SLA targets, business hours and escalation rules in force.
#[utoipa::path(get, path = "/api/sla/policy", operation_id = "slaPolicy", tag = "sla", security(("bearer" = [])),
    responses((status = 200, body = PolicyView),
        (status = 403, body = ErrorBody, description = "Customers may not read the SLA policy")))]
async fn policy(State(state): State<AppState>, auth: Auth) -> Result<Json<PolicyView>, ApiError> {
    auth.require(&[Role::Agent, Role::Admin], "reading the SLA policy")?;
    let policy = &state.sla;
    let (business_hours_time_zone, holidays) = zone_and_holidays(policy.calendar());
    Ok(Json(PolicyView {
        targets: target_rows(policy, &SlaTerms::default()),
        warning_fraction: policy.warning_fraction(),
        business_hours_time_zone,
        holidays,
        plans: policy
            .plans()
            .map(|name| PlanView {
                name: name.to_owned(),
                targets: target_rows(
                    policy,
                    &SlaTerms {
                        plan: Some(name.to_owned()),
                        region: None,
                    },
                ),
            })
            .collect(),
        regions: policy
            .regions()
            .map(|name| {
                let terms = SlaTerms {
                    plan: None,
                    region: Some(name.to_owned()),
                };
                let (time_zone, holidays) = zone_and_holidays(policy.calendar_under(&terms));
                RegionView {
                    name: name.to_owned(),
                    time_zone,
                    holidays,
                }
            })
            .collect(),
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

fn priorities() -> utoipa::openapi::schema::ArrayBuilder {
    utoipa::openapi::schema::ArrayBuilder::new().items(schema::priority())
}

fn statuses() -> utoipa::openapi::schema::ArrayBuilder {
    utoipa::openapi::schema::ArrayBuilder::new().items(schema::status())
}

/// The longest look-ahead of the at-risk list.
const MAX_WITHIN: TimeDelta = TimeDelta::days(30);

/// A look-ahead such as `30m`: a whole number without leading zeros and one of the units `s`,
/// `m`, `h` or `d`, from one second to [`MAX_WITHIN`] (surrounding whitespace is ignored). A
/// grammar this small is one the OpenAPI document can state exactly (`schema::within`).
fn parse_within(raw: &str) -> Option<TimeDelta> {
    let raw = raw.trim();
    let unit = raw.chars().last()?;
    let number = &raw[..raw.len() - unit.len_utf8()];
    if !number.starts_with(|c: char| ('1'..='9').contains(&c))
        || !number.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let n: i64 = number.parse().ok()?;
    let within = match unit {
        's' => TimeDelta::try_seconds(n),
        'm' => TimeDelta::try_minutes(n),
        'h' => TimeDelta::try_hours(n),
        'd' => TimeDelta::try_days(n),
        _ => None,
    }?;
    (within <= MAX_WITHIN).then_some(within)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_look_ahead_is_a_whole_number_and_a_unit_up_to_30_days() {
        assert_eq!(parse_within("30m"), Some(TimeDelta::minutes(30)));
        assert_eq!(parse_within(" 2h "), Some(TimeDelta::hours(2)));
        assert_eq!(parse_within("30d"), Some(TimeDelta::days(30)));
        assert_eq!(parse_within("2592000s"), Some(TimeDelta::days(30)));
        for refused in [
            "",
            "m",
            "0m",
            "030m",
            "31d",
            "721h",
            "43201m",
            "2592001s",
            "1.5h",
            "1h30m",
            "2 h",
            "-1h",
            "+1h",
            "1w",
            "banana",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_within(refused), None, "{refused:?}");
        }
    }

    /// The pattern in the OpenAPI document accepts exactly what the parser does.
    #[test]
    fn the_documented_pattern_matches_the_parser() {
        let schema = serde_json::to_value(schema::within()).unwrap();
        let pattern = schema["pattern"].as_str().unwrap();
        let validator =
            jsonschema::validator_for(&serde_json::json!({"pattern": pattern})).unwrap();
        for unit in ["s", "m", "h", "d"] {
            for n in (0..=3000).chain([43_199, 43_200, 43_201, 2_591_999, 2_592_000, 2_592_001]) {
                let raw = format!("{n}{unit}");
                assert_eq!(
                    validator.is_valid(&serde_json::json!(raw)),
                    parse_within(&raw).is_some(),
                    "{raw}"
                );
            }
        }
    }
}
