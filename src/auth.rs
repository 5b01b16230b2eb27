//! Passwords (argon2id) and bearer tokens (JWT, HS256).

use std::time::Duration;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Argon2, PasswordHash as PhcString};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::{Password, PasswordHash, Principal, Role, User, UserId};

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Expired, tampered with, or not a token at all.
    #[error("invalid or expired token")]
    Invalid,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: Role,
    iat: i64,
    exp: i64,
}

/// Issues and checks bearer tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl TokenKeys {
    /// Keys from the shared secret; tokens live for `ttl`.
    pub fn new(secret: &SecretString, ttl: Duration) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            ttl,
        }
    }

    /// How long a token lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token for `user`.
    ///
    /// Token times use the system clock, because that is what verification checks them against.
    pub fn issue(&self, user: &User) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.id.to_string(),
            role: user.role,
            iat: now,
            exp: now + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("BUG: HS256 encoding of plain claims failed")
    }

    /// Checks a token and returns who it speaks for.
    ///
    /// # Errors
    /// [`TokenError::Invalid`] for a bad signature, a wrong algorithm, expiry or garbage.
    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?;
        let id = UserId::parse("sub", &data.claims.sub).map_err(|_| TokenError::Invalid)?;
        Ok(Principal {
            id,
            role: data.claims.role,
        })
    }
}

/// Hashes a password with argon2id and a random salt. CPU-heavy: call from a blocking thread.
pub fn hash_password(password: &Password) -> PasswordHash {
    let salt = SaltString::generate(&mut OsRng);
    let phc = Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .expect("BUG: argon2 with default parameters failed")
        .to_string();
    PasswordHash::from_phc(phc)
}

/// Checks `password` against a stored hash. CPU-heavy: call from a blocking thread.
pub fn verify_password(password: &str, hash: &PasswordHash) -> bool {
    PhcString::new(hash.as_str()).is_ok_and(|phc| {
        Argon2::default()
            .verify_password(password.as_bytes(), &phc)
            .is_ok()
    })
}

/// A hash of a password nobody has, checked when an email is unknown so that a failed login
/// takes as long whether or not the account exists.
pub fn decoy_hash() -> &'static PasswordHash {
    static DECOY: std::sync::OnceLock<PasswordHash> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        hash_password(&Password::parse("decoy-password-never-used").expect("BUG: decoy is valid"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, PersonName};

    fn user() -> User {
        User {
            id: UserId::generate(),
            name: PersonName::parse("Ann").unwrap(),
            email: Email::parse("ann@example.com").unwrap(),
            role: Role::Agent,
            password_hash: PasswordHash::from_phc(String::new()),
            agent: None,
            created_at: chrono::Utc::now(),
            revision: 0,
        }
    }

    #[test]
    fn tokens_round_trip_and_reject_other_secrets() {
        let keys = TokenKeys::new(&SecretString::from("s3cret"), Duration::from_secs(60));
        let u = user();
        let token = keys.issue(&u);
        assert_eq!(
            keys.verify(&token).unwrap(),
            Principal {
                id: u.id,
                role: Role::Agent
            }
        );
        let other = TokenKeys::new(&SecretString::from("other"), Duration::from_secs(60));
        assert!(other.verify(&token).is_err());
        assert!(keys.verify("not.a.token").is_err());
    }

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password(&Password::parse("correct horse").unwrap());
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password(
            "correct horse",
            &PasswordHash::from_phc("garbage".into())
        ));
    }
}
