//! Access tokens: what a bearer token looks like, how it is hashed for
//! storage, and what its holder may do.
//!
//! A token is `nst_` followed by 43 base64url characters (32 random bytes).
//! Only its SHA-256 is stored; the token itself is shown once, at creation.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "nst_";

/// A freshly generated token secret. `Debug` never shows it.
pub struct TokenSecret(String);

impl TokenSecret {
    /// Generates a new random token from the operating system's RNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        // ThreadRng is a CSPRNG seeded from the operating system.
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The token text, to show its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash to store.
    pub fn hash(&self) -> String {
        hash_token(&self.0)
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(<redacted>)")
    }
}

/// The stored form of a presented token: lowercase hex SHA-256. Tokens are
/// 256-bit random values, so a plain hash is enough to make a stolen
/// database useless for calling the service.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a token's holder may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Vendor staff: every call.
    Staff,
    /// A customer: calls about its own contract only.
    Customer {
        /// The one contract it may see.
        contract_id: String,
    },
}

impl Role {
    /// `staff` or `customer`, as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Customer { .. } => "customer",
        }
    }
}

/// Checks a token name: 1 to 64 printable characters, no control
/// characters.
pub fn check_token_name(name: &str) -> Result<(), String> {
    let length = name.chars().count();
    if length == 0 || length > 64 {
        return Err("a token name has 1 to 64 characters".into());
    }
    if name.chars().any(char::is_control) || name.trim() != name {
        return Err("a token name has no control characters and no surrounding spaces".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_unique_and_prefixed() {
        let a = TokenSecret::generate();
        let b = TokenSecret::generate();
        assert!(a.expose().starts_with("nst_"));
        assert_eq!(a.expose().len(), 4 + 43);
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = TokenSecret::generate();
        assert!(!format!("{secret:?}").contains(&secret.expose()[4..]));
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn token_names_are_checked() {
        assert!(check_token_name("alice").is_ok());
        assert!(check_token_name("").is_err());
        assert!(check_token_name(" alice").is_err());
        assert!(check_token_name("a\nb").is_err());
        assert!(check_token_name(&"x".repeat(65)).is_err());
    }
}
