//! Inquiries: submitted under a daily limit per contract, listed in order
//! of when handling starts, answered (again if need be) or closed without
//! a reply; each acknowledgement and answer
//! is queued as an e-mail in the same transaction.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Transaction, Type};

use crate::domain::dates::jst_date;
use crate::domain::inquiry::{
    Category, Inquiry, InquiryStatus, NewInquiry, Product, acknowledgement, answer_mail,
    check_daily_limit, jst_day,
};
use crate::error::{Error, Reason, Result};
use crate::store::backend::{Backend, Column, Conditions, SqlStore};
use crate::store::contracts::contract_not_found;
use crate::store::db_error;
use crate::store::events::{Audit, Change};

/// The columns of an inquiry row.
pub const INQUIRY_COLUMNS: &str = "id, contract_id, product, category, subject, body, reply_to, \
                                   status, received_at, handling_starts_at, answered_at, \
                                   submitted_by, closed_at, close_reason";

/// Which inquiries to list, one page, in order of `handling_starts_at`.
#[derive(Debug, Clone, Default)]
pub struct InquiryQuery {
    /// Only this contract's.
    pub contract_id: Option<String>,
    /// Only this status.
    pub status: Option<InquiryStatus>,
    /// Start after this `(handling_starts_at, id)` (keyset paging).
    pub after: Option<(DateTime<Utc>, i64)>,
    /// Most rows.
    pub limit: i64,
}

#[derive(sqlx::FromRow)]
struct InquiryRow {
    id: i64,
    contract_id: String,
    product: String,
    category: String,
    subject: String,
    body: String,
    reply_to: String,
    status: String,
    received_at: DateTime<Utc>,
    handling_starts_at: DateTime<Utc>,
    answered_at: Option<DateTime<Utc>>,
    submitted_by: String,
    closed_at: Option<DateTime<Utc>>,
    close_reason: Option<String>,
}

impl TryFrom<InquiryRow> for Inquiry {
    type Error = Error;

    fn try_from(row: InquiryRow) -> Result<Self> {
        let corrupt = || Error::internal("stored inquiry is corrupt");
        Ok(Inquiry {
            id: row.id,
            contract_id: row.contract_id,
            product: Product::parse(&row.product).ok_or_else(corrupt)?,
            category: Category::parse(&row.category).ok_or_else(corrupt)?,
            subject: row.subject,
            body: row.body,
            reply_to: row.reply_to,
            status: InquiryStatus::parse(&row.status).ok_or_else(corrupt)?,
            received_at: row.received_at,
            handling_starts_at: row.handling_starts_at,
            answered_at: row.answered_at,
            submitted_by: row.submitted_by,
            closed_at: row.closed_at,
            close_reason: row.close_reason,
        })
    }
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
    /// Queues an e-mail about an inquiry to its reply-to address, due on
    /// the JST date of `now`.
    async fn queue_inquiry_mail(
        tx: &mut Transaction<'static, DB>,
        inquiry: &Inquiry,
        kind: &str,
        (subject, body): (String, String),
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO outbox \
             (kind, recipient, subject, body, due_on, inquiry_id, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(kind)
        .bind(&inquiry.reply_to)
        .bind(subject)
        .bind(body)
        .bind(jst_date(now))
        .bind(inquiry.id)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    pub(crate) async fn create_inquiry(
        &self,
        inquiry: &NewInquiry,
        received_at: DateTime<Utc>,
        handling_starts_at: DateTime<Utc>,
        submitted_by: &str,
        per_day: i64,
        audit: &Audit,
    ) -> Result<Inquiry> {
        let mut tx = self.begin_write().await?;
        // The day's count, under the write lock (SQLite) or the contract
        // row's lock (PostgreSQL): concurrent submissions of one contract
        // are counted one after the other.
        let lock = format!("SELECT id FROM contracts WHERE id = $1{}", DB::LOCK_ROW);
        sqlx::query_scalar::<_, String>(&lock)
            .bind(&inquiry.contract_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
            .ok_or_else(|| contract_not_found(&inquiry.contract_id))?;
        let (day_start, day_end) = jst_day(received_at);
        let received_today: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM inquiries \
             WHERE contract_id = $1 AND received_at >= $2 AND received_at < $3",
        )
        .bind(&inquiry.contract_id)
        .bind(day_start)
        .bind(day_end)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        check_daily_limit(&inquiry.contract_id, received_today, per_day, received_at).map_err(
            |reached| Error::RateLimited {
                message: reached.to_string(),
                retry_after: Some(reached.retry_after),
            },
        )?;
        let sql = format!(
            "INSERT INTO inquiries (contract_id, product, category, subject, body, reply_to, \
             status, received_at, handling_starts_at, submitted_by) \
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9) RETURNING {INQUIRY_COLUMNS}"
        );
        let row: InquiryRow = sqlx::query_as(&sql)
            .bind(&inquiry.contract_id)
            .bind(inquiry.product.as_str())
            .bind(inquiry.category.as_str())
            .bind(&inquiry.subject)
            .bind(&inquiry.body)
            .bind(inquiry.reply_to.as_str())
            .bind(received_at)
            .bind(handling_starts_at)
            .bind(submitted_by)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        let stored = Inquiry::try_from(row)?;
        // The acknowledgement goes out in the same transaction.
        let mail = acknowledgement(&stored);
        Self::queue_inquiry_mail(&mut tx, &stored, "inquiry_ack", mail, received_at).await?;
        let change = Change {
            kind: "inquiry.submitted",
            contract_id: Some(&stored.contract_id),
            license_id: None,
            subject: stored.id.to_string(),
            detail: format!("{} {}", stored.product.as_str(), stored.category.as_str()),
        };
        Self::record_event(&mut tx, audit, change, received_at).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(stored)
    }

    pub(crate) async fn get_inquiry(&self, id: i64) -> Result<Option<Inquiry>> {
        let sql = format!("SELECT {INQUIRY_COLUMNS} FROM inquiries WHERE id = $1");
        let row: Option<InquiryRow> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(TryInto::try_into).transpose()
    }

    pub(crate) async fn list_inquiries(&self, query: &InquiryQuery) -> Result<Vec<Inquiry>> {
        let rows: Vec<InquiryRow> = DB::fetch_all(&self.pool, |sql| {
            sql.push(format!("SELECT {INQUIRY_COLUMNS} FROM inquiries"));
            let mut conditions = Conditions::default();
            if let Some(contract_id) = &query.contract_id {
                let sql = conditions.and(sql).push("contract_id = ");
                sql.push_bind(contract_id.clone());
            }
            if let Some(status) = query.status {
                conditions
                    .and(sql)
                    .push("status = ")
                    .push_bind(status.as_str());
            }
            if let Some((at, id)) = query.after {
                let sql = conditions.and(sql);
                sql.push("(handling_starts_at > ").push_bind(at);
                sql.push(" OR (handling_starts_at = ").push_bind(at);
                sql.push(" AND id > ").push_bind(id).push("))");
            }
            sql.push(" ORDER BY handling_starts_at, id LIMIT ")
                .push_bind(query.limit);
        })
        .await
        .map_err(db_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    pub(crate) async fn answer_inquiry(
        &self,
        id: i64,
        answer: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Option<Inquiry>> {
        // Any inquiry may be answered, again and again: each answer is
        // mailed. `answered_at` keeps the first answer's instant.
        let sql = format!(
            "UPDATE inquiries SET status = 'answered', \
             answered_at = COALESCE(answered_at, $1) \
             WHERE id = $2 RETURNING {INQUIRY_COLUMNS}"
        );
        let mut tx = self.begin_write().await?;
        let row: Option<InquiryRow> = sqlx::query_as(&sql)
            .bind(now)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let answered = Inquiry::try_from(row)?;
        let mail = answer_mail(&answered, answer);
        Self::queue_inquiry_mail(&mut tx, &answered, "inquiry_answer", mail, now).await?;
        let change = Change {
            kind: "inquiry.answered",
            contract_id: Some(&answered.contract_id),
            license_id: None,
            subject: answered.id.to_string(),
            detail: "answer sent by e-mail".to_owned(),
        };
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(answered))
    }

    pub(crate) async fn close_inquiry(
        &self,
        id: i64,
        reason: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Option<Inquiry>> {
        let sql = format!(
            "UPDATE inquiries SET status = 'closed', closed_at = $1, close_reason = $2 \
             WHERE id = $3 AND status <> 'closed' RETURNING {INQUIRY_COLUMNS}"
        );
        let mut tx = self.begin_write().await?;
        let row: Option<InquiryRow> = sqlx::query_as(&sql)
            .bind(now)
            .bind(reason)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some(row) = row else {
            return match self.get_inquiry(id).await? {
                Some(_) => Err(Error::FailedPrecondition {
                    reason: Reason::AlreadyClosed.as_str(),
                    message: format!("inquiry {id} is already closed"),
                }),
                None => Ok(None),
            };
        };
        let closed = Inquiry::try_from(row)?;
        let change = Change {
            kind: "inquiry.closed",
            contract_id: Some(&closed.contract_id),
            license_id: None,
            subject: closed.id.to_string(),
            detail: format!("closed without a reply: {reason}"),
        };
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(closed))
    }
}
