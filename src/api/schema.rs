//! The request rules as JSON Schema, for the OpenAPI document: each function states what one
//! domain parser or handler check accepts, so that a request valid by the document is one the
//! server takes, and one it refuses breaks the document too. The handlers (and the domain
//! newtypes behind them) stay the authority; these say the same thing to clients, and the
//! conformance run in `scripts/test.sh` holds the two together.
//!
//! Two leniencies are left out of the schemas on purpose: names of enumerations are matched
//! ignoring case (`high` is `High`), and surrounding whitespace is trimmed. The schemas give the
//! canonical spelling, which is what a client should send.

use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{KnownFormat, RefOr, Schema, SchemaFormat};

use crate::domain::{
    AgentProfile, Availability, Description, EventType, HistoryKind, MAX_ORGANIZATION_NAME,
    MessageBody, NotificationKind, Presence, Priority, Role, SlaTarget, Status, Tier, Title,
    Visibility,
};

/// Characters Rust's `str::trim` removes (the Unicode `White_Space` property), as a regex class
/// body.
const WHITESPACE: &str = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Control characters (Unicode `Cc`) other than tab and line feed, which free text may hold.
const CONTROL_BUT_TAB_AND_NEWLINE: &str = r"\x00-\x08\x0b-\x1f\x7f-\x9f";
/// Control characters and whitespace: what cannot open or close a trimmed text.
const CONTROL_OR_WHITESPACE: &str =
    r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// A UUID in its hyphenated form.
const UUID: &str = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// `schema`, with `null` allowed too (the handlers read `null` as "not given").
fn or_null(schema: ObjectBuilder) -> Object {
    let mut object = schema.build();
    object.schema_type = SchemaType::from_iter([
        match object.schema_type {
            SchemaType::Type(t) => t,
            _ => Type::String,
        },
        Type::Null,
    ]);
    if let Some(values) = object.enum_values.as_mut() {
        values.push(serde_json::Value::Null);
    }
    object
}

/// Free text of `min` to `max` characters (counted after trimming), without control characters
/// other than tab and line feed: what `bounded_text` in the domain accepts.
fn text(min: usize, max: usize) -> ObjectBuilder {
    let edge = format!("[^{CONTROL_OR_WHITESPACE}]");
    let middle = format!("[^{CONTROL_BUT_TAB_AND_NEWLINE}]");
    let pattern = if min <= 1 {
        format!("^{edge}(?:{middle}*{edge})?$")
    } else {
        format!("^{edge}{middle}*{edge}$")
    };
    string()
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
}

/// One of `names`.
fn one_of<'a>(names: impl IntoIterator<Item = &'a str>) -> ObjectBuilder {
    string().enum_values(Some(names.into_iter().collect::<Vec<_>>()))
}

/// A ticket title.
pub fn title() -> Object {
    text(3, Title::MAX_CHARS)
        .description(Some(
            "3 to 200 characters (surrounding whitespace is trimmed).",
        ))
        .build()
}

/// A ticket description.
pub fn description() -> Object {
    text(1, Description::MAX_CHARS)
        .description(Some(
            "1 to 5,000 characters (surrounding whitespace is trimmed).",
        ))
        .build()
}

/// A reply's or a note's text.
pub fn message_body() -> Object {
    text(1, MessageBody::MAX_CHARS)
        .description(Some(
            "Plain text, 1 to 5,000 characters (surrounding whitespace is trimmed).",
        ))
        .build()
}

/// An SLA target's name.
pub fn sla_target() -> Object {
    one_of(SlaTarget::ALL.iter().map(|t| t.as_str())).build()
}

/// Who may read a message: `public` (a reply) or `internal` (a note, staff only).
pub fn visibility() -> Object {
    one_of(Visibility::ALL.iter().map(|v| v.as_str())).build()
}

/// A person's display name.
pub fn person_name() -> Object {
    text(1, 100)
        .description(Some(
            "Display name, 1 to 100 characters (surrounding whitespace is trimmed).",
        ))
        .build()
}

/// An email address as `Email::parse` takes it: `local@domain.tld`, no whitespace or control
/// characters, a local part of at most 64 characters. Internationalised addresses are accepted,
/// which is why this is a pattern rather than `format: email` (that format is ASCII-only in
/// most validators).
pub fn email() -> Object {
    let atom = format!("[^{CONTROL_OR_WHITESPACE}@]");
    let label = format!("[^{CONTROL_OR_WHITESPACE}@.]+");
    string()
        .max_length(Some(254))
        .pattern(Some(format!("^{atom}{{1,64}}@{label}(?:\\.{label})+$")))
        .description(Some(
            "Sign-in email, `local@domain.tld`, at most 254 characters; stored lower-cased.",
        ))
        .build()
}

/// A new password.
pub fn password() -> Object {
    string()
        .min_length(Some(8))
        .max_length(Some(128))
        .description(Some("8 to 128 characters."))
        .build()
}

/// Any non-null string (a password to check, a sign-in email to look up).
pub fn any_text() -> Object {
    string().build()
}

/// A ticket priority.
pub fn priority() -> Object {
    one_of(Priority::ALL.iter().map(|p| p.as_str())).build()
}

/// A ticket priority, or `null` for the default.
pub fn priority_or_null() -> Object {
    or_null(one_of(Priority::ALL.iter().map(|p| p.as_str())))
}

/// A ticket status.
pub fn status() -> Object {
    one_of(Status::ALL.iter().map(|s| s.as_str())).build()
}

/// An account role.
pub fn role() -> Object {
    one_of(Role::ALL.iter().map(|r| r.as_str())).build()
}

/// The roles an account may be moved to: every role but agent (an agent's role is fixed).
fn changeable_roles() -> ObjectBuilder {
    one_of(
        Role::ALL
            .iter()
            .filter(|r| **r != Role::Agent)
            .map(|r| r.as_str()),
    )
}

/// A role an account may be moved to.
pub fn changeable_role() -> Object {
    changeable_roles().build()
}

/// A role an account may be moved to, or `null` (not given).
pub fn changeable_role_or_null() -> Object {
    or_null(changeable_roles())
}

/// An agent's tier.
pub fn tier() -> Object {
    one_of(Tier::ALL.iter().map(|t| t.as_str())).build()
}

/// An agent's tier, or `null` for the default.
pub fn tier_or_null() -> Object {
    or_null(one_of(Tier::ALL.iter().map(|t| t.as_str())))
}

/// An agent's presence.
pub fn presence() -> Object {
    one_of(Presence::ALL.iter().map(|p| p.as_str())).build()
}

/// An agent's presence, or `null` for the default.
pub fn presence_or_null() -> Object {
    or_null(one_of(Presence::ALL.iter().map(|p| p.as_str())))
}

/// An agent's availability.
pub fn availability() -> Object {
    one_of(Availability::ALL.iter().map(|a| a.as_str())).build()
}

/// Every kind of history entry. The exhaustive `match` below fails to compile when a kind is
/// added and not listed here.
const HISTORY_KINDS: [HistoryKind; 9] = [
    HistoryKind::Created,
    HistoryKind::StatusChanged,
    HistoryKind::Assigned,
    HistoryKind::PriorityChanged,
    HistoryKind::Requeued,
    HistoryKind::SlaWarning,
    HistoryKind::SlaBreach,
    HistoryKind::SlaAcknowledged,
    HistoryKind::Escalated,
];

const _: fn(HistoryKind) = |kind| match kind {
    HistoryKind::Created
    | HistoryKind::StatusChanged
    | HistoryKind::Assigned
    | HistoryKind::PriorityChanged
    | HistoryKind::Requeued
    | HistoryKind::SlaWarning
    | HistoryKind::SlaBreach
    | HistoryKind::SlaAcknowledged
    | HistoryKind::Escalated => {}
};

/// A history entry's kind, by its wire name.
pub fn history_kind() -> Object {
    let names: Vec<serde_json::Value> = HISTORY_KINDS
        .iter()
        .map(|k| serde_json::to_value(k).expect("BUG: a history kind serializes"))
        .collect();
    string().enum_values(Some(names)).build()
}

/// A notification's kind.
pub fn notification_kind() -> Object {
    one_of(NotificationKind::ALL.iter().map(|k| k.as_str())).build()
}

/// An event type.
pub fn event_type() -> Object {
    one_of(EventType::ALL.iter().map(|t| t.as_str())).build()
}

/// Event types, sent comma-separated (`style: form, explode: false`).
pub fn event_types() -> ArrayBuilder {
    ArrayBuilder::new().items(event_type())
}

/// An agent's capacity, or `null` for the default.
pub fn capacity_or_null() -> Object {
    or_null(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(AgentProfile::MAX_CAPACITY))
            .description(Some("Tickets held at once, 1 to 50 (default 1).")),
    )
}

/// The name of the component that lists the configured categories (filled in by
/// [`super::openapi::describe`], since the categories are configuration).
pub const CATEGORY: &str = "Category";

/// A category, as a reference to the configured list.
pub fn category() -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(CATEGORY))
}

/// An agent's skills: at least one category.
pub fn skills() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(category())
        .min_items(Some(1))
        .description(Some("Categories the agent takes, at least one."))
}

/// The name of the component that lists the SLA policy's plans (filled in by
/// [`super::openapi::describe`], since the plans are configuration).
pub const PLAN: &str = "Plan";

/// The name of the component that lists the SLA policy's regions.
pub const REGION: &str = "Region";

/// A plan of the SLA policy, or `null`.
pub fn plan() -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(PLAN))
}

/// A region of the SLA policy, or `null`.
pub fn region() -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(REGION))
}

/// One of `names`, or `null`: what [`describe`](super::openapi::describe) puts in the
/// [`PLAN`] and [`REGION`] components.
pub fn configured_or_null<'a>(names: impl IntoIterator<Item = &'a str>) -> Object {
    or_null(one_of(names))
}

/// An organization's name.
pub fn organization_name() -> Object {
    text(1, MAX_ORGANIZATION_NAME)
        .description(Some(
            "1 to 100 characters (surrounding whitespace is trimmed), unique ignoring case.",
        ))
        .build()
}

/// A UUID (the hyphenated form).
pub fn uuid() -> Object {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        .build()
}

/// A UUID, or `null`.
pub fn uuid_or_null() -> Object {
    or_null(string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))))
}

/// A UUID in the hyphenated form a request must use, or `null`.
pub fn uuid_text_or_null() -> Object {
    or_null(
        string()
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
            .pattern(Some(format!("^{UUID}$"))),
    )
}

/// How a request names a ticket: its UUID or its `COMP-` number.
pub fn ticket_ref() -> Object {
    string()
        .pattern(Some(format!(
            "^(?:{UUID}|[Cc][Oo][Mm][Pp]-0*[0-9]{{1,19}})$"
        )))
        .description(Some(
            "A ticket's id (UUID) or its number, e.g. `COMP-00042`.",
        ))
        .build()
}

/// A ticket's human id, as the API shows it.
pub fn complaint_id() -> Object {
    string()
        .pattern(Some("^COMP-[0-9]{5,}$"))
        .examples(["COMP-00042"])
        .build()
}

/// An RFC 3339 time.
pub fn date_time() -> Object {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .build()
}

/// An optional free-text note of at most `max` characters.
pub fn note_or_null(max: usize) -> Object {
    or_null(string().max_length(Some(max)))
}

/// A status change's note.
pub fn status_note() -> Object {
    note_or_null(2000)
}

/// A text filter of the event log: 1 to 200 characters, not blank.
pub fn filter_text() -> Object {
    string()
        .min_length(Some(1))
        .max_length(Some(200))
        .pattern(Some(format!("[^{WHITESPACE}]")))
        .build()
}

/// The `nextCursor` of an event page: microseconds since the epoch and an event id.
pub fn event_cursor() -> Object {
    string()
        .pattern(Some(format!("^[+-]?[0-9]{{1,16}}_{UUID}$")))
        .description(Some("`nextCursor` of the previous page."))
        .build()
}

/// How far ahead `GET /api/sla/at-risk` looks: a whole number and a unit, from one second to
/// 30 days. The alternatives spell the numbers up to 30 days in each unit.
pub fn within() -> Object {
    let days = "(?:[1-9]|[12][0-9]|30)d";
    let hours = "(?:[1-9][0-9]?|[1-6][0-9]{2}|7[01][0-9]|720)h";
    let minutes = "(?:[1-9][0-9]{0,3}|[1-3][0-9]{4}|4[0-2][0-9]{3}|43[01][0-9]{2}|43200)m";
    let seconds =
        "(?:[1-9][0-9]{0,5}|1[0-9]{6}|2[0-4][0-9]{5}|25[0-8][0-9]{4}|259[01][0-9]{3}|2592000)s";
    string()
        .pattern(Some(format!("^(?:{days}|{hours}|{minutes}|{seconds})$")))
        .description(Some(
            "How far ahead to look: a whole number and a unit (`s`, `m`, `h` or `d`), at most \
             30 days, e.g. `30m` or `2h` (default `1h`).",
        ))
        .build()
}

/// A page size of 1 to `max`.
fn limit(max: usize) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(max))
        .build()
}

/// A page size of 1 to 100.
pub fn limit_100() -> Object {
    limit(100)
}

/// A page size of 1 to 200.
pub fn limit_200() -> Object {
    limit(200)
}

/// A page size of 1 to 500.
pub fn limit_500() -> Object {
    limit(500)
}

/// An `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub fn idempotency_key() -> Object {
    string().pattern(Some("^[!-~]{1,255}$")).build()
}

/// `object` with the fields every new account has: name, email and password, all required.
pub fn with_identity(object: ObjectBuilder) -> ObjectBuilder {
    object
        .property("name", person_name())
        .required("name")
        .property("email", email())
        .required("email")
        .property("password", password())
        .required("password")
}

/// `object` with the fields of a new agent: skills (required), tier, capacity and presence.
pub fn with_agent_fields(object: ObjectBuilder) -> ObjectBuilder {
    object
        .property("skills", skills())
        .required("skills")
        .property("tier", tier_or_null())
        .property("capacity", capacity_or_null())
        .property("presence", presence_or_null())
}
