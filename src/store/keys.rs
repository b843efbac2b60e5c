//! License keys: the first key staff issue, revocation, and the step that
//! signs and records a key, shared by first keys, reissues and approvals.
//!
//! Every step that issues a key runs in one write transaction that first
//! locks the license's contract (SQLite: `BEGIN IMMEDIATE`; PostgreSQL:
//! `FOR UPDATE` on the contract row): check, sign, insert the key,
//! supersede the old one, write the e-mail to the outbox, record the
//! request. A unique index allows one active key per license whatever
//! happens.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, QueryBuilder, Transaction, Type};

use crate::domain::contract::{Contract, Order, last_end, seats_on};
use crate::domain::dates::jst_date;
use crate::domain::license::{
    Fingerprint, KeyRecord, KeyStatus, LicenseClaims, Mint, Withdrawal, key_notice, new_key_id,
    withdrawn_key_notice,
};
use crate::error::{Error, Reason, Result};
use crate::store::backend::{Backend, Batch, Column, SqlStore};
use crate::store::contracts::{CONTRACT_COLUMNS, ContractRow};
use crate::store::db_error;
use crate::store::events::{Audit, Change};

/// The columns of a key row.
pub const KEY_COLUMNS: &str = "id, license_id, contract_id, sequence, fingerprint, token, \
                               signing_key_id, status, supersedes, superseded_by, issued_at, \
                               requested_by, revoked_at, revoke_reason";

/// The contract of license `$1`, locked for the write transaction
/// ([`Backend::LOCK_ROW`]): the first read of every step that issues a
/// key.
pub fn lock_license_sql<DB: Backend>() -> String {
    format!(
        "SELECT {CONTRACT_COLUMNS} FROM contracts WHERE license_id = $1{}",
        DB::LOCK_ROW
    )
}

/// License `$1`'s active key.
pub fn active_key_sql() -> String {
    format!("SELECT {KEY_COLUMNS} FROM license_keys WHERE license_id = $1 AND status = 'active'")
}

/// License `$1`'s newest key (a reissue without an active key reads it).
pub fn newest_key_sql() -> String {
    format!(
        "SELECT {KEY_COLUMNS} FROM license_keys WHERE license_id = $1 \
         ORDER BY sequence DESC LIMIT 1"
    )
}

/// Supersedes key `$2` by key `$1`, before the new key is written where
/// the backend cannot put it in the batch ([`Backend::UPDATES_IN_BATCH`]).
pub const SUPERSEDE_KEY: &str =
    "UPDATE license_keys SET status = 'superseded', superseded_by = $1 WHERE id = $2";

/// Replaces the unsent notice of key `key_id` by one that says the key was
/// withdrawn (kind `license_key_withdrawn`), so the key itself is never
/// mailed after it was revoked or superseded.
fn withdraw_notice_sql<DB: Backend>(
    sql: &mut QueryBuilder<'_, DB>,
    subject: String,
    body: String,
    key_id: String,
) where
    for<'q> String: Encode<'q, DB> + Type<DB>,
{
    sql.push("UPDATE outbox SET kind = 'license_key_withdrawn', subject = ")
        .push_bind(subject)
        .push(", body = ")
        .push_bind(body)
        .push(" WHERE kind = 'license_key' AND status <> 'sent' AND license_key_id = ")
        .push_bind(key_id);
}

/// One key by id (`$1`): VerifyKey's look-up of the key's record.
pub fn find_key_sql() -> String {
    format!("SELECT {KEY_COLUMNS} FROM license_keys WHERE id = $1")
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

/// A license that does not exist.
pub fn license_not_found(license_id: &str) -> Error {
    Error::NotFound {
        reason: Reason::LicenseNotFound.as_str(),
        message: format!("there is no license {license_id} under contract"),
    }
}

/// What a new key is issued for.
pub(crate) struct KeyRequest<'a> {
    pub contract: &'a Contract,
    pub orders: &'a [Order],
    pub fingerprint: &'a Fingerprint,
    pub requested_by: &'a str,
    pub now: DateTime<Utc>,
    pub delivery_on: NaiveDate,
    /// The license's active key, read under the lock, which the new key
    /// supersedes.
    pub previous: Option<KeyRecord>,
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
    /// Locks the license's contract and reads it with its orders.
    pub(crate) async fn lock_license(
        tx: &mut Transaction<'static, DB>,
        license_id: &str,
    ) -> Result<(Contract, Vec<Order>)> {
        let row: Option<ContractRow> = sqlx::query_as(&lock_license_sql::<DB>())
            .bind(license_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
        let contract = Contract::from(row.ok_or_else(|| license_not_found(license_id))?);
        let orders = Self::orders_in(tx, &contract.id).await?;
        Ok((contract, orders))
    }

    /// One key by id, inside a transaction.
    pub(crate) async fn key_in(
        tx: &mut Transaction<'static, DB>,
        key_id: &str,
    ) -> Result<Option<KeyRecord>> {
        let row: Option<KeyRow> = sqlx::query_as(&find_key_sql())
            .bind(key_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
        row.map(TryInto::try_into).transpose()
    }

    /// The license's active key, inside a transaction.
    pub(crate) async fn active_key_in(
        tx: &mut Transaction<'static, DB>,
        license_id: &str,
    ) -> Result<Option<KeyRecord>> {
        let row: Option<KeyRow> = sqlx::query_as(&active_key_sql())
            .bind(license_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
        row.map(TryInto::try_into).transpose()
    }

    /// Signs the license's next key, supersedes the active one, and adds
    /// the key and its e-mail to `batch` (the supersede too where the
    /// backend runs a batch in order).
    pub(crate) async fn issue_key_in(
        tx: &mut Transaction<'static, DB>,
        request: KeyRequest<'_>,
        mint: &dyn Mint,
        batch: &mut Batch<DB>,
    ) -> Result<KeyRecord> {
        let KeyRequest {
            contract,
            orders,
            fingerprint,
            requested_by,
            now,
            delivery_on,
            previous,
        } = request;
        // Stored to the microsecond on both databases, so the record built
        // here equals the one read back later.
        let now = now.trunc_subsecs(6);
        // `previous` is the active key the caller read under the lock.
        // Every key is active when issued, so the active key is the
        // newest: its sequence is the highest.
        let sequence = match &previous {
            Some(previous) => previous.sequence + 1,
            None => {
                let last: Option<i64> = sqlx::query_scalar(
                    "SELECT MAX(sequence) FROM license_keys WHERE license_id = $1",
                )
                .bind(&contract.license_id)
                .fetch_one(&mut **tx)
                .await
                .map_err(db_error)?;
                last.unwrap_or(0) + 1
            }
        };
        let key_id = new_key_id();
        let claims = LicenseClaims::new(
            &key_id,
            &contract.license_id,
            &contract.id,
            seats_on(contract.seats, orders, jst_date(now)),
            fingerprint,
            sequence,
            previous.as_ref().map(|k| k.id.as_str()),
            last_end(orders),
            now,
        );
        let (token, signing_key_id) = mint.mint(&claims).map_err(Error::internal)?;
        if let Some(previous) = &previous {
            // The old key's notice, if still unsent, no longer carries it.
            let (subject, body) = withdrawn_key_notice(
                &previous.license_id,
                &previous.id,
                Withdrawal::Superseded { by: &key_id },
            );
            let old_id = previous.id.clone();
            batch.push(move |sql| withdraw_notice_sql(sql, subject, body, old_id));
            if DB::UPDATES_IN_BATCH {
                let (new_id, old_id) = (key_id.clone(), previous.id.clone());
                batch.push(move |sql| {
                    sql.push("UPDATE license_keys SET status = 'superseded', superseded_by = ");
                    sql.push_bind(new_id).push(" WHERE id = ").push_bind(old_id);
                });
            } else {
                // Before the new key is written: one active key per
                // license.
                sqlx::query(SUPERSEDE_KEY)
                    .bind(&key_id)
                    .bind(&previous.id)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
            }
        }
        // The key as it is written, without reading it back.
        let key = KeyRecord {
            id: key_id,
            license_id: contract.license_id.clone(),
            contract_id: contract.id.clone(),
            sequence,
            fingerprint: fingerprint.as_str().to_owned(),
            token,
            signing_key_id,
            status: KeyStatus::Active,
            supersedes: previous.map(|k| k.id),
            superseded_by: None,
            issued_at: now,
            requested_by: requested_by.to_owned(),
            revoked_at: None,
            revoke_reason: None,
        };
        let (subject, body) = key_notice(&contract.customer_name, &key, delivery_on);
        // The key and its e-mail, written with the caller's batch.
        let written = key.clone();
        let requested_by = requested_by.to_owned();
        batch.push(move |sql| {
            sql.push(
                "INSERT INTO license_keys (id, license_id, contract_id, sequence, fingerprint, \
                 token, signing_key_id, status, supersedes, issued_at, requested_by) VALUES (",
            );
            sql.separated(", ")
                .push_bind(written.id)
                .push_bind(written.license_id)
                .push_bind(written.contract_id)
                .push_bind(written.sequence)
                .push_bind(written.fingerprint)
                .push_bind(written.token)
                .push_bind(written.signing_key_id)
                .push("'active'")
                .push_bind(written.supersedes)
                .push_bind(now)
                .push_bind(requested_by);
            sql.push(")");
        });
        let (recipient, key_id) = (contract.contact_email.clone(), key.id.clone());
        batch.push(move |sql| {
            sql.push(
                "INSERT INTO outbox (kind, recipient, subject, body, due_on, license_key_id, \
                 created_at, next_attempt_at) VALUES ('license_key', ",
            );
            sql.separated(", ")
                .push_bind(recipient)
                .push_bind(subject)
                .push_bind(body)
                .push_bind(delivery_on)
                .push_bind(key_id)
                .push_bind(now)
                .push_bind(now);
            sql.push(")");
        });
        Ok(key)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "each is one input of the key it issues"
    )]
    pub(crate) async fn issue_first_key(
        &self,
        license_id: &str,
        fingerprint: &Fingerprint,
        requested_by: &str,
        now: DateTime<Utc>,
        delivery_on: NaiveDate,
        mint: &dyn Mint,
        audit: &Audit,
    ) -> Result<KeyRecord> {
        let mut tx = self.begin_write().await?;
        let (contract, orders) = Self::lock_license(&mut tx, license_id).await?;
        let any: Option<String> =
            sqlx::query_scalar("SELECT id FROM license_keys WHERE license_id = $1 LIMIT 1")
                .bind(license_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
        if any.is_some() {
            return Err(Error::FailedPrecondition {
                reason: Reason::FirstKeyExists.as_str(),
                message: format!(
                    "license {license_id} already has keys; move it to a new server with a reissue"
                ),
            });
        }
        let mut batch = Batch::new();
        let request = KeyRequest {
            contract: &contract,
            orders: &orders,
            fingerprint,
            requested_by,
            now,
            delivery_on,
            previous: None,
        };
        let key = Self::issue_key_in(&mut tx, request, mint, &mut batch).await?;
        let change = Change {
            kind: "key.issued",
            contract_id: Some(&contract.id),
            license_id: Some(license_id),
            subject: key.id.clone(),
            detail: format!("first key #1 for {}", key.fingerprint),
        };
        batch.run(&mut tx).await?;
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(key)
    }

    pub(crate) async fn revoke_key(
        &self,
        key_id: &str,
        reason: &str,
        revoked_by: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<KeyRecord> {
        let sql = format!(
            "UPDATE license_keys \
             SET status = 'revoked', revoked_at = $1, revoked_by = $2, revoke_reason = $3 \
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
            .map_err(db_error)?;
        let Some(row) = row else {
            return match self.find_key(key_id).await? {
                Some(_) => Err(Error::FailedPrecondition {
                    reason: Reason::KeyAlreadyRevoked.as_str(),
                    message: format!("key {key_id} is already revoked"),
                }),
                None => Err(Error::NotFound {
                    reason: Reason::KeyNotFound.as_str(),
                    message: format!("there is no license key {key_id}"),
                }),
            };
        };
        let key = KeyRecord::try_from(row)?;
        let (subject, body) = withdrawn_key_notice(&key.license_id, &key.id, Withdrawal::Revoked);
        let key_id = key.id.clone();
        DB::execute(&mut *tx, move |sql| {
            withdraw_notice_sql(sql, subject, body, key_id)
        })
        .await
        .map_err(db_error)?;
        let change = Change {
            kind: "key.revoked",
            contract_id: Some(&key.contract_id),
            license_id: Some(&key.license_id),
            subject: key.id.clone(),
            detail: reason.to_owned(),
        };
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(key)
    }

    pub(crate) async fn find_key(&self, key_id: &str) -> Result<Option<KeyRecord>> {
        let row: Option<KeyRow> = sqlx::query_as(&find_key_sql())
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(TryInto::try_into).transpose()
    }

    pub(crate) async fn list_license_keys(&self, license_id: &str) -> Result<Vec<KeyRecord>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM license_keys WHERE license_id = $1 ORDER BY sequence"
        );
        let rows: Vec<KeyRow> = sqlx::query_as(&sql)
            .bind(license_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}
