//! The stable reason codes the service answers with (the `reason` of a
//! `google.rpc.ErrorInfo`), in one place. Clients match on these strings,
//! so a code once published never changes its spelling.

use std::fmt;

/// A stable UPPER_SNAKE reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// Every reason, for tests and documentation.
    pub const ALL: &[Reason] = &[
        Self::OverrideExists,
        Self::OverrideNotFound,
        Self::ClosureNotFound,
        Self::DateOutOfRange,
        Self::TokenMissing,
        Self::TokenInvalid,
        Self::TokenExpired,
        Self::TokenNameTaken,
        Self::TokenNotFound,
        Self::TokenAlreadyRevoked,
        Self::StaffOnly,
        Self::ContractExists,
        Self::ContractNotFound,
        Self::LicenseUnderContract,
        Self::LicenseNotFound,
        Self::RecontinuationRequired,
        Self::RenewalStillAllowed,
        Self::FirstYearRequired,
        Self::FirstYearExists,
        Self::OverlappingPeriod,
        Self::NeoSupportRequired,
        Self::SupportExpired,
        Self::CustomizationNotCovered,
        Self::ReplyToNotAllowed,
        Self::InquiryNotFound,
        Self::AlreadyAnswered,
        Self::AlreadyClosed,
        Self::InvalidDate,
        Self::RangeReversed,
        Self::RateLimited,
        Self::FirstKeyExists,
        Self::NoFirstKey,
        Self::KeyNotFound,
        Self::KeyAlreadyRevoked,
        Self::KeySuperseded,
        Self::KeyRevoked,
        Self::KeyNotOnRecord,
        Self::FingerprintMismatch,
        Self::OtherContract,
        Self::RequestIdReused,
        Self::ReissuePending,
        Self::ReissueNotPending,
        Self::ReissueNotFound,
        Self::OutboxMessageNotFound,
        Self::AlreadySent,
        Self::BackupNotSupported,
        Self::DatabaseUnavailable,
        Self::InvalidArgument,
        Self::Internal,
    ];

    /// The code as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OverrideExists => "OVERRIDE_EXISTS",
            Self::OverrideNotFound => "OVERRIDE_NOT_FOUND",
            Self::ClosureNotFound => "CLOSURE_NOT_FOUND",
            Self::DateOutOfRange => "DATE_OUT_OF_RANGE",
            Self::TokenMissing => "TOKEN_MISSING",
            Self::TokenInvalid => "TOKEN_INVALID",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::TokenNameTaken => "TOKEN_NAME_TAKEN",
            Self::TokenNotFound => "TOKEN_NOT_FOUND",
            Self::TokenAlreadyRevoked => "TOKEN_ALREADY_REVOKED",
            Self::StaffOnly => "STAFF_ONLY",
            Self::ContractExists => "CONTRACT_EXISTS",
            Self::ContractNotFound => "CONTRACT_NOT_FOUND",
            Self::LicenseUnderContract => "LICENSE_UNDER_CONTRACT",
            Self::LicenseNotFound => "LICENSE_NOT_FOUND",
            Self::RecontinuationRequired => "RECONTINUATION_REQUIRED",
            Self::RenewalStillAllowed => "RENEWAL_STILL_ALLOWED",
            Self::FirstYearRequired => "FIRST_YEAR_REQUIRED",
            Self::FirstYearExists => "FIRST_YEAR_EXISTS",
            Self::OverlappingPeriod => "OVERLAPPING_PERIOD",
            Self::NeoSupportRequired => "NEO_SUPPORT_REQUIRED",
            Self::SupportExpired => "SUPPORT_EXPIRED",
            Self::CustomizationNotCovered => "CUSTOMIZATION_NOT_COVERED",
            Self::ReplyToNotAllowed => "REPLY_TO_NOT_ALLOWED",
            Self::InquiryNotFound => "INQUIRY_NOT_FOUND",
            Self::AlreadyAnswered => "ALREADY_ANSWERED",
            Self::AlreadyClosed => "ALREADY_CLOSED",
            Self::InvalidDate => "INVALID_DATE",
            Self::RangeReversed => "RANGE_REVERSED",
            Self::RateLimited => "RATE_LIMITED",
            Self::FirstKeyExists => "FIRST_KEY_EXISTS",
            Self::NoFirstKey => "NO_FIRST_KEY",
            Self::KeyNotFound => "KEY_NOT_FOUND",
            Self::KeyAlreadyRevoked => "KEY_ALREADY_REVOKED",
            Self::KeySuperseded => "KEY_SUPERSEDED",
            Self::KeyRevoked => "KEY_REVOKED",
            Self::KeyNotOnRecord => "KEY_NOT_ON_RECORD",
            Self::FingerprintMismatch => "FINGERPRINT_MISMATCH",
            Self::OtherContract => "OTHER_CONTRACT",
            Self::RequestIdReused => "REQUEST_ID_REUSED",
            Self::ReissuePending => "REISSUE_PENDING",
            Self::ReissueNotPending => "REISSUE_NOT_PENDING",
            Self::ReissueNotFound => "REISSUE_NOT_FOUND",
            Self::OutboxMessageNotFound => "OUTBOX_MESSAGE_NOT_FOUND",
            Self::AlreadySent => "ALREADY_SENT",
            Self::BackupNotSupported => "BACKUP_NOT_SUPPORTED",
            Self::DatabaseUnavailable => "DATABASE_UNAVAILABLE",
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Reason> for &'static str {
    fn from(reason: Reason) -> Self {
        reason.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn every_code_is_upper_snake_and_spelled_once() {
        let mut seen = std::collections::HashSet::new();
        for reason in Reason::ALL {
            let code = reason.as_str();
            assert!(
                code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{code}"
            );
            assert!(seen.insert(code), "{code} twice");
        }
    }
}
