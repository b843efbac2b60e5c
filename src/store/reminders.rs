//! Renewal reminders: the hourly check queues each due reminder's mail in
//! the outbox, with its record and an event `renewal.reminded`, in one
//! write transaction. The record's unique key (contract, period end,
//! threshold) makes each reminder once, across restarts and replicas; the
//! domain ([`crate::domain::reminders`]) decides which one is due.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use crate::domain::calendar::Calendar;
use crate::domain::reminders::{Threshold, candidate_ends, due_reminder, reminder_mail};
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

/// An open period in the window the check reads.
#[derive(Debug, sqlx::FromRow)]
struct Candidate {
    contract_id: String,
    end_on: NaiveDate,
}

/// The live, open periods (see migration 0011) among `o`.
const OPEN: &str = "o.reminders_closed = FALSE AND o.superseded_by IS NULL \
                    AND o.kind <> 'add-seats' AND o.end_on IS NOT NULL";

/// The check's read: the open live periods that end in `[$1, $2]`, a
/// range of the partial index `contract_orders_reminders_open` read from
/// the index alone (about one open period per contract, after
/// [`close_sql`]). The contract itself is read only for a reminder that is
/// due, under its lock; a period renewed since the close step is dropped
/// then.
pub fn candidates_sql() -> String {
    format!(
        "SELECT o.contract_id, o.end_on FROM contract_orders o \
         WHERE o.end_on >= $1 AND o.end_on <= $2 AND {OPEN} \
         ORDER BY o.end_on, o.contract_id"
    )
}

/// Closes the open periods that can get no more reminders: those that
/// ended before `$1` (a plain renewal is no longer possible) and those a
/// later live period follows (renewed), among those ending up to `$2`.
pub fn close_sql() -> String {
    format!(
        "UPDATE contract_orders AS o SET reminders_closed = TRUE \
         WHERE o.end_on <= $2 AND {OPEN} \
         AND (o.end_on < $1 OR EXISTS (SELECT 1 FROM contract_orders n \
         WHERE n.contract_id = o.contract_id AND n.superseded_by IS NULL \
         AND n.kind <> 'add-seats' AND n.end_on IS NOT NULL AND n.end_on > o.end_on))"
    )
}

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
        let mut tx = self.begin_write().await?;
        sqlx::query(&close_sql())
            .bind(earliest)
            .bind(latest)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        let candidates: Vec<Candidate> = sqlx::query_as(&candidates_sql())
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
                    tracing::warn!(
                        contract_id = %candidate.contract_id,
                        %error,
                        "no reminder: the calendar does not reach the date"
                    );
                    continue;
                }
            };
            let key = (
                candidate.contract_id.clone(),
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
        let lock = format!(
            "SELECT contact_email, license_id, seats FROM contracts WHERE id = $1{}",
            DB::LOCK_ROW
        );
        let contract: Option<(String, String, i64)> = sqlx::query_as(&lock)
            .bind(&candidate.contract_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some((contact_email, license_id, seats)) = contract else {
            return Ok(false);
        };
        // Renewed since the read: no reminder for the old period.
        let latest: Option<NaiveDate> = sqlx::query_scalar(
            "SELECT MAX(end_on) FROM contract_orders WHERE contract_id = $1 \
             AND superseded_by IS NULL AND kind <> 'add-seats' AND end_on IS NOT NULL",
        )
        .bind(&candidate.contract_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        if latest != Some(candidate.end_on) {
            return Ok(false);
        }
        let threshold = due.threshold.as_str();
        let (subject, body) = reminder_mail(
            due,
            &candidate.contract_id,
            &license_id,
            candidate.end_on,
            seats,
        );
        let outbox_id: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (kind, recipient, subject, body, due_on, created_at, \
             next_attempt_at) VALUES ('renewal_reminder', $1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(&contact_email)
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
        .bind(&candidate.contract_id)
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
        if due.threshold == Threshold::LastCall {
            // The last reminder of the period: nothing more to check.
            sqlx::query(
                "UPDATE contract_orders SET reminders_closed = TRUE WHERE contract_id = $1 \
                 AND end_on = $2 AND superseded_by IS NULL AND kind <> 'add-seats'",
            )
            .bind(&candidate.contract_id)
            .bind(candidate.end_on)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        let change = Change {
            kind: "renewal.reminded",
            contract_id: Some(&candidate.contract_id),
            license_id: Some(&license_id),
            subject: reminder_id.to_string(),
            detail: format!(
                "{threshold} reminder for the period ending {}, mail {outbox_id}",
                candidate.end_on
            ),
        };
        Self::record_event(&mut tx, &Audit::daemon(), change, now).await?;
        tx.commit().await.map_err(db_error)?;
        tracing::info!(
            contract_id = %candidate.contract_id,
            %threshold,
            outbox_id,
            "renewal reminder queued"
        );
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
