//! The outbox: e-mails written in the transaction of the change they
//! announce, claimed one at a time by the sender (replicas skip the rows
//! another holds), retried, and counted for the metrics gauges.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use crate::domain::Backlog;
use crate::domain::dates::jst_date;
use crate::error::{Error, Reason, Result};
use crate::store::backend::{Backend, Column, Conditions, SqlStore};
use crate::store::db_error;
use crate::store::events::{Audit, Change};

/// A message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxMessage {
    /// Store-assigned id.
    pub id: i64,
    /// What it is (`license_key`).
    pub kind: String,
    /// The recipient's address.
    pub recipient: String,
    /// Subject (Japanese).
    pub subject: String,
    /// Body (Japanese).
    pub body: String,
    /// The date it is due by.
    pub due_on: NaiveDate,
    /// The key it announces.
    pub license_key_id: Option<String>,
    /// The inquiry it acknowledges or answers.
    pub inquiry_id: Option<i64>,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    /// Sending attempts so far.
    pub attempts: i64,
    /// When it may next be tried.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last sending error.
    pub last_error: Option<String>,
    /// The Message-ID it was sent with.
    pub message_id: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it was sent.
    pub sent_at: Option<DateTime<Utc>>,
}

/// The columns of [`OutboxMessage`].
pub const OUTBOX_COLUMNS: &str = "id, kind, recipient, subject, body, due_on, license_key_id, \
                                  inquiry_id, status, attempts, next_attempt_at, last_error, \
                                  message_id, created_at, sent_at";

/// Which outbox messages to list.
#[derive(Debug, Clone, Default)]
pub struct OutboxQuery {
    /// Only this status (`pending`, `sent`, `failed`).
    pub status: Option<String>,
    /// Only messages still unsent whose due date is before this date.
    pub overdue_on: Option<NaiveDate>,
    /// Start after this id.
    pub after_id: Option<i64>,
    /// Most rows.
    pub limit: i64,
}

/// How one sending attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Sent, with this Message-ID.
    Sent {
        /// The Message-ID header.
        message_id: String,
    },
    /// Failed; try again at `next_attempt_at`.
    Retry {
        /// What went wrong.
        error: String,
        /// When to try again.
        next_attempt_at: DateTime<Utc>,
    },
    /// Failed for good: left for staff.
    Failed {
        /// What went wrong.
        error: String,
    },
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
    pub(crate) async fn list_outbox(&self, query: &OutboxQuery) -> Result<Vec<OutboxMessage>> {
        DB::fetch_all(&self.pool, |sql| {
            sql.push(format!("SELECT {OUTBOX_COLUMNS} FROM outbox"));
            let mut conditions = Conditions::default();
            if let Some(status) = &query.status {
                conditions
                    .and(sql)
                    .push("status = ")
                    .push_bind(status.clone());
            }
            if let Some(on) = query.overdue_on {
                let sql = conditions.and(sql).push("status <> 'sent' AND due_on < ");
                sql.push_bind(on);
            }
            if let Some(after) = query.after_id {
                conditions.and(sql).push("id > ").push_bind(after);
            }
            sql.push(" ORDER BY id LIMIT ").push_bind(query.limit);
        })
        .await
        .map_err(db_error)
    }

    pub(crate) async fn get_outbox(&self, id: i64) -> Result<Option<OutboxMessage>> {
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1");
        sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)
    }

    pub(crate) async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<OutboxMessage>> {
        // One message per claim; on PostgreSQL, replicas skip the rows
        // another replica holds, so no message is sent twice at once.
        let sql = format!(
            "UPDATE outbox SET claimed_until = $1 WHERE id = (\
             SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $2 \
             AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY due_on, id LIMIT 1{}) \
             RETURNING {OUTBOX_COLUMNS}",
            DB::SKIP_LOCKED
        );
        sqlx::query_as(&sql)
            .bind(lease_until)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)
    }

    pub(crate) async fn finish_outbox(
        &self,
        id: i64,
        delivery: &Delivery,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let query = match delivery {
            Delivery::Sent { message_id } => sqlx::query(
                "UPDATE outbox SET status = 'sent', sent_at = $1, message_id = $2, \
                 attempts = attempts + 1, claimed_until = NULL, last_error = NULL WHERE id = $3",
            )
            .bind(now)
            .bind(message_id)
            .bind(id),
            Delivery::Retry {
                error,
                next_attempt_at,
            } => sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $1, \
                 next_attempt_at = $2, claimed_until = NULL WHERE id = $3",
            )
            .bind(error)
            .bind(*next_attempt_at)
            .bind(id),
            Delivery::Failed { error } => sqlx::query(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $1, \
                 claimed_until = NULL WHERE id = $2",
            )
            .bind(error)
            .bind(id),
        };
        query.execute(&self.pool).await.map_err(db_error)?;
        Ok(())
    }

    pub(crate) async fn retry_outbox(
        &self,
        id: i64,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<OutboxMessage> {
        let sql = format!(
            "UPDATE outbox \
             SET status = 'pending', attempts = 0, next_attempt_at = $1, claimed_until = NULL \
             WHERE id = $2 AND status <> 'sent' RETURNING {OUTBOX_COLUMNS}"
        );
        let mut tx = self.begin_write().await?;
        let row: Option<OutboxMessage> = sqlx::query_as(&sql)
            .bind(now)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some(row) = row else {
            return match self.get_outbox(id).await? {
                Some(_) => Err(Error::FailedPrecondition {
                    reason: Reason::AlreadySent.as_str(),
                    message: format!("outbox message {id} was already sent"),
                }),
                None => Err(Error::NotFound {
                    reason: Reason::OutboxMessageNotFound.as_str(),
                    message: format!("there is no outbox message {id}"),
                }),
            };
        };
        let change = Change {
            kind: "outbox.retried",
            contract_id: None,
            license_id: None,
            subject: id.to_string(),
            detail: row.subject.clone(),
        };
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(row)
    }

    pub(crate) async fn gauges(&self, now: DateTime<Utc>) -> Result<Backlog> {
        let today = jst_date(now);
        let row: (i64, i64, i64, i64, Option<DateTime<Utc>>) = sqlx::query_as(
            "SELECT \
             (SELECT COUNT(*) FROM reissue_requests WHERE status = 'pending_review'), \
             (SELECT COUNT(*) FROM reissue_requests \
              WHERE status = 'pending_review' AND delivery_on < $1), \
             (SELECT COUNT(*) FROM outbox WHERE status <> 'sent'), \
             (SELECT COUNT(*) FROM outbox WHERE status <> 'sent' AND due_on < $1), \
             (SELECT MIN(created_at) FROM outbox WHERE status <> 'sent')",
        )
        .bind(today)
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(Backlog {
            pending_reviews: row.0,
            overdue_reviews: row.1,
            outbox_unsent: row.2,
            outbox_overdue: row.3,
            oldest_unsent_seconds: row
                .4
                .map_or(0, |oldest| (now - oldest).num_seconds().max(0)),
        })
    }
}
