//! Client secrets: generated from the entropy port, stored only as argon2id PHC strings.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::ports::Entropy;

/// An argon2id hash in PHC format (`$argon2id$v=19$m=...`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretHash(String);

/// A new client secret: 32 random bytes, URL-safe, with a prefix that secret scanners
/// can recognise.
pub fn generate_secret(entropy: &dyn Entropy) -> String {
    let mut bytes = [0u8; 32];
    entropy.fill(&mut bytes);
    format!("sks_{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash_secret(secret: &str, entropy: &dyn Entropy) -> Result<SecretHash, String> {
    let mut salt = [0u8; 16];
    entropy.fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| SecretHash(hash.to_string()))
        .map_err(|e| e.to_string())
}

/// Verifies `secret`; with no stored hash it still does the work of one verification so
/// that an unknown client id takes as long to refuse as a wrong secret.
pub fn verify_secret(secret: &str, stored: Option<&SecretHash>) -> bool {
    const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2tlaW4tZGVjb3ktc2FsdA$2mT7vA0yX6v4bX3y3r6Vd0dqkM2mXcJcD8i7lNw2p1E";
    let phc = stored.map_or(DECOY, |hash| hash.0.as_str());
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(secret.as_bytes(), &parsed)
        .is_ok();
    matches && stored.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(std::sync::atomic::AtomicU8);
    impl Entropy for Counter {
        fn fill(&self, buf: &mut [u8]) {
            for b in buf {
                *b = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    #[test]
    fn a_hashed_secret_verifies_and_a_wrong_one_does_not() {
        let entropy = Counter(0.into());
        let secret = generate_secret(&entropy);
        assert!(secret.starts_with("sks_"));
        let hash = hash_secret(&secret, &entropy).unwrap();
        assert!(!hash.0.contains(&secret));
        assert!(verify_secret(&secret, Some(&hash)));
        assert!(!verify_secret("sks_wrong", Some(&hash)));
        assert!(!verify_secret(&secret, None));
    }
}
