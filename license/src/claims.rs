//! The claims a license key carries: PASETO's registered claims where they
//! fit (`iss`, `sub` for the license, `iat`, `exp`, `jti` for the key id)
//! and the license's own.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::fingerprint::Fingerprint;

/// The `iss` claim of every key the neo-support service signs.
pub const ISSUER: &str = "neo-support";
/// The product every key licenses.
pub const PRODUCT: &str = "desknet's NEO Backup Server";

/// The claims of a license key.
///
/// A permanent key carries no expiry: the license is perpetual. A
/// provisional key, given while a reissue waits for staff review, carries
/// the standard PASETO `exp` claim and `"provisional": true`; every PASETO
/// library refuses it after `exp`.
///
/// ```
/// use chrono::{DateTime, Duration};
/// use neo_license::{Fingerprint, LicenseClaims};
///
/// let fp = Fingerprint::parse("nsfp1:0123456789abcdef0123")?;
/// let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
/// let claims = LicenseClaims::new("LK-1", "BS-1", "C-1", 10, &fp, 1, None, None, at);
/// assert_eq!(claims.iat, "2027-01-15T08:00:00Z");
/// assert!(claims.exp.is_none() && !claims.provisional);
///
/// let provisional = claims.provisional_until(at + Duration::days(30));
/// assert_eq!(provisional.exp.as_deref(), Some("2027-02-14T08:00:00Z"));
/// assert!(provisional.is_expired_at(at + Duration::days(31)));
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseClaims {
    /// Always [`ISSUER`].
    pub iss: String,
    /// The license id.
    pub sub: String,
    /// When the key was issued, RFC 3339 UTC.
    pub iat: String,
    /// When the key expires, RFC 3339 UTC: only on a provisional key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<String>,
    /// The key's unique id.
    pub jti: String,
    /// The contract the license is under.
    pub contract_id: String,
    /// Always [`PRODUCT`].
    pub product: String,
    /// The license's seats when the key was issued.
    pub seats: i64,
    /// The server fingerprint the key is bound to.
    pub fingerprint: String,
    /// This key's sequence number for the license, from 1 (0 on a
    /// provisional key, which is outside the license's sequence).
    pub sequence: i64,
    /// The key id this key supersedes, if any.
    pub supersedes: Option<String>,
    /// The support end date at issue time, `YYYY-MM-DD` (informational).
    pub support_ends_on: Option<String>,
    /// True on a provisional key (absent on a permanent one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
}

impl LicenseClaims {
    /// The claims of a new permanent key.
    #[expect(clippy::too_many_arguments, reason = "each is one claim of the key")]
    pub fn new(
        key_id: &str,
        license_id: &str,
        contract_id: &str,
        seats: i64,
        fingerprint: &Fingerprint,
        sequence: i64,
        supersedes: Option<&str>,
        support_ends_on: Option<NaiveDate>,
        issued_at: DateTime<Utc>,
    ) -> Self {
        Self {
            iss: ISSUER.into(),
            sub: license_id.into(),
            iat: rfc3339(issued_at),
            exp: None,
            jti: key_id.into(),
            contract_id: contract_id.into(),
            product: PRODUCT.into(),
            seats,
            fingerprint: fingerprint.as_str().into(),
            sequence,
            supersedes: supersedes.map(str::to_owned),
            support_ends_on: support_ends_on.map(|d| d.format("%Y-%m-%d").to_string()),
            provisional: false,
        }
    }

    /// These claims as a provisional key's: `exp` at `expires_at` and
    /// `"provisional": true`.
    pub fn provisional_until(mut self, expires_at: DateTime<Utc>) -> Self {
        self.exp = Some(rfc3339(expires_at));
        self.provisional = true;
        self
    }

    /// When the key expires, if it does. An `exp` that is not RFC 3339 is
    /// taken as already past (see [`Self::is_expired_at`]).
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        let exp = self.exp.as_deref()?;
        Some(
            DateTime::parse_from_rfc3339(exp)
                .map(|at| at.with_timezone(&Utc))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        )
    }

    /// Whether the key has expired at `now` (never for a key without `exp`).
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at().is_some_and(|exp| now >= exp)
    }
}

/// A moment as RFC 3339 UTC to the second, as the claims carry it.
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_claims_carry_the_registered_names_and_no_expiry() {
        let fp = Fingerprint::parse("0123456789abcdef").unwrap();
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let claims = LicenseClaims::new("LK-1", "BS-1", "C-1", 10, &fp, 2, Some("LK-0"), None, at);
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["iss"], "neo-support");
        assert_eq!(json["sub"], "BS-1");
        assert_eq!(json["jti"], "LK-1");
        assert_eq!(json["iat"], "2027-01-15T08:00:00Z");
        assert!(json.get("exp").is_none());
        assert!(json.get("provisional").is_none());
        assert!(!claims.is_expired_at(DateTime::<Utc>::MAX_UTC));
    }

    #[test]
    fn a_provisional_key_expires_at_exp_and_a_garbled_exp_is_past() {
        let fp = Fingerprint::parse("0123456789abcdef").unwrap();
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let exp = at + chrono::Duration::days(30);
        let claims = LicenseClaims::new("LK-1", "BS-1", "C-1", 10, &fp, 0, None, None, at)
            .provisional_until(exp);
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["provisional"], true);
        assert_eq!(json["exp"], "2027-02-14T08:00:00Z");
        assert!(!claims.is_expired_at(exp - chrono::Duration::seconds(1)));
        assert!(claims.is_expired_at(exp));
        let mut garbled = claims;
        garbled.exp = Some("soon".into());
        assert!(garbled.is_expired_at(at));
    }
}
