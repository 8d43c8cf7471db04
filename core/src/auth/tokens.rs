//! Short-lived HS256 access tokens. Every request re-reads the user, so a suspended or deleted
//! account loses access at once even while its token has not expired.

use chrono::Utc;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Secrets;
use crate::error::{Error, Result};

const ISSUER: &str = "vigil";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: Uuid,
    pub email: String,
    pub role: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

pub fn issue_access_token(
    secrets: &Secrets,
    user_id: Uuid,
    email: &str,
    role: &str,
    ttl: std::time::Duration,
) -> Result<String> {
    let now = Utc::now().timestamp();
    let claims = AccessClaims {
        sub: user_id,
        email: email.to_owned(),
        role: role.to_owned(),
        iat: now,
        exp: now + ttl.as_secs() as i64,
        iss: ISSUER.into(),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &secrets.jwt_encoding,
    )
    .map_err(|e| Error::Internal(anyhow::anyhow!("signing token: {e}")))
}

pub fn verify_access_token(secrets: &Secrets, token: &str) -> Result<AccessClaims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.leeway = 5;
    jsonwebtoken::decode::<AccessClaims>(token, &secrets.jwt_decoding, &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                Error::Unauthorized("access token expired".into())
            }
            _ => Error::Unauthorized("invalid access token".into()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::secrets::generate_secret;
    use std::time::Duration;

    #[test]
    fn round_trip_and_rejections() {
        let secrets = Secrets::from_secret(&generate_secret());
        let id = Uuid::new_v4();
        let token =
            issue_access_token(&secrets, id, "a@b.c", "ROLE-ADMIN", Duration::from_secs(60))
                .unwrap();
        let claims = verify_access_token(&secrets, &token).unwrap();
        assert_eq!(claims.sub, id);
        assert_eq!(claims.role, "ROLE-ADMIN");

        let other = Secrets::from_secret(&generate_secret());
        assert!(verify_access_token(&other, &token).is_err());
        assert!(verify_access_token(&secrets, "garbage").is_err());

        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &AccessClaims {
                sub: id,
                email: "a@b.c".into(),
                role: "ROLE-ADMIN".into(),
                iat: 0,
                exp: 1,
                iss: ISSUER.into(),
            },
            &secrets.jwt_encoding,
        )
        .unwrap();
        assert!(verify_access_token(&secrets, &expired).is_err());
    }
}
