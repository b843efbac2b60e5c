//! Reissue requests: decided by `domain::license::decide_reissue` from the
//! facts read under the lock on the license's contract, and written with
//! the key they sign in one call; staff approve or reject the ones that
//! wait for review.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Transaction, Type};

use crate::domain::contract::last_end;
use crate::domain::dates::jst_date;
use crate::domain::license::{
    Fingerprint, KeyRecord, KeyStatus, LicenseClaims, LicenseKeys, Mint, ReissueDecision,
    ReissueFacts, ReissueRecord, ReissueStatus, Withdrawal, decide_reissue, fingerprint_match,
    new_key_id, new_reissue_id, review_gets_provisional_key, review_notice, withdrawn_key_notice,
};
use crate::error::{Error, Reason, Result};
use crate::store::backend::{Backend, Batch, Column, SqlStore};
use crate::store::db_error;
use crate::store::events::{Audit, Change};
use crate::store::keys::{KEY_COLUMNS, KeyRequest, KeyRow, newest_key_sql};

/// The columns of a reissue request row.
pub const REISSUE_COLUMNS: &str = "id, license_id, contract_id, request_id, fingerprint, status, \
                                   received_at, delivery_on, key_id, requested_by, decided_by, \
                                   decided_at, reject_reason, review_reason, changed_components, \
                                   provisional_key_id";

/// One provisional key by id (`$1`), in the columns of a key row.
pub fn find_provisional_key_sql() -> String {
    format!("SELECT {KEY_COLUMNS} FROM provisional_keys WHERE id = $1")
}

/// A reissue as the gRPC layer hands it to the store.
#[derive(Debug, Clone)]
pub struct ReissueInput {
    /// The license.
    pub license_id: String,
    /// The new fingerprint.
    pub fingerprint: Fingerprint,
    /// The client's idempotency id.
    pub request_id: String,
    /// The caller's token name.
    pub requested_by: String,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
    /// Its delivery date (17:00 cutoff).
    pub delivery_on: NaiveDate,
    /// Reissues signed at once per rolling 365 days; more wait for review.
    pub reissues_before_review: i64,
    /// Days a provisional key is valid; 0 gives none.
    pub provisional_key_days: i64,
}

/// Which reissues to list, one page, by delivery date then id.
#[derive(Debug, Clone)]
pub struct ReissueQuery {
    /// Only this status.
    pub status: ReissueStatus,
    /// Start after this `(delivery_on, id)`.
    pub after: Option<(NaiveDate, String)>,
    /// Most rows.
    pub limit: i64,
}

#[derive(sqlx::FromRow)]
struct ReissueRow {
    id: String,
    license_id: String,
    contract_id: String,
    request_id: String,
    fingerprint: String,
    status: String,
    received_at: DateTime<Utc>,
    delivery_on: NaiveDate,
    key_id: Option<String>,
    requested_by: String,
    decided_by: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    reject_reason: Option<String>,
    review_reason: Option<String>,
    changed_components: Option<String>,
    provisional_key_id: Option<String>,
}

impl ReissueRow {
    /// The record, with its key and provisional key when it has them.
    fn into_record(
        self,
        key: Option<KeyRecord>,
        provisional: Option<KeyRecord>,
    ) -> Result<ReissueRecord> {
        Ok(ReissueRecord {
            status: ReissueStatus::parse(&self.status)
                .ok_or_else(|| Error::internal("stored reissue status is corrupt"))?,
            id: self.id,
            license_id: self.license_id,
            contract_id: self.contract_id,
            request_id: self.request_id,
            fingerprint: self.fingerprint,
            received_at: self.received_at,
            delivery_on: self.delivery_on,
            key,
            requested_by: self.requested_by,
            decided_by: self.decided_by,
            decided_at: self.decided_at,
            reject_reason: self.reject_reason,
            review_reason: self.review_reason,
            changed_components: self
                .changed_components
                .map(|c| {
                    c.split(',')
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            provisional,
        })
    }
}

/// A license's active key with what a reissue asks beside it, read in one
/// statement: whether the request id was used before, which request waits
/// for review, and how many keys were reissued since a moment (counted up
/// to a limit).
#[derive(sqlx::FromRow)]
struct ActiveKeyFacts {
    #[sqlx(flatten)]
    key: KeyRow,
    earlier_reissue_id: Option<String>,
    pending_reissue_id: Option<String>,
    recent_reissues: i64,
}

/// The license `$1`'s request with request id `$2`.
pub const EARLIER_REISSUE: &str =
    "SELECT id FROM reissue_requests WHERE license_id = $1 AND request_id = $2";

/// The id of license `$1`'s reissue waiting for review, if any (index
/// reissue_requests_pending_by_license).
pub const PENDING_REISSUE: &str = "SELECT id FROM reissue_requests \
                                   WHERE license_id = $1 AND status = 'pending_review' \
                                   ORDER BY received_at, id LIMIT 1";

/// The facts of a reissue in one statement (`ActiveKeyFacts`): `$1`
/// license, `$2` request id, `$3` since, `$4` counting limit. The reissued
/// keys of the license issued after `$3` are counted up to `$4`, so that a
/// license with many keys costs no more than one with few (the index on
/// (license_id, issued_at) stops the scan).
pub fn active_key_facts_sql() -> String {
    format!(
        "SELECT {KEY_COLUMNS}, \
         ({EARLIER_REISSUE}) AS earlier_reissue_id, \
         ({PENDING_REISSUE}) AS pending_reissue_id, \
         (SELECT COUNT(*) FROM (SELECT 1 FROM license_keys \
          WHERE license_id = $1 AND sequence > 1 AND issued_at > $3 LIMIT $4) AS recent) \
         AS recent_reissues \
         FROM license_keys WHERE license_id = $1 AND status = 'active'"
    )
}

/// The first page of the review queue and the other pages (`$1` status,
/// then the `(delivery_on, id)` cursor and the limit), as separate
/// statements so that each walks the (status, delivery_on, id) index from
/// where the page starts instead of filtering every row of the status.
pub fn list_reissues_sql(after: bool) -> String {
    if after {
        format!(
            "SELECT {REISSUE_COLUMNS} FROM reissue_requests WHERE status = $1 \
             AND (delivery_on, id) > ($2, $3) ORDER BY delivery_on, id LIMIT $4"
        )
    } else {
        format!(
            "SELECT {REISSUE_COLUMNS} FROM reissue_requests WHERE status = $1 \
             ORDER BY delivery_on, id LIMIT $2"
        )
    }
}

/// A reissue that is not (or no longer) waiting for review.
fn not_pending(id: &str, status: ReissueStatus) -> Error {
    Error::FailedPrecondition {
        reason: Reason::ReissueNotPending.as_str(),
        message: format!("reissue {id} is {}, not pending review", status.as_str()),
    }
}

/// A reissue id that does not exist.
pub fn reissue_not_found(id: &str) -> Error {
    Error::NotFound {
        reason: Reason::ReissueNotFound.as_str(),
        message: format!("there is no reissue request {id}"),
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
    /// One reissue request with its key, inside a transaction.
    async fn reissue_in(
        tx: &mut Transaction<'static, DB>,
        id: &str,
    ) -> Result<Option<ReissueRecord>> {
        let sql = format!("SELECT {REISSUE_COLUMNS} FROM reissue_requests WHERE id = $1");
        let row: Option<ReissueRow> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let key = match &row.key_id {
            Some(key_id) => Self::key_in(tx, key_id).await?,
            None => None,
        };
        let provisional = match &row.provisional_key_id {
            Some(id) => {
                let row: Option<KeyRow> = sqlx::query_as(&find_provisional_key_sql())
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db_error)?;
                row.map(KeyRecord::try_from).transpose()?
            }
            None => None,
        };
        row.into_record(key, provisional).map(Some)
    }

    pub(crate) async fn request_reissue(
        &self,
        input: &ReissueInput,
        mint: &dyn Mint,
        audit: &Audit,
    ) -> Result<ReissueRecord> {
        let mut tx = self.begin_write().await?;
        let (contract, orders) = Self::lock_license(&mut tx, &input.license_id).await?;

        // One statement reads the active key, whether the request id was
        // used before, the request waiting for review, and the reissues of
        // the last 365 days.
        let since = input.received_at - Duration::days(365);
        let allowance = input.reissues_before_review.max(0);
        let facts: Option<ActiveKeyFacts> = sqlx::query_as(&active_key_facts_sql())
            .bind(&input.license_id)
            .bind(&input.request_id)
            .bind(since)
            .bind(allowance)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let (earlier_id, pending_id, active) = match facts {
            Some(facts) => (
                facts.earlier_reissue_id,
                facts.pending_reissue_id,
                Some((KeyRecord::try_from(facts.key)?, facts.recent_reissues)),
            ),
            // No active key: staff revoked it, or there is none.
            None => {
                let earlier: Option<String> = sqlx::query_scalar(EARLIER_REISSUE)
                    .bind(&input.license_id)
                    .bind(&input.request_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let pending: Option<String> = sqlx::query_scalar(PENDING_REISSUE)
                    .bind(&input.license_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                (earlier, pending, None)
            }
        };
        let earlier = match &earlier_id {
            Some(id) => Some(
                Self::reissue_in(&mut tx, id)
                    .await?
                    .ok_or_else(|| Error::internal("reissue vanished inside its transaction"))?,
            ),
            None => None,
        };
        // Without an active key, the license's newest key is one staff
        // revoked (a newer key would be active), if it ever had one.
        let newest = match &active {
            Some(_) => None,
            None => {
                let row: Option<KeyRow> = sqlx::query_as(&newest_key_sql())
                    .bind(&input.license_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                row.map(KeyRecord::try_from).transpose()?
            }
        };
        let keys = match (&active, &newest) {
            (Some((key, recent_reissues)), _) => LicenseKeys::Active {
                key,
                recent_reissues: *recent_reissues,
            },
            (None, Some(revoked)) => LicenseKeys::Revoked(revoked),
            (None, None) => LicenseKeys::None,
        };
        // Which components differ from the active key's fingerprint, for
        // staff.
        let changed_components = match &active {
            Some((key, _)) => fingerprint_match(&key.fingerprint, &input.fingerprint)
                .changed_names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        };
        let provisional_allowed = review_gets_provisional_key(&keys);
        let decision = decide_reissue(&ReissueFacts {
            license_id: &input.license_id,
            contract_id: &contract.id,
            orders: &orders,
            received_on: jst_date(input.received_at),
            fingerprint: &input.fingerprint,
            request_id: &input.request_id,
            earlier: earlier.as_ref(),
            pending_reissue_id: pending_id.as_deref(),
            keys,
            reissues_before_review: input.reissues_before_review,
        })?;

        // Every write of the reissue goes out as one call at the end.
        let mut batch = Batch::new();
        let current = active.map(|(key, _)| key);
        let mut provisional = None;
        let (status, key, review_reason) = match decision {
            // The same request id answers the same as the first time.
            ReissueDecision::Repeat => {
                return earlier.ok_or_else(|| Error::internal("a repeat without a request"));
            }
            ReissueDecision::Unchanged => (ReissueStatus::Unchanged, current, None),
            ReissueDecision::Review { reason } => {
                if provisional_allowed && input.provisional_key_days > 0 {
                    provisional = Some(Self::mint_provisional(&contract, &orders, input, mint)?);
                }
                (ReissueStatus::PendingReview, None, Some(reason))
            }
            ReissueDecision::Issue => {
                let request = KeyRequest {
                    contract: &contract,
                    orders: &orders,
                    fingerprint: &input.fingerprint,
                    requested_by: &input.requested_by,
                    now: input.received_at,
                    delivery_on: input.delivery_on,
                    previous: current,
                };
                let key = Self::issue_key_in(&mut tx, request, mint, &mut batch).await?;
                (ReissueStatus::Issued, Some(key), None)
            }
        };
        // The request as it is written, without reading it back.
        let record = ReissueRecord {
            id: new_reissue_id(),
            license_id: input.license_id.clone(),
            contract_id: contract.id.clone(),
            request_id: input.request_id.clone(),
            fingerprint: input.fingerprint.as_str().to_owned(),
            status,
            received_at: input.received_at,
            delivery_on: input.delivery_on,
            key,
            requested_by: input.requested_by.clone(),
            decided_by: None,
            decided_at: None,
            reject_reason: None,
            review_reason,
            changed_components,
            provisional,
        };
        let (kind, detail) = match (&record.status, &record.key) {
            (ReissueStatus::Issued, Some(key)) => (
                "key.reissued",
                format!(
                    "key {} #{} for {} (request {})",
                    key.id, key.sequence, key.fingerprint, record.id
                ),
            ),
            (ReissueStatus::PendingReview, _) => (
                "reissue.pending_review",
                format!(
                    "for {}, deliver by {}: {}{}",
                    record.fingerprint,
                    record.delivery_on,
                    record.review_reason.as_deref().unwrap_or_default(),
                    match &record.provisional {
                        Some(key) => format!("; provisional key {}", key.id),
                        None => String::new(),
                    }
                ),
            ),
            _ => (
                "reissue.unchanged",
                format!("already bound to {}", record.fingerprint),
            ),
        };
        // The request and its audit event join the batch.
        let written = record.clone();
        batch.push(move |sql| {
            sql.push(
                "INSERT INTO reissue_requests (id, license_id, contract_id, request_id, \
                 fingerprint, status, received_at, delivery_on, key_id, requested_by, \
                 review_reason, changed_components, provisional_key_id) VALUES (",
            );
            sql.separated(", ")
                .push_bind(written.id)
                .push_bind(written.license_id)
                .push_bind(written.contract_id)
                .push_bind(written.request_id)
                .push_bind(written.fingerprint)
                .push_bind(written.status.as_str())
                .push_bind(written.received_at)
                .push_bind(written.delivery_on)
                .push_bind(written.key.map(|k| k.id))
                .push_bind(written.requested_by)
                .push_bind(written.review_reason)
                .push_bind(if written.changed_components.is_empty() {
                    None
                } else {
                    Some(written.changed_components.join(","))
                })
                .push_bind(written.provisional.map(|k| k.id));
            sql.push(")");
        });
        if record.status == ReissueStatus::PendingReview {
            Self::batch_review(&mut batch, &contract, &record);
        }
        let change = Change {
            kind,
            contract_id: Some(&record.contract_id),
            license_id: Some(&record.license_id),
            subject: record.id.clone(),
            detail,
        };
        Self::batch_event(&mut batch, audit, change, record.received_at);
        batch.run(&mut tx).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(record)
    }

    pub(crate) async fn approve_reissue(
        &self,
        id: &str,
        decided_by: &str,
        now: DateTime<Utc>,
        mint: &dyn Mint,
        audit: &Audit,
    ) -> Result<ReissueRecord> {
        let license_id: Option<String> =
            sqlx::query_scalar("SELECT license_id FROM reissue_requests WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        let license_id = license_id.ok_or_else(|| reissue_not_found(id))?;
        let mut tx = self.begin_write().await?;
        let (contract, orders) = Self::lock_license(&mut tx, &license_id).await?;
        let request = Self::reissue_in(&mut tx, id)
            .await?
            .ok_or_else(|| reissue_not_found(id))?;
        if request.status != ReissueStatus::PendingReview {
            return Err(not_pending(id, request.status));
        }
        let fingerprint = Fingerprint::parse(&request.fingerprint).map_err(Error::internal)?;
        let current = Self::active_key_in(&mut tx, &license_id).await?;
        let key = match current {
            Some(current) if fingerprint_match(&current.fingerprint, &fingerprint).is_valid() => {
                current
            }
            current => {
                let mut batch = Batch::new();
                let key_request = KeyRequest {
                    contract: &contract,
                    orders: &orders,
                    fingerprint: &fingerprint,
                    requested_by: &request.requested_by,
                    now,
                    delivery_on: request.delivery_on,
                    previous: current,
                };
                let key = Self::issue_key_in(&mut tx, key_request, mint, &mut batch).await?;
                batch.run(&mut tx).await?;
                key
            }
        };
        sqlx::query(
            "UPDATE reissue_requests \
             SET status = 'approved', key_id = $1, decided_by = $2, decided_at = $3 WHERE id = $4",
        )
        .bind(&key.id)
        .bind(decided_by)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        // The permanent key supersedes the provisional one.
        sqlx::query(
            "UPDATE provisional_keys SET status = 'superseded', superseded_by = $1 \
             WHERE reissue_id = $2 AND status = 'provisional'",
        )
        .bind(&key.id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let record = Self::reissue_in(&mut tx, id)
            .await?
            .ok_or_else(|| reissue_not_found(id))?;
        if let Some(provisional) = &record.provisional {
            let notice = withdrawn_key_notice(
                &record.license_id,
                &provisional.id,
                Withdrawal::Superseded { by: &key.id },
            );
            Self::withdraw_review_notice(&mut tx, notice, &provisional.id).await?;
        }
        let change = Change {
            kind: "reissue.approved",
            contract_id: Some(&contract.id),
            license_id: Some(&license_id),
            subject: id.to_owned(),
            detail: format!("key {} for {}", key.id, key.fingerprint),
        };
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(record)
    }

    pub(crate) async fn reject_reissue(
        &self,
        id: &str,
        reason: &str,
        decided_by: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<ReissueRecord> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE reissue_requests \
             SET status = 'rejected', reject_reason = $1, decided_by = $2, decided_at = $3 \
             WHERE id = $4 AND status = 'pending_review'",
        )
        .bind(reason)
        .bind(decided_by)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let record = Self::reissue_in(&mut tx, id)
            .await?
            .ok_or_else(|| reissue_not_found(id))?;
        if DB::rows_affected(&done) == 0 {
            return Err(not_pending(id, record.status));
        }
        // The provisional key is revoked with the rejection's reason.
        sqlx::query(
            "UPDATE provisional_keys SET status = 'revoked', revoked_at = $1, revoke_reason = $2 \
             WHERE reissue_id = $3 AND status = 'provisional'",
        )
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let record = Self::reissue_in(&mut tx, id)
            .await?
            .ok_or_else(|| reissue_not_found(id))?;
        if let Some(provisional) = &record.provisional {
            let notice =
                withdrawn_key_notice(&record.license_id, &provisional.id, Withdrawal::Revoked);
            Self::withdraw_review_notice(&mut tx, notice, &provisional.id).await?;
        }
        let change = Change {
            kind: "reissue.rejected",
            contract_id: Some(&record.contract_id),
            license_id: Some(&record.license_id),
            subject: id.to_owned(),
            detail: reason.to_owned(),
        };
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(record)
    }

    /// Replaces the unsent review notice that carries provisional key
    /// `key_id` (approved: superseded; rejected: revoked) by one that says
    /// so and carries no key (kind `license_key_withdrawn`).
    async fn withdraw_review_notice(
        tx: &mut Transaction<'static, DB>,
        (subject, body): (String, String),
        key_id: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET kind = 'license_key_withdrawn', subject = $1, body = $2 \
             WHERE kind = 'reissue_review' AND status <> 'sent' AND body LIKE $3",
        )
        .bind(subject)
        .bind(body)
        .bind(format!("%{key_id}%"))
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    /// The record of a row, with its keys read from the pool.
    async fn with_key(&self, row: ReissueRow) -> Result<ReissueRecord> {
        let key = match &row.key_id {
            Some(key_id) => self.find_key(key_id).await?,
            None => None,
        };
        let provisional = match &row.provisional_key_id {
            Some(id) => self.find_provisional_key(id).await?,
            None => None,
        };
        row.into_record(key, provisional)
    }

    /// One provisional key by id.
    pub(crate) async fn find_provisional_key(&self, id: &str) -> Result<Option<KeyRecord>> {
        let row: Option<KeyRow> = sqlx::query_as(&find_provisional_key_sql())
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(KeyRecord::try_from).transpose()
    }

    /// Signs a provisional key for a request that waits for review: bound
    /// to the requested fingerprint, `exp` at receipt plus the configured
    /// days, `"provisional": true`, outside the license's sequence.
    fn mint_provisional(
        contract: &crate::domain::contract::Contract,
        orders: &[crate::domain::contract::Order],
        input: &ReissueInput,
        mint: &dyn Mint,
    ) -> Result<KeyRecord> {
        let key_id = new_key_id();
        let expires_at = input.received_at + Duration::days(input.provisional_key_days);
        let claims = LicenseClaims::new(
            &key_id,
            &contract.license_id,
            &contract.id,
            contract.seats,
            &input.fingerprint,
            0,
            None,
            last_end(orders),
            input.received_at,
        )
        .provisional_until(expires_at);
        let (token, signing_key_id) = mint.mint(&claims).map_err(Error::internal)?;
        Ok(KeyRecord {
            id: key_id,
            license_id: contract.license_id.clone(),
            contract_id: contract.id.clone(),
            sequence: 0,
            fingerprint: input.fingerprint.as_str().to_owned(),
            token,
            signing_key_id,
            status: KeyStatus::Provisional,
            supersedes: None,
            superseded_by: None,
            issued_at: input.received_at,
            requested_by: input.requested_by.clone(),
            revoked_at: None,
            revoke_reason: None,
        })
    }

    /// Adds a waiting request's provisional key (after the request, which
    /// it references) and the customer's e-mail to `batch`.
    fn batch_review(
        batch: &mut Batch<DB>,
        contract: &crate::domain::contract::Contract,
        record: &ReissueRecord,
    ) {
        // The expiry as signed: the claims' `exp`.
        let expires_at = record
            .provisional
            .as_ref()
            .and_then(|key| expiry_of(&key.token));
        if let (Some(key), Some(expires_at)) = (record.provisional.clone(), expires_at) {
            let reissue_id = record.id.clone();
            batch.push(move |sql| {
                sql.push(
                    "INSERT INTO provisional_keys (id, reissue_id, license_id, contract_id, \
                     fingerprint, token, signing_key_id, status, issued_at, expires_at, \
                     requested_by) VALUES (",
                );
                sql.separated(", ")
                    .push_bind(key.id)
                    .push_bind(reissue_id)
                    .push_bind(key.license_id)
                    .push_bind(key.contract_id)
                    .push_bind(key.fingerprint)
                    .push_bind(key.token)
                    .push_bind(key.signing_key_id)
                    .push("'provisional'")
                    .push_bind(key.issued_at)
                    .push_bind(expires_at)
                    .push_bind(key.requested_by);
                sql.push(")");
            });
        }
        let (subject, body) = review_notice(
            &contract.customer_name,
            record,
            record.provisional.as_ref(),
            expires_at,
        );
        let (recipient, due_on, now) = (
            contract.contact_email.clone(),
            jst_date(record.received_at),
            record.received_at,
        );
        batch.push(move |sql| {
            sql.push(
                "INSERT INTO outbox (kind, recipient, subject, body, due_on, created_at, \
                 next_attempt_at) VALUES ('reissue_review', ",
            );
            sql.separated(", ")
                .push_bind(recipient)
                .push_bind(subject)
                .push_bind(body)
                .push_bind(due_on)
                .push_bind(now)
                .push_bind(now);
            sql.push(")");
        });
    }

    pub(crate) async fn get_reissue(&self, id: &str) -> Result<Option<ReissueRecord>> {
        let sql = format!("SELECT {REISSUE_COLUMNS} FROM reissue_requests WHERE id = $1");
        let row: Option<ReissueRow> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        match row {
            Some(row) => self.with_key(row).await.map(Some),
            None => Ok(None),
        }
    }

    pub(crate) async fn list_reissues(&self, query: &ReissueQuery) -> Result<Vec<ReissueRecord>> {
        let sql = list_reissues_sql(query.after.is_some());
        let mut statement = sqlx::query_as(&sql).bind(query.status.as_str());
        if let Some((after_on, after_id)) = &query.after {
            statement = statement.bind(*after_on).bind(after_id);
        }
        let rows: Vec<ReissueRow> = statement
            .bind(query.limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            records.push(self.with_key(row).await?);
        }
        Ok(records)
    }
}

/// The `exp` of a key this server signed and keeps on record, read from
/// its payload without verifying it (it never left the server's hands).
pub fn expiry_of(token: &str) -> Option<DateTime<Utc>> {
    use base64::Engine as _;
    let body = token
        .strip_prefix(neo_license::paseto::HEADER)?
        .split('.')
        .next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .ok()?;
    let message = bytes.get(..bytes.len().checked_sub(64)?)?;
    serde_json::from_slice::<LicenseClaims>(message)
        .ok()?
        .expires_at()
}
