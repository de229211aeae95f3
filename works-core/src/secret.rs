//! Passwords (argon2id) and random secrets (tokens, stored as SHA-256 hashes).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::distributions::Alphanumeric;
use rand::{rngs::OsRng, Rng};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Hashes a password with argon2id on a blocking thread.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::internal(format!("could not hash the password: {e}")))
    })
    .await
    .map_err(|e| Error::internal(format!("password hashing stopped: {e}")))?
}

/// Checks a password against a stored argon2 hash on a blocking thread.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || match PasswordHash::new(&hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    })
    .await
    .unwrap_or(false)
}

/// A hash verified against when the user does not exist, so that an unknown username
/// takes as long as a wrong password.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZfCzoJ6bSj0zb9ru5T8LvxN1pCCoOHMX9AKPWvUJg3k";

/// A random secret with a kind prefix: `wks_` sessions, `wkt_` API tokens, `wka_` agent
/// credentials, `wke_` enrollment tokens.
pub fn new_secret(prefix: &str) -> String {
    let body: String = OsRng.sample_iter(&Alphanumeric).take(40).map(char::from).collect();
    format!("{prefix}{body}")
}

/// A random password a person can type: 20 characters without look-alikes.
pub fn new_password() -> String {
    const CHARS: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20).map(|_| CHARS.get(OsRng.gen_range(0..CHARS.len())).copied().unwrap_or(b'x') as char).collect()
}

/// Secrets are high-entropy, so a plain SHA-256 is the right hash for lookup.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of two hashes.
pub fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn password_round_trip_and_dummy_hash_parses() {
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), h.clone()).await);
        assert!(!verify_password("wrong".into(), h).await);
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password("anything".into(), DUMMY_HASH.into()).await);
    }

    #[test]
    fn secrets_are_prefixed_and_distinct() {
        let a = new_secret("wkt_");
        let b = new_secret("wkt_");
        assert!(a.starts_with("wkt_") && a.len() == 44);
        assert_ne!(a, b);
        assert!(same_hash(&hash_secret(&a), &hash_secret(&a)));
        assert!(!same_hash(&hash_secret(&a), &hash_secret(&b)));
    }
}
