//! Renewal reminders: the hourly check queues each due reminder's mail in
//! the outbox, with its record and an event `renewal.reminded`, in one
//! write transaction. The record's unique key (contract, period end,
//! threshold) makes each reminder once, across restarts and replicas; the
//! domain ([`crate::domain::reminders`]) decides which one is due.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use crate::domain::calendar::Calendar;
use crate::domain::reminders::{candidate_ends, due_reminder, reminder_mail};
use crate::error::Result;
use crate::store::backend::{Backend, Column, SqlStore};
use crate::store::db_error;
use crate::store::events::{Audit, Change};

/// A reminder on record, with its mail's state.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReminderRecord {
    /// Store-assigned id.
    pub id: i64,
    /// The contract.
    pub contract_id: String,
    /// The end of the period it is about.
    pub period_end: NaiveDate,
    /// `60d`, `30d`, `7d`, `ended`, `last-call`.
    pub threshold: String,
    /// The business day it was due.
    pub due_on: NaiveDate,
    /// Its mail in the outbox.
    pub outbox_id: i64,
    /// The mail's status: `pending`, `sent`, `failed`.
    pub mail_status: String,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

/// A contract whose latest live period ends in the window the check reads.
#[derive(Debug, sqlx::FromRow)]
struct Candidate {
    id: String,
    contact_email: String,
    license_id: String,
    seats: i64,
    end_on: NaiveDate,
}

/// The check's read: the latest live period of each contract that ends
/// in `[$1, $2]`, through the partial index `contract_orders_live_by_end`.
pub const CANDIDATES_SQL: &str = "SELECT c.id, c.contact_email, c.license_id, c.seats, o.end_on \
     FROM contract_orders o JOIN contracts c ON c.id = o.contract_id \
     WHERE o.end_on >= $1 AND o.end_on <= $2 \
     AND o.superseded_by IS NULL AND o.kind <> 'add-seats' AND o.end_on IS NOT NULL \
     AND NOT EXISTS (SELECT 1 FROM contract_orders n WHERE n.contract_id = o.contract_id \
     AND n.superseded_by IS NULL AND n.kind <> 'add-seats' AND n.end_on IS NOT NULL \
     AND n.end_on > o.end_on) \
     ORDER BY o.end_on, c.id";

impl<DB> SqlStore<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    String: Column<DB>,
    i64: Column<DB>,
    bool: Column<DB>,
    NaiveDate: Column<DB>,
    DateTime<Utc>: Column<DB>,
    Option<String>: Column<DB>,
    Option<i64>: Column<DB>,
    Option<NaiveDate>: Column<DB>,
    Option<DateTime<Utc>>: Column<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
{
    /// Queues the reminders due on `today`; returns how many it queued.
    pub(crate) async fn queue_renewal_reminders(
        &self,
        calendar: &Calendar,
        days_before: &[u32],
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let (earliest, latest) = candidate_ends(today, days_before);
        let candidates: Vec<Candidate> = sqlx::query_as(CANDIDATES_SQL)
            .bind(earliest)
            .bind(latest)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        if candidates.is_empty() {
            return Ok(0);
        }
        let sent: Vec<(String, NaiveDate, String)> = sqlx::query_as(
            "SELECT contract_id, period_end, threshold FROM renewal_reminders \
             WHERE period_end >= $1",
        )
        .bind(earliest)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let sent: HashSet<(String, NaiveDate, String)> = sent.into_iter().collect();
        let mut queued = 0;
        for candidate in candidates {
            let due = match due_reminder(calendar, candidate.end_on, today, days_before) {
                Ok(Some(due)) => due,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(contract_id = %candidate.id, %error, "no reminder: the calendar does not reach the date");
                    continue;
                }
            };
            let key = (
                candidate.id.clone(),
                candidate.end_on,
                due.threshold.as_str(),
            );
            if sent.contains(&key) {
                continue;
            }
            if self.queue_one(&candidate, &due, now).await? {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Queues one reminder in its own transaction; `false` when another
    /// server queued it first or the contract was renewed meanwhile.
    async fn queue_one(
        &self,
        candidate: &Candidate,
        due: &crate::domain::reminders::DueReminder,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let lock = format!("SELECT id FROM contracts WHERE id = $1{}", DB::LOCK_ROW);
        sqlx::query_scalar::<_, String>(&lock)
            .bind(&candidate.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        // Renewed since the read: no reminder for the old period.
        let latest: Option<NaiveDate> = sqlx::query_scalar(
            "SELECT MAX(end_on) FROM contract_orders WHERE contract_id = $1 \
             AND superseded_by IS NULL AND kind <> 'add-seats' AND end_on IS NOT NULL",
        )
        .bind(&candidate.id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        if latest != Some(candidate.end_on) {
            return Ok(false);
        }
        let threshold = due.threshold.as_str();
        let (subject, body) = reminder_mail(
            due,
            &candidate.id,
            &candidate.license_id,
            candidate.end_on,
            candidate.seats,
        );
        let outbox_id: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (kind, recipient, subject, body, due_on, created_at, \
             next_attempt_at) VALUES ('renewal_reminder', $1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(&candidate.contact_email)
        .bind(subject)
        .bind(body)
        .bind(due.due_on.max(crate::domain::dates::jst_date(now)))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let reminder_id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO renewal_reminders (contract_id, period_end, threshold, due_on, \
             outbox_id, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (contract_id, period_end, threshold) DO NOTHING RETURNING id",
        )
        .bind(&candidate.id)
        .bind(candidate.end_on)
        .bind(&threshold)
        .bind(due.due_on)
        .bind(outbox_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(reminder_id) = reminder_id else {
            // Another server queued it: the mail above is rolled back.
            return Ok(false);
        };
        let change = Change {
            kind: "renewal.reminded",
            contract_id: Some(&candidate.id),
            license_id: Some(&candidate.license_id),
            subject: reminder_id.to_string(),
            detail: format!(
                "{threshold} reminder for the period ending {}, mail {outbox_id}",
                candidate.end_on
            ),
        };
        Self::record_event(&mut tx, &Audit::daemon(), change, now).await?;
        tx.commit().await.map_err(db_error)?;
        tracing::info!(contract_id = %candidate.id, %threshold, outbox_id, "renewal reminder queued");
        Ok(true)
    }

    /// The reminders queued for a contract, oldest first, with their
    /// mails' status.
    pub(crate) async fn list_renewal_reminders(
        &self,
        contract_id: &str,
    ) -> Result<Vec<ReminderRecord>> {
        sqlx::query_as(
            "SELECT r.id, r.contract_id, r.period_end, r.threshold, r.due_on, r.outbox_id, \
             m.status AS mail_status, r.created_at \
             FROM renewal_reminders r JOIN outbox m ON m.id = r.outbox_id \
             WHERE r.contract_id = $1 ORDER BY r.id",
        )
        .bind(contract_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)
    }
}
