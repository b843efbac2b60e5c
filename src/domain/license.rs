//! License keys (SPEC.md section 4): the server fingerprint a key is bound
//! to, the claims a key carries, the reissue rules, and the e-mail that
//! announces a key. Signing itself lives in `crate::signer`.

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::domain::contract::{ContractStatus, status_on};
use crate::error::{Error, Reason};

pub use neo_license::{
    Component, Fingerprint, FingerprintMatch, ISSUER, LicenseClaims, MatchKind, PRODUCT,
};

/// How `presented` matches the fingerprint a key is bound to (`bound`, as
/// stored): the library's rule; a stored fingerprint that no longer parses
/// matches only itself.
pub fn fingerprint_match(bound: &str, presented: &Fingerprint) -> FingerprintMatch {
    match Fingerprint::parse(bound) {
        Ok(bound) => neo_license::compare(&bound, presented),
        Err(_) => FingerprintMatch {
            kind: if bound == presented.as_str() {
                MatchKind::Exact
            } else {
                MatchKind::Mismatch
            },
            changed: Vec::new(),
        },
    }
}

/// A new license-key id (`jti`): `LK-` and 32 hexadecimal digits.
pub fn new_key_id() -> String {
    format!(
        "LK-{}",
        uuid::Uuid::new_v4().simple().to_string().to_uppercase()
    )
}

/// A new reissue-request id: `RR-` and 32 hexadecimal digits.
pub fn new_reissue_id() -> String {
    format!(
        "RR-{}",
        uuid::Uuid::new_v4().simple().to_string().to_uppercase()
    )
}

/// Signs claims into a license key. The signer implements it; the store
/// calls it inside the transaction that records the key.
pub trait Mint: Send + Sync {
    /// The signed key and the id of the signing key that signed it.
    fn mint(&self, claims: &LicenseClaims) -> Result<(String, String), String>;
}

/// Where a license key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum KeyStatus {
    /// The license's current key.
    Active,
    /// Replaced by a later key.
    Superseded,
    /// Revoked by staff.
    Revoked,
    /// A provisional key while its reissue waits for review.
    Provisional,
}

impl KeyStatus {
    /// As stored and printed.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// A license key on record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The key id (`jti`).
    pub id: String,
    /// The license.
    pub license_id: String,
    /// The contract.
    pub contract_id: String,
    /// Sequence number for the license.
    pub sequence: i64,
    /// The bound fingerprint.
    pub fingerprint: String,
    /// The key itself.
    pub token: String,
    /// The signing key that signed it (`k4.pid`).
    pub signing_key_id: String,
    /// Where it stands.
    pub status: KeyStatus,
    /// The key it superseded.
    pub supersedes: Option<String>,
    /// The key that superseded it.
    pub superseded_by: Option<String>,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// Who asked for it (the token's name).
    pub requested_by: String,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
}

/// Where a reissue request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum ReissueStatus {
    /// A new key was signed at once.
    Issued,
    /// The fingerprint was already bound: the current key was returned.
    Unchanged,
    /// Waiting for staff review by its delivery date.
    PendingReview,
    /// Approved by staff; the key was signed then.
    Approved,
    /// Rejected by staff.
    Rejected,
}

impl ReissueStatus {
    /// As stored and printed.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// A reissue request on record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReissueRecord {
    /// Server id (`RR-...`).
    pub id: String,
    /// The license.
    pub license_id: String,
    /// The contract.
    pub contract_id: String,
    /// The client's idempotency id.
    pub request_id: String,
    /// The fingerprint asked for.
    pub fingerprint: String,
    /// Where it stands.
    pub status: ReissueStatus,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// The promised delivery date (the staff's deadline while pending).
    pub delivery_on: NaiveDate,
    /// The key it produced (issued, unchanged, approved).
    pub key: Option<KeyRecord>,
    /// Who asked.
    pub requested_by: String,
    /// Who decided (approved or rejected).
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<DateTime<Utc>>,
    /// Why it was rejected.
    pub reject_reason: Option<String>,
    /// Why it waits (waited) for review: the allowance used up, or staff's
    /// revocation of the license's key with their reason.
    pub review_reason: Option<String>,
    /// The version 2 components that differ between the active key's
    /// fingerprint, when received, and the requested one.
    pub changed_components: Vec<String>,
    /// The provisional key given while it waits for review.
    pub provisional: Option<KeyRecord>,
}

/// A license's keys, as far as a reissue asks about them.
#[derive(Debug, Clone, Copy)]
pub enum LicenseKeys<'a> {
    /// The license never had a key.
    None,
    /// The license's active key, and how many keys were reissued in the
    /// last 365 days (counted up to the allowance).
    Active {
        /// The active key.
        key: &'a KeyRecord,
        /// Reissued keys in the last 365 days, counted up to the allowance.
        recent_reissues: i64,
    },
    /// No key is active: the newest one, which staff revoked (a newer key
    /// would be active).
    Revoked(&'a KeyRecord),
}

/// What the store knows when a reissue arrives, read under the lock on
/// the license's contract.
#[derive(Debug, Clone, Copy)]
pub struct ReissueFacts<'a> {
    /// The license.
    pub license_id: &'a str,
    /// Its contract.
    pub contract_id: &'a str,
    /// The contract's orders.
    pub orders: &'a [crate::domain::contract::Order],
    /// The JST date the request was received.
    pub received_on: NaiveDate,
    /// The fingerprint asked for.
    pub fingerprint: &'a Fingerprint,
    /// The client's request id.
    pub request_id: &'a str,
    /// The license's earlier request with the same request id, if any.
    pub earlier: Option<&'a ReissueRecord>,
    /// The id of the license's request waiting for review, if any.
    pub pending_reissue_id: Option<&'a str>,
    /// The license's keys.
    pub keys: LicenseKeys<'a>,
    /// Reissues signed at once per rolling 365 days; more wait for review.
    pub reissues_before_review: i64,
}

/// What to do with a reissue request (SPEC.md section 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReissueDecision {
    /// The request id was used before for the same fingerprint: answer
    /// with that request as it stands.
    Repeat,
    /// The active key is bound to the fingerprint already: record the
    /// request with that key.
    Unchanged,
    /// Record the request to wait for staff review, for this reason.
    Review {
        /// Why it waits.
        reason: String,
    },
    /// Sign a new key that supersedes the active one.
    Issue,
}

/// Why a reissue request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReissueRefusal {
    /// The request id was used before for another fingerprint.
    RequestIdReused {
        /// The request id.
        request_id: String,
    },
    /// The support contract is not active on the day received.
    SupportExpired {
        /// The contract.
        contract_id: String,
        /// The JST date received.
        on: NaiveDate,
    },
    /// Another request of the license waits for review.
    Pending {
        /// The license.
        license_id: String,
        /// The request that waits.
        pending_id: String,
    },
    /// The license never had a key: staff issue its first one.
    NoFirstKey {
        /// The license.
        license_id: String,
    },
}

impl ReissueRefusal {
    /// The stable reason code.
    pub fn reason(&self) -> Reason {
        match self {
            Self::RequestIdReused { .. } => Reason::RequestIdReused,
            Self::SupportExpired { .. } => Reason::SupportExpired,
            Self::Pending { .. } => Reason::ReissuePending,
            Self::NoFirstKey { .. } => Reason::NoFirstKey,
        }
    }
}

impl fmt::Display for ReissueRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RequestIdReused { request_id } => write!(
                f,
                "request id {request_id} was already used for another fingerprint; \
                 choose a new request id"
            ),
            Self::SupportExpired { contract_id, on } => write!(
                f,
                "the support contract {contract_id} is not active on {on} (JST); \
                 a reissue needs an active annual support contract"
            ),
            Self::Pending {
                license_id,
                pending_id,
            } => write!(
                f,
                "license {license_id} already has reissue {pending_id} waiting for staff review; \
                 one request may wait at a time: wait for staff's decision"
            ),
            Self::NoFirstKey { license_id } => write!(
                f,
                "license {license_id} has no key yet; staff issue its first key"
            ),
        }
    }
}

impl From<ReissueRefusal> for Error {
    fn from(refusal: ReissueRefusal) -> Self {
        let reason = refusal.reason().as_str();
        let message = refusal.to_string();
        match refusal {
            ReissueRefusal::RequestIdReused { .. } => Error::AlreadyExists { reason, message },
            _ => Error::FailedPrecondition { reason, message },
        }
    }
}

/// Decides a reissue request from the facts on record: the same request id
/// answers as the first time; otherwise the contract must be active, no
/// other request may wait for review, and the license must have had a
/// key. Then the active key's own fingerprint leaves it unchanged; a key
/// staff revoked, or the allowance used up, sends the request to review;
/// else a new key is signed.
pub fn decide_reissue(facts: &ReissueFacts<'_>) -> Result<ReissueDecision, ReissueRefusal> {
    if let Some(earlier) = facts.earlier {
        if earlier.fingerprint != facts.fingerprint.as_str() {
            return Err(ReissueRefusal::RequestIdReused {
                request_id: facts.request_id.to_owned(),
            });
        }
        return Ok(ReissueDecision::Repeat);
    }
    if status_on(facts.orders, facts.received_on) != ContractStatus::Active {
        return Err(ReissueRefusal::SupportExpired {
            contract_id: facts.contract_id.to_owned(),
            on: facts.received_on,
        });
    }
    if let Some(pending_id) = facts.pending_reissue_id {
        return Err(ReissueRefusal::Pending {
            license_id: facts.license_id.to_owned(),
            pending_id: pending_id.to_owned(),
        });
    }
    match facts.keys {
        LicenseKeys::None => Err(ReissueRefusal::NoFirstKey {
            license_id: facts.license_id.to_owned(),
        }),
        LicenseKeys::Revoked(key) => Ok(ReissueDecision::Review {
            reason: revoked_key_review(key),
        }),
        // The same fingerprint, or a tolerated match of it (one component
        // changed): the current key stays valid, and no transfer counts.
        LicenseKeys::Active { key, .. }
            if fingerprint_match(&key.fingerprint, facts.fingerprint).is_valid() =>
        {
            Ok(ReissueDecision::Unchanged)
        }
        LicenseKeys::Active {
            recent_reissues, ..
        } => {
            if recent_reissues >= facts.reissues_before_review {
                let allowance = facts.reissues_before_review.max(0);
                Ok(ReissueDecision::Review {
                    reason: format!(
                        "the allowance of {allowance} reissues signed at once per 365 days \
                         is used up"
                    ),
                })
            } else {
                Ok(ReissueDecision::Issue)
            }
        }
    }
}

/// Whether a request that waits for review gets a provisional key: not
/// when it waits because staff revoked the license's key (the review is
/// about that revocation).
pub fn review_gets_provisional_key(keys: &LicenseKeys<'_>) -> bool {
    !matches!(keys, LicenseKeys::Revoked(_))
}

/// Why a waiting request got no provisional key, as the customer reads it.
pub const NO_PROVISIONAL_AFTER_REVOCATION: &str =
    "no provisional key: staff revoked the license's key, and the review is about that revocation";

/// Why a waiting request got no provisional key when they are off.
pub const NO_PROVISIONAL_KEYS: &str = "no provisional key: provisional keys are turned off";

/// Why a reissue after staff revoked the license's key waits for review.
pub fn revoked_key_review(key: &KeyRecord) -> String {
    let at = key
        .revoked_at
        .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default();
    let reason = key.revoke_reason.as_deref().unwrap_or("no reason given");
    format!(
        "staff revoked the license's key {} (#{}) at {at}: {reason}",
        key.id, key.sequence
    )
}

/// What VerifyKey answers about a key whose signature holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVerdict {
    /// The key's status on record; `None` when no record holds this key.
    pub status: Option<KeyStatus>,
    /// The key that superseded it, if any.
    pub superseded_by: Option<String>,
    /// Whether the fingerprint asked about matches the key's, exactly or
    /// tolerated (false when none was asked about).
    pub fingerprint_matches: bool,
    /// How the fingerprint asked about matches (`None` when none was).
    pub fingerprint_match: Option<FingerprintMatch>,
    /// Why the key is not valid; `None` when it is.
    pub refusal: Option<Reason>,
}

impl KeyVerdict {
    /// Whether the key is valid.
    pub fn valid(&self) -> bool {
        self.refusal.is_none()
    }
}

impl KeyVerdict {
    /// The verdict on another contract's key, for a customer: only that its
    /// signature holds; the record's status and successor stay hidden.
    pub fn other_contract(claims: &LicenseClaims, fingerprint: Option<&Fingerprint>) -> Self {
        let found = fingerprint.map(|fp| fingerprint_match(&claims.fingerprint, fp));
        Self {
            status: None,
            superseded_by: None,
            fingerprint_matches: found.as_ref().is_some_and(FingerprintMatch::is_valid),
            fingerprint_match: found,
            refusal: Some(Reason::OtherContract),
        }
    }
}

/// Judges a key whose signature holds: `presented` is the key as given,
/// `claims` what it says, `fingerprint` the one asked about (if any),
/// `record` the key on record under its id, and `now` the moment. A
/// fingerprint that does not match (exactly or tolerated) refuses it
/// first; then it must be on record (the same token), active or
/// provisional, and not past its `exp`.
pub fn key_verdict(
    presented: &str,
    claims: &LicenseClaims,
    fingerprint: Option<&Fingerprint>,
    record: Option<&KeyRecord>,
    now: DateTime<Utc>,
) -> KeyVerdict {
    let found = fingerprint.map(|fp| fingerprint_match(&claims.fingerprint, fp));
    let fingerprint_matches = found.as_ref().is_some_and(FingerprintMatch::is_valid);
    // A record whose token differs is not this key.
    let record = record.filter(|k| k.token == presented.trim());
    let status = record.map(|k| k.status);
    let refusal = if fingerprint.is_some() && !fingerprint_matches {
        Some(Reason::FingerprintMismatch)
    } else {
        match status {
            Some(KeyStatus::Active | KeyStatus::Provisional) if claims.is_expired_at(now) => {
                Some(Reason::KeyExpired)
            }
            Some(KeyStatus::Active | KeyStatus::Provisional) => None,
            Some(KeyStatus::Superseded) => Some(Reason::KeySuperseded),
            Some(KeyStatus::Revoked) => Some(Reason::KeyRevoked),
            None => Some(Reason::KeyNotOnRecord),
        }
    };
    KeyVerdict {
        status,
        superseded_by: record.and_then(|k| k.superseded_by.clone()),
        fingerprint_matches,
        fingerprint_match: found,
        refusal,
    }
}

/// The e-mail announcing a key, in Japanese: `(subject, body)`.
/// Why a key's notice that was not sent yet no longer carries the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal<'a> {
    /// Staff revoked the key.
    Revoked,
    /// A newer key replaced it; its own notice follows.
    Superseded {
        /// The key that replaced it.
        by: &'a str,
    },
}

/// The notice that replaces a key's unsent notice once the key is revoked
/// or superseded: it says so and carries no key. Subject and body.
pub fn withdrawn_key_notice(
    license_id: &str,
    key_id: &str,
    withdrawal: Withdrawal<'_>,
) -> (String, String) {
    let subject = format!(
        "【desknet's NEO バックアップサーバー】ライセンスキー取り消しのお知らせ（ライセンス {license_id}）"
    );
    let what = match withdrawal {
        Withdrawal::Revoked => "は、お知らせをお送りする前に失効しました。".to_owned(),
        Withdrawal::Superseded { by } => format!(
            "は、お知らせをお送りする前に新しいキー（{by}）に置き換えられました。\
             新しいキーは別のメールでお送りします。"
        ),
    };
    let body = format!(
        "desknet's NEO バックアップサーバーのライセンスキー {key_id}（ライセンス {license_id}）{what}\n\n\
         このキーは使用できません。ご不明な点はサポート窓口までお問い合わせください。\n"
    );
    (subject, body)
}

pub fn key_notice(
    customer_name: &str,
    key: &KeyRecord,
    delivery_on: NaiveDate,
) -> (String, String) {
    let what = if key.sequence == 1 {
        "発行"
    } else {
        "再発行"
    };
    let subject = format!(
        "【desknet's NEO バックアップサーバー】ライセンスキー{what}のお知らせ（ライセンス {}）",
        key.license_id
    );
    let body = format!(
        "{customer_name} 御中\n\n\
         desknet's NEO バックアップサーバーのライセンスキーを{what}しました。\n\n\
         ライセンスID: {license}\n\
         契約番号: {contract}\n\
         サーバーフィンガープリント: {fingerprint}\n\
         キーID: {key_id}（第{sequence}版）\n\
         通知期限: {delivery}\n\n\
         ライセンスキー:\n{token}\n\n\
         このキーは {fingerprint} のサーバーでのみ有効です。{superseded}\n\
         キーの検証: `neo-support key verify KEY` で当社の公開鍵（PASERK k4.public、\
         gRPC の GetSigningKeys で取得できます）を使って署名を確認できます。\n",
        license = key.license_id,
        contract = key.contract_id,
        fingerprint = key.fingerprint,
        key_id = key.id,
        sequence = key.sequence,
        delivery = delivery_on.format("%Y-%m-%d"),
        token = key.token,
        superseded = match &key.supersedes {
            Some(old) => format!("以前のキー（{old}）は無効になりました。"),
            None => String::new(),
        },
    );
    (subject, body)
}

/// The e-mail for a reissue that waits for staff review, in Japanese:
/// `(subject, body)`. It says whether a provisional key was issued and
/// until when it is valid, and by which business day staff decide.
pub fn review_notice(
    customer_name: &str,
    record: &ReissueRecord,
    provisional: Option<&KeyRecord>,
    expires_at: Option<DateTime<Utc>>,
) -> (String, String) {
    let subject = format!(
        "【desknet's NEO バックアップサーバー】ライセンスキー再発行のご依頼を受け付けました（ライセンス {}）",
        record.license_id
    );
    let deadline = record.delivery_on.format("%Y-%m-%d");
    let provisional_text = match (provisional, expires_at) {
        (Some(key), Some(expires_at)) => {
            let until = expires_at
                .with_timezone(&crate::domain::dates::jst())
                .format("%Y-%m-%d %H:%M");
            format!(
                "審査の間お使いいただける暫定ライセンスキーを発行しました。\n\
                 暫定ライセンスキーの有効期限: {until}（日本時間）\n\
                 キーID: {key_id}\n\n\
                 暫定ライセンスキー:\n{token}\n\n\
                 暫定ライセンスキーは {fingerprint} のサーバーでのみ、有効期限まで有効です。\
                 承認後は正式なライセンスキーをお送りし、暫定ライセンスキーはそれに置き換わります。\n",
                key_id = key.id,
                token = key.token,
                fingerprint = key.fingerprint,
            )
        }
        _ => "このご依頼には暫定ライセンスキーは発行されません。\n".to_owned(),
    };
    let body = format!(
        "{customer_name} 御中\n\n\
         desknet's NEO バックアップサーバーのライセンスキー再発行のご依頼を受け付けました。\
         このご依頼は当社担当者の審査を経て処理いたします。\n\n\
         ライセンスID: {license}\n\
         受付番号: {id}\n\
         新しいサーバーのフィンガープリント: {fingerprint}\n\
         審査結果のご連絡期限: {deadline}（営業日）\n\n\
         {provisional_text}",
        license = record.license_id,
        id = record.id,
        fingerprint = record.fingerprint,
    );
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_names_license_fingerprint_key_and_delivery_date() {
        let key = KeyRecord {
            id: "LK-9".into(),
            license_id: "BS-1".into(),
            contract_id: "C-1".into(),
            sequence: 2,
            fingerprint: "0123456789abcdef".into(),
            token: "v4.public.xyz".into(),
            signing_key_id: "k4.pid.x".into(),
            status: KeyStatus::Active,
            supersedes: Some("LK-8".into()),
            superseded_by: None,
            issued_at: Utc::now(),
            requested_by: "ops".into(),
            revoked_at: None,
            revoke_reason: None,
        };
        let (subject, body) = key_notice(
            "株式会社サンプル",
            &key,
            NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
        );
        assert!(
            subject.contains("再発行") && subject.contains("BS-1"),
            "{subject}"
        );
        for part in [
            "BS-1",
            "0123456789abcdef",
            "LK-9",
            "2026-11-26",
            "v4.public.xyz",
            "LK-8",
            "key verify",
        ] {
            assert!(body.contains(part), "{part} in {body}");
        }
    }

    fn key(sequence: i64, fingerprint: &str, status: KeyStatus) -> KeyRecord {
        KeyRecord {
            id: format!("LK-{sequence}"),
            license_id: "BS-1".into(),
            contract_id: "C-1".into(),
            sequence,
            fingerprint: fingerprint.into(),
            token: format!("v4.public.key{sequence}"),
            signing_key_id: "k4.pid.x".into(),
            status,
            supersedes: None,
            superseded_by: None,
            issued_at: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            requested_by: "ops".into(),
            revoked_at: None,
            revoke_reason: None,
        }
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    /// A first-year order covering 2026-12-01 .. 2027-11-30.
    fn one_year() -> Vec<crate::domain::contract::Order> {
        vec![crate::domain::contract::Order {
            id: 1,
            kind: crate::domain::contract::OrderKind::FirstYear,
            received_on: day("2026-11-20"),
            purchased_on: Some(day("2026-11-20")),
            seats: 10,
            period: Some(crate::domain::contract::Period {
                start: day("2026-12-01"),
                end: day("2027-11-30"),
                covered_from: day("2026-11-20"),
            }),
            certificate_no: None,
            superseded_by: None,
        }]
    }

    const OLD: &str = "old-server-fingerprint";
    const NEW: &str = "new-server-fingerprint";

    struct Case {
        orders: Vec<crate::domain::contract::Order>,
        received_on: NaiveDate,
        fingerprint: Fingerprint,
        earlier: Option<ReissueRecord>,
        pending: Option<&'static str>,
        allowance: i64,
    }

    impl Case {
        fn new() -> Self {
            Self {
                orders: one_year(),
                received_on: day("2027-03-01"),
                fingerprint: Fingerprint::parse(NEW).unwrap(),
                earlier: None,
                pending: None,
                allowance: 3,
            }
        }

        fn decide(&self, keys: LicenseKeys<'_>) -> Result<ReissueDecision, ReissueRefusal> {
            decide_reissue(&ReissueFacts {
                license_id: "BS-1",
                contract_id: "C-1",
                orders: &self.orders,
                received_on: self.received_on,
                fingerprint: &self.fingerprint,
                request_id: "req-1",
                earlier: self.earlier.as_ref(),
                pending_reissue_id: self.pending,
                keys,
                reissues_before_review: self.allowance,
            })
        }
    }

    fn earlier_request(fingerprint: &str) -> ReissueRecord {
        ReissueRecord {
            id: "RR-1".into(),
            license_id: "BS-1".into(),
            contract_id: "C-1".into(),
            request_id: "req-1".into(),
            fingerprint: fingerprint.into(),
            status: ReissueStatus::Issued,
            received_at: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            delivery_on: day("2027-03-01"),
            key: None,
            requested_by: "customer".into(),
            decided_by: None,
            decided_at: None,
            reject_reason: None,
            review_reason: None,
            changed_components: Vec::new(),
            provisional: None,
        }
    }

    #[test]
    fn a_reissue_under_the_allowance_signs_a_new_key() {
        let active = key(1, OLD, KeyStatus::Active);
        let keys = LicenseKeys::Active {
            key: &active,
            recent_reissues: 2,
        };
        assert_eq!(Case::new().decide(keys), Ok(ReissueDecision::Issue));
    }

    #[test]
    fn a_reissue_outside_the_support_period_is_support_expired() {
        let active = key(1, OLD, KeyStatus::Active);
        let keys = LicenseKeys::Active {
            key: &active,
            recent_reissues: 0,
        };
        for received_on in ["2026-11-19", "2027-12-01"] {
            let mut case = Case::new();
            case.received_on = day(received_on);
            let refusal = case.decide(keys).unwrap_err();
            assert_eq!(refusal.reason(), Reason::SupportExpired, "{received_on}");
            assert!(refusal.to_string().contains(received_on), "{refusal}");
        }
        let mut never = Case::new();
        never.orders.clear();
        assert_eq!(
            never.decide(keys).unwrap_err().reason(),
            Reason::SupportExpired
        );
    }

    #[test]
    fn a_license_without_a_first_key_is_no_first_key() {
        let refusal = Case::new().decide(LicenseKeys::None).unwrap_err();
        assert_eq!(refusal.reason(), Reason::NoFirstKey);
        assert_eq!(
            Error::from(refusal).to_string(),
            "license BS-1 has no key yet; staff issue its first key"
        );
    }

    #[test]
    fn the_active_keys_own_fingerprint_leaves_it_unchanged_even_past_the_allowance() {
        let active = key(4, NEW, KeyStatus::Active);
        let keys = LicenseKeys::Active {
            key: &active,
            recent_reissues: 3,
        };
        assert_eq!(Case::new().decide(keys), Ok(ReissueDecision::Unchanged));
    }

    #[test]
    fn a_reissue_past_the_allowance_waits_for_review() {
        let active = key(4, OLD, KeyStatus::Active);
        let keys = LicenseKeys::Active {
            key: &active,
            recent_reissues: 3,
        };
        let Ok(ReissueDecision::Review { reason }) = Case::new().decide(keys) else {
            panic!("expected a review");
        };
        assert_eq!(
            reason,
            "the allowance of 3 reissues signed at once per 365 days is used up"
        );
        let mut none_allowed = Case::new();
        none_allowed.allowance = -1;
        let keys = LicenseKeys::Active {
            key: &active,
            recent_reissues: 0,
        };
        let Ok(ReissueDecision::Review { reason }) = none_allowed.decide(keys) else {
            panic!("expected a review");
        };
        assert!(reason.contains("allowance of 0 "), "{reason}");
    }

    #[test]
    fn a_request_id_used_before_answers_the_same_or_is_refused_for_another_fingerprint() {
        let active = key(2, NEW, KeyStatus::Active);
        let keys = LicenseKeys::Active {
            key: &active,
            recent_reissues: 3,
        };
        let mut same = Case::new();
        same.earlier = Some(earlier_request(NEW));
        // Before every other rule: even outside the support period.
        same.received_on = day("2028-01-01");
        same.pending = Some("RR-2");
        assert_eq!(same.decide(keys), Ok(ReissueDecision::Repeat));
        let mut other = Case::new();
        other.earlier = Some(earlier_request(OLD));
        let refusal = other.decide(keys).unwrap_err();
        assert_eq!(refusal.reason(), Reason::RequestIdReused);
        assert!(matches!(
            Error::from(refusal),
            Error::AlreadyExists {
                reason: "REQUEST_ID_REUSED",
                ..
            }
        ));
    }

    #[test]
    fn a_second_request_while_one_waits_for_review_is_reissue_pending() {
        let active = key(1, OLD, KeyStatus::Active);
        let keys = LicenseKeys::Active {
            key: &active,
            recent_reissues: 0,
        };
        let mut case = Case::new();
        case.pending = Some("RR-WAITING");
        let refusal = case.decide(keys).unwrap_err();
        assert_eq!(refusal.reason(), Reason::ReissuePending);
        assert!(refusal.to_string().contains("RR-WAITING"), "{refusal}");
        // Even for the active key's own fingerprint, and for a revoked one.
        case.fingerprint = Fingerprint::parse(OLD).unwrap();
        assert_eq!(
            case.decide(keys).unwrap_err().reason(),
            Reason::ReissuePending
        );
        let revoked = key(1, OLD, KeyStatus::Revoked);
        assert_eq!(
            case.decide(LicenseKeys::Revoked(&revoked))
                .unwrap_err()
                .reason(),
            Reason::ReissuePending
        );
    }

    #[test]
    fn after_staff_revoked_the_key_a_reissue_waits_for_review_with_their_reason() {
        let mut revoked = key(2, OLD, KeyStatus::Revoked);
        revoked.revoked_at = DateTime::from_timestamp(1_795_000_000, 0);
        revoked.revoke_reason = Some("leaked on a forum".into());
        let mut case = Case::new();
        case.allowance = i64::MAX;
        // The old fingerprint too: a revoked key is not "unchanged".
        for fingerprint in [NEW, OLD] {
            case.fingerprint = Fingerprint::parse(fingerprint).unwrap();
            let Ok(ReissueDecision::Review { reason }) =
                case.decide(LicenseKeys::Revoked(&revoked))
            else {
                panic!("expected a review for {fingerprint}");
            };
            assert_eq!(
                reason,
                "staff revoked the license's key LK-2 (#2) at 2026-11-18T11:06:40Z: \
                 leaked on a forum"
            );
        }
        revoked.revoke_reason = None;
        let Ok(ReissueDecision::Review { reason }) = case.decide(LicenseKeys::Revoked(&revoked))
        else {
            panic!("expected a review");
        };
        assert!(reason.ends_with(": no reason given"), "{reason}");
    }

    fn claims_of(record: &KeyRecord) -> LicenseClaims {
        let fp = Fingerprint::parse(&record.fingerprint).unwrap();
        let at = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        LicenseClaims::new(
            &record.id,
            "BS-1",
            "C-1",
            10,
            &fp,
            record.sequence,
            None,
            None,
            at,
        )
    }

    #[test]
    fn an_active_key_on_record_is_valid_with_or_without_a_fingerprint() {
        let active = key(1, OLD, KeyStatus::Active);
        let claims = claims_of(&active);
        let asked = Fingerprint::parse(OLD).unwrap();
        let verdict = key_verdict(
            &active.token,
            &claims,
            Some(&asked),
            Some(&active),
            Utc::now(),
        );
        assert!(verdict.valid());
        assert!(verdict.fingerprint_matches);
        assert_eq!(verdict.status, Some(KeyStatus::Active));
        let presented = format!(" {}\n", active.token);
        let verdict = key_verdict(&presented, &claims, None, Some(&active), Utc::now());
        assert!(verdict.valid());
        assert!(!verdict.fingerprint_matches);
    }

    #[test]
    fn another_fingerprint_refuses_the_key_before_its_status() {
        let revoked = key(1, OLD, KeyStatus::Revoked);
        let asked = Fingerprint::parse(NEW).unwrap();
        let verdict = key_verdict(
            &revoked.token,
            &claims_of(&revoked),
            Some(&asked),
            Some(&revoked),
            Utc::now(),
        );
        assert_eq!(verdict.refusal, Some(Reason::FingerprintMismatch));
        assert_eq!(verdict.status, Some(KeyStatus::Revoked));
    }

    #[test]
    fn superseded_revoked_and_unknown_keys_are_not_valid() {
        let mut superseded = key(1, OLD, KeyStatus::Superseded);
        superseded.superseded_by = Some("LK-2".into());
        let verdict = key_verdict(
            &superseded.token,
            &claims_of(&superseded),
            None,
            Some(&superseded),
            Utc::now(),
        );
        assert_eq!(verdict.refusal, Some(Reason::KeySuperseded));
        assert_eq!(verdict.superseded_by.as_deref(), Some("LK-2"));
        let revoked = key(1, OLD, KeyStatus::Revoked);
        let verdict = key_verdict(
            &revoked.token,
            &claims_of(&revoked),
            None,
            Some(&revoked),
            Utc::now(),
        );
        assert_eq!(verdict.refusal, Some(Reason::KeyRevoked));
        let active = key(1, OLD, KeyStatus::Active);
        let claims = claims_of(&active);
        for record in [None, Some(&active)] {
            // The record under the key's id holds another token, or there
            // is none: not this key.
            let verdict = key_verdict("v4.public.forged", &claims, None, record, Utc::now());
            assert_eq!(verdict.refusal, Some(Reason::KeyNotOnRecord));
            assert_eq!(verdict.status, None);
            assert_eq!(verdict.superseded_by, None);
        }
    }

    fn v2(machine: &str, board: &str, disk: &str, nic: &str) -> String {
        neo_license::Components::from_raw([
            (Component::Machine, machine),
            (Component::Board, board),
            (Component::Disk, disk),
            (Component::Nic, nic),
        ])
        .fingerprint()
        .as_str()
        .to_owned()
    }

    #[test]
    fn a_tolerated_match_of_the_active_keys_fingerprint_leaves_it_unchanged() {
        let bound = v2("m", "b", "d", "n");
        let active = key(4, &bound, KeyStatus::Active);
        let keys = LicenseKeys::Active {
            key: &active,
            recent_reissues: 3,
        };
        let mut case = Case::new();
        case.fingerprint = Fingerprint::parse(&v2("m", "b", "d", "another-nic")).unwrap();
        assert_eq!(case.decide(keys), Ok(ReissueDecision::Unchanged));
        case.fingerprint = Fingerprint::parse(&v2("m", "other", "other", "other")).unwrap();
        assert!(matches!(
            case.decide(keys),
            Ok(ReissueDecision::Review { .. })
        ));
        assert!(review_gets_provisional_key(&keys));
        let revoked = key(4, &bound, KeyStatus::Revoked);
        assert!(!review_gets_provisional_key(&LicenseKeys::Revoked(
            &revoked
        )));
    }

    #[test]
    fn a_provisional_key_is_valid_until_exp_and_reports_the_match() {
        let bound = v2("m", "b", "d", "n");
        let mut provisional = key(0, &bound, KeyStatus::Provisional);
        provisional.token = "v4.public.provisional".into();
        let at = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let claims = claims_of(&provisional).provisional_until(at + chrono::Duration::days(30));
        let asked = Fingerprint::parse(&v2("new-machine-id", "b", "d", "n")).unwrap();
        let before = key_verdict(
            &provisional.token,
            &claims,
            Some(&asked),
            Some(&provisional),
            at + chrono::Duration::days(29),
        );
        assert!(before.valid());
        assert_eq!(before.status, Some(KeyStatus::Provisional));
        let found = before.fingerprint_match.unwrap();
        assert_eq!(
            (found.kind, found.changed_names()),
            (MatchKind::Tolerated, vec!["machine"])
        );
        let after = key_verdict(
            &provisional.token,
            &claims,
            None,
            Some(&provisional),
            at + chrono::Duration::days(30),
        );
        assert_eq!(after.refusal, Some(Reason::KeyExpired));
        provisional.status = KeyStatus::Revoked;
        let revoked = key_verdict(&provisional.token, &claims, None, Some(&provisional), at);
        assert_eq!(revoked.refusal, Some(Reason::KeyRevoked));
    }

    #[test]
    fn the_review_notice_says_until_when_the_provisional_key_holds_and_the_deadline() {
        let mut record = earlier_request(NEW);
        record.status = ReissueStatus::PendingReview;
        record.delivery_on = day("2027-01-05");
        let mut provisional = key(0, NEW, KeyStatus::Provisional);
        provisional.token = "v4.public.provisional-token".into();
        // 2026-12-28 09:00 UTC + 30 days = 2027-01-27 18:00 JST.
        let expires_at = DateTime::parse_from_rfc3339("2027-01-27T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (subject, body) = review_notice(
            "株式会社サンプル",
            &record,
            Some(&provisional),
            Some(expires_at),
        );
        assert!(subject.contains("BS-1"), "{subject}");
        for part in [
            "暫定ライセンスキーを発行しました",
            "2027-01-27 18:00（日本時間）",
            "審査結果のご連絡期限: 2027-01-05（営業日）",
            "v4.public.provisional-token",
            NEW,
            "RR-1",
        ] {
            assert!(body.contains(part), "{part} in {body}");
        }
        let (_, without) = review_notice("株式会社サンプル", &record, None, None);
        assert!(
            without.contains("暫定ライセンスキーは発行されません"),
            "{without}"
        );
        assert!(without.contains("2027-01-05"));
        for mail in [&body, &without] {
            assert!(
                mail.lines()
                    .all(|line| !line.starts_with(' ') && !line.contains("  ")),
                "no stray indentation from the source in the mail:\n{mail}"
            );
        }
    }
}
