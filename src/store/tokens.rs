//! Access tokens: their hashes, what they grant, expiry and revocation.
//! Revoking fires a trigger (migration 0008) that tells the other servers.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use crate::domain::token::Role;
use crate::error::{Error, Reason, Result};
use crate::store::backend::{Backend, Column, SqlStore};
use crate::store::events::{Audit, Change};
use crate::store::{NewToken, TokenQuery, TokenRecord, corrupt, db_error, is_unique_violation};

/// The columns of a token row.
pub const TOKEN_COLUMNS: &str = "id, name, role, contract_id, created_at, revoked_at, \
                                 revoke_reason, expires_at, created_by";

/// The unrevoked token with hash `$1` (VerifyKey's look-up of the
/// caller's token, and every authenticated call's).
pub fn find_active_token_sql() -> String {
    format!(
        "SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
    )
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    name: String,
    role: String,
    contract_id: Option<String>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    revoke_reason: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    created_by: Option<i64>,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = Error;

    fn try_from(row: TokenRow) -> Result<Self> {
        let role = match (row.role.as_str(), row.contract_id) {
            ("staff", None) => Role::Staff,
            ("customer", Some(contract_id)) => Role::Customer { contract_id },
            _ => return Err(corrupt("token")),
        };
        Ok(TokenRecord {
            id: row.id,
            name: row.name,
            role,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            revoke_reason: row.revoke_reason,
            expires_at: row.expires_at,
            created_by: row.created_by,
        })
    }
}

/// The contract id column of a role.
fn role_contract(role: &Role) -> Option<&str> {
    match role {
        Role::Staff => None,
        Role::Customer { contract_id } => Some(contract_id.as_str()),
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
    pub(crate) async fn create_access_token(
        &self,
        token: &NewToken<'_>,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<TokenRecord> {
        let sql = format!(
            "INSERT INTO access_tokens \
             (name, role, contract_id, token_hash, created_at, expires_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {TOKEN_COLUMNS}"
        );
        let name = token.name;
        let role = token.role;
        let mut tx = self.begin_write().await?;
        let row: TokenRow = sqlx::query_as(&sql)
            .bind(name)
            .bind(role.kind())
            .bind(role_contract(role))
            .bind(token.token_hash)
            .bind(now)
            .bind(token.expires_at)
            .bind(token.created_by)
            .fetch_one(&mut *tx)
            .await
            .map_err(|error| {
                if is_unique_violation(&error) {
                    Error::AlreadyExists {
                        reason: Reason::TokenNameTaken.as_str(),
                        message: format!("a token named {name:?} is already in use"),
                    }
                } else {
                    db_error(error)
                }
            })?;
        let record = TokenRecord::try_from(row)?;
        let expiry = match record.expires_at {
            Some(at) => format!(
                ", expires {}",
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            None => String::new(),
        };
        let change = Change {
            kind: "token.created",
            contract_id: role_contract(role),
            license_id: None,
            subject: record.id.to_string(),
            detail: format!("{} token {:?}{expiry}", role.kind(), record.name),
        };
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(record)
    }

    pub(crate) async fn find_active_token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        let row: Option<TokenRow> = sqlx::query_as(&find_active_token_sql())
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(TryInto::try_into).transpose()
    }

    pub(crate) async fn get_token(&self, id: i64) -> Result<Option<TokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE id = $1");
        let row: Option<TokenRow> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(TryInto::try_into).transpose()
    }

    pub(crate) async fn list_access_tokens(&self, query: &TokenQuery) -> Result<Vec<TokenRecord>> {
        let rows: Vec<TokenRow> = DB::fetch_all(&self.pool, |sql| {
            sql.push(format!(
                "SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE id > "
            ));
            sql.push_bind(query.after_id.unwrap_or(0));
            if let Some(contract_id) = &query.contract_id {
                sql.push(" AND contract_id = ")
                    .push_bind(contract_id.clone());
            }
            sql.push(" ORDER BY id LIMIT ").push_bind(query.limit);
        })
        .await
        .map_err(db_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    pub(crate) async fn revoke_access_token(
        &self,
        id: i64,
        reason: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Option<TokenRecord>> {
        let sql = format!(
            "UPDATE access_tokens SET revoked_at = $1, revoke_reason = $2 \
             WHERE id = $3 AND revoked_at IS NULL RETURNING {TOKEN_COLUMNS}"
        );
        let mut tx = self.begin_write().await?;
        let row: Option<TokenRow> = sqlx::query_as(&sql)
            .bind(now)
            .bind((!reason.is_empty()).then_some(reason))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let record = TokenRecord::try_from(row)?;
        let change = Change {
            kind: "token.revoked",
            contract_id: role_contract(&record.role),
            license_id: None,
            subject: id.to_string(),
            detail: reason.to_owned(),
        };
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(record))
    }

    pub(crate) async fn revoke_tokens_created_by(
        &self,
        creator: i64,
        reason: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Vec<TokenRecord>> {
        let sql = format!(
            "UPDATE access_tokens SET revoked_at = $1, revoke_reason = $2 \
             WHERE created_by = $3 AND revoked_at IS NULL RETURNING {TOKEN_COLUMNS}"
        );
        let mut tx = self.begin_write().await?;
        let rows: Vec<TokenRow> = sqlx::query_as(&sql)
            .bind(now)
            .bind((!reason.is_empty()).then_some(reason))
            .bind(creator)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        let mut records = rows
            .into_iter()
            .map(TokenRecord::try_from)
            .collect::<Result<Vec<_>>>()?;
        records.sort_by_key(|record| record.id);
        for record in &records {
            let change = Change {
                kind: "token.revoked",
                contract_id: role_contract(&record.role),
                license_id: None,
                subject: record.id.to_string(),
                detail: format!("created by token {creator}: {reason}"),
            };
            Self::record_event(&mut tx, audit, change, now).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(records)
    }
}
