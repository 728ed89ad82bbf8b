//! JWT bearer tokens. One algorithm per deployment: HS256 with a shared secret by default,
//! or RS256 / EdDSA with a private key whose public half is published as a JWKS. A token
//! signed with any other algorithm (including `none`, and HS256 signed with the RSA public
//! key) is refused before its signature is looked at.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::policy::{Principal, Role};
use crate::ids::{PrincipalId, TenantId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The principal: an agent id or a client id.
    pub sub: String,
    pub tenant: String,
    pub roles: Vec<Role>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub ttl: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: "skein".into(),
            audience: "skein-api".into(),
            ttl: Duration::from_secs(900),
        }
    }
}

/// Where the signing key comes from. Not `Debug`: it holds secrets.
#[derive(Clone)]
pub enum KeyConfig {
    Hs256 {
        secret: Vec<u8>,
    },
    Rs256 {
        private_pem: Vec<u8>,
    },
    EdDsa {
        private_pem: Vec<u8>,
    },
    /// Verifies RS256 tokens, issues none: for every process but the one that issues.
    Rs256Public {
        public_pem: Vec<u8>,
    },
    /// Verifies EdDSA tokens, issues none.
    EdDsaPublic {
        public_pem: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the token has expired; get a new one from POST /v1/auth/token")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token is signed with an algorithm this server does not accept (it accepts {0})")]
    WrongAlgorithm(String),
    #[error("the token is for another audience (expected `{0}`)")]
    WrongAudience(String),
    #[error("the token is from another issuer (expected `{0}`)")]
    WrongIssuer(String),
    #[error("the token is malformed: {0}")]
    Malformed(String),
    #[error("invalid signing key configuration: {0}")]
    BadKey(String),
}

pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
}

pub struct TokenService {
    algorithm: Algorithm,
    kid: Option<String>,
    /// None where tokens are only verified: the signing key stays with the issuer.
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    validation: Validation,
    jwks: JwkSet,
    settings: TokenSettings,
}

const MIN_HS256_SECRET_BYTES: usize = 32;

impl TokenService {
    pub fn new(keys: KeyConfig, settings: TokenSettings) -> Result<Self, AuthError> {
        let bad_key = |e: jsonwebtoken::errors::Error| AuthError::BadKey(e.to_string());
        let (algorithm, encoding) = match keys {
            KeyConfig::Hs256 { secret } => {
                if secret.len() < MIN_HS256_SECRET_BYTES {
                    return Err(AuthError::BadKey(format!(
                        "an HS256 secret needs at least {MIN_HS256_SECRET_BYTES} bytes; got {}",
                        secret.len()
                    )));
                }
                (Algorithm::HS256, EncodingKey::from_secret(&secret))
            }
            KeyConfig::Rs256 { private_pem } => (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(&private_pem).map_err(bad_key)?,
            ),
            KeyConfig::EdDsa { private_pem } => (
                Algorithm::EdDSA,
                EncodingKey::from_ed_pem(&private_pem).map_err(bad_key)?,
            ),
            KeyConfig::Rs256Public { public_pem } => {
                let decoding = DecodingKey::from_rsa_pem(&public_pem).map_err(bad_key)?;
                return Ok(Self::assemble(
                    Algorithm::RS256,
                    None,
                    decoding,
                    None,
                    settings,
                ));
            }
            KeyConfig::EdDsaPublic { public_pem } => {
                let decoding = DecodingKey::from_ed_pem(&public_pem).map_err(bad_key)?;
                return Ok(Self::assemble(
                    Algorithm::EdDSA,
                    None,
                    decoding,
                    None,
                    settings,
                ));
            }
        };
        if algorithm == Algorithm::HS256 {
            let decoding = DecodingKey::from_secret(encoding.as_bytes());
            return Ok(Self::assemble(
                algorithm,
                Some(encoding),
                decoding,
                None,
                settings,
            ));
        }
        // The public key is derived from the private one, so they can never disagree.
        let mut jwk = Jwk::from_encoding_key(&encoding, algorithm).map_err(bad_key)?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(bad_key)?;
        jwk.common.key_id = Some(kid);
        jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&jwk).map_err(bad_key)?;
        Ok(Self::assemble(
            algorithm,
            Some(encoding),
            decoding,
            Some(jwk),
            settings,
        ))
    }

    /// Whether this service can issue tokens (it holds the signing key).
    pub fn issues(&self) -> bool {
        self.encoding.is_some()
    }

    fn assemble(
        algorithm: Algorithm,
        encoding: Option<EncodingKey>,
        decoding: DecodingKey,
        public: Option<Jwk>,
        settings: TokenSettings,
    ) -> Self {
        let kid = public.as_ref().and_then(|jwk| jwk.common.key_id.clone());
        let jwks = JwkSet {
            keys: public.into_iter().collect(),
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        Self {
            algorithm,
            kid,
            encoding,
            decoding,
            validation,
            jwks,
            settings,
        }
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// The public keys that verify this service's tokens (empty for HS256).
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// The algorithm as a JWT header names it (`alg`).
    pub fn algorithm_name(&self) -> String {
        serde_json::to_value(self.algorithm)
            .ok()
            .and_then(|alg| alg.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    pub fn issue(
        &self,
        principal: &Principal,
        now: DateTime<Utc>,
        jti: String,
    ) -> Result<IssuedToken, AuthError> {
        self.issue_for(principal, now, jti, self.settings.ttl)
    }

    pub fn issue_for(
        &self,
        principal: &Principal,
        now: DateTime<Utc>,
        jti: String,
        ttl: Duration,
    ) -> Result<IssuedToken, AuthError> {
        let iat = now.timestamp();
        let claims = Claims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: principal.id.to_string(),
            tenant: principal.tenant.to_string(),
            roles: principal.roles.clone(),
            iat,
            nbf: iat,
            exp: iat + ttl.as_secs() as i64,
            jti,
        };
        let Some(encoding) = &self.encoding else {
            return Err(AuthError::BadKey(
                "this process only verifies tokens; POST /v1/auth/token issues them".into(),
            ));
        };
        let mut header = Header::new(self.algorithm);
        header.kid = self.kid.clone();
        let access_token = jsonwebtoken::encode(&header, &claims, encoding)
            .map_err(|e| AuthError::BadKey(e.to_string()))?;
        Ok(IssuedToken {
            access_token,
            expires_in: ttl.as_secs(),
        })
    }

    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        self.verify_issued(token).map(|(principal, _)| principal)
    }

    /// The principal, and when its token was issued (Unix ms): from the `jti` ULID this
    /// service writes, else from `iat`.
    pub fn verify_issued(&self, token: &str) -> Result<(Principal, i64), AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| self.classify(e))?;
        let claims = data.claims;
        let issued_at_ms = ulid::Ulid::from_string(&claims.jti)
            .ok()
            .map(|id| id.timestamp_ms() as i64)
            .filter(|ms| ms.div_euclid(1000) == claims.iat)
            .unwrap_or(claims.iat.saturating_mul(1000));
        let malformed = |what: String| AuthError::Malformed(what);
        let tenant = TenantId::parse(&claims.tenant).map_err(|e| malformed(e.0))?;
        let id = PrincipalId::parse(&claims.sub).map_err(|e| malformed(e.0))?;
        if claims.roles.is_empty() {
            return Err(malformed("the token carries no roles".into()));
        }
        let principal = Principal {
            tenant,
            id,
            roles: claims.roles,
        };
        Ok((principal, issued_at_ms))
    }

    fn classify(&self, err: jsonwebtoken::errors::Error) -> AuthError {
        match err.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                AuthError::WrongAlgorithm(self.algorithm_name())
            }
            ErrorKind::InvalidAudience => AuthError::WrongAudience(self.settings.audience.clone()),
            ErrorKind::InvalidIssuer => AuthError::WrongIssuer(self.settings.issuer.clone()),
            ErrorKind::MissingRequiredClaim(claim) => {
                AuthError::Malformed(format!("the `{claim}` claim is missing"))
            }
            ErrorKind::Json(_) => {
                AuthError::Malformed("the claims are not what Skein issues".into())
            }
            _ => AuthError::Malformed("not a JWT".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AgentId;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const ED_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIF+dVwBKxkOeSGC0vxgCKCWYt7RVRYbuKby7uX5jd8Kv\n-----END PRIVATE KEY-----\n";

    /// The public half of `ED_PEM`.
    const ED_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAfqt1sMPs42TBDTCQy9TdzaJzCbBBDI4t0jXmH4hiVds=\n-----END PUBLIC KEY-----\n";

    #[test]
    fn a_verifier_with_only_the_public_key_accepts_the_issuers_tokens_and_issues_none() {
        let issuer = TokenService::new(
            KeyConfig::EdDsa {
                private_pem: ED_PEM.as_bytes().to_vec(),
            },
            TokenSettings::default(),
        )
        .unwrap();
        let verifier = TokenService::new(
            KeyConfig::EdDsaPublic {
                public_pem: ED_PUBLIC_PEM.as_bytes().to_vec(),
            },
            TokenSettings::default(),
        )
        .unwrap();
        assert!(issuer.issues() && !verifier.issues());
        let token = issuer
            .issue(&principal(), chrono::Utc::now(), "jti".into())
            .unwrap();
        assert_eq!(verifier.verify(&token.access_token).unwrap(), principal());
        let refused = verifier.issue(&principal(), chrono::Utc::now(), "jti".into());
        assert!(matches!(refused, Err(AuthError::BadKey(m)) if m.contains("only verifies")));
    }

    fn principal() -> Principal {
        let id = AgentId::from_ulid(ulid::Ulid::from_parts(9, 9));
        Principal {
            tenant: TenantId::parse("acme").unwrap(),
            id: PrincipalId::agent(&id),
            roles: vec![Role::Agent],
        }
    }

    fn hs(secret: &str, audience: &str) -> TokenService {
        let settings = TokenSettings {
            audience: audience.into(),
            ..Default::default()
        };
        TokenService::new(
            KeyConfig::Hs256 {
                secret: secret.as_bytes().to_vec(),
            },
            settings,
        )
        .unwrap()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_token_round_trips_to_the_same_principal() {
        let tokens = hs(SECRET, "skein-api");
        let token = tokens.issue(&principal(), Utc::now(), "j1".into()).unwrap();
        assert_eq!(tokens.verify(&token.access_token).unwrap(), principal());
        assert_eq!(token.expires_in, 900);
    }

    #[test]
    fn a_short_hs256_secret_is_refused() {
        let err = TokenService::new(
            KeyConfig::Hs256 {
                secret: b"short".to_vec(),
            },
            TokenSettings::default(),
        );
        assert!(matches!(err, Err(AuthError::BadKey(msg)) if msg.contains("at least 32 bytes")));
    }

    #[test]
    fn expired_wrong_audience_and_foreign_signatures_are_refused() {
        let tokens = hs(SECRET, "skein-api");
        let old = Utc::now() - chrono::Duration::hours(2);
        let expired = tokens
            .issue(&principal(), old, "j".into())
            .unwrap()
            .access_token;
        assert_eq!(tokens.verify(&expired).unwrap_err(), AuthError::Expired);

        let other_aud = hs(SECRET, "elsewhere")
            .issue(&principal(), Utc::now(), "j".into())
            .unwrap();
        assert!(matches!(
            tokens.verify(&other_aud.access_token),
            Err(AuthError::WrongAudience(_))
        ));

        let forged = hs("another-secret-another-secret-xx", "skein-api");
        let forged = forged
            .issue(&principal(), Utc::now(), "j".into())
            .unwrap()
            .access_token;
        assert_eq!(tokens.verify(&forged).unwrap_err(), AuthError::BadSignature);
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        let tokens = hs(SECRET, "skein-api");
        let good = tokens
            .issue(&principal(), Utc::now(), "j".into())
            .unwrap()
            .access_token;
        let payload = good.split('.').nth(1).unwrap();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{payload}.");
        assert!(tokens.verify(&unsigned).is_err());
    }

    #[test]
    fn eddsa_tokens_verify_against_the_published_jwk() {
        let tokens = TokenService::new(
            KeyConfig::EdDsa {
                private_pem: ED_PEM.into(),
            },
            TokenSettings::default(),
        )
        .unwrap();
        let token = tokens
            .issue(&principal(), Utc::now(), "j".into())
            .unwrap()
            .access_token;
        assert_eq!(tokens.verify(&token).unwrap(), principal());
        let jwk = &tokens.jwks().keys[0];
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid, jwk.common.key_id);
        let from_jwks = DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&["skein-api"]);
        assert!(jsonwebtoken::decode::<Claims>(&token, &from_jwks, &validation).is_ok());
        // An HS256 token signed with anything is refused by an EdDSA service.
        let hs_token = hs(SECRET, "skein-api")
            .issue(&principal(), Utc::now(), "j".into())
            .unwrap();
        assert!(matches!(
            tokens.verify(&hs_token.access_token),
            Err(AuthError::WrongAlgorithm(_))
        ));
    }
}
