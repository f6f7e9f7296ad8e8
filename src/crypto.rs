//! Secrets at rest: second-factor secrets are encrypted with the data key
//! (ChaCha20-Poly1305, a fresh random nonce per value). The stored form is
//! `version (1 byte) || nonce (12) || ciphertext+tag`, so a later key can be introduced
//! with a new version byte and old values still decrypt during re-encryption.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore as _;

const VERSION: u8 = 1;

/// The key that encrypts secrets at rest.
#[derive(Clone)]
pub struct DataKey {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the stored secret could not be decrypted")]
pub(crate) struct DecryptError;

impl DataKey {
    pub fn new(bytes: &[u8; 32]) -> Self {
        Self { cipher: ChaCha20Poly1305::new(Key::from_slice(bytes)) }
    }

    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .expect("encryption with a valid key and nonce cannot fail");
        let mut out = Vec::with_capacity(1 + 12 + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub(crate) fn decrypt(&self, stored: &[u8]) -> Result<Vec<u8>, DecryptError> {
        if stored.len() < 1 + 12 + 16 || stored[0] != VERSION {
            return Err(DecryptError);
        }
        self.cipher.decrypt(Nonce::from_slice(&stored[1..13]), &stored[13..]).map_err(|_| DecryptError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_fresh_nonces_and_tamper_detection() {
        let key = DataKey::new(&[7; 32]);
        let a = key.encrypt(b"JBSWY3DPEHPK3PXP");
        let b = key.encrypt(b"JBSWY3DPEHPK3PXP");
        assert_ne!(a, b, "a fresh nonce each time");
        assert_eq!(key.decrypt(&a).expect("decrypts"), b"JBSWY3DPEHPK3PXP");
        let mut tampered = a.clone();
        *tampered.last_mut().expect("non-empty") ^= 1;
        assert_eq!(key.decrypt(&tampered), Err(DecryptError));
        assert_eq!(DataKey::new(&[8; 32]).decrypt(&a), Err(DecryptError), "another key");
    }
}
