//! License keys, reissue requests and the outbox: row types, and the
//! statements both backends share. [`impl_license_helpers`] adds the
//! in-transaction steps to a backend as inherent methods;
//! [`impl_store_with_licenses`] finishes the `Store` implementation.
//!
//! Every step that issues a key runs in one write transaction that first
//! locks the license's contract (SQLite: `BEGIN IMMEDIATE`; PostgreSQL:
//! `FOR UPDATE` on the contract row): check, sign, insert the key,
//! supersede the old one, write the e-mail to the outbox, record the
//! request. A unique index allows one active key per license whatever
//! happens.

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::license::{Fingerprint, KeyRecord, KeyStatus, ReissueStatus};
use crate::error::{Error, Result};

pub(crate) const KEY_COLUMNS: &str = "id, license_id, contract_id, sequence, fingerprint, token, signing_key_id, status, supersedes, superseded_by, issued_at, requested_by, revoked_at, revoke_reason";
pub(crate) const REISSUE_COLUMNS: &str = "id, license_id, contract_id, request_id, fingerprint, status, received_at, delivery_on, key_id, requested_by, decided_by, decided_at, reject_reason, review_reason";

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

pub(crate) const OUTBOX_COLUMNS: &str = "id, kind, recipient, subject, body, due_on, license_key_id, inquiry_id, status, attempts, next_attempt_at, last_error, message_id, created_at, sent_at";

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

/// Figures for the metrics gauges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
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

#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    id: String,
    license_id: String,
    contract_id: String,
    sequence: i64,
    fingerprint: String,
    token: String,
    signing_key_id: String,
    status: String,
    supersedes: Option<String>,
    superseded_by: Option<String>,
    issued_at: DateTime<Utc>,
    requested_by: String,
    revoked_at: Option<DateTime<Utc>>,
    revoke_reason: Option<String>,
}

/// A license's active key with what a reissue asks beside it, read in one
/// statement: whether the request id was used before and how many keys
/// were reissued since a moment (counted up to a limit).
#[derive(sqlx::FromRow)]
pub(crate) struct ActiveKeyFacts {
    #[sqlx(flatten)]
    pub(crate) key: KeyRow,
    pub(crate) earlier_reissue_id: Option<String>,
    pub(crate) pending_reissue_id: Option<String>,
    pub(crate) recent_reissues: i64,
}

/// The id of license `$1`'s reissue waiting for review, if any (index
/// reissue_requests_pending_by_license).
pub(crate) const PENDING_REISSUE: &str = "SELECT id FROM reissue_requests \
     WHERE license_id = $1 AND status = 'pending_review' ORDER BY received_at, id LIMIT 1";

/// A second reissue while one waits for review.
pub(crate) fn reissue_pending(license_id: &str, pending_id: &str) -> Error {
    Error::FailedPrecondition {
        reason: "REISSUE_PENDING",
        message: format!(
            "license {license_id} already has reissue {pending_id} waiting for staff review; \
             one request may wait at a time: wait for staff's decision"
        ),
    }
}

/// Why a reissue after staff revoked the license's key waits for review.
pub(crate) fn revoked_key_review(key: &KeyRecord) -> String {
    let at = key
        .revoked_at
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    let reason = key.revoke_reason.as_deref().unwrap_or("no reason given");
    format!(
        "staff revoked the license's key {} (#{}) at {at}: {reason}",
        key.id, key.sequence
    )
}

/// `$1` license, `$2` request id, `$3` since, `$4` counting limit.
pub(crate) fn active_key_facts_sql() -> String {
    let recent = recent_reissues_sql("$3", "$4");
    format!(
        "SELECT {KEY_COLUMNS}, \
         (SELECT id FROM reissue_requests WHERE license_id = $1 AND request_id = $2) AS earlier_reissue_id, \
         ({PENDING_REISSUE}) AS pending_reissue_id, \
         ({recent}) AS recent_reissues \
         FROM license_keys WHERE license_id = $1 AND status = 'active'"
    )
}

/// Counts the reissued keys of license `$1` issued after `since`, up to
/// `limit`, so that a license with many keys costs no more than one with
/// few (the index on (license_id, issued_at) stops the scan).
pub(crate) fn recent_reissues_sql(since: &str, limit: &str) -> String {
    format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM license_keys \
         WHERE license_id = $1 AND sequence > 1 AND issued_at > {since} LIMIT {limit}) AS recent"
    )
}

impl TryFrom<KeyRow> for KeyRecord {
    type Error = Error;

    fn try_from(row: KeyRow) -> Result<Self> {
        Ok(KeyRecord {
            status: KeyStatus::parse(&row.status)
                .ok_or_else(|| Error::internal("stored key status is corrupt"))?,
            id: row.id,
            license_id: row.license_id,
            contract_id: row.contract_id,
            sequence: row.sequence,
            fingerprint: row.fingerprint,
            token: row.token,
            signing_key_id: row.signing_key_id,
            supersedes: row.supersedes,
            superseded_by: row.superseded_by,
            issued_at: row.issued_at,
            requested_by: row.requested_by,
            revoked_at: row.revoked_at,
            revoke_reason: row.revoke_reason,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReissueRow {
    pub(crate) id: String,
    license_id: String,
    contract_id: String,
    request_id: String,
    pub(crate) fingerprint: String,
    status: String,
    received_at: DateTime<Utc>,
    delivery_on: NaiveDate,
    pub(crate) key_id: Option<String>,
    requested_by: String,
    decided_by: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    reject_reason: Option<String>,
    review_reason: Option<String>,
}

impl ReissueRow {
    /// The record, with its key when it has one.
    pub(crate) fn into_record(
        self,
        key: Option<KeyRecord>,
    ) -> Result<crate::domain::license::ReissueRecord> {
        Ok(crate::domain::license::ReissueRecord {
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
        })
    }
}

/// A reissue that is not (or no longer) waiting for review.
pub(crate) fn not_pending(id: &str, status: &str) -> Error {
    Error::FailedPrecondition {
        reason: "REISSUE_NOT_PENDING",
        message: format!("reissue {id} is {status}, not pending review"),
    }
}

/// A reissue id that does not exist.
pub(crate) fn reissue_not_found(id: &str) -> Error {
    Error::NotFound {
        reason: "REISSUE_NOT_FOUND",
        message: format!("there is no reissue request {id}"),
    }
}

/// A license that does not exist.
pub(crate) fn license_not_found(license_id: &str) -> Error {
    Error::NotFound {
        reason: "LICENSE_NOT_FOUND",
        message: format!("there is no license {license_id} under contract"),
    }
}

/// The in-transaction steps of key issuance, as inherent methods of a
/// backend (`$db` is its sqlx database type).
macro_rules! impl_license_helpers {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Locks the license's contract and reads it with its orders.
            async fn lock_license(
                tx: &mut sqlx::Transaction<'static, $db>,
                license_id: &str,
            ) -> $crate::error::Result<($crate::domain::contract::Contract, Vec<$crate::domain::contract::Order>)> {
                use $crate::store::contracts::*;
                let sql = format!("SELECT {CONTRACT_COLUMNS} FROM contracts WHERE license_id = $1{}", Self::LOCK_ROW);
                let contract: $crate::domain::contract::Contract = sqlx::query_as::<_, ContractRow>(&sql)
                    .bind(license_id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err($crate::store::db_error)?
                    .ok_or_else(|| $crate::store::licenses::license_not_found(license_id))?
                    .into();
                let sql = format!("SELECT {ORDER_COLUMNS} FROM contract_orders WHERE contract_id = $1 ORDER BY id");
                let orders = sqlx::query_as::<_, OrderRow>(&sql)
                    .bind(&contract.id)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err($crate::store::db_error)?
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<$crate::error::Result<Vec<_>>>()?;
                Ok((contract, orders))
            }

            async fn key_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                key_id: &str,
            ) -> $crate::error::Result<Option<$crate::domain::license::KeyRecord>> {
                use $crate::store::licenses::*;
                let sql = format!("SELECT {KEY_COLUMNS} FROM license_keys WHERE id = $1");
                let row: Option<KeyRow> = sqlx::query_as(&sql)
                    .bind(key_id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err($crate::store::db_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn active_key_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                license_id: &str,
            ) -> $crate::error::Result<Option<$crate::domain::license::KeyRecord>> {
                use $crate::store::licenses::*;
                let sql = format!("SELECT {KEY_COLUMNS} FROM license_keys WHERE license_id = $1 AND status = 'active'");
                let row: Option<KeyRow> = sqlx::query_as(&sql)
                    .bind(license_id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err($crate::store::db_error)?;
                row.map(TryInto::try_into).transpose()
            }

            /// Signs and records the license's next key, supersedes the
            /// active one, and puts its e-mail in the outbox.
            #[expect(clippy::too_many_arguments, reason = "each is one input of the key it issues")]
            async fn issue_key_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                contract: &$crate::domain::contract::Contract,
                orders: &[$crate::domain::contract::Order],
                fingerprint: &$crate::domain::license::Fingerprint,
                requested_by: &str,
                now: chrono::DateTime<chrono::Utc>,
                delivery_on: chrono::NaiveDate,
                mint: &dyn $crate::domain::license::Mint,
                previous: Option<$crate::domain::license::KeyRecord>,
                batch: &mut $crate::store::batch::Batch<$db>,
            ) -> $crate::error::Result<$crate::domain::license::KeyRecord> {
                use $crate::domain::license::{key_notice, new_key_id, LicenseClaims};
                // Stored to the microsecond on both databases, so the record
                // built here equals the one read back later.
                let now = chrono::SubsecRound::trunc_subsecs(now, 6);
                // `previous` is the active key the caller read under the
                // lock. Every key is active when issued, so the active key
                // is the newest: its sequence is the highest.
                let sequence = match &previous {
                    Some(previous) => previous.sequence + 1,
                    None => {
                        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(sequence) FROM license_keys WHERE license_id = $1")
                            .bind(&contract.license_id)
                            .fetch_one(&mut **tx)
                            .await
                            .map_err($crate::store::db_error)?;
                        last.unwrap_or(0) + 1
                    }
                };
                let key_id = new_key_id();
                let claims = LicenseClaims::new(
                    &key_id,
                    &contract.license_id,
                    &contract.id,
                    contract.seats,
                    fingerprint,
                    sequence,
                    previous.as_ref().map(|k| k.id.as_str()),
                    $crate::domain::contract::last_end(orders),
                    now,
                );
                let (token, signing_key_id) = mint.mint(&claims).map_err($crate::error::Error::internal)?;
                if let Some(previous) = &previous {
                    let supersede = "UPDATE license_keys SET status = 'superseded', superseded_by = $1 WHERE id = $2";
                    if Self::UPDATES_IN_BATCH {
                        batch.push(supersede).bind(key_id.clone())?.bind(previous.id.clone())?;
                    } else {
                        // Before the new key is written: one active key per
                        // license.
                        sqlx::query(supersede)
                            .bind(&key_id)
                            .bind(&previous.id)
                            .execute(&mut **tx)
                            .await
                            .map_err($crate::store::db_error)?;
                    }
                }
                // The key as it is written, without reading it back.
                let key = $crate::domain::license::KeyRecord {
                    id: key_id,
                    license_id: contract.license_id.clone(),
                    contract_id: contract.id.clone(),
                    sequence,
                    fingerprint: fingerprint.as_str().to_owned(),
                    token,
                    signing_key_id,
                    status: $crate::domain::license::KeyStatus::Active,
                    supersedes: previous.map(|k| k.id),
                    superseded_by: None,
                    issued_at: now,
                    requested_by: requested_by.to_owned(),
                    revoked_at: None,
                    revoke_reason: None,
                };
                let (subject, body) = key_notice(&contract.customer_name, &key, delivery_on);
                // The key and its e-mail, written with the caller's batch.
                batch
                    .push(
                        "INSERT INTO license_keys (id, license_id, contract_id, sequence, fingerprint, token, signing_key_id, status, supersedes, issued_at, requested_by) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10)",
                    )
                    .bind(key.id.clone())?
                    .bind(key.license_id.clone())?
                    .bind(key.contract_id.clone())?
                    .bind(key.sequence)?
                    .bind(key.fingerprint.clone())?
                    .bind(key.token.clone())?
                    .bind(key.signing_key_id.clone())?
                    .bind(key.supersedes.clone())?
                    .bind(now)?
                    .bind(requested_by.to_owned())?;
                batch
                    .push(
                        "INSERT INTO outbox (kind, recipient, subject, body, due_on, license_key_id, created_at, next_attempt_at) \
                         VALUES ('license_key', $1, $2, $3, $4, $5, $6, $6)",
                    )
                    .bind(contract.contact_email.clone())?
                    .bind(subject)?
                    .bind(body)?
                    .bind(delivery_on)?
                    .bind(key.id.clone())?
                    .bind(now)?;
                Ok(key)
            }

            /// Sends a batch's statements as one call.
            async fn run_batch(
                tx: &mut sqlx::Transaction<'static, $db>,
                batch: $crate::store::batch::Batch<$db>,
            ) -> $crate::error::Result<()> {
                if batch.is_empty() {
                    return Ok(());
                }
                let (statements, arguments) = batch.into_parts();
                let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
                let sql = Self::batch_sql(&statements);
                sqlx::query_with(&sql, arguments)
                    .execute(&mut **tx)
                    .await
                    .map_err($crate::store::db_error)?;
                Ok(())
            }

            async fn reissue_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: &str,
            ) -> $crate::error::Result<Option<$crate::domain::license::ReissueRecord>> {
                use $crate::store::licenses::*;
                let sql = format!("SELECT {REISSUE_COLUMNS} FROM reissue_requests WHERE id = $1");
                let Some(row) = sqlx::query_as::<_, ReissueRow>(&sql)
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err($crate::store::db_error)?
                else {
                    return Ok(None);
                };
                let key = match &row.key_id {
                    Some(key_id) => Self::key_in(tx, key_id).await?,
                    None => None,
                };
                row.into_record(key).map(Some)
            }
        }
    };
}

pub(crate) use impl_license_helpers;

/// Implements `Store` for a backend: the given methods plus the license
/// methods.
macro_rules! impl_store_with_licenses {
    ($store:ty, { $($items:item)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
        $($items)*

        async fn contract_by_license(
            &self,
            license_id: &str,
        ) -> $crate::error::Result<Option<$crate::domain::contract::Contract>> {
            use $crate::store::contracts::*;
            let sql = format!("SELECT {CONTRACT_COLUMNS} FROM contracts WHERE license_id = $1");
            let row: Option<ContractRow> = sqlx::query_as(&sql)
                .bind(license_id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::db_error)?;
            Ok(row.map(Into::into))
        }

        async fn issue_first_key(
            &self,
            license_id: &str,
            fingerprint: &$crate::domain::license::Fingerprint,
            requested_by: &str,
            now: chrono::DateTime<chrono::Utc>,
            delivery_on: chrono::NaiveDate,
            mint: &dyn $crate::domain::license::Mint,
        ) -> $crate::error::Result<$crate::domain::license::KeyRecord> {
            let mut tx = self.begin_write().await?;
            let (contract, orders) = Self::lock_license(&mut tx, license_id).await?;
            let any: Option<String> = sqlx::query_scalar("SELECT id FROM license_keys WHERE license_id = $1 LIMIT 1")
                .bind(license_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::store::db_error)?;
            if any.is_some() {
                return Err($crate::error::Error::FailedPrecondition {
                    reason: "FIRST_KEY_EXISTS",
                    message: format!("license {license_id} already has keys; move it to a new server with a reissue"),
                });
            }
            let mut batch = $crate::store::batch::Batch::new();
            let key = Self::issue_key_in(&mut tx, &contract, &orders, fingerprint, requested_by, now, delivery_on, mint, None, &mut batch).await?;
            Self::run_batch(&mut tx, batch).await?;
            $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "key.issued", contract_id: Some(&contract.id), license_id: Some(license_id), subject: key.id.clone(), detail: format!("first key #1 for {}", key.fingerprint) }, now).await?;
            tx.commit().await.map_err($crate::store::db_error)?;
            Ok(key)
        }

        async fn request_reissue(
            &self,
            input: &$crate::store::licenses::ReissueInput,
            mint: &dyn $crate::domain::license::Mint,
        ) -> $crate::error::Result<$crate::domain::license::ReissueRecord> {
            use $crate::domain::contract::{status_on, ContractStatus};
            use $crate::domain::license::{new_reissue_id, ReissueStatus};
            use $crate::store::licenses::*;
            let mut tx = self.begin_write().await?;
            let (contract, orders) = Self::lock_license(&mut tx, &input.license_id).await?;

            // One statement reads the active key, whether the request id
            // was used before, and the reissues of the last 365 days.
            let since = input.received_at - chrono::Duration::days(365);
            let allowance = input.reissues_before_review.max(0);
            let facts: Option<ActiveKeyFacts> = sqlx::query_as(&active_key_facts_sql())
                .bind(&input.license_id)
                .bind(&input.request_id)
                .bind(since)
                .bind(allowance)
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::store::db_error)?;
            let (earlier, pending, current, recent) = match facts {
                Some(facts) => (facts.earlier_reissue_id, facts.pending_reissue_id, Some($crate::domain::license::KeyRecord::try_from(facts.key)?), Some(facts.recent_reissues)),
                // No active key: staff revoked it, or there is none.
                None => {
                    let earlier: Option<String> = sqlx::query_scalar("SELECT id FROM reissue_requests WHERE license_id = $1 AND request_id = $2")
                        .bind(&input.license_id)
                        .bind(&input.request_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err($crate::store::db_error)?;
                    let pending: Option<String> = sqlx::query_scalar(PENDING_REISSUE)
                        .bind(&input.license_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err($crate::store::db_error)?;
                    (earlier, pending, None, None)
                }
            };

            // The same request id answers the same as the first time.
            if let Some(earlier) = earlier {
                let earlier = Self::reissue_in(&mut tx, &earlier)
                    .await?
                    .ok_or_else(|| $crate::error::Error::internal("reissue vanished inside its transaction"))?;
                if earlier.fingerprint != input.fingerprint.as_str() {
                    return Err($crate::error::Error::AlreadyExists {
                        reason: "REQUEST_ID_REUSED",
                        message: format!(
                            "request id {} was already used for another fingerprint; choose a new request id",
                            input.request_id
                        ),
                    });
                }
                return Ok(earlier);
            }

            let received_on = $crate::domain::dates::jst_date(input.received_at);
            if status_on(&orders, received_on) != ContractStatus::Active {
                return Err($crate::error::Error::FailedPrecondition {
                    reason: "SUPPORT_EXPIRED",
                    message: format!(
                        "the support contract {} is not active on {received_on} (JST); a reissue needs an active annual support contract",
                        contract.id
                    ),
                });
            }
            // The lock on the contract row serialises this check with every
            // other reissue of the license: one request waits at a time.
            if let Some(pending) = pending {
                return Err(reissue_pending(&input.license_id, &pending));
            }
            // No active key: the license's newest key is one staff revoked
            // (a newer key would be active), and the request waits for their
            // review whatever the allowance. One that never had a key needs
            // its first key from staff.
            let revoked = if current.is_none() {
                let sql = format!("SELECT {KEY_COLUMNS} FROM license_keys WHERE license_id = $1 ORDER BY sequence DESC LIMIT 1");
                let newest: Option<KeyRow> = sqlx::query_as(&sql)
                    .bind(&input.license_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($crate::store::db_error)?;
                match newest {
                    Some(newest) => Some($crate::domain::license::KeyRecord::try_from(newest)?),
                    None => {
                        return Err($crate::error::Error::FailedPrecondition {
                            reason: "NO_FIRST_KEY",
                            message: format!("license {} has no key yet; staff issue its first key", input.license_id),
                        });
                    }
                }
            } else {
                None
            };
            // Every write of the reissue goes out as one call at the end.
            let mut batch = $crate::store::batch::Batch::new();
            let (status, key, review_reason) = if let Some(current) = current.as_ref().filter(|k| k.fingerprint == input.fingerprint.as_str()) {
                (ReissueStatus::Unchanged, Some(current.clone()), None)
            } else if let Some(revoked) = &revoked {
                (ReissueStatus::PendingReview, None, Some(revoked_key_review(revoked)))
            } else {
                let recent = match recent {
                    Some(recent) => recent,
                    None => sqlx::query_scalar(&recent_reissues_sql("$2", "$3"))
                        .bind(&input.license_id)
                        .bind(since)
                        .bind(allowance)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err($crate::store::db_error)?,
                };
                if recent >= input.reissues_before_review {
                    let why = format!("the allowance of {allowance} reissues signed at once per 365 days is used up");
                    (ReissueStatus::PendingReview, None, Some(why))
                } else {
                    let key = Self::issue_key_in(
                        &mut tx,
                        &contract,
                        &orders,
                        &input.fingerprint,
                        &input.requested_by,
                        input.received_at,
                        input.delivery_on,
                        mint,
                        current,
                        &mut batch,
                    )
                    .await?;
                    (ReissueStatus::Issued, Some(key), None)
                }
            };
            // The request as it is written, without reading it back.
            let record = $crate::domain::license::ReissueRecord {
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
            };
            let (kind, detail) = match (&record.status, &record.key) {
                (ReissueStatus::Issued, Some(key)) => ("key.reissued", format!("key {} #{} for {} (request {})", key.id, key.sequence, key.fingerprint, record.id)),
                (ReissueStatus::PendingReview, _) => ("reissue.pending_review", format!("for {}, deliver by {}: {}", record.fingerprint, record.delivery_on, record.review_reason.as_deref().unwrap_or_default())),
                _ => ("reissue.unchanged", format!("already bound to {}", record.fingerprint)),
            };
            // The request and its audit event join the batch.
            let (actor, call_id) = $crate::telemetry::CallContext::current();
            batch
                .push(
                    "INSERT INTO reissue_requests (id, license_id, contract_id, request_id, fingerprint, status, received_at, delivery_on, key_id, requested_by, review_reason) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(record.id.clone())?
                .bind(record.license_id.clone())?
                .bind(record.contract_id.clone())?
                .bind(record.request_id.clone())?
                .bind(record.fingerprint.clone())?
                .bind(record.status.as_str().to_owned())?
                .bind(record.received_at)?
                .bind(record.delivery_on)?
                .bind(record.key.as_ref().map(|k| k.id.clone()))?
                .bind(record.requested_by.clone())?
                .bind(record.review_reason.clone())?;
            batch
                .push(&$crate::store::events::insert_sql(1))
                .bind(record.received_at)?
                .bind(actor)?
                .bind(call_id)?
                .bind(kind.to_owned())?
                .bind(Some(record.contract_id.clone()))?
                .bind(Some(record.license_id.clone()))?
                .bind(record.id.clone())?
                .bind(detail)?
                .bind($crate::telemetry::CallContext::current_token_id())?;
            Self::run_batch(&mut tx, batch).await?;
            tx.commit().await.map_err($crate::store::db_error)?;
            Ok(record)
        }

        async fn approve_reissue(
            &self,
            id: &str,
            decided_by: &str,
            now: chrono::DateTime<chrono::Utc>,
            mint: &dyn $crate::domain::license::Mint,
        ) -> $crate::error::Result<$crate::domain::license::ReissueRecord> {
            use $crate::domain::license::{Fingerprint, ReissueStatus};
            use $crate::store::licenses::*;
            let license_id: Option<String> = sqlx::query_scalar("SELECT license_id FROM reissue_requests WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::db_error)?;
            let license_id = license_id.ok_or_else(|| reissue_not_found(id))?;
            let mut tx = self.begin_write().await?;
            let (contract, orders) = Self::lock_license(&mut tx, &license_id).await?;
            let request = Self::reissue_in(&mut tx, id).await?.ok_or_else(|| reissue_not_found(id))?;
            if request.status != ReissueStatus::PendingReview {
                return Err(not_pending(id, request.status.as_str()));
            }
            let fingerprint = Fingerprint::parse(&request.fingerprint).map_err($crate::error::Error::internal)?;
            let current = Self::active_key_in(&mut tx, &license_id).await?;
            let key = match current {
                Some(current) if current.fingerprint == request.fingerprint => current,
                current => {
                    let mut batch = $crate::store::batch::Batch::new();
                    let key = Self::issue_key_in(&mut tx, &contract, &orders, &fingerprint, &request.requested_by, now, request.delivery_on, mint, current, &mut batch).await?;
                    Self::run_batch(&mut tx, batch).await?;
                    key
                }
            };
            sqlx::query("UPDATE reissue_requests SET status = 'approved', key_id = $1, decided_by = $2, decided_at = $3 WHERE id = $4")
                .bind(&key.id)
                .bind(decided_by)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err($crate::store::db_error)?;
            let record = Self::reissue_in(&mut tx, id).await?.ok_or_else(|| reissue_not_found(id))?;
            $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "reissue.approved", contract_id: Some(&contract.id), license_id: Some(&license_id), subject: id.to_owned(), detail: format!("key {} for {}", key.id, key.fingerprint) }, now).await?;
            tx.commit().await.map_err($crate::store::db_error)?;
            Ok(record)
        }

        async fn reject_reissue(
            &self,
            id: &str,
            reason: &str,
            decided_by: &str,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::error::Result<$crate::domain::license::ReissueRecord> {
            use $crate::store::licenses::*;
            let mut tx = self.begin_write().await?;
            let done = sqlx::query(
                "UPDATE reissue_requests SET status = 'rejected', reject_reason = $1, decided_by = $2, decided_at = $3 \
                 WHERE id = $4 AND status = 'pending_review'",
            )
            .bind(reason)
            .bind(decided_by)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err($crate::store::db_error)?;
            let record = Self::reissue_in(&mut tx, id).await?.ok_or_else(|| reissue_not_found(id))?;
            if done.rows_affected() == 0 {
                return Err(not_pending(id, record.status.as_str()));
            }
            $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "reissue.rejected", contract_id: Some(&record.contract_id), license_id: Some(&record.license_id), subject: id.to_owned(), detail: reason.to_owned() }, now).await?;
            tx.commit().await.map_err($crate::store::db_error)?;
            Ok(record)
        }

        async fn get_reissue(&self, id: &str) -> $crate::error::Result<Option<$crate::domain::license::ReissueRecord>> {
            use $crate::store::licenses::*;
            let sql = format!("SELECT {REISSUE_COLUMNS} FROM reissue_requests WHERE id = $1");
            let Some(row) = sqlx::query_as::<_, ReissueRow>(&sql)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::db_error)?
            else {
                return Ok(None);
            };
            let key = match &row.key_id {
                Some(key_id) => self.find_key(key_id).await?,
                None => None,
            };
            row.into_record(key).map(Some)
        }

        async fn list_reissues(
            &self,
            query: &$crate::store::licenses::ReissueQuery,
        ) -> $crate::error::Result<Vec<$crate::domain::license::ReissueRecord>> {
            use $crate::store::licenses::*;
            // The first page and the later ones are separate statements, so
            // that each walks the (status, delivery_on, id) index from where
            // the page starts instead of filtering every row of the status.
            let rows: Vec<ReissueRow> = match &query.after {
                None => {
                    let sql = format!(
                        "SELECT {REISSUE_COLUMNS} FROM reissue_requests WHERE status = $1 \
                         ORDER BY delivery_on, id LIMIT $2"
                    );
                    sqlx::query_as(&sql).bind(query.status.as_str()).bind(query.limit).fetch_all(&self.pool).await
                }
                Some((after_on, after_id)) => {
                    let sql = format!(
                        "SELECT {REISSUE_COLUMNS} FROM reissue_requests WHERE status = $1 \
                         AND (delivery_on, id) > ($2, $3) ORDER BY delivery_on, id LIMIT $4"
                    );
                    sqlx::query_as(&sql)
                        .bind(query.status.as_str())
                        .bind(*after_on)
                        .bind(after_id)
                        .bind(query.limit)
                        .fetch_all(&self.pool)
                        .await
                }
            }
            .map_err($crate::store::db_error)?;
            let mut records = Vec::with_capacity(rows.len());
            for row in rows {
                let key = match &row.key_id {
                    Some(key_id) => self.find_key(key_id).await?,
                    None => None,
                };
                records.push(row.into_record(key)?);
            }
            Ok(records)
        }

        async fn revoke_key(
            &self,
            key_id: &str,
            reason: &str,
            revoked_by: &str,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::error::Result<$crate::domain::license::KeyRecord> {
            use $crate::store::licenses::*;
            let sql = format!(
                "UPDATE license_keys SET status = 'revoked', revoked_at = $1, revoked_by = $2, revoke_reason = $3 \
                 WHERE id = $4 AND status <> 'revoked' RETURNING {KEY_COLUMNS}"
            );
            let mut tx = self.begin_write().await?;
            let row: Option<KeyRow> = sqlx::query_as(&sql)
                .bind(now)
                .bind(revoked_by)
                .bind(reason)
                .bind(key_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::store::db_error)?;
            match row {
                Some(row) => {
                    let key: $crate::domain::license::KeyRecord = row.try_into()?;
                    $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "key.revoked", contract_id: Some(&key.contract_id), license_id: Some(&key.license_id), subject: key.id.clone(), detail: reason.to_owned() }, now).await?;
                    tx.commit().await.map_err($crate::store::db_error)?;
                    Ok(key)
                }
                None => match self.find_key(key_id).await? {
                    Some(_) => Err($crate::error::Error::FailedPrecondition {
                        reason: "KEY_ALREADY_REVOKED",
                        message: format!("key {key_id} is already revoked"),
                    }),
                    None => Err($crate::error::Error::NotFound {
                        reason: "KEY_NOT_FOUND",
                        message: format!("there is no license key {key_id}"),
                    }),
                },
            }
        }

        async fn find_key(&self, key_id: &str) -> $crate::error::Result<Option<$crate::domain::license::KeyRecord>> {
            use $crate::store::licenses::*;
            let sql = format!("SELECT {KEY_COLUMNS} FROM license_keys WHERE id = $1");
            let row: Option<KeyRow> = sqlx::query_as(&sql)
                .bind(key_id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::db_error)?;
            row.map(TryInto::try_into).transpose()
        }

        async fn list_license_keys(&self, license_id: &str) -> $crate::error::Result<Vec<$crate::domain::license::KeyRecord>> {
            use $crate::store::licenses::*;
            let sql = format!("SELECT {KEY_COLUMNS} FROM license_keys WHERE license_id = $1 ORDER BY sequence");
            let rows: Vec<KeyRow> = sqlx::query_as(&sql)
                .bind(license_id)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::db_error)?;
            rows.into_iter().map(TryInto::try_into).collect()
        }

        async fn list_outbox(
            &self,
            query: &$crate::store::licenses::OutboxQuery,
        ) -> $crate::error::Result<Vec<$crate::store::licenses::OutboxMessage>> {
            use $crate::store::contracts::{bind_all, push_clause, Param};
            use $crate::store::licenses::*;
            let mut sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox");
            let mut params = Vec::new();
            if let Some(status) = &query.status {
                push_clause(&mut sql, &mut params, "status = ?1", vec![Param::Text(status.clone())]);
            }
            if let Some(on) = query.overdue_on {
                push_clause(&mut sql, &mut params, "status <> 'sent' AND due_on < ?1", vec![Param::Date(on)]);
            }
            if let Some(after) = query.after_id {
                push_clause(&mut sql, &mut params, "id > ?1", vec![Param::Int(after)]);
            }
            params.push(Param::Int(query.limit));
            sql.push_str(&format!(" ORDER BY id LIMIT ${}", params.len()));
            let statement = bind_all(sqlx::query_as::<_, OutboxMessage>(&sql), params);
            statement.fetch_all(&self.pool).await.map_err($crate::store::db_error)
        }

        async fn gauges(&self, now: chrono::DateTime<chrono::Utc>) -> $crate::error::Result<$crate::store::licenses::Gauges> {
            let today = $crate::domain::dates::jst_date(now);
            let row: (i64, i64, i64, i64, Option<chrono::DateTime<chrono::Utc>>) = sqlx::query_as(
                "SELECT \
                 (SELECT COUNT(*) FROM reissue_requests WHERE status = 'pending_review'), \
                 (SELECT COUNT(*) FROM reissue_requests WHERE status = 'pending_review' AND delivery_on < $1), \
                 (SELECT COUNT(*) FROM outbox WHERE status <> 'sent'), \
                 (SELECT COUNT(*) FROM outbox WHERE status <> 'sent' AND due_on < $1), \
                 (SELECT MIN(created_at) FROM outbox WHERE status <> 'sent')",
            )
            .bind(today)
            .fetch_one(&self.pool)
            .await
            .map_err($crate::store::db_error)?;
            Ok($crate::store::licenses::Gauges {
                pending_reviews: row.0,
                overdue_reviews: row.1,
                outbox_unsent: row.2,
                outbox_overdue: row.3,
                oldest_unsent_seconds: row.4.map_or(0, |oldest| (now - oldest).num_seconds().max(0)),
            })
        }

        fn pool_in_use(&self) -> u32 {
            let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
            self.pool.size().saturating_sub(idle)
        }

        async fn list_events(
            &self,
            query: &$crate::store::events::EventQuery,
        ) -> $crate::error::Result<Vec<$crate::store::events::Event>> {
            use $crate::store::contracts::{bind_all, push_clause, Param};
            use $crate::store::events::*;
            let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events");
            let mut params = Vec::new();
            if let Some(v) = &query.contract_id {
                push_clause(&mut sql, &mut params, "contract_id = ?1", vec![Param::Text(v.clone())]);
            }
            if let Some(v) = &query.license_id {
                push_clause(&mut sql, &mut params, "license_id = ?1", vec![Param::Text(v.clone())]);
            }
            if let Some(v) = &query.kind {
                push_clause(&mut sql, &mut params, "kind = ?1", vec![Param::Text(v.clone())]);
            }
            if let Some(v) = query.since {
                push_clause(&mut sql, &mut params, "occurred_at >= ?1", vec![Param::Time(v)]);
            }
            if let Some(v) = query.after_id {
                push_clause(&mut sql, &mut params, "id > ?1", vec![Param::Int(v)]);
            }
            params.push(Param::Int(query.limit));
            sql.push_str(&format!(" ORDER BY id LIMIT ${}", params.len()));
            let statement = bind_all(sqlx::query_as::<_, Event>(&sql), params);
            statement.fetch_all(&self.pool).await.map_err($crate::store::db_error)
        }

        async fn get_outbox(&self, id: i64) -> $crate::error::Result<Option<$crate::store::licenses::OutboxMessage>> {
            use $crate::store::licenses::*;
            let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1");
            sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await.map_err($crate::store::db_error)
        }

        async fn claim_outbox(
            &self,
            now: chrono::DateTime<chrono::Utc>,
            lease_until: chrono::DateTime<chrono::Utc>,
        ) -> $crate::error::Result<Option<$crate::store::licenses::OutboxMessage>> {
            use $crate::store::licenses::*;
            // One message per claim; on PostgreSQL, replicas skip the rows
            // another replica holds, so no message is sent twice at once.
            let sql = format!(
                "UPDATE outbox SET claimed_until = $1 WHERE id = (\
                 SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $2 \
                 AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY due_on, id LIMIT 1{}) \
                 RETURNING {OUTBOX_COLUMNS}",
                Self::SKIP_LOCKED
            );
            sqlx::query_as(&sql)
                .bind(lease_until)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::db_error)
        }

        async fn finish_outbox(
            &self,
            id: i64,
            delivery: &$crate::store::licenses::Delivery,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::error::Result<()> {
            use $crate::store::licenses::Delivery;
            let query = match delivery {
                Delivery::Sent { message_id } => sqlx::query(
                    "UPDATE outbox SET status = 'sent', sent_at = $1, message_id = $2, attempts = attempts + 1, \
                     claimed_until = NULL, last_error = NULL WHERE id = $3",
                )
                .bind(now)
                .bind(message_id.clone())
                .bind(id),
                Delivery::Retry { error, next_attempt_at } => sqlx::query(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, claimed_until = NULL WHERE id = $3",
                )
                .bind(error.clone())
                .bind(*next_attempt_at)
                .bind(id),
                Delivery::Failed { error } => sqlx::query(
                    "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $1, claimed_until = NULL WHERE id = $2",
                )
                .bind(error.clone())
                .bind(id),
            };
            query.execute(&self.pool).await.map_err($crate::store::db_error)?;
            Ok(())
        }

        async fn retry_outbox(
            &self,
            id: i64,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::error::Result<$crate::store::licenses::OutboxMessage> {
            use $crate::store::licenses::*;
            let sql = format!(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, claimed_until = NULL \
                 WHERE id = $2 AND status <> 'sent' RETURNING {OUTBOX_COLUMNS}"
            );
            let mut tx = self.begin_write().await?;
            let row: Option<OutboxMessage> = sqlx::query_as(&sql)
                .bind(now)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::store::db_error)?;
            match row {
                Some(row) => {
                    $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "outbox.retried", contract_id: None, license_id: None, subject: id.to_string(), detail: row.subject.clone() }, now).await?;
                    tx.commit().await.map_err($crate::store::db_error)?;
                    Ok(row)
                }
                None => match self.get_outbox(id).await? {
                    Some(_) => Err($crate::error::Error::FailedPrecondition {
                        reason: "ALREADY_SENT",
                        message: format!("outbox message {id} was already sent"),
                    }),
                    None => Err($crate::error::Error::NotFound {
                        reason: "OUTBOX_MESSAGE_NOT_FOUND",
                        message: format!("there is no outbox message {id}"),
                    }),
                },
            }
        }
        }
    };
}

pub(crate) use impl_store_with_licenses;
