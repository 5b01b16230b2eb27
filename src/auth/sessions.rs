//! Who a bearer token speaks for, as the store says now.
//!
//! A token proves only which account it was issued to and under which session version. Every
//! request (and every live socket, periodically) checks that account in the store: it must
//! exist, not be disabled, and still be on that session version; its role is the stored one.
//! The answers are cached per account for a few seconds (`QUICKFIX_AUTH_CACHE_SECONDS`, at most
//! 30) so a busy API does not read the user on every request; a change made through this
//! process forgets its cache entry at once, and other processes see it when theirs expires.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{TokenClaims, TokenKeys};
use crate::domain::{OrganizationId, Principal, Role, User, UserId};
use crate::store::{Store, StoreError};

/// The longest an account's role and state may be served from the cache.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(30);

/// Why a token does not open a session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The token itself is bad or expired.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The account is gone, disabled, or signed out everywhere since the token was issued.
    #[error("the session has ended; sign in again")]
    Ended,
    /// The store could not be asked.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A checked session: the caller as the store knows them, and when their token expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The caller, with the stored role.
    pub principal: Principal,
    /// The token's expiry; live sockets are closed then.
    pub expires_at: DateTime<Utc>,
    /// The organization the store has the caller in, if any.
    pub organization: Option<OrganizationId>,
}

/// What the store says about an account, as far as sessions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AccountState {
    role: Role,
    disabled: bool,
    session_version: u32,
    organization: Option<OrganizationId>,
}

impl From<&User> for AccountState {
    fn from(u: &User) -> Self {
        Self {
            role: u.role,
            disabled: u.disabled,
            session_version: u.session_version,
            organization: u.organization,
        }
    }
}

/// Issues tokens and turns them into sessions checked against the store.
pub struct Sessions {
    keys: TokenKeys,
    store: Arc<dyn Store>,
    /// Per account, `None` when it does not exist; no cache at all when the TTL is zero.
    cache: Option<moka::sync::Cache<UserId, Option<AccountState>>>,
}

impl Sessions {
    /// Sessions over `store`, caching each account's state for `cache_ttl` (capped at
    /// [`MAX_CACHE_TTL`]; zero turns the cache off).
    pub fn new(keys: TokenKeys, store: Arc<dyn Store>, cache_ttl: Duration) -> Self {
        let ttl = cache_ttl.min(MAX_CACHE_TTL);
        let cache = (!ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build()
        });
        Self { keys, store, cache }
    }

    /// A token for `user`.
    pub fn issue(&self, user: &User) -> String {
        self.keys.issue(user)
    }

    /// How long tokens live.
    pub fn ttl(&self) -> Duration {
        self.keys.ttl()
    }

    /// Checks `token` and the account it names.
    ///
    /// # Errors
    /// [`SessionError::InvalidToken`] for a bad token, [`SessionError::Ended`] for an account
    /// that is gone, disabled or signed out since, [`SessionError::Store`] when the store fails.
    pub async fn open(&self, token: &str) -> Result<Session, SessionError> {
        let claims = self
            .keys
            .verify(token)
            .map_err(|_| SessionError::InvalidToken)?;
        self.check(&claims).await
    }

    /// Checks already verified claims against the account (live sockets re-check this way).
    ///
    /// # Errors
    /// As [`Sessions::open`].
    pub async fn check(&self, claims: &TokenClaims) -> Result<Session, SessionError> {
        if claims.expires_at <= Utc::now() {
            return Err(SessionError::InvalidToken);
        }
        let cached = self.cache.as_ref().and_then(|c| c.get(&claims.user));
        let state = match cached {
            Some(state) => state,
            None => {
                let state = self
                    .store
                    .find_user(claims.user)
                    .await?
                    .as_ref()
                    .map(AccountState::from);
                if let Some(cache) = &self.cache {
                    cache.insert(claims.user, state);
                }
                state
            }
        };
        match state {
            Some(s) if !s.disabled && s.session_version == claims.session_version => Ok(Session {
                principal: Principal {
                    id: claims.user,
                    role: s.role,
                },
                expires_at: claims.expires_at,
                organization: s.organization,
            }),
            _ => Err(SessionError::Ended),
        }
    }

    /// Verifies a token without asking the store (for a socket handshake that then calls
    /// [`Sessions::check`]).
    ///
    /// # Errors
    /// [`SessionError::InvalidToken`].
    pub fn verify(&self, token: &str) -> Result<TokenClaims, SessionError> {
        self.keys
            .verify(token)
            .map_err(|_| SessionError::InvalidToken)
    }

    /// Forgets what is cached about `user`, after this process changed the account.
    pub fn forget(&self, user: UserId) {
        if let Some(cache) = &self.cache {
            cache.invalidate(&user);
        }
    }
}
