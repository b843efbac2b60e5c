//! The audit trail: every change writes an event in its own transaction:
//! when, which token (its name and id, never the secret), what, on which contract
//! or license, and the request id. Who and which request come from the
//! call's context ([`crate::telemetry::CallContext`]); a change made
//! outside a call (the `neo-supportd` commands on the database) is written
//! as `neo-supportd`.

use chrono::{DateTime, Utc};

use crate::error::Result;

/// An event on record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Event {
    /// Store-assigned id, in order of writing.
    pub id: i64,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Which token (its name).
    pub actor: String,
    /// Which token (its id); `None` for the `neo-supportd` commands and
    /// events written before ids were recorded.
    pub actor_token_id: Option<i64>,
    /// The call's request id.
    pub request_id: Option<String>,
    /// What, e.g. `key.reissued`.
    pub kind: String,
    /// On which contract.
    pub contract_id: Option<String>,
    /// On which license.
    pub license_id: Option<String>,
    /// The id of the thing changed (an order, a key, a closure, ...).
    pub subject: String,
    /// A short description, never a secret.
    pub detail: String,
}

pub(crate) const EVENT_COLUMNS: &str = "id, occurred_at, actor, actor_token_id, request_id, kind, contract_id, license_id, subject, detail";

/// Which events to list, one page, oldest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only this contract's.
    pub contract_id: Option<String>,
    /// Only this license's.
    pub license_id: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Start after this id.
    pub after_id: Option<i64>,
    /// Most rows.
    pub limit: i64,
}

/// The INSERT of one event, its nine parameters numbered from `$first`:
/// occurred_at, actor, request_id, kind, contract_id, license_id, subject,
/// detail, actor_token_id (actor and request id from
/// [`crate::telemetry::CallContext::current`], the token id from
/// [`crate::telemetry::CallContext::current_token_id`]).
pub(crate) fn insert_sql(first: usize) -> String {
    let values: Vec<String> = (first..first + 9).map(|n| format!("${n}")).collect();
    format!(
        "INSERT INTO events (occurred_at, actor, request_id, kind, contract_id, license_id, subject, detail, actor_token_id) VALUES ({})",
        values.join(", ")
    )
}

/// A change to record.
pub(crate) struct Change<'a> {
    pub kind: &'static str,
    pub contract_id: Option<&'a str>,
    pub license_id: Option<&'a str>,
    pub subject: String,
    pub detail: String,
}

/// Writes `change` as an event with the current call's actor and request
/// id, inside the caller's transaction.
pub(crate) async fn record<'c, E, DB>(
    executor: E,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> Result<()>
where
    E: sqlx::Executor<'c, Database = DB>,
    DB: sqlx::Database,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let (actor, request_id) = crate::telemetry::CallContext::current();
    sqlx::query(&insert_sql(1))
        .bind(now)
        .bind(actor)
        .bind(request_id)
        .bind(change.kind.to_owned())
        .bind(change.contract_id.map(str::to_owned))
        .bind(change.license_id.map(str::to_owned))
        .bind(change.subject)
        .bind(change.detail)
        .bind(crate::telemetry::CallContext::current_token_id())
        .execute(executor)
        .await
        .map_err(crate::store::db_error)?;
    Ok(())
}
