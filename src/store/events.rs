//! The audit trail: every change writes an event in its own transaction:
//! when, which token (its name and id, never the secret), what, on which
//! contract or license, and the request id. Who and which request are an
//! argument of every writing store method ([`Audit`]); a change made
//! outside a call (the `neo-supportd` commands on the database) is written
//! as `neo-supportd`.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{
    ColumnIndex, Database, Encode, Executor, IntoArguments, QueryBuilder, Transaction, Type,
};

use crate::error::Result;
use crate::store::backend::{Backend, Batch, Column, Conditions, SqlStore};
use crate::store::db_error;

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
    /// The call's request id (`x-request-id`): the call id.
    pub request_id: Option<String>,
    /// The client's reissue request id, for the events of a reissue.
    pub reissue_request_id: Option<String>,
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

/// The columns of [`Event`].
pub const EVENT_COLUMNS: &str = "id, occurred_at, actor, actor_token_id, request_id, kind, \
                                 contract_id, license_id, subject, detail";

/// Which events to list, one page, oldest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only this contract's.
    pub contract_id: Option<String>,
    /// Only this license's.
    pub license_id: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only these kinds (any when empty).
    pub kinds: Vec<String>,
    /// Only events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only the events of this request (its `x-request-id`, as the call
    /// log prints it).
    pub request_id: Option<String>,
    /// Start after this id.
    pub after_id: Option<i64>,
    /// Most rows.
    pub limit: i64,
}

/// A change to record.
pub(crate) struct Change<'a> {
    pub kind: &'static str,
    pub contract_id: Option<&'a str>,
    pub license_id: Option<&'a str>,
    pub subject: String,
    pub detail: String,
}

/// Who makes a change and in which request, as the audit trail records
/// it. The gRPC layer makes it from the calling token and the call's
/// `x-request-id`; the `neo-supportd` commands on the database use
/// [`Audit::daemon`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// The acting token's name.
    pub actor: String,
    /// The acting token's id; `None` without a token.
    pub token_id: Option<i64>,
    /// The call's request id; `None` outside a call.
    pub request_id: Option<String>,
}

impl Audit {
    /// A change made by a token in a call.
    pub fn token(name: &str, token_id: i64, request_id: Option<String>) -> Self {
        Self {
            actor: name.to_owned(),
            token_id: Some(token_id),
            request_id,
        }
    }

    /// A change made outside a call, by the `neo-supportd` commands on the
    /// database.
    pub fn daemon() -> Self {
        Self {
            actor: "neo-supportd".to_owned(),
            token_id: None,
            request_id: None,
        }
    }
}

/// An event as written: the change, with who made it and when.
struct EventRow {
    occurred_at: DateTime<Utc>,
    actor: String,
    request_id: Option<String>,
    actor_token_id: Option<i64>,
    kind: &'static str,
    contract_id: Option<String>,
    license_id: Option<String>,
    subject: String,
    detail: String,
}

impl EventRow {
    fn new(audit: &Audit, change: Change<'_>, now: DateTime<Utc>) -> Self {
        Self {
            occurred_at: now,
            actor: audit.actor.clone(),
            request_id: audit.request_id.clone(),
            actor_token_id: audit.token_id,
            kind: change.kind,
            contract_id: change.contract_id.map(str::to_owned),
            license_id: change.license_id.map(str::to_owned),
            subject: change.subject,
            detail: change.detail,
        }
    }

    /// Pushes the INSERT of the event on `sql`.
    fn push_insert<DB: Database>(self, sql: &mut QueryBuilder<'_, DB>)
    where
        String: Column<DB>,
        DateTime<Utc>: Column<DB>,
        Option<String>: Column<DB>,
        Option<i64>: Column<DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    {
        sql.push(
            "INSERT INTO events (occurred_at, actor, request_id, kind, contract_id, license_id, \
             subject, detail, actor_token_id) VALUES (",
        );
        sql.separated(", ")
            .push_bind(self.occurred_at)
            .push_bind(self.actor)
            .push_bind(self.request_id)
            .push_bind(self.kind)
            .push_bind(self.contract_id)
            .push_bind(self.license_id)
            .push_bind(self.subject)
            .push_bind(self.detail)
            .push_bind(self.actor_token_id);
        sql.push(")");
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
    /// Writes `change` as an event by `audit`'s actor, inside the
    /// caller's transaction.
    pub(crate) async fn record_event(
        tx: &mut Transaction<'static, DB>,
        audit: &Audit,
        change: Change<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let event = EventRow::new(audit, change, now);
        DB::execute(&mut **tx, move |sql| event.push_insert(sql))
            .await
            .map_err(db_error)
    }

    /// Adds the event of `change` to a batch of writes.
    pub(crate) fn batch_event(
        batch: &mut Batch<DB>,
        audit: &Audit,
        change: Change<'_>,
        now: DateTime<Utc>,
    ) {
        let event = EventRow::new(audit, change, now);
        batch.push(move |sql| event.push_insert(sql));
    }

    pub(crate) async fn list_events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        DB::fetch_all(&self.pool, |sql| {
            // A reissue's events name its RR-... id as subject: the
            // client's request id comes from the request's row.
            sql.push(format!(
                "SELECT {EVENT_COLUMNS}, (SELECT r.request_id FROM reissue_requests r \
                 WHERE r.id = events.subject) AS reissue_request_id FROM events"
            ));
            let mut conditions = Conditions::default();
            if let Some(contract_id) = &query.contract_id {
                let sql = conditions.and(sql).push("contract_id = ");
                sql.push_bind(contract_id.clone());
            }
            if let Some(license_id) = &query.license_id {
                let sql = conditions.and(sql).push("license_id = ");
                sql.push_bind(license_id.clone());
            }
            if let Some(kind) = &query.kind {
                conditions.and(sql).push("kind = ").push_bind(kind.clone());
            }
            if !query.kinds.is_empty() {
                let sql = conditions.and(sql).push("kind IN (");
                let mut list = sql.separated(", ");
                for kind in &query.kinds {
                    list.push_bind(kind.clone());
                }
                sql.push(")");
            }
            if let Some(since) = query.since {
                conditions.and(sql).push("occurred_at >= ").push_bind(since);
            }
            if let Some(request_id) = &query.request_id {
                let sql = conditions.and(sql).push("request_id = ");
                sql.push_bind(request_id.clone());
            }
            if let Some(after_id) = query.after_id {
                conditions.and(sql).push("id > ").push_bind(after_id);
            }
            sql.push(" ORDER BY id LIMIT ").push_bind(query.limit);
        })
        .await
        .map_err(db_error)
    }
}
