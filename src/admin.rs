//! `quickfix admin create`: the first admin of a fresh deployment (and any later one), made
//! straight on the store, so a new deployment can be administered without touching the
//! database by hand. Idempotent, so it is safe as a one-off task that may run twice.

use chrono::{DateTime, Utc};

use crate::auth::PasswordWork;
use crate::domain::{Email, Password, PersonName, Role, User, ValidationError};
use crate::store::{Store, StoreError};

/// What `admin create` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminOutcome {
    /// A new admin account was stored.
    Created,
    /// An admin with this email exists already; nothing changed.
    AlreadyExists,
    /// An existing customer account was made an admin (`--promote`).
    Promoted,
}

/// Why `admin create` refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A field is invalid.
    #[error("{}: {}", .0.field, .0.message)]
    Invalid(#[from] ValidationError),
    /// The email belongs to an account that is not an admin.
    #[error(
        "an account with this email exists as a {0}; pass --promote to make it an admin (its password stays)"
    )]
    NotAnAdmin(Role),
    /// The email belongs to an agent, whose role is fixed.
    #[error("an account with this email is an agent; an agent's role is fixed, use another email")]
    IsAnAgent,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Password hashing failed.
    #[error(transparent)]
    Hashing(#[from] crate::auth::HashingError),
}

/// Creates the admin `email` named `name` with `password`, or reports that it exists. An
/// existing non-admin account is refused unless `promote`, which makes it an admin and keeps
/// its password. A concurrent run that stores the same email first counts as "exists".
///
/// # Errors
/// [`AdminError`] for invalid fields, a non-admin account without `promote`, or a store failure.
pub async fn create_admin(
    store: &dyn Store,
    name: &str,
    email: &str,
    password: &str,
    promote: bool,
    now: DateTime<Utc>,
) -> Result<AdminOutcome, AdminError> {
    let name = PersonName::parse(name)?;
    let email = Email::parse(email)?;
    let password = Password::parse(password)?;
    if let Some(existing) = store.find_user_by_email(email.as_str()).await? {
        return promote_existing(store, existing, promote).await;
    }
    let hash = PasswordWork::new(1, std::time::Duration::from_secs(60))
        .hash(password)
        .await?;
    let user = User::new(name, email.clone(), Role::Admin, hash, None, now);
    match store.insert_user(&user, &[]).await {
        Ok(()) => Ok(AdminOutcome::Created),
        Err(StoreError::Conflict { .. }) => {
            let existing = store
                .find_user_by_email(email.as_str())
                .await?
                .ok_or(StoreError::NotFound { what: "account" })?;
            promote_existing(store, existing, promote).await
        }
        Err(err) => Err(err.into()),
    }
}

async fn promote_existing(
    store: &dyn Store,
    mut existing: User,
    promote: bool,
) -> Result<AdminOutcome, AdminError> {
    match existing.role {
        Role::Admin => Ok(AdminOutcome::AlreadyExists),
        Role::Agent => Err(AdminError::IsAnAgent),
        Role::Customer if !promote => Err(AdminError::NotAnAdmin(Role::Customer)),
        Role::Customer => {
            existing.role = Role::Admin;
            if store.update_user(&existing, &[]).await? {
                Ok(AdminOutcome::Promoted)
            } else {
                Err(StoreError::Other(
                    "the account changed while it was being promoted; run the command again".into(),
                )
                .into())
            }
        }
    }
}
