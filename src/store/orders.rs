//! Orders: first year, renewal, re-continuation, added seats and
//! certificates, each with the period it covers.
//!
//! Recording an order reads the contract's history and writes the new
//! order in one write transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL:
//! the contract row `FOR UPDATE`); `decide_order` in the domain decides
//! it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{
    ColumnIndex, Database, Encode, Executor, IntoArguments, QueryBuilder, Transaction, Type,
};

use crate::domain::contract::{Contract, NewOrder, Order, OrderKind, Period, decide_order};
use crate::error::{Error, Result};
use crate::store::backend::{Backend, Column, SqlStore};
use crate::store::contracts::contract_not_found;
use crate::store::db_error;
use crate::store::events::{Audit, Change};

/// The columns of an order row.
pub const ORDER_COLUMNS: &str = "id, contract_id, kind, received_on, purchased_on, seats, \
                                 start_on, end_on, covered_from, certificate_no, superseded_by";

/// Contract `$1`'s orders, oldest first.
pub fn contract_orders_sql() -> String {
    format!("SELECT {ORDER_COLUMNS} FROM contract_orders WHERE contract_id = $1 ORDER BY id")
}

/// Pushes the statement that reads the orders of a page of contracts.
pub fn push_page_orders<DB: Database>(sql: &mut QueryBuilder<'_, DB>, contract_ids: Vec<String>)
where
    String: Column<DB>,
{
    sql.push(format!(
        "SELECT {ORDER_COLUMNS} FROM contract_orders WHERE contract_id IN ("
    ));
    let mut list = sql.separated(", ");
    for id in contract_ids {
        list.push_bind(id);
    }
    sql.push(") ORDER BY contract_id, id");
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrderRow {
    id: i64,
    contract_id: String,
    kind: String,
    received_on: NaiveDate,
    purchased_on: Option<NaiveDate>,
    seats: i64,
    start_on: Option<NaiveDate>,
    end_on: Option<NaiveDate>,
    covered_from: Option<NaiveDate>,
    certificate_no: Option<String>,
    superseded_by: Option<i64>,
}

impl TryFrom<OrderRow> for Order {
    type Error = Error;

    fn try_from(row: OrderRow) -> Result<Self> {
        let kind = OrderKind::parse(&row.kind)
            .ok_or_else(|| Error::internal("stored order kind is corrupt"))?;
        let period = match (row.start_on, row.end_on, row.covered_from) {
            (Some(start), Some(end), Some(covered_from)) => Some(Period {
                start,
                end,
                covered_from,
            }),
            (None, None, None) => None,
            _ => return Err(Error::internal("stored order period is corrupt")),
        };
        Ok(Order {
            id: row.id,
            kind,
            received_on: row.received_on,
            purchased_on: row.purchased_on,
            seats: row.seats,
            period,
            certificate_no: row.certificate_no,
            superseded_by: row.superseded_by,
        })
    }
}

/// Groups orders (sorted by contract then id) under their contracts.
pub(crate) fn attach_orders(
    contracts: Vec<Contract>,
    orders: Vec<OrderRow>,
) -> Result<Vec<(Contract, Vec<Order>)>> {
    let mut grouped: HashMap<String, Vec<Order>> = HashMap::new();
    for row in orders {
        let contract_id = row.contract_id.clone();
        grouped
            .entry(contract_id)
            .or_default()
            .push(row.try_into()?);
    }
    Ok(contracts
        .into_iter()
        .map(|c| {
            let orders = grouped.remove(&c.id).unwrap_or_default();
            (c, orders)
        })
        .collect())
}

/// The columns of a new order: `(received_on, purchased_on,
/// certificate_no)`.
fn order_inputs(order: &NewOrder) -> (NaiveDate, Option<NaiveDate>, Option<String>) {
    match order {
        NewOrder::FirstYear {
            received_on,
            purchased_on,
        } => (*received_on, Some(*purchased_on), None),
        NewOrder::Renewal { received_on } | NewOrder::ReContinuation { received_on } => {
            (*received_on, None, None)
        }
        NewOrder::AddSeats {
            received_on,
            purchased_on,
            ..
        } => (*received_on, Some(*purchased_on), None),
        NewOrder::Certificate {
            received_on,
            certificate_no,
            ..
        } => (*received_on, None, Some(certificate_no.clone())),
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
    /// A contract's orders, oldest first, inside a transaction.
    pub(crate) async fn orders_in(
        tx: &mut Transaction<'static, DB>,
        contract_id: &str,
    ) -> Result<Vec<Order>> {
        let rows: Vec<OrderRow> = sqlx::query_as(&contract_orders_sql())
            .bind(contract_id)
            .fetch_all(&mut **tx)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    pub(crate) async fn record_order(
        &self,
        contract_id: &str,
        order: &NewOrder,
        created_by: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Order> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT seats FROM contracts WHERE id = $1{}", DB::LOCK_ROW);
        let seats: i64 = sqlx::query_scalar(&sql)
            .bind(contract_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
            .ok_or_else(|| contract_not_found(contract_id))?;
        let history = Self::orders_in(&mut tx, contract_id).await?;
        let decision =
            decide_order(&history, seats, order).map_err(|refusal| Error::FailedPrecondition {
                reason: refusal.reason(),
                message: refusal.to_string(),
            })?;
        let (received_on, purchased_on, certificate_no) = order_inputs(order);
        let sql = format!(
            "INSERT INTO contract_orders (contract_id, kind, received_on, purchased_on, seats, \
             start_on, end_on, covered_from, certificate_no, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {ORDER_COLUMNS}"
        );
        let row: OrderRow = sqlx::query_as(&sql)
            .bind(contract_id)
            .bind(decision.kind.as_str())
            .bind(received_on)
            .bind(purchased_on)
            .bind(decision.seats)
            .bind(decision.period.map(|p| p.start))
            .bind(decision.period.map(|p| p.end))
            .bind(decision.period.map(|p| p.covered_from))
            .bind(certificate_no)
            .bind(now)
            .bind(created_by)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        let recorded = Order::try_from(row)?;
        if let Some(old) = decision.supersedes {
            sqlx::query("UPDATE contract_orders SET superseded_by = $1 WHERE id = $2")
                .bind(recorded.id)
                .bind(old)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        if let (OrderKind::AddSeats, NewOrder::AddSeats { seats: added, .. }) =
            (decision.kind, order)
        {
            sqlx::query("UPDATE contracts SET seats = seats + $1 WHERE id = $2")
                .bind(*added)
                .bind(contract_id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        let covers = recorded.period.map_or_else(
            || "not covered".to_owned(),
            |p| format!("{} .. {}", p.start, p.end),
        );
        let change = Change {
            kind: "order.recorded",
            contract_id: Some(contract_id),
            license_id: None,
            subject: recorded.id.to_string(),
            detail: format!("{} {covers}", recorded.kind.as_str()),
        };
        Self::record_event(&mut tx, audit, change, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(recorded)
    }
}
