//! Secrets kept at rest (gateway tokens, SSH keys, connection credentials) are sealed
//! with the master key (`WORKS_MASTER_KEY`): ChaCha20-Poly1305 with a random nonce, bound
//! to what the secret is for, so a sealed value copied onto another record does not open.
//!
//! A sealed value reads `v1.<key fingerprint>.<base64 of nonce and ciphertext>`. The key
//! fingerprint (the first 8 hex digits of the key's SHA-256) lets a server tell "sealed
//! with another master key" apart from "damaged".

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ops::MasterKey;

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// Seals and opens secrets with one master key.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
    fingerprint: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer(key {})", self.fingerprint)
    }
}

impl Sealer {
    pub fn new(key: &MasterKey) -> Self {
        let fingerprint = hex::encode(Sha256::digest(key.bytes())).chars().take(8).collect();
        Sealer { cipher: ChaCha20Poly1305::new(Key::from_slice(key.bytes())), fingerprint }
    }

    /// The key's fingerprint: safe to show, identifies which key sealed a value.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Seals `secret` for `purpose` (e.g. `gateway-token:<instance id>`).
    pub fn seal(&self, purpose: &str, secret: &[u8]) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: secret, aad: purpose.as_bytes() })
            .map_err(|_| Error::internal("could not seal a secret"))?;
        let mut body = nonce.to_vec();
        body.extend_from_slice(&ciphertext);
        Ok(format!("{VERSION}.{}.{}", self.fingerprint, base64::engine::general_purpose::STANDARD_NO_PAD.encode(body)))
    }

    /// Opens a value sealed for `purpose`. The errors say which key sealed it or that it
    /// is damaged, never anything of the secret.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<Vec<u8>> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(version), Some(fingerprint), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::internal("a sealed secret is damaged: it is not in the sealed format"));
        };
        if version != VERSION {
            return Err(Error::internal(format!("a sealed secret has format {version}, which this version cannot read")));
        }
        if fingerprint != self.fingerprint {
            return Err(Error::unavailable(format!(
                "A stored secret was sealed with another master key (fingerprint {fingerprint}); this server's WORKS_MASTER_KEY has fingerprint {}. Start the server with the key the secret was stored under.",
                self.fingerprint
            )));
        }
        let body = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| Error::internal("a sealed secret is damaged: its body is not base64"))?;
        if body.len() < NONCE_LEN {
            return Err(Error::internal("a sealed secret is damaged: it is too short"));
        }
        let (nonce, ciphertext) = body.split_at(NONCE_LEN);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: purpose.as_bytes() })
            .map_err(|_| Error::internal("a sealed secret is damaged or belongs to another record: it does not open"))
    }

    /// Opens a value that was sealed from text.
    pub fn open_text(&self, purpose: &str, sealed: &str) -> Result<String> {
        String::from_utf8(self.open(purpose, sealed)?).map_err(|_| Error::internal("a sealed secret is damaged: it is not text"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::parse_master_key;

    fn key(seed: u8) -> MasterKey {
        let bytes: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(seed).rotate_left(3) ^ 0x5a).collect();
        parse_master_key(&hex::encode(bytes)).unwrap()
    }

    #[test]
    fn round_trip_is_bound_to_purpose_and_key() {
        let sealer = Sealer::new(&key(1));
        let sealed = sealer.seal("gateway-token:a", b"oct_secret").unwrap();
        assert!(!sealed.contains("oct_secret"));
        assert!(sealed.starts_with(&format!("v1.{}.", sealer.fingerprint())));
        assert_eq!(sealer.open_text("gateway-token:a", &sealed).unwrap(), "oct_secret");
        // Sealing twice gives different values (random nonce).
        assert_ne!(sealed, sealer.seal("gateway-token:a", b"oct_secret").unwrap());
        // Another record's purpose does not open it.
        assert!(sealer.open("gateway-token:b", &sealed).is_err());
        // Another key names both fingerprints.
        let other = Sealer::new(&key(2));
        let err = other.open("gateway-token:a", &sealed).unwrap_err().to_string();
        assert!(err.contains(sealer.fingerprint()) && err.contains(other.fingerprint()), "{err}");
        // Damage is detected.
        let mut damaged = sealed.clone();
        damaged.pop();
        damaged.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(sealer.open("gateway-token:a", &damaged).is_err());
        assert!(sealer.open("gateway-token:a", "not sealed").is_err());
    }
}
