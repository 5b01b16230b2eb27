//! Which targets and which calendar a ticket's SLA runs on: the plan and region of its
//! requester's organization, taken when the ticket is opened.
//!
//! How a plan and a priority combine: the plan chooses the table of targets, the priority
//! chooses the row. A plan that leaves a priority out uses the default row for it. The priority
//! alone still decides the order of the backlog, acceptance times and escalation rules. A
//! region chooses the business calendar (its time zone, hours and holidays); a ticket without
//! one uses the default calendar.

use super::super::ValidationError;

/// At most this many characters in a plan's or region's name.
pub const MAX_TERM_NAME: usize = 40;

/// The plan and region a ticket's SLA runs on; both `None` for the default targets and
/// calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaTerms {
    /// The plan whose targets apply.
    pub plan: Option<String>,
    /// The region whose business calendar applies.
    pub region: Option<String>,
}

/// Checks a plan's or region's name: 1 to [`MAX_TERM_NAME`] letters, digits, `-` or `_`.
///
/// # Errors
/// When it is not such a name; the error names `field`.
pub fn check_term_name(field: &str, name: &str) -> Result<(), ValidationError> {
    let ok = (1..=MAX_TERM_NAME).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            format!("`{name}` is not a name of 1 to {MAX_TERM_NAME} letters, digits, - or _"),
        ))
    }
}
