//! Contracts, orders and inquiries: row types, their conversion to domain
//! types, and the statements both backends share, expanded into each
//! backend's `Store` implementation by [`contract_methods`].
//!
//! Recording an order reads the contract's history and writes the new
//! order in one write transaction: SQLite takes the write lock at `BEGIN
//! IMMEDIATE`, PostgreSQL locks the contract row `FOR UPDATE`. Each backend
//! supplies `begin_write()` and `LOCK_ROW` for that.

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::contract::{Contract, ContractStatus, Order, OrderKind, Period};
use crate::domain::inquiry::{Category, Inquiry, InquiryStatus, Product};
use crate::error::{Error, Result};

pub(crate) const CONTRACT_COLUMNS: &str =
    "id, customer_name, contact_email, license_id, seats, customized, created_at";
pub(crate) const ORDER_COLUMNS: &str = "id, contract_id, kind, received_on, purchased_on, seats, start_on, end_on, covered_from, certificate_no, superseded_by";
pub(crate) const INQUIRY_COLUMNS: &str = "id, contract_id, product, category, subject, body, reply_to, status, received_at, handling_starts_at, answered_at, submitted_by";

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

/// A value bound to a statement built at run time.
pub(crate) enum Param {
    Text(String),
    Date(NaiveDate),
    Time(DateTime<Utc>),
    Int(i64),
}

/// Binds run-time parameters in order.
pub(crate) fn bind_all<'q, DB, O>(
    mut statement: sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>,
    params: Vec<Param>,
) -> sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    NaiveDate: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for param in params {
        statement = match param {
            Param::Text(v) => statement.bind(v),
            Param::Date(v) => statement.bind(v),
            Param::Time(v) => statement.bind(v),
            Param::Int(v) => statement.bind(v),
        };
    }
    statement
}

/// Appends `clause` with its parameters, numbering `$N` from `params`.
pub(crate) fn push_clause(
    sql: &mut String,
    params: &mut Vec<Param>,
    clause: &str,
    values: Vec<Param>,
) {
    let mut clause = clause.to_owned();
    for (i, value) in values.into_iter().enumerate() {
        params.push(value);
        clause = clause.replace(&format!("?{}", i + 1), &format!("${}", params.len()));
    }
    sql.push_str(if sql.contains(" WHERE ") {
        " AND "
    } else {
        " WHERE "
    });
    sql.push_str(&clause);
}

/// The live periods of contract `c`, for SQL filters.
const LIVE: &str = "o.contract_id = c.id AND o.kind <> 'add-seats' AND o.superseded_by IS NULL AND o.end_on IS NOT NULL";

/// The SQL condition for a status on a date (`?1`) with the renewal
/// threshold (`?2`, see `renewal_threshold`).
pub(crate) fn status_clause(status: ContractStatus) -> String {
    let active = format!(
        "EXISTS (SELECT 1 FROM contract_orders o WHERE {LIVE} AND o.covered_from <= ?1 AND o.end_on >= ?1)"
    );
    let started =
        format!("EXISTS (SELECT 1 FROM contract_orders o WHERE {LIVE} AND o.covered_from <= ?1)");
    let last_end =
        format!("(SELECT MAX(o.end_on) FROM contract_orders o WHERE {LIVE} AND o.end_on < ?1)");
    match status {
        ContractStatus::Active => active,
        ContractStatus::NotStarted => format!("NOT {started} AND ?2 = ?2"),
        // A lapsed contract has an order that ended in [?2, ?1): the
        // contract_orders_by_end index finds those few without reading the
        // rest.
        ContractStatus::Lapsed => format!(
            "c.id IN (SELECT o.contract_id FROM contract_orders o WHERE o.end_on >= ?2 AND o.end_on < ?1) \
             AND NOT {active} AND {started} AND {last_end} >= ?2"
        ),
        ContractStatus::RecontinuationRequired => {
            format!("NOT {active} AND {started} AND {last_end} < ?2")
        }
    }
}

/// The SQL condition "the last support day is before `?1`".
pub(crate) fn ends_before_clause() -> String {
    format!("(SELECT MAX(o.end_on) FROM contract_orders o WHERE {LIVE}) < ?1")
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

#[derive(sqlx::FromRow)]
pub(crate) struct OrderRow {
    id: i64,
    pub(crate) contract_id: String,
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

#[derive(sqlx::FromRow)]
pub(crate) struct InquiryRow {
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
        })
    }
}

/// Groups orders (sorted by contract then id) under their contracts.
pub(crate) fn attach_orders(
    contracts: Vec<Contract>,
    orders: Vec<OrderRow>,
) -> Result<Vec<(Contract, Vec<Order>)>> {
    let mut grouped: std::collections::HashMap<String, Vec<Order>> =
        std::collections::HashMap::new();
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

/// The columns of a new order: `(purchased_on, certificate_no)`.
pub(crate) fn order_inputs(
    order: &crate::domain::contract::NewOrder,
) -> (NaiveDate, Option<NaiveDate>, Option<String>) {
    use crate::domain::contract::NewOrder;
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

/// Queues an e-mail about an inquiry to its reply-to address, due on the
/// JST date of `now`.
pub(crate) async fn queue_inquiry_mail<'c, E, DB>(
    executor: E,
    inquiry: &Inquiry,
    kind: &str,
    subject: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<()>
where
    E: sqlx::Executor<'c, Database = DB>,
    DB: sqlx::Database,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> NaiveDate: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO outbox (kind, recipient, subject, body, due_on, inquiry_id, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(kind.to_owned())
    .bind(inquiry.reply_to.clone())
    .bind(subject.to_owned())
    .bind(body.to_owned())
    .bind(crate::domain::dates::jst_date(now))
    .bind(inquiry.id)
    .bind(now)
    .execute(executor)
    .await
    .map_err(crate::store::db_error)?;
    Ok(())
}

/// Implements `Store` for a backend: the given methods plus the contract-,
/// order- and inquiry-methods, for a backend with a `pool`,
/// `begin_write()` and `LOCK_ROW`.
macro_rules! impl_store_with_contracts {
    ($store:ty, { $($items:item)* }) => {
        $crate::store::licenses::impl_store_with_licenses!($store, {
        $($items)*
        async fn create_contract(
            &self,
            contract: &$crate::domain::contract::NewContract,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::error::Result<$crate::domain::contract::Contract> {
            use $crate::store::contracts::*;
            let sql = format!(
                "INSERT INTO contracts (id, customer_name, contact_email, license_id, seats, customized, created_at) \
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
                    if !$crate::store::is_unique_violation(&error) {
                        return $crate::store::db_error(error);
                    }
                    let on_license = matches!(&error, sqlx::Error::Database(db) if db.message().contains("license_id")
                        || db.constraint().is_some_and(|c| c.contains("license")));
                    if on_license {
                        $crate::error::Error::AlreadyExists {
                            reason: "LICENSE_UNDER_CONTRACT",
                            message: format!("license {} already has a contract", contract.license_id),
                        }
                    } else {
                        $crate::error::Error::AlreadyExists {
                            reason: "CONTRACT_EXISTS",
                            message: format!("contract {} already exists", contract.id),
                        }
                    }
                })?;
            let created: $crate::domain::contract::Contract = row.into();
            $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "contract.created", contract_id: Some(&created.id), license_id: Some(&created.license_id), subject: created.id.clone(), detail: format!("{} ({} seats)", created.customer_name, created.seats) }, now).await?;
            tx.commit().await.map_err($crate::store::db_error)?;
            Ok(created)
        }

        async fn contract_with_orders(
            &self,
            id: &str,
        ) -> $crate::error::Result<Option<($crate::domain::contract::Contract, Vec<$crate::domain::contract::Order>)>> {
            use $crate::store::contracts::*;
            let sql = format!("SELECT {CONTRACT_COLUMNS} FROM contracts WHERE id = $1");
            let Some(row) = sqlx::query_as::<_, ContractRow>(&sql)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::db_error)?
            else {
                return Ok(None);
            };
            let sql = format!("SELECT {ORDER_COLUMNS} FROM contract_orders WHERE contract_id = $1 ORDER BY id");
            let orders: Vec<OrderRow> = sqlx::query_as(&sql)
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::db_error)?;
            Ok(attach_orders(vec![row.into()], orders)?.pop())
        }

        async fn list_contracts(
            &self,
            query: &$crate::store::contracts::ContractQuery,
        ) -> $crate::error::Result<Vec<($crate::domain::contract::Contract, Vec<$crate::domain::contract::Order>)>> {
            use $crate::store::contracts::*;
            let mut sql = format!("SELECT {CONTRACT_COLUMNS} FROM contracts c");
            let mut params = Vec::new();
            if let Some(after) = &query.after_id {
                push_clause(&mut sql, &mut params, "c.id > ?1", vec![Param::Text(after.clone())]);
            }
            if let Some((status, date)) = query.status {
                let threshold = $crate::domain::contract::renewal_threshold(date);
                push_clause(&mut sql, &mut params, &status_clause(status), vec![Param::Date(date), Param::Date(threshold)]);
            }
            if let Some(before) = query.ends_before {
                push_clause(&mut sql, &mut params, &ends_before_clause(), vec![Param::Date(before)]);
            }
            params.push(Param::Int(query.limit));
            sql.push_str(&format!(" ORDER BY c.id LIMIT ${}", params.len()));
            let statement = bind_all(sqlx::query_as::<_, ContractRow>(&sql), params);
            let contracts: Vec<$crate::domain::contract::Contract> = statement
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::db_error)?
                .into_iter()
                .map(Into::into)
                .collect();
            if contracts.is_empty() {
                return Ok(Vec::new());
            }
            let placeholders: Vec<String> = (1..=contracts.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {ORDER_COLUMNS} FROM contract_orders WHERE contract_id IN ({}) ORDER BY contract_id, id",
                placeholders.join(", ")
            );
            let mut statement = sqlx::query_as::<_, OrderRow>(&sql);
            for contract in &contracts {
                statement = statement.bind(contract.id.clone());
            }
            let orders = statement.fetch_all(&self.pool).await.map_err($crate::store::db_error)?;
            attach_orders(contracts, orders)
        }

        async fn record_order(
            &self,
            contract_id: &str,
            order: &$crate::domain::contract::NewOrder,
            created_by: &str,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::error::Result<$crate::domain::contract::Order> {
            use $crate::domain::contract::{decide_order, NewOrder, OrderKind};
            use $crate::store::contracts::*;
            let mut tx = self.begin_write().await?;
            let sql = format!("SELECT seats FROM contracts WHERE id = $1{}", Self::LOCK_ROW);
            let seats: Option<i64> = sqlx::query_scalar(&sql)
                .bind(contract_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::store::db_error)?;
            let seats = seats.ok_or_else(|| $crate::error::Error::NotFound {
                reason: "CONTRACT_NOT_FOUND",
                message: format!("there is no contract {contract_id}"),
            })?;
            let sql = format!("SELECT {ORDER_COLUMNS} FROM contract_orders WHERE contract_id = $1 ORDER BY id");
            let history = sqlx::query_as::<_, OrderRow>(&sql)
                .bind(contract_id)
                .fetch_all(&mut *tx)
                .await
                .map_err($crate::store::db_error)?
                .into_iter()
                .map(TryInto::try_into)
                .collect::<$crate::error::Result<Vec<_>>>()?;
            let decision = decide_order(&history, seats, order).map_err(|refusal| {
                $crate::error::Error::FailedPrecondition {
                    reason: refusal.reason(),
                    message: refusal.to_string(),
                }
            })?;
            let (received_on, purchased_on, certificate_no) = order_inputs(order);
            let sql = format!(
                "INSERT INTO contract_orders (contract_id, kind, received_on, purchased_on, seats, start_on, end_on, covered_from, certificate_no, created_at, created_by) \
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
                .map_err($crate::store::db_error)?;
            let recorded: $crate::domain::contract::Order = row.try_into()?;
            if let Some(old) = decision.supersedes {
                sqlx::query("UPDATE contract_orders SET superseded_by = $1 WHERE id = $2")
                    .bind(recorded.id)
                    .bind(old)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::db_error)?;
            }
            if let (OrderKind::AddSeats, NewOrder::AddSeats { seats: added, .. }) = (decision.kind, order) {
                sqlx::query("UPDATE contracts SET seats = seats + $1 WHERE id = $2")
                    .bind(*added)
                    .bind(contract_id)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::db_error)?;
            }
            $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "order.recorded", contract_id: Some(contract_id), license_id: None, subject: recorded.id.to_string(), detail: format!("{} {}", recorded.kind.as_str(), recorded.period.map(|p| format!("{} .. {}", p.start, p.end)).unwrap_or_else(|| "not covered".into())) }, now).await?;
            tx.commit().await.map_err($crate::store::db_error)?;
            Ok(recorded)
        }

        async fn create_inquiry(
            &self,
            inquiry: &$crate::domain::inquiry::NewInquiry,
            received_at: chrono::DateTime<chrono::Utc>,
            handling_starts_at: chrono::DateTime<chrono::Utc>,
            submitted_by: &str,
            per_day: i64,
        ) -> $crate::error::Result<$crate::domain::inquiry::Inquiry> {
            use $crate::store::contracts::*;
            let sql = format!(
                "INSERT INTO inquiries (contract_id, product, category, subject, body, reply_to, status, received_at, handling_starts_at, submitted_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9) RETURNING {INQUIRY_COLUMNS}"
            );
            let mut tx = self.begin_write().await?;
            // The day's count, under the write lock (SQLite) or the
            // contract row's lock (PostgreSQL): concurrent submissions of
            // one contract are counted one after the other.
            let lock = format!("SELECT id FROM contracts WHERE id = $1{}", Self::LOCK_ROW);
            sqlx::query_scalar::<_, String>(&lock)
                .bind(&inquiry.contract_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::store::db_error)?
                .ok_or_else(|| $crate::error::Error::NotFound {
                    reason: "CONTRACT_NOT_FOUND",
                    message: format!("there is no contract {}", inquiry.contract_id),
                })?;
            let (day_start, day_end) = $crate::domain::inquiry::jst_day(received_at);
            let received_today: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM inquiries WHERE contract_id = $1 AND received_at >= $2 AND received_at < $3",
            )
            .bind(&inquiry.contract_id)
            .bind(day_start)
            .bind(day_end)
            .fetch_one(&mut *tx)
            .await
            .map_err($crate::store::db_error)?;
            $crate::domain::inquiry::check_daily_limit(&inquiry.contract_id, received_today, per_day, received_at)
                .map_err(|reached| $crate::error::Error::RateLimited {
                    message: reached.to_string(),
                    retry_after: Some(reached.retry_after),
                })?;
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
                .map_err($crate::store::db_error)?;
            let stored: $crate::domain::inquiry::Inquiry = row.try_into()?;
            // The acknowledgement goes out in the same transaction.
            let (subject, body) = $crate::domain::inquiry::acknowledgement(&stored);
            queue_inquiry_mail(&mut *tx, &stored, "inquiry_ack", &subject, &body, received_at).await?;
            $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "inquiry.submitted", contract_id: Some(&stored.contract_id), license_id: None, subject: stored.id.to_string(), detail: format!("{} {}", stored.product.as_str(), stored.category.as_str()) }, received_at).await?;
            tx.commit().await.map_err($crate::store::db_error)?;
            Ok(stored)
        }

        async fn contract_mail_domains(&self, contract_id: &str) -> $crate::error::Result<Vec<String>> {
            sqlx::query_scalar("SELECT domain FROM contract_mail_domains WHERE contract_id = $1 ORDER BY domain")
                .bind(contract_id)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::db_error)
        }

        async fn update_mail_domains(
            &self,
            contract_id: &str,
            add: &[$crate::domain::reply_to::MailDomain],
            remove: &[$crate::domain::reply_to::MailDomain],
            updated_by: &str,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::error::Result<Vec<String>> {
            let mut tx = self.begin_write().await?;
            let sql = format!("SELECT contact_email FROM contracts WHERE id = $1{}", Self::LOCK_ROW);
            let contact_email: String = sqlx::query_scalar(&sql)
                .bind(contract_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::store::db_error)?
                .ok_or_else(|| $crate::error::Error::NotFound {
                    reason: "CONTRACT_NOT_FOUND",
                    message: format!("there is no contract {contract_id}"),
                })?;
            let current: Vec<String> = sqlx::query_scalar("SELECT domain FROM contract_mail_domains WHERE contract_id = $1 ORDER BY domain")
                .bind(contract_id)
                .fetch_all(&mut *tx)
                .await
                .map_err($crate::store::db_error)?;
            let after = $crate::domain::reply_to::decide_mail_domains(&current, &contact_email, add, remove)
                .map_err(|refusal| $crate::error::Error::invalid(refusal.field(), refusal.to_string()))?;
            let removed: Vec<&String> = current.iter().filter(|d| !after.contains(d)).collect();
            let added: Vec<&String> = after.iter().filter(|d| !current.contains(d)).collect();
            for domain in &removed {
                sqlx::query("DELETE FROM contract_mail_domains WHERE contract_id = $1 AND domain = $2")
                    .bind(contract_id)
                    .bind(domain.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::db_error)?;
            }
            for domain in &added {
                sqlx::query("INSERT INTO contract_mail_domains (contract_id, domain, added_at, added_by) VALUES ($1, $2, $3, $4)")
                    .bind(contract_id)
                    .bind(domain.as_str())
                    .bind(now)
                    .bind(updated_by)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::db_error)?;
            }
            if !added.is_empty() || !removed.is_empty() {
                let detail = added
                    .iter()
                    .map(|d| format!("+{d}"))
                    .chain(removed.iter().map(|d| format!("-{d}")))
                    .collect::<Vec<_>>()
                    .join(" ");
                $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "contract.mail_domains_updated", contract_id: Some(contract_id), license_id: None, subject: contract_id.to_owned(), detail }, now).await?;
            }
            tx.commit().await.map_err($crate::store::db_error)?;
            Ok(after)
        }

        async fn get_inquiry(&self, id: i64) -> $crate::error::Result<Option<$crate::domain::inquiry::Inquiry>> {
            use $crate::store::contracts::*;
            let sql = format!("SELECT {INQUIRY_COLUMNS} FROM inquiries WHERE id = $1");
            let row: Option<InquiryRow> = sqlx::query_as(&sql)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::db_error)?;
            row.map(TryInto::try_into).transpose()
        }

        async fn list_inquiries(
            &self,
            query: &$crate::store::contracts::InquiryQuery,
        ) -> $crate::error::Result<Vec<$crate::domain::inquiry::Inquiry>> {
            use $crate::store::contracts::*;
            let mut sql = format!("SELECT {INQUIRY_COLUMNS} FROM inquiries");
            let mut params = Vec::new();
            if let Some(contract_id) = &query.contract_id {
                push_clause(&mut sql, &mut params, "contract_id = ?1", vec![Param::Text(contract_id.clone())]);
            }
            if let Some(status) = query.status {
                push_clause(&mut sql, &mut params, "status = ?1", vec![Param::Text(status.as_str().into())]);
            }
            if let Some((at, id)) = query.after {
                push_clause(
                    &mut sql,
                    &mut params,
                    "(handling_starts_at > ?1 OR (handling_starts_at = ?1 AND id > ?2))",
                    vec![Param::Time(at), Param::Int(id)],
                );
            }
            params.push(Param::Int(query.limit));
            sql.push_str(&format!(" ORDER BY handling_starts_at, id LIMIT ${}", params.len()));
            let statement = bind_all(sqlx::query_as::<_, InquiryRow>(&sql), params);
            statement
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::db_error)?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
        }

        async fn answer_inquiry(
            &self,
            id: i64,
            answer: Option<&str>,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::error::Result<Option<$crate::domain::inquiry::Inquiry>> {
            use $crate::store::contracts::*;
            let sql = format!(
                "UPDATE inquiries SET status = 'answered', answered_at = $1 WHERE id = $2 AND status = 'open' RETURNING {INQUIRY_COLUMNS}"
            );
            let mut tx = self.begin_write().await?;
            let row: Option<InquiryRow> = sqlx::query_as(&sql)
                .bind(now)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::store::db_error)?;
            match row {
                Some(row) => {
                    let answered: $crate::domain::inquiry::Inquiry = row.try_into()?;
                    if let Some(answer) = answer {
                        let (subject, body) = $crate::domain::inquiry::answer_mail(&answered, answer);
                        queue_inquiry_mail(&mut *tx, &answered, "inquiry_answer", &subject, &body, now).await?;
                    }
                    $crate::store::events::record(&mut *tx, $crate::store::events::Change { kind: "inquiry.answered", contract_id: Some(&answered.contract_id), license_id: None, subject: answered.id.to_string(), detail: if answer.is_some() { "answer sent by e-mail".to_owned() } else { String::new() } }, now).await?;
                    tx.commit().await.map_err($crate::store::db_error)?;
                    Ok(Some(answered))
                }
                None => match self.get_inquiry(id).await? {
                    Some(_) => Err($crate::error::Error::FailedPrecondition {
                        reason: "ALREADY_ANSWERED",
                        message: format!("inquiry {id} is already answered"),
                    }),
                    None => Ok(None),
                },
            }
        }
        });
    };
}

pub(crate) use impl_store_with_contracts;
