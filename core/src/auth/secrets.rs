//! Keys derived from the deployment secret: one for access tokens, one for signed URLs, so a
//! leak of one purpose's key does not forge the other.

use hmac::{Hmac, Mac};
use jsonwebtoken::{DecodingKey, EncodingKey};
use sha2::Sha256;

use super::Sealer;

#[derive(Clone)]
pub struct Secrets {
    pub(crate) jwt_encoding: EncodingKey,
    pub(crate) jwt_decoding: DecodingKey,
    url_signing: Vec<u8>,
    sealer: Sealer,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

fn derive(secret: &[u8], purpose: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

impl Secrets {
    pub fn from_secret(secret: &str) -> Self {
        let jwt = derive(secret.as_bytes(), "vigil/jwt/v1");
        Self {
            jwt_encoding: EncodingKey::from_secret(&jwt),
            jwt_decoding: DecodingKey::from_secret(&jwt),
            url_signing: derive(secret.as_bytes(), "vigil/signed-url/v1"),
            sealer: Sealer::new(
                &derive(secret.as_bytes(), "vigil/sealed/v1")
                    .try_into()
                    .expect("HMAC-SHA256 gives 32 bytes"),
            ),
        }
    }

    /// Seals and opens secrets kept at rest (camera passwords, stream credentials, face
    /// embeddings). Changing the deployment secret makes them unreadable: rotate with care.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// HMAC-SHA256 of `message` with the URL-signing key, hex encoded.
    pub fn sign(&self, message: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.url_signing).expect("any key length");
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Constant-time check of a signature made by [`Secrets::sign`].
    pub fn verify(&self, message: &str, signature_hex: &str) -> bool {
        let Ok(signature) = hex::decode(signature_hex) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.url_signing).expect("any key length");
        mac.update(message.as_bytes());
        mac.verify_slice(&signature).is_ok()
    }
}

/// Words that mark a placeholder copied from documentation rather than a generated secret.
const PLACEHOLDER_MARKERS: &[&str] = &[
    "replace",
    "change",
    "example",
    "placeholder",
    "secret",
    "password",
    "your",
    "todo",
    "xxxx",
    "0123",
    "1234",
    "abcd",
    "qwerty",
    "random",
    "openssl",
    "vigil",
    "test",
];

/// Refuses secrets anyone could know: shorter than 32 characters, a placeholder from
/// documentation, or too little variety to hold ~128 bits (e.g. one character repeated).
pub fn check_strength(secret: &str) -> Result<(), String> {
    if secret.chars().count() < 32 {
        return Err("must be at least 32 characters (generate one: openssl rand -hex 32)".into());
    }
    let lower = secret.to_lowercase();
    if let Some(word) = PLACEHOLDER_MARKERS.iter().find(|w| lower.contains(*w)) {
        return Err(format!(
            "looks like a placeholder (it contains {word:?}); generate one: openssl rand -hex 32"
        ));
    }
    // Shannon entropy of the characters as drawn: a hex string of 32 random bytes scores
    // ~250 bits; "aaaa…" scores 0.
    let mut counts = std::collections::HashMap::<char, f64>::new();
    for c in secret.chars() {
        *counts.entry(c).or_default() += 1.0;
    }
    let n = secret.chars().count() as f64;
    let per_char: f64 = counts.values().map(|k| -(k / n) * (k / n).log2()).sum();
    if per_char * n < 128.0 {
        return Err(
            "has too little variety to be secret; generate one: openssl rand -hex 32".into(),
        );
    }
    Ok(())
}

/// A fresh random secret (64 hex characters).
pub fn generate_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_weak_secrets_are_refused() {
        assert!(check_strength(&generate_secret()).is_ok());
        for weak in [
            "short",
            "replace-with-64-random-hex-characters-from-openssl-rand-hex-32",
            "change-me-change-me-change-me-change-me",
            &"a".repeat(64),
            "abababababababababababababababababab",
        ] {
            assert!(check_strength(weak).is_err(), "{weak} accepted");
        }
    }

    #[test]
    fn signatures_verify_only_with_same_key_and_message() {
        let a = Secrets::from_secret(&generate_secret());
        let b = Secrets::from_secret(&generate_secret());
        let sig = a.sign("faces/1.jpg|123");
        assert!(a.verify("faces/1.jpg|123", &sig));
        assert!(!a.verify("faces/1.jpg|124", &sig));
        assert!(!b.verify("faces/1.jpg|123", &sig));
        assert!(!a.verify("faces/1.jpg|123", "zz"));
    }
}
