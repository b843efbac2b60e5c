//! Pure business rules: no tonic, no sqlx, no clock reads. Everything here
//! takes the instant or date it works on as a parameter.

pub mod calendar;
pub mod contract;
pub mod dates;
pub mod feed;
pub mod holidays;
pub mod inquiry;
pub mod license;
pub mod reminders;
pub mod reply_to;
pub mod token;

/// Every kind of audit event, with what it records: `events list --kind`
/// accepts these only, and `events kinds` lists them.
pub const EVENT_KINDS: &[(&str, &str)] = &[
    ("closure.created", "a company closure was added"),
    ("closure.deleted", "a company closure was removed"),
    ("contract.created", "a contract was created"),
    (
        "contract.mail_domains_updated",
        "a contract's reply-to mail domains changed",
    ),
    (
        "inquiry.answered",
        "an inquiry was answered; the answer was queued as an e-mail",
    ),
    (
        "inquiry.closed",
        "an inquiry was closed without a reply, with the reason",
    ),
    ("inquiry.submitted", "an inquiry was received"),
    ("key.issued", "a license got its first key"),
    ("key.reissued", "a reissue signed a new key at once"),
    ("key.revoked", "staff revoked a license key"),
    ("order.recorded", "an order (period or seats) was recorded"),
    ("outbox.retried", "a failed e-mail was put back in line"),
    ("override.created", "a national-holiday override was added"),
    (
        "override.deleted",
        "a national-holiday override was removed",
    ),
    (
        "reissue.approved",
        "staff approved a reissue; its key was signed",
    ),
    (
        "reissue.pending_review",
        "a reissue request waits for staff review",
    ),
    ("reissue.rejected", "staff rejected a reissue"),
    (
        "renewal.reminded",
        "a renewal reminder was queued as an e-mail to the contract's contact",
    ),
    (
        "reissue.unchanged",
        "a reissue to the key's own fingerprint returned the current key",
    ),
    ("token.created", "an access token was created"),
    ("token.revoked", "an access token was revoked"),
];

/// The work waiting for staff and for the mail server: the store counts
/// it, the metrics gauges show it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Reissues waiting for review.
    pub pending_reviews: i64,
    /// Of those, past their deadline.
    pub overdue_reviews: i64,
    /// Outbox messages not sent (pending or failed).
    pub outbox_unsent: i64,
    /// Of those, past their due date.
    pub outbox_overdue: i64,
    /// Age of the oldest unsent message, in seconds (0 when none).
    pub oldest_unsent_seconds: i64,
}
