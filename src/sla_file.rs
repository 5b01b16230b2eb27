//! The SLA policy file (`QUICKFIX_SLA_FILE`, TOML): targets per priority and per plan, the
//! warning fraction, business hours with holidays and regions, and the escalation ladder.
//! Anything left out keeps its default; `config/sla.example.toml` shows every setting.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use chrono::TimeDelta;
use serde::Deserialize;

use crate::domain::{
    BusinessHours, Calendar, EscalationAction, EscalationRule, Mark, Priority, SlaPolicy, Status,
    Targets, ValidationError,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlaFile {
    warning_fraction: Option<f64>,
    #[serde(default)]
    targets: BTreeMap<Priority, TargetsFile>,
    business_hours: Option<BusinessHoursFile>,
    escalation: Option<Vec<RuleFile>>,
    /// How long a ticket may wait on the customer (`Pending`) before it is resolved, e.g. `7d`.
    pending_resolve_after: Option<String>,
    /// How long after its resolution a customer's reply reopens a ticket, e.g. `7d`.
    reopen_within: Option<String>,
    /// How long an agent has to act on an assigned ticket, per priority, e.g. `High = "15m"`.
    #[serde(default)]
    acceptance: BTreeMap<Priority, String>,
    /// How many times an unaccepted ticket goes to another agent before it escalates.
    max_reassignments: Option<u32>,
    /// Customer plans: per plan, the targets of the priorities it sets.
    #[serde(default)]
    plans: BTreeMap<String, PlanFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    #[serde(default)]
    targets: BTreeMap<Priority, TargetsFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    first_response: String,
    /// Optional: the priority's default when left out.
    next_reply: Option<String>,
    resolution: String,
}

/// Weekdays are free keys, so unknown ones are reported by [`BusinessHours::parse`].
#[derive(Debug, Deserialize)]
struct BusinessHoursFile {
    timezone: String,
    /// Local dates on which no SLA time passes, `YYYY-MM-DD`.
    #[serde(default)]
    holidays: Vec<String>,
    /// Calendars of their own for organizations in a region.
    #[serde(default)]
    regions: BTreeMap<String, RegionFile>,
    #[serde(flatten)]
    days: BTreeMap<String, String>,
}

/// A region's calendar: its own time zone and weekly hours when given (else the main ones), and
/// only its own holidays.
#[derive(Debug, Deserialize)]
struct RegionFile {
    timezone: Option<String>,
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(flatten)]
    days: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    #[serde(default)]
    priorities: Vec<Priority>,
    #[serde(default)]
    statuses: Vec<Status>,
    since: Mark,
    #[serde(default = "zero")]
    after: String,
    actions: Vec<EscalationAction>,
}

fn zero() -> String {
    "0s".into()
}

/// Reads the policy from `path`, or the default policy when there is none.
///
/// # Errors
/// When the file cannot be read or is not a valid policy; the message names the setting.
pub fn load(path: Option<&Path>) -> anyhow::Result<SlaPolicy> {
    let Some(path) = path else {
        return Ok(SlaPolicy::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the SLA policy file {}", path.display()))?;
    parse(&text).with_context(|| format!("the SLA policy file {} is invalid", path.display()))
}

/// Parses a policy file's text.
///
/// # Errors
/// When it is not TOML of the expected shape, or a value is invalid.
pub fn parse(text: &str) -> anyhow::Result<SlaPolicy> {
    let file: SlaFile = toml::from_str(text)?;
    let defaults = SlaPolicy::default();
    let mut targets: BTreeMap<Priority, Targets> = Priority::ALL
        .iter()
        .map(|p| (*p, defaults.targets(*p)))
        .collect();
    for (priority, t) in &file.targets {
        let row = t.read(&format!("targets.{priority}"), defaults.targets(*priority))?;
        targets.insert(*priority, row);
    }
    let mut plans = BTreeMap::new();
    for (plan, table) in &file.plans {
        let mut rows = BTreeMap::new();
        for (priority, t) in &table.targets {
            let field = format!("plans.{plan}.targets.{priority}");
            rows.insert(*priority, t.read(&field, targets[priority])?);
        }
        plans.insert(plan.clone(), rows);
    }
    let (calendar, regions) = match &file.business_hours {
        None => (Calendar::Always, BTreeMap::new()),
        Some(hours) => calendars(hours)?,
    };
    let rules = match file.escalation {
        None => defaults.rules().to_vec(),
        Some(rules) => rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                Ok(EscalationRule {
                    after: duration(&format!("escalation[{i}].after"), &r.after)?,
                    name: r.name,
                    priorities: r.priorities,
                    statuses: r.statuses,
                    since: r.since,
                    actions: r.actions,
                })
            })
            .collect::<Result<_, ValidationError>>()?,
    };
    let pending_resolve_after = match &file.pending_resolve_after {
        Some(raw) => duration("pending_resolve_after", raw)?,
        None => defaults.pending_resolve_after(),
    };
    let reopen_within = match &file.reopen_within {
        Some(raw) => duration("reopen_within", raw)?,
        None => defaults.reopen_within(),
    };
    let policy = SlaPolicy::new(
        |p| targets[&p],
        file.warning_fraction.unwrap_or(defaults.warning_fraction()),
        calendar,
        rules,
    )?
    .with_plans(plans)?
    .with_regions(regions)?
    .with_pending_resolve_after(pending_resolve_after)?
    .with_reopen_within(reopen_within)?;
    let mut accept_within = BTreeMap::new();
    for (priority, raw) in &file.acceptance {
        accept_within.insert(*priority, duration(&format!("acceptance.{priority}"), raw)?);
    }
    let policy = policy.with_acceptance(
        |p| {
            accept_within
                .get(&p)
                .copied()
                .unwrap_or(defaults.accept_within(p))
        },
        file.max_reassignments
            .unwrap_or(defaults.max_reassignments()),
    )?;
    Ok(policy)
}

impl TargetsFile {
    /// The row this table gives, `next_reply` taken from `fallback` when left out; errors name
    /// `<field>.<target>`.
    fn read(&self, field: &str, fallback: Targets) -> Result<Targets, ValidationError> {
        let at = |name: &str| format!("{field}.{name}");
        Ok(Targets {
            first_response: duration(&at("first_response"), &self.first_response)?,
            next_reply: match &self.next_reply {
                Some(raw) => duration(&at("next_reply"), raw)?,
                None => fallback.next_reply,
            },
            resolution: duration(&at("resolution"), &self.resolution)?,
        })
    }
}

/// The main business calendar and the regions' calendars.
fn calendars(
    hours: &BusinessHoursFile,
) -> Result<(Calendar, BTreeMap<String, Calendar>), ValidationError> {
    let main = schedule(
        "business_hours",
        &hours.timezone,
        &hours.days,
        &hours.holidays,
    )?;
    let mut regions = BTreeMap::new();
    for (name, region) in &hours.regions {
        let days = if region.days.is_empty() {
            &hours.days
        } else {
            &region.days
        };
        let zone = region.timezone.as_deref().unwrap_or(&hours.timezone);
        let field = format!("business_hours.regions.{name}");
        regions.insert(
            name.clone(),
            schedule(&field, zone, days, &region.holidays)?,
        );
    }
    Ok((main, regions))
}

/// One business calendar; errors name `<field>.<setting>`.
fn schedule(
    field: &str,
    zone: &str,
    days: &BTreeMap<String, String>,
    holidays: &[String],
) -> Result<Calendar, ValidationError> {
    let days: Vec<(&str, &str)> = days.iter().map(|(d, w)| (d.as_str(), w.as_str())).collect();
    BusinessHours::parse(zone, &days)
        .map_err(|e| {
            let setting = e.field.trim_start_matches("businessHours");
            ValidationError::new(format!("{field}{setting}"), e.message)
        })?
        .with_holidays(&format!("{field}.holidays"), holidays)
        .map(Calendar::Business)
}

/// `15m`, `4h`, `1h 30m`, `3days`.
fn duration(field: &str, raw: &str) -> Result<TimeDelta, ValidationError> {
    humantime::parse_duration(raw.trim())
        .ok()
        .and_then(|d| TimeDelta::from_std(d).ok())
        .ok_or_else(|| {
            ValidationError::new(field, format!("`{raw}` is not a duration like 15m or 4h"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SlaTerms;

    #[test]
    fn the_example_file_parses_to_what_it_says() {
        let policy = parse(include_str!("../config/sla.example.toml")).unwrap();
        let critical = policy.targets(Priority::Critical);
        assert_eq!(critical.first_response, TimeDelta::minutes(15));
        assert_eq!(critical.resolution, TimeDelta::hours(4));
        assert_eq!(policy.warning_fraction(), 0.8);
        assert_eq!(policy.pending_resolve_after(), TimeDelta::days(7));
        assert_eq!(policy.reopen_within(), TimeDelta::days(7));
        assert_eq!(policy.accept_within(Priority::High), TimeDelta::minutes(15));
        assert_eq!(policy.max_reassignments(), 2);
        assert!(matches!(policy.calendar(), Calendar::Business(_)));
        assert_eq!(policy.rules().len(), 3);
        assert_eq!(policy.rules()[0].name, "unanswered");
        assert_eq!(policy.plans().collect::<Vec<_>>(), ["basic", "enterprise"]);
        assert_eq!(policy.regions().collect::<Vec<_>>(), ["us"]);
    }

    #[test]
    fn a_plan_sets_the_rows_it_lists_and_keeps_the_others() {
        let policy = parse(
            "[targets.High]\nfirst_response = \"2h\"\nnext_reply = \"3h\"\nresolution = \"9h\"\n\
             [plans.gold.targets.High]\nfirst_response = \"10m\"\nresolution = \"1h\"\n",
        )
        .unwrap();
        let gold = SlaTerms {
            plan: Some("gold".into()),
            region: None,
        };
        let high = policy.targets_under(&gold, Priority::High);
        assert_eq!(high.first_response, TimeDelta::minutes(10));
        assert_eq!(high.resolution, TimeDelta::hours(1));
        // Left out: the main table's next reply for High.
        assert_eq!(high.next_reply, TimeDelta::hours(3));
        // A priority the plan leaves out keeps the main row.
        assert_eq!(
            policy.targets_under(&gold, Priority::Low),
            policy.targets(Priority::Low)
        );
        // No plan, or one the policy no longer has: the main rows.
        assert_eq!(
            policy.targets_under(&SlaTerms::default(), Priority::High),
            policy.targets(Priority::High)
        );
    }

    #[test]
    fn a_region_has_its_own_zone_and_holidays_and_the_main_hours() {
        let policy = parse(include_str!("../config/sla.example.toml")).unwrap();
        let us = SlaTerms {
            plan: None,
            region: Some("us".into()),
        };
        let Calendar::Business(hours) = policy.calendar_under(&us) else {
            panic!("the region has business hours");
        };
        assert_eq!(hours.timezone(), "America/New_York");
        let thanksgiving = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        assert!(hours.holidays().any(|d| d == thanksgiving));
        // The main calendar does not have the region's holiday.
        let Calendar::Business(main) = policy.calendar() else {
            panic!("business hours");
        };
        assert_eq!(main.timezone(), "Europe/Berlin");
        assert!(!main.holidays().any(|d| d == thanksgiving));
        // Thursday 26 November 2026, 10:00 in New York: the clock waits for Friday 09:00.
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-26T15:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let friday_nine = chrono::DateTime::parse_from_rfc3339("2026-11-27T14:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            policy.calendar_under(&us).add(at, TimeDelta::zero()),
            friday_nine
        );
    }

    #[test]
    fn an_empty_file_is_the_default_policy() {
        assert_eq!(parse("").unwrap(), SlaPolicy::default());
    }

    #[test]
    fn a_partial_file_keeps_the_other_defaults() {
        let policy =
            parse("[targets.Low]\nfirst_response = \"1d\"\nresolution = \"5d\"\n").unwrap();
        assert_eq!(
            policy.targets(Priority::Low).first_response,
            TimeDelta::days(1)
        );
        assert_eq!(
            policy.targets(Priority::High),
            SlaPolicy::default().targets(Priority::High)
        );
        assert_eq!(parse("escalation = []").unwrap().rules().len(), 0);
    }

    #[test]
    fn errors_name_the_setting() {
        for (text, needle) in [
            (
                "[targets.High]\nfirst_response = \"soon\"\nresolution = \"1h\"",
                "targets.High.first_response",
            ),
            ("warning_fraction = 1.5", "warning_fraction"),
            (
                "[targets.Urgent]\nfirst_response = \"1h\"\nresolution = \"2h\"",
                "Urgent",
            ),
            ("colour = \"red\"", "colour"),
            (
                "[[escalation]]\nname = \"x\"\nsince = \"created\"\nactions = [\"page_the_ceo\"]",
                "page_the_ceo",
            ),
            (
                "[business_hours]\ntimezone = \"Mars/Olympus\"\nmonday = \"09:00-17:00\"",
                "timezone",
            ),
            (
                "[business_hours]\ntimezone = \"UTC\"\nmonday = \"09:00-17:00\"\nholidays = [\"someday\"]",
                "business_hours.holidays",
            ),
            (
                "[business_hours]\ntimezone = \"UTC\"\nmonday = \"09:00-17:00\"\n\
                 [business_hours.regions.us]\ntimezone = \"Mars/Olympus\"",
                "business_hours.regions.us.timezone",
            ),
            (
                "[plans.gold.targets.High]\nfirst_response = \"2h\"\nresolution = \"1h\"",
                "plans.gold.targets.High",
            ),
            (
                "[plans.\"gold plan\".targets.High]\nfirst_response = \"1h\"\nresolution = \"2h\"",
                "plans",
            ),
        ] {
            let err = format!("{:#}", parse(text).unwrap_err());
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
