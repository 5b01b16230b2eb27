//! QuickFix's production-safety contract, one test per point: the first admin and user
//! administration, sessions checked against the store, settings that refuse unsafe values,
//! abuse limits, least privilege and trust boundaries. Every refusal is asserted with its status
//! and JSON error code.

mod common;

#[path = "security/accounts.rs"]
mod accounts;
#[path = "security/boundaries.rs"]
mod boundaries;
#[path = "security/limits.rs"]
mod limits;
#[path = "security/live.rs"]
mod live;
#[path = "security/settings.rs"]
mod settings;
