//! The gRPC face of the service: the generated protobuf types ([`pb`]),
//! one file per service, the conversion between proto messages and domain
//! types, and the mapping of [`Error`] to `tonic::Status`, the only place
//! that builds one.

mod contracts;
pub mod convert;
mod inquiries;
pub mod license;
mod status;
pub mod support;

use std::sync::Arc;

use tonic::metadata::MetadataMap;

use crate::clock::Clock;
use crate::domain::token::{Role, hash_token};
use crate::error::{Error, Result};
use crate::signer::keys::Keyring;
use crate::store::Store;

pub use status::to_status;

/// The generated types of package `neo.support.v1`.
pub mod pb {
    tonic::include_proto!("neo.support.v1");

    /// The encoded descriptor set of `proto/`, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/neo_support_descriptor.bin"));
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
}

/// Business settings of the server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Reissues of one license signed at once per rolling 365 days; more
    /// wait for staff review.
    pub reissues_before_review: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            reissues_before_review: 2,
        }
    }
}

/// Who is calling, from their token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's name (never the token).
    pub token_name: String,
    /// What the caller may do.
    pub role: Role,
}

impl Caller {
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
        reason: "CONTRACT_NOT_FOUND",
        message: format!("there is no contract {contract_id}"),
    }
}

impl AppState {
    /// Checks the bearer token of a call.
    pub async fn authenticate(&self, metadata: &MetadataMap) -> Result<Caller> {
        let missing = || Error::Unauthenticated {
            reason: "TOKEN_MISSING",
            message: "this call needs a bearer token in the authorization metadata".into(),
        };
        let invalid = || Error::Unauthenticated {
            reason: "TOKEN_INVALID",
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
        let record = self
            .store
            .find_active_token(&hash_token(token))
            .await?
            .ok_or_else(invalid)?;
        crate::telemetry::CallContext::set_actor(&record.name);
        Ok(Caller {
            token_name: record.name,
            role: record.role,
        })
    }
}
