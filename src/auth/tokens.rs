//! Bearer tokens: JWT, HS256, with issuer, audience, expiry and the account's session version.
//!
//! A token says who it was issued to and under which session version; it does not say what the
//! holder may do. The role and whether the account still works come from the store
//! ([`super::Sessions`]), so a demoted or disabled user loses access without waiting for expiry.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::{User, UserId};

/// The `iss` claim QuickFix puts in its tokens unless configured otherwise.
pub const DEFAULT_ISSUER: &str = "quickfix";
/// The `aud` claim QuickFix puts in its tokens unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "quickfix-api";

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Expired, tampered with, for another issuer or audience, or not a token at all.
    #[error("invalid or expired token")]
    Invalid,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    /// The account's session version when the token was issued.
    sv: u32,
}

/// What a valid token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenClaims {
    /// The account it was issued to.
    pub user: UserId,
    /// The account's session version at issue; the token dies when the account's moves on.
    pub session_version: u32,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// Issues and checks bearer tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl TokenKeys {
    /// Keys from the shared secret, with the default issuer and audience; tokens live for
    /// `ttl`.
    pub fn new(secret: &SecretString, ttl: Duration) -> Self {
        Self::with_names(secret, ttl, DEFAULT_ISSUER, DEFAULT_AUDIENCE)
    }

    /// Keys that issue and accept only tokens with this `iss` and `aud`.
    pub fn with_names(secret: &SecretString, ttl: Duration, issuer: &str, audience: &str) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
        }
    }

    /// How long a token lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token for `user` under its current session version.
    ///
    /// Token times use the system clock, because that is what verification checks them against.
    pub fn issue(&self, user: &User) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.id.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2),
            sv: user.session_version,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("BUG: HS256 encoding of plain claims failed")
    }

    /// Checks a token's signature, algorithm, issuer, audience and expiry.
    ///
    /// # Errors
    /// [`TokenError::Invalid`] when any of them is wrong, or for garbage.
    pub fn verify(&self, token: &str) -> Result<TokenClaims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?;
        let user = UserId::parse("sub", &data.claims.sub).map_err(|_| TokenError::Invalid)?;
        let expires_at = DateTime::from_timestamp(data.claims.exp, 0).ok_or(TokenError::Invalid)?;
        Ok(TokenClaims {
            user,
            session_version: data.claims.sv,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, PasswordHash, PersonName, Role};

    fn user() -> User {
        User::new(
            PersonName::parse("Ann").unwrap(),
            Email::parse("ann@example.com").unwrap(),
            Role::Agent,
            PasswordHash::from_phc(String::new()),
            None,
            Utc::now(),
        )
    }

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn tokens_round_trip_and_reject_other_secrets() {
        let keys = TokenKeys::new(&secret("s3cret"), Duration::from_secs(60));
        let mut u = user();
        u.session_version = 7;
        let claims = keys.verify(&keys.issue(&u)).unwrap();
        assert_eq!(claims.user, u.id);
        assert_eq!(claims.session_version, 7);
        let other = TokenKeys::new(&secret("other"), Duration::from_secs(60));
        assert!(other.verify(&keys.issue(&u)).is_err());
        assert!(keys.verify("not.a.token").is_err());
    }

    #[test]
    fn issuer_and_audience_are_both_checked() {
        let ttl = Duration::from_secs(60);
        let keys = TokenKeys::new(&secret("s3cret"), ttl);
        let u = user();
        let other_issuer =
            TokenKeys::with_names(&secret("s3cret"), ttl, "someone", DEFAULT_AUDIENCE);
        let other_audience = TokenKeys::with_names(&secret("s3cret"), ttl, DEFAULT_ISSUER, "other");
        assert!(keys.verify(&other_issuer.issue(&u)).is_err());
        assert!(keys.verify(&other_audience.issue(&u)).is_err());
        assert!(keys.verify(&keys.issue(&u)).is_ok());
    }
}
