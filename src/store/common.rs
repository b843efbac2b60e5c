//! What both backends store the same way: the row types, their conversion
//! to domain types, and the statements that read the same in SQLite and
//! PostgreSQL (`$1` placeholders, `RETURNING`). The [`impl_common_store`]
//! macro expands them into a backend's `Store` implementation; the backend
//! adds its own methods beside them.

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::calendar::{Closure, ClosureRange, HolidayOverride, OverrideAction};
use crate::domain::dates::MonthDay;
use crate::domain::token::Role;
use crate::error::{Error, Result};
use crate::store::TokenRecord;

pub(crate) const CLOSURE_COLUMNS: &str =
    "id, name, start_on, end_on, start_month_day, end_month_day, created_at";
pub(crate) const OVERRIDE_COLUMNS: &str = "id, holiday_on, is_holiday, name, note, created_at";
pub(crate) const TOKEN_COLUMNS: &str =
    "id, name, role, contract_id, created_at, revoked_at, revoke_reason, expires_at, created_by";

#[derive(sqlx::FromRow)]
pub(crate) struct ClosureRow {
    id: i64,
    name: String,
    start_on: Option<NaiveDate>,
    end_on: Option<NaiveDate>,
    start_month_day: Option<String>,
    end_month_day: Option<String>,
    created_at: DateTime<Utc>,
}

/// The columns a closure range is stored in.
pub(crate) struct ClosureColumns {
    pub start_on: Option<NaiveDate>,
    pub end_on: Option<NaiveDate>,
    pub start_month_day: Option<String>,
    pub end_month_day: Option<String>,
}

impl From<&ClosureRange> for ClosureColumns {
    fn from(range: &ClosureRange) -> Self {
        match range {
            ClosureRange::Dates { start, end } => Self {
                start_on: Some(*start),
                end_on: Some(*end),
                start_month_day: None,
                end_month_day: None,
            },
            ClosureRange::EveryYear { start, end } => Self {
                start_on: None,
                end_on: None,
                start_month_day: Some(start.to_string()),
                end_month_day: Some(end.to_string()),
            },
        }
    }
}

fn corrupt(what: &str) -> Error {
    Error::internal(format!("stored {what} is corrupt"))
}

impl TryFrom<ClosureRow> for Closure {
    type Error = Error;

    fn try_from(row: ClosureRow) -> Result<Self> {
        let range = match (
            row.start_on,
            row.end_on,
            row.start_month_day,
            row.end_month_day,
        ) {
            (Some(start), Some(end), None, None) => ClosureRange::Dates { start, end },
            (None, None, Some(start), Some(end)) => ClosureRange::EveryYear {
                start: MonthDay::parse(&start).map_err(|_| corrupt("closure"))?,
                end: MonthDay::parse(&end).map_err(|_| corrupt("closure"))?,
            },
            _ => return Err(corrupt("closure")),
        };
        Ok(Closure {
            id: row.id,
            name: row.name,
            range,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OverrideRow {
    id: i64,
    holiday_on: NaiveDate,
    is_holiday: bool,
    name: String,
    note: String,
    created_at: DateTime<Utc>,
}

impl From<OverrideRow> for HolidayOverride {
    fn from(row: OverrideRow) -> Self {
        let action = if row.is_holiday {
            OverrideAction::AddHoliday { name: row.name }
        } else {
            OverrideAction::RemoveHoliday
        };
        HolidayOverride {
            id: row.id,
            date: row.holiday_on,
            action,
            note: row.note,
            created_at: row.created_at,
        }
    }
}

/// `(is_holiday, name)` as stored.
pub(crate) fn override_columns(action: &OverrideAction) -> (bool, &str) {
    match action {
        OverrideAction::AddHoliday { name } => (true, name.as_str()),
        OverrideAction::RemoveHoliday => (false, ""),
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
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
pub(crate) fn role_contract(role: &Role) -> Option<&str> {
    match role {
        Role::Staff => None,
        Role::Customer { contract_id } => Some(contract_id.as_str()),
    }
}

/// Implements `Store` for a backend struct with a `pool` field. The
/// backend passes its name and the methods it writes itself.
macro_rules! impl_common_store {
    ($store:ty, $backend:literal, { $($own:item)* }) => {
        $crate::store::contracts::impl_store_with_contracts!($store, {
            fn backend(&self) -> &'static str {
                $backend
            }

            $($own)*

            async fn ping(&self) -> $crate::error::Result<()> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::db_error)?;
                Ok(())
            }

            async fn create_closure(
                &self,
                name: &str,
                range: &$crate::domain::calendar::ClosureRange,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::error::Result<$crate::domain::calendar::Closure> {
                use $crate::store::common::*;
                let columns = ClosureColumns::from(range);
                let sql = format!(
                    "INSERT INTO company_closures (name, start_on, end_on, start_month_day, end_month_day, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {CLOSURE_COLUMNS}"
                );
                let mut tx = self.begin_write().await?;
                let row: ClosureRow = sqlx::query_as(&sql)
                    .bind(name)
                    .bind(columns.start_on)
                    .bind(columns.end_on)
                    .bind(columns.start_month_day)
                    .bind(columns.end_month_day)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err($crate::store::db_error)?;
                let closure: $crate::domain::calendar::Closure = row.try_into()?;
                $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "closure.created", contract_id: None, license_id: None, subject: closure.id.to_string(), detail: closure.name.clone() }, now).await?;
                tx.commit().await.map_err($crate::store::db_error)?;
                Ok(closure)
            }

            async fn list_closures(
                &self,
            ) -> $crate::error::Result<Vec<$crate::domain::calendar::Closure>> {
                use $crate::store::common::*;
                let sql = format!("SELECT {CLOSURE_COLUMNS} FROM company_closures ORDER BY id");
                let rows: Vec<ClosureRow> = sqlx::query_as(&sql)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::db_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn delete_closure(&self, id: i64, now: chrono::DateTime<chrono::Utc>) -> $crate::error::Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("DELETE FROM company_closures WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::db_error)?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "closure.deleted", contract_id: None, license_id: None, subject: id.to_string(), detail: String::new() }, now).await?;
                tx.commit().await.map_err($crate::store::db_error)?;
                Ok(true)
            }

            async fn create_holiday_override(
                &self,
                date: chrono::NaiveDate,
                action: &$crate::domain::calendar::OverrideAction,
                note: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::error::Result<$crate::domain::calendar::HolidayOverride> {
                use $crate::store::common::*;
                let (is_holiday, name) = override_columns(action);
                let sql = format!(
                    "INSERT INTO holiday_overrides (holiday_on, is_holiday, name, note, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING {OVERRIDE_COLUMNS}"
                );
                let mut tx = self.begin_write().await?;
                let row: OverrideRow = sqlx::query_as(&sql)
                    .bind(date)
                    .bind(is_holiday)
                    .bind(name)
                    .bind(note)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|error| {
                        if $crate::store::is_unique_violation(&error) {
                            $crate::error::Error::AlreadyExists {
                                reason: "OVERRIDE_EXISTS",
                                message: format!("{date} already has an override; remove it first"),
                            }
                        } else {
                            $crate::store::db_error(error)
                        }
                    })?;
                let created: $crate::domain::calendar::HolidayOverride = row.into();
                $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "override.created", contract_id: None, license_id: None, subject: created.id.to_string(), detail: format!("{date} {}", if is_holiday { name } else { "not a holiday" }) }, now).await?;
                tx.commit().await.map_err($crate::store::db_error)?;
                Ok(created)
            }

            async fn list_holiday_overrides(
                &self,
            ) -> $crate::error::Result<Vec<$crate::domain::calendar::HolidayOverride>> {
                use $crate::store::common::*;
                let sql =
                    format!("SELECT {OVERRIDE_COLUMNS} FROM holiday_overrides ORDER BY holiday_on");
                let rows: Vec<OverrideRow> = sqlx::query_as(&sql)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::db_error)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn delete_holiday_override(&self, id: i64, now: chrono::DateTime<chrono::Utc>) -> $crate::error::Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("DELETE FROM holiday_overrides WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::db_error)?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "override.deleted", contract_id: None, license_id: None, subject: id.to_string(), detail: String::new() }, now).await?;
                tx.commit().await.map_err($crate::store::db_error)?;
                Ok(true)
            }

            async fn create_access_token(
                &self,
                token: &$crate::store::NewToken<'_>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::error::Result<$crate::store::TokenRecord> {
                use $crate::store::common::*;
                let sql = format!(
                    "INSERT INTO access_tokens (name, role, contract_id, token_hash, created_at, expires_at, created_by) \
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
                        if $crate::store::is_unique_violation(&error) {
                            $crate::error::Error::AlreadyExists {
                                reason: "TOKEN_NAME_TAKEN",
                                message: format!("a token named {name:?} is already in use"),
                            }
                        } else {
                            $crate::store::db_error(error)
                        }
                    })?;
                let record: $crate::store::TokenRecord = row.try_into()?;
                let expiry = match record.expires_at {
                    Some(at) => format!(", expires {}", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                    None => String::new(),
                };
                $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "token.created", contract_id: role_contract(role), license_id: None, subject: record.id.to_string(), detail: format!("{} token {:?}{expiry}", role.kind(), record.name) }, now).await?;
                tx.commit().await.map_err($crate::store::db_error)?;
                Ok(record)
            }

            async fn find_active_token(
                &self,
                token_hash: &str,
            ) -> $crate::error::Result<Option<$crate::store::TokenRecord>> {
                use $crate::store::common::*;
                let sql = format!(
                    "SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
                );
                let row: Option<TokenRow> = sqlx::query_as(&sql)
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::store::db_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn get_token(
                &self,
                id: i64,
            ) -> $crate::error::Result<Option<$crate::store::TokenRecord>> {
                use $crate::store::common::*;
                let sql = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE id = $1");
                let row: Option<TokenRow> = sqlx::query_as(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::store::db_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list_access_tokens(
                &self,
                query: &$crate::store::TokenQuery,
            ) -> $crate::error::Result<Vec<$crate::store::TokenRecord>> {
                use $crate::store::common::*;
                let mut builder = sqlx::QueryBuilder::new(format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE id > "));
                builder.push_bind(query.after_id.unwrap_or(0));
                if let Some(contract_id) = &query.contract_id {
                    builder.push(" AND contract_id = ").push_bind(contract_id.clone());
                }
                builder.push(" ORDER BY id LIMIT ").push_bind(query.limit);
                let rows: Vec<TokenRow> = builder
                    .build_query_as()
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::db_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn revoke_access_token(
                &self,
                id: i64,
                reason: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::error::Result<Option<$crate::store::TokenRecord>> {
                use $crate::store::common::*;
                // A trigger (migration 0008) tells the other servers.
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
                    .map_err($crate::store::db_error)?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let record: $crate::store::TokenRecord = row.try_into()?;
                $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "token.revoked", contract_id: role_contract(&record.role), license_id: None, subject: id.to_string(), detail: reason.to_owned() }, now).await?;
                tx.commit().await.map_err($crate::store::db_error)?;
                Ok(Some(record))
            }

            async fn revoke_tokens_created_by(
                &self,
                creator: i64,
                reason: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::error::Result<Vec<$crate::store::TokenRecord>> {
                use $crate::store::common::*;
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
                    .map_err($crate::store::db_error)?;
                let mut records = rows
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<$crate::error::Result<Vec<$crate::store::TokenRecord>>>()?;
                records.sort_by_key(|record| record.id);
                for record in &records {
                    $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "token.revoked", contract_id: role_contract(&record.role), license_id: None, subject: record.id.to_string(), detail: format!("created by token {creator}: {reason}") }, now).await?;
                }
                tx.commit().await.map_err($crate::store::db_error)?;
                Ok(records)
            }
        });
    };
}

pub(crate) use impl_common_store;
