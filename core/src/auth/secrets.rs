//! Keys derived from the deployment secret: one for access tokens, one for signed URLs, so a
//! leak of one purpose's key does not forge the other.

use hmac::{Hmac, Mac};
use jsonwebtoken::{DecodingKey, EncodingKey};
use sha2::Sha256;

#[derive(Clone)]
pub struct Secrets {
    pub(crate) jwt_encoding: EncodingKey,
    pub(crate) jwt_decoding: DecodingKey,
    url_signing: Vec<u8>,
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
        }
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
