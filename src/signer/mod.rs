//! Signing license keys: PASETO v4.public on Ed25519 ([`paseto`]), PASERK
//! key ids and serializations ([`paserk`]), and the signing-key files in
//! the keys directory ([`keys`]): the active key signs, the others still
//! verify, retired ones do neither.

pub mod keys;
pub mod paserk;
pub mod paseto;

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::domain::license::{ISSUER, LicenseClaims};

/// The footer of every key: the signing key's PASERK `k4.pid`.
#[derive(Debug, Serialize, Deserialize)]
struct Footer {
    kid: String,
}

/// The footer bytes for a signing key id.
pub fn footer_for(key_id: &str) -> Vec<u8> {
    serde_json::to_vec(&Footer {
        kid: key_id.to_owned(),
    })
    .unwrap_or_default()
}

/// Why a license key does not verify, each with a stable reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyFailure {
    /// Not a PASETO token, or damaged (truncated, bad encoding).
    #[error("the key is malformed")]
    Malformed,
    /// A PASETO token of another version or purpose.
    #[error("the key is not a PASETO v4.public token")]
    Unsupported,
    /// Signed by a key this verifier does not know (or has retired).
    #[error("the key was signed by an unknown signing key")]
    UnknownSigningKey,
    /// The signature does not match: tampered or forged.
    #[error("the signature does not verify: the key was altered or forged")]
    BadSignature,
    /// Signed, but not a license key of this service.
    #[error("the key's claims are not a neo-support license")]
    BadClaims,
}

impl VerifyFailure {
    /// The stable reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "KEY_MALFORMED",
            Self::Unsupported => "KEY_UNSUPPORTED",
            Self::UnknownSigningKey => "SIGNING_KEY_UNKNOWN",
            Self::BadSignature => "SIGNATURE_INVALID",
            Self::BadClaims => "CLAIMS_INVALID",
        }
    }
}

/// A verified license key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Its claims.
    pub claims: LicenseClaims,
    /// The signing key that signed it (`k4.pid`).
    pub signing_key_id: String,
}

/// Public keys by their `k4.pid`, for verification.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    keys: HashMap<String, VerifyingKey>,
}

impl Verifier {
    /// A verifier for these public keys.
    pub fn new(keys: impl IntoIterator<Item = VerifyingKey>) -> Self {
        Self {
            keys: keys.into_iter().map(|k| (paserk::k4_pid(&k), k)).collect(),
        }
    }

    /// Whether it knows any key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies a license key offline: structure, version and purpose,
    /// footer, signature, claims.
    pub fn verify(&self, token: &str) -> Result<Verified, VerifyFailure> {
        let token = token.trim();
        let footer = paseto::footer(token).map_err(map_token_error)?;
        let parsed: Footer =
            serde_json::from_slice(&footer).map_err(|_| VerifyFailure::Malformed)?;
        let key = self
            .keys
            .get(&parsed.kid)
            .ok_or(VerifyFailure::UnknownSigningKey)?;
        let message = paseto::verify(key, token, Some(&footer), b"").map_err(map_token_error)?;
        let claims: LicenseClaims =
            serde_json::from_slice(&message).map_err(|_| VerifyFailure::BadClaims)?;
        if claims.iss != ISSUER {
            return Err(VerifyFailure::BadClaims);
        }
        Ok(Verified {
            claims,
            signing_key_id: parsed.kid,
        })
    }
}

fn map_token_error(error: paseto::TokenError) -> VerifyFailure {
    match error {
        paseto::TokenError::Malformed => VerifyFailure::Malformed,
        paseto::TokenError::WrongVersionOrPurpose => VerifyFailure::Unsupported,
        paseto::TokenError::FooterMismatch | paseto::TokenError::BadSignature => {
            VerifyFailure::BadSignature
        }
    }
}
