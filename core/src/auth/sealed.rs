//! Secrets Vigil must keep but never show — camera passwords, stream URL credentials, face
//! embeddings — sealed at rest with XChaCha20-Poly1305 under a key derived from the deployment
//! secret (its own purpose, like the token and URL keys). A database dump without the secret
//! reveals none of them; a tampered value fails to open instead of decoding to garbage.
//!
//! Stored form: `v1.` + base64url(24-byte random nonce ‖ ciphertext ‖ tag), so values sealed
//! later under another scheme can be told apart.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

use crate::error::{Error, Result};

const PREFIX: &str = "v1.";
const NONCE_LEN: usize = 24;

/// Seals and opens values with the deployment's sealing key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// `key` is 32 bytes derived from the deployment secret (see `Secrets::sealer`).
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// Seals bytes; `context` (e.g. `camera-password`) binds the value to its use, so a value
    /// copied into another column does not open there.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                chacha20poly1305::aead::Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 sealing does not fail for in-memory values");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    pub fn seal_str(&self, plaintext: &str, context: &str) -> String {
        self.seal(plaintext.as_bytes(), context)
    }

    /// Opens a value sealed with the same key and context.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>> {
        let bad = || Error::Internal(anyhow::anyhow!("a sealed {context} value does not open"));
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or_else(bad)?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                chacha20poly1305::aead::Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| bad())
    }

    pub fn open_str(&self, sealed: &str, context: &str) -> Result<String> {
        String::from_utf8(self.open(sealed, context)?)
            .map_err(|_| Error::Internal(anyhow::anyhow!("a sealed {context} value is not text")))
    }

    /// Whether `value` is in the sealed form (for migrating values stored in clear).
    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let sealer = Sealer::new(&[7u8; 32]);
        let sealed = sealer.seal_str("cam-p@ss", "camera-password");
        assert!(Sealer::is_sealed(&sealed));
        assert!(!sealed.contains("cam-p@ss"));
        assert_eq!(
            sealer.open_str(&sealed, "camera-password").unwrap(),
            "cam-p@ss"
        );
        // Each sealing uses a fresh nonce.
        assert_ne!(sealed, sealer.seal_str("cam-p@ss", "camera-password"));
        assert!(sealer.open(&sealed, "stream-url").is_err());
        assert!(
            Sealer::new(&[8u8; 32])
                .open(&sealed, "camera-password")
                .is_err()
        );
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(sealer.open(&tampered, "camera-password").is_err());
        assert!(sealer.open("plain text", "camera-password").is_err());
    }
}
