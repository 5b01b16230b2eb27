//! Authentication: argon2id passwords with bounded concurrency, JWT bearer tokens, and sessions
//! checked against the stored account.

mod passwords;
mod sessions;
mod tokens;

pub use passwords::{
    HashingError, PasswordWork, decoy_hash, default_concurrency, hash_password, verify_password,
};
pub use sessions::{MAX_CACHE_TTL, Session, SessionError, Sessions};

pub use tokens::{DEFAULT_AUDIENCE, DEFAULT_ISSUER, TokenClaims, TokenError, TokenKeys};
