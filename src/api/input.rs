//! Small helpers for reading request fields into domain types.

use chrono::{DateTime, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::domain::ValidationError;

/// The value of a field that must be present.
///
/// # Errors
/// `<field>: is required` when it is absent.
pub fn required<'a>(field: &str, value: &'a Option<String>) -> Result<&'a str, ValidationError> {
    value
        .as_deref()
        .ok_or_else(|| ValidationError::new(field, "is required"))
}

/// An optional free-text note of at most `max` characters; blank means none.
///
/// # Errors
/// When it is longer than `max`.
pub fn note(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, ValidationError> {
    let Some(text) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(Some(text))
}

/// A `limit` query parameter: `default` when absent, else a whole number from 1 to `max`.
///
/// # Errors
/// When it is not such a number.
pub fn page_limit(raw: Option<&str>, default: usize, max: usize) -> Result<usize, ValidationError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    raw.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| ValidationError::new("limit", format!("must be a number from 1 to {max}")))
}

/// A `cursor` query parameter read with `parse` (an id from a previous page).
///
/// # Errors
/// `cursor: is not a cursor from a previous page` when `parse` refuses it.
pub fn cursor<T, E>(
    raw: Option<&str>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Option<T>, ValidationError> {
    raw.map(|c| {
        parse(c).map_err(|_| ValidationError::new("cursor", "is not a cursor from a previous page"))
    })
    .transpose()
}

/// The `nextCursor` of a page: the last item's `position` when the page is full (there may be
/// more), `None` on the last page.
pub fn next_cursor<T>(page: &[T], limit: usize, position: impl Fn(&T) -> String) -> Option<String> {
    (page.len() == limit)
        .then(|| page.last().map(position))
        .flatten()
}

/// An optional RFC 3339 time.
///
/// # Errors
/// When it is present and not such a time.
pub fn timestamp(field: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ValidationError> {
    raw.map(|s| {
        DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                ValidationError::new(field, "must be an RFC 3339 time, e.g. 2026-01-17T12:00:00Z")
            })
    })
    .transpose()
}

/// An optional whole number from 0 to `u32::MAX`, spelt `9` or `9.0`: both are the integer 9 in
/// JSON Schema (and to clients whose numbers are all floating point), so both are accepted.
///
/// # Errors
/// When the value is a fraction, negative, too large, or not a number.
pub fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f))
                .map(|f| f as u64)
        })
        .and_then(|v| u32::try_from(v).ok())
        .map(Some)
        .ok_or_else(|| {
            D::Error::custom(format!(
                "invalid value: {n}, expected a whole number from 0 to {}",
                u32::MAX
            ))
        })
}
