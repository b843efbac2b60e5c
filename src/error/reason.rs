//! The stable reason codes the service answers with (the `reason` of a
//! `google.rpc.ErrorInfo`), in one place. Clients match on these strings,
//! so a code once published never changes its spelling.

use std::fmt;

/// A stable UPPER_SNAKE reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    // The calendar.
    /// `OVERRIDE_EXISTS`.
    OverrideExists,
    /// `OVERRIDE_NOT_FOUND`.
    OverrideNotFound,
    /// `CLOSURE_NOT_FOUND`.
    ClosureNotFound,
    /// `DATE_OUT_OF_RANGE`.
    DateOutOfRange,
    // Access tokens.
    /// `TOKEN_MISSING`.
    TokenMissing,
    /// `TOKEN_INVALID`.
    TokenInvalid,
    /// `TOKEN_EXPIRED`.
    TokenExpired,
    /// `TOKEN_NAME_TAKEN`.
    TokenNameTaken,
    /// `TOKEN_NOT_FOUND`.
    TokenNotFound,
    /// `TOKEN_ALREADY_REVOKED`.
    TokenAlreadyRevoked,
    /// `STAFF_ONLY`.
    StaffOnly,
    // Contracts and orders.
    /// `CONTRACT_EXISTS`.
    ContractExists,
    /// `CONTRACT_NOT_FOUND`.
    ContractNotFound,
    /// `LICENSE_UNDER_CONTRACT`.
    LicenseUnderContract,
    /// `LICENSE_NOT_FOUND`.
    LicenseNotFound,
    /// `RECONTINUATION_REQUIRED`.
    RecontinuationRequired,
    /// `RENEWAL_STILL_ALLOWED`.
    RenewalStillAllowed,
    /// `FIRST_YEAR_REQUIRED`.
    FirstYearRequired,
    /// `FIRST_YEAR_EXISTS`.
    FirstYearExists,
    /// `OVERLAPPING_PERIOD`.
    OverlappingPeriod,
    // Inquiries.
    /// `NEO_SUPPORT_REQUIRED`.
    NeoSupportRequired,
    /// `SUPPORT_EXPIRED`.
    SupportExpired,
    /// `CUSTOMIZATION_NOT_COVERED`.
    CustomizationNotCovered,
    /// `REPLY_TO_NOT_ALLOWED`.
    ReplyToNotAllowed,
    /// `INQUIRY_NOT_FOUND`.
    InquiryNotFound,
    /// `ALREADY_ANSWERED`.
    AlreadyAnswered,
    /// `ALREADY_CLOSED`.
    AlreadyClosed,
    /// `INVALID_DATE`: a date that is not `YYYY-MM-DD` (or `MM-DD`).
    InvalidDate,
    /// `RANGE_REVERSED`: an end before its start.
    RangeReversed,
    /// `RATE_LIMITED`.
    RateLimited,
    // License keys.
    /// `FIRST_KEY_EXISTS`.
    FirstKeyExists,
    /// `NO_FIRST_KEY`.
    NoFirstKey,
    /// `KEY_NOT_FOUND`.
    KeyNotFound,
    /// `KEY_ALREADY_REVOKED`.
    KeyAlreadyRevoked,
    /// `KEY_SUPERSEDED`.
    KeySuperseded,
    /// `KEY_REVOKED`.
    KeyRevoked,
    /// `KEY_NOT_ON_RECORD`.
    KeyNotOnRecord,
    /// `KEY_EXPIRED`.
    KeyExpired,
    /// `FINGERPRINT_MISMATCH`.
    FingerprintMismatch,
    /// `OTHER_CONTRACT`: a customer asked about another contract's key.
    OtherContract,
    // Reissues.
    /// `REQUEST_ID_REUSED`.
    RequestIdReused,
    /// `REISSUE_PENDING`.
    ReissuePending,
    /// `REISSUE_NOT_PENDING`.
    ReissueNotPending,
    /// `REISSUE_NOT_FOUND`.
    ReissueNotFound,
    // The outbox, backups and the database.
    /// `OUTBOX_MESSAGE_NOT_FOUND`.
    OutboxMessageNotFound,
    /// `ALREADY_SENT`.
    AlreadySent,
    /// `BACKUP_NOT_SUPPORTED`.
    BackupNotSupported,
    /// `DATABASE_UNAVAILABLE`.
    DatabaseUnavailable,
    // Any request.
    /// `INVALID_ARGUMENT`: a malformed field (the field is named in a
    /// `BadRequest` detail).
    InvalidArgument,
    /// `INTERNAL`: a bug or an unexpected failure, logged, never detailed.
    Internal,
}

impl Reason {
    /// The code as sent.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn every_code_is_upper_snake_and_spelled_once() {
        let mut seen = std::collections::HashSet::new();
        for reason in <Reason as strum::VariantArray>::VARIANTS {
            let code = reason.as_str();
            assert!(
                code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{code}"
            );
            assert!(seen.insert(code), "{code} twice");
        }
    }
}
