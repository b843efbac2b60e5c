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
