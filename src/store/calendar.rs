//! The company calendar as staff set it: closures and holiday overrides.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use crate::domain::calendar::{Closure, ClosureRange, HolidayOverride, OverrideAction};
use crate::domain::dates::MonthDay;
use crate::error::{Error, Reason, Result};
use crate::store::backend::{Backend, Column, SqlStore};
use crate::store::events::{Audit, Change};
use crate::store::{corrupt, db_error, is_unique_violation};

/// The columns of a closure row.
pub const CLOSURE_COLUMNS: &str =
    "id, name, start_on, end_on, start_month_day, end_month_day, created_at";
/// The columns of a holiday override row.
pub const OVERRIDE_COLUMNS: &str = "id, holiday_on, is_holiday, name, note, created_at";

#[derive(sqlx::FromRow)]
struct ClosureRow {
    id: i64,
    name: String,
    start_on: Option<NaiveDate>,
    end_on: Option<NaiveDate>,
    start_month_day: Option<String>,
    end_month_day: Option<String>,
    created_at: DateTime<Utc>,
}

/// The columns a closure range is stored in.
struct ClosureColumns {
    start_on: Option<NaiveDate>,
    end_on: Option<NaiveDate>,
    start_month_day: Option<String>,
    end_month_day: Option<String>,
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
struct OverrideRow {
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
fn override_columns(action: &OverrideAction) -> (bool, &str) {
    match action {
        OverrideAction::AddHoliday { name } => (true, name.as_str()),
        OverrideAction::RemoveHoliday => (false, ""),
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
    pub(crate) async fn create_closure(
        &self,
        name: &str,
        range: &ClosureRange,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Closure> {
        let columns = ClosureColumns::from(range);
        let sql = format!(
            "INSERT INTO company_closures \
             (name, start_on, end_on, start_month_day, end_month_day, created_at) \
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
            .map_err(db_error)?;
        let closure = Closure::try_from(row)?;
        let change = Change {
            kind: "closure.created",
            contract_id: None,
            license_id: None,
            subject: closure.id.to_string(),
            detail: closure.name.clone(),
        };
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(closure)
    }

    pub(crate) async fn list_closures(&self) -> Result<Vec<Closure>> {
        let sql = format!("SELECT {CLOSURE_COLUMNS} FROM company_closures ORDER BY id");
        let rows: Vec<ClosureRow> = sqlx::query_as(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    pub(crate) async fn delete_closure(
        &self,
        id: i64,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM company_closures WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if DB::rows_affected(&done) == 0 {
            return Ok(false);
        }
        let change = Change {
            kind: "closure.deleted",
            contract_id: None,
            license_id: None,
            subject: id.to_string(),
            detail: String::new(),
        };
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    pub(crate) async fn create_holiday_override(
        &self,
        date: NaiveDate,
        action: &OverrideAction,
        note: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<HolidayOverride> {
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
                if is_unique_violation(&error) {
                    Error::AlreadyExists {
                        reason: Reason::OverrideExists.as_str(),
                        message: format!("{date} already has an override; remove it first"),
                    }
                } else {
                    db_error(error)
                }
            })?;
        let created = HolidayOverride::from(row);
        let what = if is_holiday { name } else { "not a holiday" };
        let change = Change {
            kind: "override.created",
            contract_id: None,
            license_id: None,
            subject: created.id.to_string(),
            detail: format!("{date} {what}"),
        };
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(created)
    }

    pub(crate) async fn list_holiday_overrides(&self) -> Result<Vec<HolidayOverride>> {
        let sql = format!("SELECT {OVERRIDE_COLUMNS} FROM holiday_overrides ORDER BY holiday_on");
        let rows: Vec<OverrideRow> = sqlx::query_as(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub(crate) async fn delete_holiday_override(
        &self,
        id: i64,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM holiday_overrides WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if DB::rows_affected(&done) == 0 {
            return Ok(false);
        }
        let change = Change {
            kind: "override.deleted",
            contract_id: None,
            license_id: None,
            subject: id.to_string(),
            detail: String::new(),
        };
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }
}
