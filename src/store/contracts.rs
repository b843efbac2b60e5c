//! Contracts: the contract rows, the listing with its status filters, and
//! the mail domains staff add to a contract.
//!
//! A contract's status on a date is decided in the domain
//! (`domain::contract::status_on`); the listing filters by the same rule
//! in SQL so that a page is found without reading every contract.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, QueryBuilder, Type};

use crate::domain::contract::{Contract, ContractStatus, NewContract, Order, renewal_threshold};
use crate::domain::reply_to::{MailDomain, decide_mail_domains};
use crate::error::{Error, Reason, Result};
use crate::store::backend::{Backend, Column, Conditions, SqlStore};
use crate::store::events::{Audit, Change};
use crate::store::orders::{OrderRow, attach_orders, contract_orders_sql, push_page_orders};
use crate::store::{db_error, is_unique_violation};

/// The columns of a contract row.
pub const CONTRACT_COLUMNS: &str =
    "id, customer_name, contact_email, license_id, seats, customized, created_at";

/// Which contracts to list, one page.
#[derive(Debug, Clone, Default)]
pub struct ContractQuery {
    /// Only contracts with this status on this date.
    pub status: Option<(ContractStatus, NaiveDate)>,
    /// Only contracts whose last support day is before this date.
    pub ends_before: Option<NaiveDate>,
    /// Start after this id (keyset paging).
    pub after_id: Option<String>,
    /// Most rows.
    pub limit: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ContractRow {
    id: String,
    customer_name: String,
    contact_email: String,
    license_id: String,
    seats: i64,
    customized: bool,
    created_at: DateTime<Utc>,
}

impl From<ContractRow> for Contract {
    fn from(row: ContractRow) -> Self {
        Contract {
            id: row.id,
            customer_name: row.customer_name,
            contact_email: row.contact_email,
            license_id: row.license_id,
            seats: row.seats,
            customized: row.customized,
            created_at: row.created_at,
        }
    }
}

/// The live periods of contract `c`, for SQL filters.
const LIVE: &str = "o.contract_id = c.id AND o.kind <> 'add-seats' \
                    AND o.superseded_by IS NULL AND o.end_on IS NOT NULL";

/// Pushes "contract `c` is covered on `on`".
fn push_active<DB: Database>(sql: &mut QueryBuilder<'_, DB>, on: NaiveDate)
where
    NaiveDate: Column<DB>,
{
    sql.push(format!(
        "EXISTS (SELECT 1 FROM contract_orders o WHERE {LIVE} AND o.covered_from <= "
    ));
    sql.push_bind(on)
        .push(" AND o.end_on >= ")
        .push_bind(on)
        .push(")");
}

/// Pushes "contract `c` had started by `on`".
fn push_started<DB: Database>(sql: &mut QueryBuilder<'_, DB>, on: NaiveDate)
where
    NaiveDate: Column<DB>,
{
    sql.push(format!(
        "EXISTS (SELECT 1 FROM contract_orders o WHERE {LIVE} AND o.covered_from <= "
    ));
    sql.push_bind(on).push(")");
}

/// Pushes the last support day of contract `c` before `on`.
fn push_last_end<DB: Database>(sql: &mut QueryBuilder<'_, DB>, on: NaiveDate)
where
    NaiveDate: Column<DB>,
{
    sql.push(format!(
        "(SELECT MAX(o.end_on) FROM contract_orders o WHERE {LIVE} AND o.end_on < "
    ));
    sql.push_bind(on).push(")");
}

/// Pushes the condition "contract `c` has `status` on `on`", with the
/// renewal threshold of `on` (see `renewal_threshold`).
fn push_status<DB: Database>(sql: &mut QueryBuilder<'_, DB>, status: ContractStatus, on: NaiveDate)
where
    NaiveDate: Column<DB>,
{
    let threshold = renewal_threshold(on);
    match status {
        ContractStatus::Active => push_active(sql, on),
        ContractStatus::NotStarted => {
            sql.push("NOT ");
            push_started(sql, on);
        }
        // A lapsed contract has an order that ended in [threshold, on):
        // the contract_orders_by_end index finds those few without reading
        // the rest.
        ContractStatus::Lapsed => {
            sql.push("c.id IN (SELECT o.contract_id FROM contract_orders o WHERE o.end_on >= ");
            sql.push_bind(threshold)
                .push(" AND o.end_on < ")
                .push_bind(on);
            sql.push(") AND NOT ");
            push_active(sql, on);
            sql.push(" AND ");
            push_started(sql, on);
            sql.push(" AND ");
            push_last_end(sql, on);
            sql.push(" >= ").push_bind(threshold);
        }
        ContractStatus::RecontinuationRequired => {
            sql.push("NOT ");
            push_active(sql, on);
            sql.push(" AND ");
            push_started(sql, on);
            sql.push(" AND ");
            push_last_end(sql, on);
            sql.push(" < ").push_bind(threshold);
        }
    }
}

/// Pushes the statement of one page of contracts (without their orders),
/// as `SqlStore::list_contracts` runs it.
pub fn push_list_contracts<DB: Database>(sql: &mut QueryBuilder<'_, DB>, query: &ContractQuery)
where
    String: Column<DB>,
    i64: Column<DB>,
    NaiveDate: Column<DB>,
{
    sql.push(format!("SELECT {CONTRACT_COLUMNS} FROM contracts c"));
    let mut conditions = Conditions::default();
    if let Some(after) = &query.after_id {
        conditions.and(sql).push("c.id > ").push_bind(after.clone());
    }
    if let Some((status, on)) = query.status {
        push_status(conditions.and(sql), status, on);
    }
    if let Some(before) = query.ends_before {
        let sql = conditions.and(sql);
        sql.push(format!(
            "(SELECT MAX(o.end_on) FROM contract_orders o WHERE {LIVE}) < "
        ));
        sql.push_bind(before);
    }
    sql.push(" ORDER BY c.id LIMIT ").push_bind(query.limit);
}

/// A unique violation on creating `contract`, by the column it is on.
fn contract_taken(error: &sqlx::Error, contract: &NewContract) -> Error {
    let on_license = matches!(error, sqlx::Error::Database(db)
        if db.message().contains("license_id")
            || db.constraint().is_some_and(|c| c.contains("license")));
    if on_license {
        Error::AlreadyExists {
            reason: Reason::LicenseUnderContract.as_str(),
            message: format!("license {} already has a contract", contract.license_id),
        }
    } else {
        Error::AlreadyExists {
            reason: Reason::ContractExists.as_str(),
            message: format!("contract {} already exists", contract.id),
        }
    }
}

/// A contract id that does not exist.
pub(crate) fn contract_not_found(contract_id: &str) -> Error {
    Error::NotFound {
        reason: Reason::ContractNotFound.as_str(),
        message: format!("there is no contract {contract_id}"),
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
    pub(crate) async fn create_contract(
        &self,
        contract: &NewContract,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Contract> {
        let sql = format!(
            "INSERT INTO contracts \
             (id, customer_name, contact_email, license_id, seats, customized, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {CONTRACT_COLUMNS}"
        );
        let mut tx = self.begin_write().await?;
        let row: ContractRow = sqlx::query_as(&sql)
            .bind(contract.id.as_str())
            .bind(&contract.customer_name)
            .bind(contract.contact_email.as_str())
            .bind(contract.license_id.as_str())
            .bind(contract.seats)
            .bind(contract.customized)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|error| {
                if is_unique_violation(&error) {
                    contract_taken(&error, contract)
                } else {
                    db_error(error)
                }
            })?;
        let created = Contract::from(row);
        let change = Change {
            kind: "contract.created",
            contract_id: Some(&created.id),
            license_id: Some(&created.license_id),
            subject: created.id.clone(),
            detail: format!("{} ({} seats)", created.customer_name, created.seats),
        };
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(created)
    }

    pub(crate) async fn contract_with_orders(
        &self,
        id: &str,
    ) -> Result<Option<(Contract, Vec<Order>)>> {
        let sql = format!("SELECT {CONTRACT_COLUMNS} FROM contracts WHERE id = $1");
        let row: Option<ContractRow> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let orders: Vec<OrderRow> = sqlx::query_as(&contract_orders_sql())
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(attach_orders(vec![row.into()], orders)?.pop())
    }

    pub(crate) async fn list_contracts(
        &self,
        query: &ContractQuery,
    ) -> Result<Vec<(Contract, Vec<Order>)>> {
        let rows: Vec<ContractRow> = DB::fetch_all(&self.pool, |sql| {
            push_list_contracts(sql, query);
        })
        .await
        .map_err(db_error)?;
        let contracts: Vec<Contract> = rows.into_iter().map(Into::into).collect();
        if contracts.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = contracts.iter().map(|c| c.id.clone()).collect();
        let orders: Vec<OrderRow> = DB::fetch_all(&self.pool, move |sql| {
            push_page_orders(sql, ids);
        })
        .await
        .map_err(db_error)?;
        attach_orders(contracts, orders)
    }

    pub(crate) async fn contract_by_license(&self, license_id: &str) -> Result<Option<Contract>> {
        let sql = format!("SELECT {CONTRACT_COLUMNS} FROM contracts WHERE license_id = $1");
        let row: Option<ContractRow> = sqlx::query_as(&sql)
            .bind(license_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(row.map(Into::into))
    }

    pub(crate) async fn contract_mail_domains(&self, contract_id: &str) -> Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT domain FROM contract_mail_domains WHERE contract_id = $1 ORDER BY domain",
        )
        .bind(contract_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)
    }

    pub(crate) async fn update_mail_domains(
        &self,
        contract_id: &str,
        add: &[MailDomain],
        remove: &[MailDomain],
        updated_by: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Vec<String>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT contact_email FROM contracts WHERE id = $1{}",
            DB::LOCK_ROW
        );
        let contact_email: String = sqlx::query_scalar(&sql)
            .bind(contract_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
            .ok_or_else(|| contract_not_found(contract_id))?;
        let current: Vec<String> = sqlx::query_scalar(
            "SELECT domain FROM contract_mail_domains WHERE contract_id = $1 ORDER BY domain",
        )
        .bind(contract_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let after = decide_mail_domains(&current, &contact_email, add, remove)
            .map_err(|refusal| Error::invalid(refusal.field(), refusal.to_string()))?;
        let removed: Vec<&String> = current.iter().filter(|d| !after.contains(d)).collect();
        let added: Vec<&String> = after.iter().filter(|d| !current.contains(d)).collect();
        for domain in &removed {
            sqlx::query("DELETE FROM contract_mail_domains WHERE contract_id = $1 AND domain = $2")
                .bind(contract_id)
                .bind(domain.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        for domain in &added {
            sqlx::query(
                "INSERT INTO contract_mail_domains (contract_id, domain, added_at, added_by) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(contract_id)
            .bind(domain.as_str())
            .bind(now)
            .bind(updated_by)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        if !added.is_empty() || !removed.is_empty() {
            let detail = added
                .iter()
                .map(|d| format!("+{d}"))
                .chain(removed.iter().map(|d| format!("-{d}")))
                .collect::<Vec<_>>()
                .join(" ");
            let change = Change {
                kind: "contract.mail_domains_updated",
                contract_id: Some(contract_id),
                license_id: None,
                subject: contract_id.to_owned(),
                detail,
            };
            Self::record_event(&mut tx, audit, change, now).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(after)
    }
}
