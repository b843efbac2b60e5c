//! The gRPC face of the service: one file per service, the conversion
//! between proto messages and domain types, and the mapping of [`Error`]
//! to `tonic::Status`, the only place that builds one.

pub mod cache;
mod calendar;
mod contracts;
pub mod convert;
mod events;
pub mod gate;
mod inquiries;
pub mod license;
mod outbox;
mod status;
pub mod support;

use std::sync::Arc;

use tonic::metadata::MetadataMap;

use crate::clock::Clock;
use crate::domain::calendar::Calendar;
use crate::domain::license::KeyRecord;
use crate::domain::token::{Role, hash_token};
use crate::error::{Error, Reason, Result};
use crate::signer::keys::Keyring;
use crate::store::Audit;
use crate::store::Store;

pub use status::to_status;

/// Answers a call: the library result becomes a response or a status.
pub(crate) fn answer<T>(result: Result<T>) -> Result<tonic::Response<T>, tonic::Status> {
    result.map(tonic::Response::new).map_err(to_status)
}

/// What every service shares: the store and the clock.
#[derive(Clone)]
pub struct AppState {
    /// Where everything is kept.
    pub store: Arc<dyn Store>,
    /// Where the server reads the time.
    pub clock: Arc<dyn Clock>,
    /// The signing keys, parsed once at start.
    pub keyring: Arc<Keyring>,
    /// Business settings.
    pub settings: Settings,
    /// Token look-ups and the calendar, kept for a few seconds.
    pub cache: Arc<cache::ReadCache>,
    /// The rate limiters' state.
    pub limiters: Arc<gate::Limiters>,
}

/// Business settings of the server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Reissues of one license signed at once per rolling 365 days; more
    /// wait for staff review.
    pub reissues_before_review: i64,
    /// How long the server answers from memory what it read of tokens and
    /// the calendar: a closure added through another replica takes effect
    /// within this time; a revoked token within a second (see
    /// [`cache`]), and at the latest after this time.
    pub cache_ttl: std::time::Duration,
    /// Calls per token and failed authentications per address.
    pub rate_limits: gate::RateLimits,
    /// Inquiries one contract may submit per JST calendar day; the next is
    /// RESOURCE_EXHAUSTED `RATE_LIMITED`.
    pub inquiries_per_day: i64,
    /// Days a provisional key, given while a reissue waits for review, is
    /// valid; 0 gives none.
    pub provisional_key_days: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            reissues_before_review: 2,
            cache_ttl: std::time::Duration::from_secs(5),
            rate_limits: gate::RateLimits::default(),
            inquiries_per_day: crate::domain::inquiry::DEFAULT_INQUIRIES_PER_DAY,
            provisional_key_days: 30,
        }
    }
}

/// Who is calling, from their token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's id.
    pub token_id: i64,
    /// The token's name (never the token).
    pub token_name: String,
    /// What the caller may do.
    pub role: Role,
    /// The call's request id (`x-request-id`, which the call log sets on
    /// every request), for the audit trail.
    pub request_id: Option<String>,
}

impl Caller {
    /// Who makes a change in this call, as the audit trail records it.
    pub fn audit(&self) -> Audit {
        Audit::token(&self.token_name, self.token_id, self.request_id.clone())
    }

    /// The one contract a customer token may see; `None` for staff.
    pub fn contract_scope(&self) -> Option<&str> {
        match &self.role {
            Role::Staff => None,
            Role::Customer { contract_id } => Some(contract_id),
        }
    }

    /// Hides another customer's contract: NOT_FOUND, the same answer as an
    /// id that does not exist.
    pub fn require_contract(&self, contract_id: &str) -> Result<()> {
        match self.contract_scope() {
            Some(own) if own != contract_id => Err(contract_not_found(contract_id)),
            _ => Ok(()),
        }
    }

    /// Refuses a caller that is not staff.
    pub fn require_staff(&self) -> Result<()> {
        match self.role {
            Role::Staff => Ok(()),
            Role::Customer { .. } => Err(Error::staff_only()),
        }
    }
}

/// NOT_FOUND for a contract.
pub fn contract_not_found(contract_id: &str) -> Error {
    Error::NotFound {
        reason: Reason::ContractNotFound.as_str(),
        message: format!("there is no contract {contract_id}"),
    }
}

impl AppState {
    /// The state of a server on `store`, with an empty cache.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        keyring: Arc<Keyring>,
        settings: Settings,
    ) -> Self {
        let cache = Arc::new(cache::ReadCache::new(settings.cache_ttl, clock.clone()));
        let limiters = Arc::new(gate::Limiters::new(settings.rate_limits));
        Self {
            store,
            clock,
            keyring,
            settings,
            cache,
            limiters,
        }
    }

    /// The caller of a call: the one [`gate::Gate`] admitted from the
    /// headers, or (for a service used without the gate) the token's check
    /// here.
    pub async fn caller<T>(&self, request: &tonic::Request<T>) -> Result<Caller> {
        match request.extensions().get::<Caller>() {
            Some(caller) => Ok(caller.clone()),
            None => self.authenticate(request.metadata()).await,
        }
    }

    /// Checks the bearer token of a call.
    pub async fn authenticate(&self, metadata: &MetadataMap) -> Result<Caller> {
        let missing = || Error::Unauthenticated {
            reason: Reason::TokenMissing.as_str(),
            message: "this call needs a bearer token in the authorization metadata".into(),
        };
        let invalid = || Error::Unauthenticated {
            reason: Reason::TokenInvalid.as_str(),
            message: "the access token is unknown or revoked".into(),
        };
        let value = metadata.get("authorization").ok_or_else(missing)?;
        let value = value.to_str().map_err(|_| invalid())?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(missing)?;
        let token_hash = hash_token(token);
        let record = match self.cache.token(&token_hash) {
            Some(record) => record,
            None => {
                let generation = self.cache.token_generation();
                let record = self
                    .store
                    .find_active_token(&token_hash)
                    .await?
                    .ok_or_else(invalid)?;
                self.cache.remember_token(generation, &token_hash, &record);
                record
            }
        };
        if record.expired_at(self.clock.now()) {
            return Err(Error::Unauthenticated {
                reason: Reason::TokenExpired.as_str(),
                message: "the access token has expired; ask staff for a new one".into(),
            });
        }
        let request_id = metadata
            .get(crate::telemetry::REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Ok(Caller {
            token_id: record.id,
            token_name: record.name,
            role: record.role,
            request_id,
        })
    }

    /// Forgets remembered tokens as revocations are reported, by this or
    /// any other process, until the returned task is aborted.
    pub fn watch_revocations(&self) -> tokio::task::JoinHandle<()> {
        let cache = self.cache.clone();
        let store = self.store.clone();
        tokio::spawn(async move {
            let on_revoked: crate::store::OnRevoked = Arc::new(move |id| match id {
                Some(id) => cache.forget_token_id(id),
                None => cache.forget_tokens(),
            });
            store.watch_revocations(on_revoked).await;
        })
    }

    /// The record of a license key: from the cache while fresh, else from
    /// the database (a key not on record is never cached).
    pub async fn key_record(&self, key_id: &str) -> Result<Option<KeyRecord>> {
        if let Some(record) = self.cache.key(key_id) {
            return Ok(Some(record));
        }
        let generation = self.cache.key_generation();
        let record = self.store.find_key(key_id).await?;
        if let Some(record) = &record {
            self.cache.remember_key(generation, record);
        }
        Ok(record)
    }

    /// The business calendar: from the cache while fresh, else from the
    /// database.
    pub async fn calendar(&self) -> Result<Arc<Calendar>> {
        if let Some(calendar) = self.cache.calendar() {
            return Ok(calendar);
        }
        let generation = self.cache.calendar_generation();
        let calendar = Arc::new(self.store.load_calendar().await?);
        self.cache.remember_calendar(generation, calendar.clone());
        Ok(calendar)
    }
}
