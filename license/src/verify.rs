//! Offline verification of a license key: structure, version and purpose,
//! the signing key's PASERK id in the footer, the signature, the claims,
//! `exp` where present, and the fingerprint it is bound to.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::claims::{ISSUER, LicenseClaims};
use crate::fingerprint::{Fingerprint, FingerprintMatch, MatchKind, compare};
use crate::keys::{KeyFileError, load_public_keys};
use crate::{paserk, paseto};

/// The footer of every key: the signing key's PASERK `k4.pid`.
#[derive(Debug, Serialize, Deserialize)]
struct Footer {
    kid: String,
}

/// The footer bytes for a signing key id: `{"kid":"k4.pid...."}`.
///
/// ```
/// assert_eq!(neo_license::footer_for("k4.pid.x"), br#"{"kid":"k4.pid.x"}"#);
/// ```
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
    /// A provisional key past its `exp`.
    #[error("the key has expired")]
    Expired,
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
            Self::Expired => "KEY_EXPIRED",
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

impl Verified {
    /// How `this_machine` matches the fingerprint the key is bound to. A
    /// bound fingerprint that does not parse matches nothing.
    pub fn match_fingerprint(&self, this_machine: &Fingerprint) -> FingerprintMatch {
        match Fingerprint::parse(&self.claims.fingerprint) {
            Ok(bound) => compare(&bound, this_machine),
            Err(_) => FingerprintMatch {
                kind: MatchKind::Mismatch,
                changed: Vec::new(),
            },
        }
    }
}

/// A verified key and how this machine matches it ([`Verifier::check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The key.
    pub verified: Verified,
    /// How this machine's fingerprint matches the key's.
    pub fingerprint_match: FingerprintMatch,
}

impl Check {
    /// Whether the key is valid on this machine.
    pub fn is_valid(&self) -> bool {
        self.fingerprint_match.is_valid()
    }

    /// One line for people: `valid: LK-... (exact)`, with
    /// `provisional until <date>` and the changed components where they
    /// apply, or `not valid: FINGERPRINT_MISMATCH ...`.
    pub fn summary(&self) -> String {
        let claims = &self.verified.claims;
        let found = &self.fingerprint_match;
        let changed = if found.changed.is_empty() {
            String::new()
        } else {
            format!(", changed: {}", found.changed_names().join(", "))
        };
        if !self.is_valid() {
            return format!(
                "not valid: FINGERPRINT_MISMATCH (key {} is bound to {}{changed})",
                claims.jti, claims.fingerprint
            );
        }
        let provisional = match claims.expires_at() {
            Some(exp) if claims.provisional => format!(
                ", provisional until {}",
                exp.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            _ => String::new(),
        };
        format!(
            "valid: {} ({}{changed}){provisional}",
            claims.jti, found.kind
        )
    }
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

    /// A verifier for the public keys in `dir`, as
    /// `neo-support keys public --write DIR` writes them
    /// ([`crate::keys::load_public_keys`]).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, KeyFileError> {
        Ok(Self::new(load_public_keys(dir.as_ref())?))
    }

    /// Whether it knows any key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies a license key offline now: structure, version and purpose,
    /// footer, signature, claims, and `exp` where present.
    pub fn verify(&self, token: &str) -> Result<Verified, VerifyFailure> {
        self.verify_at(token, Utc::now())
    }

    /// [`Self::verify`] at the moment `now`.
    ///
    /// ```
    /// use chrono::{DateTime, Duration};
    /// use ed25519_dalek::SigningKey;
    /// use neo_license::{Fingerprint, LicenseClaims, Verifier, VerifyFailure, footer_for, paserk, paseto};
    ///
    /// let signing = SigningKey::from_bytes(&[1; 32]);
    /// let kid = paserk::k4_pid(&signing.verifying_key());
    /// let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    /// let fp = Fingerprint::parse("nsfp1:0123456789abcdef0123")?;
    /// let claims = LicenseClaims::new("LK-1", "BS-1", "C-1", 10, &fp, 0, None, None, at)
    ///     .provisional_until(at + Duration::days(30));
    /// let token = paseto::sign(&signing, &serde_json::to_vec(&claims).unwrap(), &footer_for(&kid), b"");
    ///
    /// let verifier = Verifier::new([signing.verifying_key()]);
    /// assert_eq!(verifier.verify_at(&token, at).unwrap().claims, claims);
    /// assert_eq!(
    ///     verifier.verify_at(&token, at + Duration::days(30)),
    ///     Err(VerifyFailure::Expired)
    /// );
    /// # Ok::<(), String>(())
    /// ```
    pub fn verify_at(&self, token: &str, now: DateTime<Utc>) -> Result<Verified, VerifyFailure> {
        let verified = self.verify_signature(token)?;
        if verified.claims.is_expired_at(now) {
            return Err(VerifyFailure::Expired);
        }
        Ok(verified)
    }

    /// Verifies everything but `exp`: for the server, which tells an
    /// expired key's record apart from a forged one. Installations use
    /// [`Self::verify`].
    pub fn verify_signature(&self, token: &str) -> Result<Verified, VerifyFailure> {
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

    /// Verifies a key now ([`Self::verify`]) and matches it against this
    /// machine's fingerprint: what an installation does at start.
    ///
    /// ```
    /// use chrono::Utc;
    /// use ed25519_dalek::SigningKey;
    /// use neo_license::{Component, Components, LicenseClaims, MatchKind, Verifier, footer_for, paserk, paseto};
    ///
    /// let bound = Components::from_raw([
    ///     (Component::Machine, "machine-id"),
    ///     (Component::Board, "board-uuid"),
    ///     (Component::Disk, "disk-serial"),
    ///     (Component::Nic, "52:54:00:12:34:56"),
    /// ])
    /// .fingerprint();
    /// let signing = SigningKey::from_bytes(&[2; 32]);
    /// let kid = paserk::k4_pid(&signing.verifying_key());
    /// let claims = LicenseClaims::new("LK-1", "BS-1", "C-1", 10, &bound, 1, None, None, Utc::now());
    /// let token = paseto::sign(&signing, &serde_json::to_vec(&claims).unwrap(), &footer_for(&kid), b"");
    ///
    /// // The OS was reinstalled: a new machine id, the same hardware.
    /// let this_machine = Components::from_raw([
    ///     (Component::Machine, "new-machine-id"),
    ///     (Component::Board, "board-uuid"),
    ///     (Component::Disk, "disk-serial"),
    ///     (Component::Nic, "52:54:00:12:34:56"),
    /// ])
    /// .fingerprint();
    /// let check = Verifier::new([signing.verifying_key()]).check(&token, &this_machine)?;
    /// assert!(check.is_valid());
    /// assert_eq!(check.fingerprint_match.kind, MatchKind::Tolerated);
    /// assert_eq!(check.summary(), "valid: LK-1 (tolerated, changed: machine)");
    /// # Ok::<(), neo_license::VerifyFailure>(())
    /// ```
    pub fn check(&self, token: &str, this_machine: &Fingerprint) -> Result<Check, VerifyFailure> {
        self.check_at(token, this_machine, Utc::now())
    }

    /// [`Self::check`] at the moment `now`.
    pub fn check_at(
        &self,
        token: &str,
        this_machine: &Fingerprint,
        now: DateTime<Utc>,
    ) -> Result<Check, VerifyFailure> {
        let verified = self.verify_at(token, now)?;
        let fingerprint_match = verified.match_fingerprint(this_machine);
        Ok(Check {
            verified,
            fingerprint_match,
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
