//! The [`Store`] implementation of [`SqlStore`], on either backend: each
//! method is written in its topic's file (`calendar`, `tokens`,
//! `contracts`, `orders`, `inquiries`, `keys`, `reissues`, `outbox`,
//! `events`); what differs per backend comes from [`Backend`].

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use crate::domain::Backlog;
use crate::domain::calendar::{Calendar, Closure, ClosureRange, HolidayOverride, OverrideAction};
use crate::domain::contract::{Contract, NewContract, NewOrder, Order};
use crate::domain::inquiry::{Inquiry, NewInquiry};
use crate::domain::license::{Fingerprint, KeyRecord, Mint, ReissueRecord};
use crate::domain::reply_to::MailDomain;
use crate::error::Result;
use crate::store::backend::{Backend, Column, SqlStore};
use crate::store::contracts::ContractQuery;
use crate::store::events::{Event, EventQuery};
use crate::store::inquiries::InquiryQuery;
use crate::store::outbox::{Delivery, OutboxMessage, OutboxQuery};
use crate::store::reissues::{ReissueInput, ReissueQuery};
use crate::store::{Audit, NewToken, OnEvent, OnRevoked, Store, TokenQuery, TokenRecord, db_error};

#[async_trait]
impl<DB> Store for SqlStore<DB>
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
    fn backend(&self) -> &'static str {
        DB::BACKEND
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn create_closure(
        &self,
        name: &str,
        range: &ClosureRange,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Closure> {
        SqlStore::create_closure(self, name, range, now, audit).await
    }

    async fn list_closures(&self) -> Result<Vec<Closure>> {
        SqlStore::list_closures(self).await
    }

    async fn delete_closure(&self, id: i64, now: DateTime<Utc>, audit: &Audit) -> Result<bool> {
        SqlStore::delete_closure(self, id, now, audit).await
    }

    async fn create_holiday_override(
        &self,
        date: NaiveDate,
        action: &OverrideAction,
        note: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<HolidayOverride> {
        SqlStore::create_holiday_override(self, date, action, note, now, audit).await
    }

    async fn list_holiday_overrides(&self) -> Result<Vec<HolidayOverride>> {
        SqlStore::list_holiday_overrides(self).await
    }

    async fn delete_holiday_override(
        &self,
        id: i64,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<bool> {
        SqlStore::delete_holiday_override(self, id, now, audit).await
    }

    async fn create_access_token(
        &self,
        token: &NewToken<'_>,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<TokenRecord> {
        SqlStore::create_access_token(self, token, now, audit).await
    }

    async fn find_active_token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        SqlStore::find_active_token(self, token_hash).await
    }

    async fn get_token(&self, id: i64) -> Result<Option<TokenRecord>> {
        SqlStore::get_token(self, id).await
    }

    async fn list_access_tokens(&self, query: &TokenQuery) -> Result<Vec<TokenRecord>> {
        SqlStore::list_access_tokens(self, query).await
    }

    async fn revoke_access_token(
        &self,
        id: i64,
        reason: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Option<TokenRecord>> {
        SqlStore::revoke_access_token(self, id, reason, now, audit).await
    }

    async fn revoke_tokens_created_by(
        &self,
        creator: i64,
        reason: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Vec<TokenRecord>> {
        SqlStore::revoke_tokens_created_by(self, creator, reason, now, audit).await
    }

    async fn watch_revocations(&self, on_revoked: OnRevoked) {
        DB::watch_revocations(self, on_revoked).await;
    }

    async fn watch_events(&self, on_event: OnEvent) {
        DB::watch_events(self, on_event).await;
    }

    async fn queue_renewal_reminders(
        &self,
        calendar: &Calendar,
        days_before: &[u32],
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        SqlStore::queue_renewal_reminders(self, calendar, days_before, today, now).await
    }

    async fn list_renewal_reminders(
        &self,
        contract_id: &str,
    ) -> Result<Vec<crate::store::reminders::ReminderRecord>> {
        SqlStore::list_renewal_reminders(self, contract_id).await
    }

    async fn create_contract(
        &self,
        contract: &NewContract,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Contract> {
        SqlStore::create_contract(self, contract, now, audit).await
    }

    async fn contract_with_orders(&self, id: &str) -> Result<Option<(Contract, Vec<Order>)>> {
        SqlStore::contract_with_orders(self, id).await
    }

    async fn list_contracts(&self, query: &ContractQuery) -> Result<Vec<(Contract, Vec<Order>)>> {
        SqlStore::list_contracts(self, query).await
    }

    async fn record_order(
        &self,
        contract_id: &str,
        order: &NewOrder,
        created_by: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Order> {
        SqlStore::record_order(self, contract_id, order, created_by, now, audit).await
    }

    async fn contract_mail_domains(&self, contract_id: &str) -> Result<Vec<String>> {
        SqlStore::contract_mail_domains(self, contract_id).await
    }

    async fn update_mail_domains(
        &self,
        contract_id: &str,
        add: &[MailDomain],
        remove: &[MailDomain],
        updated_by: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Vec<String>> {
        SqlStore::update_mail_domains(self, contract_id, add, remove, updated_by, now, audit).await
    }

    async fn create_inquiry(
        &self,
        inquiry: &NewInquiry,
        received_at: DateTime<Utc>,
        handling_starts_at: DateTime<Utc>,
        submitted_by: &str,
        per_day: i64,
        audit: &Audit,
    ) -> Result<Inquiry> {
        SqlStore::create_inquiry(
            self,
            inquiry,
            received_at,
            handling_starts_at,
            submitted_by,
            per_day,
            audit,
        )
        .await
    }

    async fn get_inquiry(&self, id: i64) -> Result<Option<Inquiry>> {
        SqlStore::get_inquiry(self, id).await
    }

    async fn list_inquiries(&self, query: &InquiryQuery) -> Result<Vec<Inquiry>> {
        SqlStore::list_inquiries(self, query).await
    }

    async fn answer_inquiry(
        &self,
        id: i64,
        answer: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Option<Inquiry>> {
        SqlStore::answer_inquiry(self, id, answer, now, audit).await
    }

    async fn close_inquiry(
        &self,
        id: i64,
        reason: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Option<Inquiry>> {
        SqlStore::close_inquiry(self, id, reason, now, audit).await
    }

    async fn contract_by_license(&self, license_id: &str) -> Result<Option<Contract>> {
        SqlStore::contract_by_license(self, license_id).await
    }

    async fn issue_first_key(
        &self,
        license_id: &str,
        fingerprint: &Fingerprint,
        requested_by: &str,
        now: DateTime<Utc>,
        delivery_on: NaiveDate,
        mint: &dyn Mint,
        audit: &Audit,
    ) -> Result<KeyRecord> {
        SqlStore::issue_first_key(
            self,
            license_id,
            fingerprint,
            requested_by,
            now,
            delivery_on,
            mint,
            audit,
        )
        .await
    }

    async fn request_reissue(
        &self,
        input: &ReissueInput,
        mint: &dyn Mint,
        audit: &Audit,
    ) -> Result<ReissueRecord> {
        SqlStore::request_reissue(self, input, mint, audit).await
    }

    async fn approve_reissue(
        &self,
        id: &str,
        decided_by: &str,
        now: DateTime<Utc>,
        mint: &dyn Mint,
        audit: &Audit,
    ) -> Result<ReissueRecord> {
        SqlStore::approve_reissue(self, id, decided_by, now, mint, audit).await
    }

    async fn reject_reissue(
        &self,
        id: &str,
        reason: &str,
        decided_by: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<ReissueRecord> {
        SqlStore::reject_reissue(self, id, reason, decided_by, now, audit).await
    }

    async fn get_reissue(&self, id: &str) -> Result<Option<ReissueRecord>> {
        SqlStore::get_reissue(self, id).await
    }

    async fn list_reissues(&self, query: &ReissueQuery) -> Result<Vec<ReissueRecord>> {
        SqlStore::list_reissues(self, query).await
    }

    async fn revoke_key(
        &self,
        key_id: &str,
        reason: &str,
        revoked_by: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<KeyRecord> {
        SqlStore::revoke_key(self, key_id, reason, revoked_by, now, audit).await
    }

    async fn find_key(&self, key_id: &str) -> Result<Option<KeyRecord>> {
        SqlStore::find_key(self, key_id).await
    }

    async fn find_provisional_key(&self, key_id: &str) -> Result<Option<KeyRecord>> {
        SqlStore::find_provisional_key(self, key_id).await
    }

    async fn list_license_keys(&self, license_id: &str) -> Result<Vec<KeyRecord>> {
        SqlStore::list_license_keys(self, license_id).await
    }

    async fn list_outbox(&self, query: &OutboxQuery) -> Result<Vec<OutboxMessage>> {
        SqlStore::list_outbox(self, query).await
    }

    async fn get_outbox(&self, id: i64) -> Result<Option<OutboxMessage>> {
        SqlStore::get_outbox(self, id).await
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<OutboxMessage>> {
        SqlStore::claim_outbox(self, now, lease_until).await
    }

    async fn finish_outbox(&self, id: i64, delivery: &Delivery, now: DateTime<Utc>) -> Result<()> {
        SqlStore::finish_outbox(self, id, delivery, now).await
    }

    async fn gauges(&self, now: DateTime<Utc>) -> Result<Backlog> {
        SqlStore::gauges(self, now).await
    }

    fn pool_in_use(&self) -> u32 {
        self.connections_in_use()
    }

    async fn retry_outbox(
        &self,
        id: i64,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<OutboxMessage> {
        SqlStore::retry_outbox(self, id, now, audit).await
    }

    async fn backup_to(&self, path: &Path) -> Result<()> {
        DB::backup_to(self, path).await
    }

    async fn list_events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        SqlStore::list_events(self, query).await
    }
}
