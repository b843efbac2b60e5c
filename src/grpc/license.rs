//! `neo.support.v1.LicenseService`: first keys, reissues with the 17:00
//! cutoff and staff review, revocation, and verification.

use tonic::{Request, Response, Status};

use crate::domain::dates::{format_date, jst_date};
use crate::domain::license::{
    Fingerprint, FingerprintMatch, KeyRecord, KeyStatus, KeyVerdict, MatchKind,
    NO_PROVISIONAL_AFTER_REVOCATION, NO_PROVISIONAL_KEYS, ReissueRecord, ReissueStatus,
    key_verdict,
};
use crate::error::{Error, Reason, Result};
use crate::grpc::convert::{
    code_field, decode_page_token, id_field, name_field, not_a_page_token, one_page, out_of_range,
    page_size_field,
};
use crate::grpc::{AppState, Caller, answer};
use crate::pb::license_service_server::LicenseService;
use crate::pb::timestamp;
use crate::pb::*;
use crate::signer::keys::KeyFileStatus;
use crate::store::keys::license_not_found;
use crate::store::reissues::{ReissueInput, ReissueQuery, expiry_of};

/// The LicenseService implementation.
#[derive(Clone)]
pub struct LicenseApi {
    state: AppState,
}

fn fingerprint_field(value: &str) -> Result<Fingerprint> {
    Fingerprint::parse(value).map_err(|message| Error::invalid("fingerprint", message))
}

/// A fingerprint a new key is bound to: one a machine can match (a
/// version 2 fingerprint needs at least 3 components present).
fn bindable_fingerprint_field(value: &str) -> Result<Fingerprint> {
    let fingerprint = fingerprint_field(value)?;
    if !fingerprint.can_match() {
        return Err(Error::invalid(
            "fingerprint",
            "a version 2 fingerprint needs at least 3 of its 4 components (machine, board, \
             disk, nic) present, or no machine could ever match it",
        ));
    }
    Ok(fingerprint)
}

fn match_kind(found: Option<&FingerprintMatch>) -> crate::pb::FingerprintMatch {
    match found.map(|f| f.kind) {
        None => crate::pb::FingerprintMatch::Unspecified,
        Some(MatchKind::Exact) => crate::pb::FingerprintMatch::Exact,
        Some(MatchKind::Tolerated) => crate::pb::FingerprintMatch::Tolerated,
        Some(MatchKind::Mismatch) => crate::pb::FingerprintMatch::Mismatch,
    }
}

fn request_id_field(value: &str) -> Result<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if value.is_empty() || value.len() > 64 || !value.chars().all(allowed) {
        return Err(Error::invalid(
            "request_id",
            "a request id has 1 to 64 characters from A-Z a-z 0-9 - _ . :",
        ));
    }
    Ok(value.to_owned())
}

fn key_status(status: KeyStatus) -> crate::pb::KeyStatus {
    match status {
        KeyStatus::Active => crate::pb::KeyStatus::Active,
        KeyStatus::Superseded => crate::pb::KeyStatus::Superseded,
        KeyStatus::Revoked => crate::pb::KeyStatus::Revoked,
        KeyStatus::Provisional => crate::pb::KeyStatus::Provisional,
    }
}

fn provisional_message(k: KeyRecord) -> ProvisionalKey {
    ProvisionalKey {
        expires_at: expiry_of(&k.token).map(timestamp),
        status: key_status(k.status).into(),
        superseded_by_key_id: k.superseded_by.unwrap_or_default(),
        key_id: k.id,
        key: k.token,
        fingerprint: k.fingerprint,
    }
}

fn reissue_status(status: ReissueStatus) -> crate::pb::ReissueStatus {
    match status {
        ReissueStatus::Issued => crate::pb::ReissueStatus::Issued,
        ReissueStatus::Unchanged => crate::pb::ReissueStatus::Unchanged,
        ReissueStatus::PendingReview => crate::pb::ReissueStatus::PendingReview,
        ReissueStatus::Approved => crate::pb::ReissueStatus::Approved,
        ReissueStatus::Rejected => crate::pb::ReissueStatus::Rejected,
    }
}

impl From<KeyRecord> for LicenseKey {
    fn from(k: KeyRecord) -> Self {
        Self {
            key_id: k.id,
            license_id: k.license_id,
            contract_id: k.contract_id,
            sequence: k.sequence,
            fingerprint: k.fingerprint,
            key: k.token,
            signing_key_id: k.signing_key_id,
            status: key_status(k.status).into(),
            supersedes_key_id: k.supersedes.unwrap_or_default(),
            superseded_by_key_id: k.superseded_by.unwrap_or_default(),
            issued_at: Some(timestamp(k.issued_at)),
            requested_by: k.requested_by,
            revoked_at: k.revoked_at.map(timestamp),
            revoke_reason: k.revoke_reason.unwrap_or_default(),
        }
    }
}

fn reissue_message(record: ReissueRecord, today: chrono::NaiveDate) -> Reissue {
    Reissue {
        overdue: record.status == ReissueStatus::PendingReview && record.delivery_on < today,
        id: record.id,
        license_id: record.license_id,
        contract_id: record.contract_id,
        request_id: record.request_id,
        fingerprint: record.fingerprint,
        status: reissue_status(record.status).into(),
        received_at: Some(timestamp(record.received_at)),
        delivery_on: format_date(record.delivery_on),
        license_key: record.key.map(Into::into),
        requested_by: record.requested_by,
        decided_by: record.decided_by.unwrap_or_default(),
        decided_at: record.decided_at.map(timestamp),
        reject_reason: record.reject_reason.unwrap_or_default(),
        review_reason: record.review_reason.unwrap_or_default(),
        changed_components: record.changed_components,
        provisional_key: record.provisional.map(provisional_message),
    }
}

/// A reissue as `caller` may see it: why it waits for review is staff's
/// note (it may quote a revocation's reason), not shown to customers.
fn reissue_for(caller: &Caller, mut reissue: Reissue) -> Reissue {
    if caller.require_staff().is_err() {
        reissue.review_reason.clear();
    }
    reissue
}

impl LicenseApi {
    /// A service over the shared state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    fn today(&self) -> chrono::NaiveDate {
        jst_date(self.state.clock.now())
    }

    /// Hides another customer's license: NOT_FOUND, like a license that
    /// does not exist.
    async fn require_license(&self, caller: &Caller, license_id: &str) -> Result<()> {
        let Some(own) = caller.contract_scope() else {
            return Ok(());
        };
        match self.state.store.contract_by_license(license_id).await? {
            Some(contract) if contract.id == own => Ok(()),
            _ => Err(license_not_found(license_id)),
        }
    }

    async fn issue_first_key_call(
        &self,
        request: Request<IssueFirstKeyRequest>,
    ) -> Result<IssueFirstKeyResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let r = request.into_inner();
        code_field("license_id", &r.license_id)?;
        let fingerprint = bindable_fingerprint_field(&r.fingerprint)?;
        let now = self.state.clock.now();
        let calendar = self.state.calendar().await?;
        let delivery_on = calendar
            .delivery_on(now)
            .map_err(out_of_range("received_at"))?;
        let key = self
            .state
            .store
            .issue_first_key(
                &r.license_id,
                &fingerprint,
                &caller.token_name,
                now,
                delivery_on,
                self.state.keyring.as_ref(),
                &caller.audit(),
            )
            .await?;
        tracing::info!(license_id = %key.license_id, key_id = %key.id, by = %caller.token_name, "first license key issued");
        Ok(IssueFirstKeyResponse {
            license_key: Some(key.into()),
            delivery_on: format_date(delivery_on),
        })
    }

    async fn request_reissue_call(
        &self,
        request: Request<RequestReissueRequest>,
    ) -> Result<RequestReissueResponse> {
        let caller = self.state.caller(&request).await?;
        let r = request.into_inner();
        code_field("license_id", &r.license_id)?;
        let fingerprint = bindable_fingerprint_field(&r.fingerprint)?;
        let request_id = request_id_field(&r.request_id)?;
        self.require_license(&caller, &r.license_id).await?;
        // Microseconds, as both databases keep them: the answer to a
        // repeated request id is then exactly the first answer.
        let received_at = chrono::SubsecRound::trunc_subsecs(self.state.clock.now(), 6);
        let calendar = self.state.calendar().await?;
        let delivery_on = calendar
            .delivery_on(received_at)
            .map_err(out_of_range("received_at"))?;
        let input = ReissueInput {
            license_id: r.license_id,
            fingerprint,
            request_id,
            requested_by: caller.token_name.clone(),
            received_at,
            delivery_on,
            reissues_before_review: self.state.settings.reissues_before_review,
            provisional_key_days: self.state.settings.provisional_key_days,
        };
        let record = self
            .state
            .store
            .request_reissue(&input, self.state.keyring.as_ref(), &caller.audit())
            .await?;
        self.forget_superseded(record.key.as_ref());
        tracing::info!(license_id = %record.license_id, reissue_id = %record.id, status = record.status.as_str(), by = %caller.token_name, "reissue requested");
        crate::telemetry::count_reissue(record.status.as_str());
        let reissue = reissue_for(&caller, reissue_message(record, self.today()));
        let (key, key_id) = match &reissue.license_key {
            Some(k) => (k.key.clone(), k.key_id.clone()),
            None => (String::new(), String::new()),
        };
        let pending = reissue.status == crate::pb::ReissueStatus::PendingReview as i32;
        let (provisional_key, provisional_key_expires_at) =
            match (&reissue.provisional_key, pending) {
                (Some(p), true) => (p.key.clone(), p.expires_at),
                _ => (String::new(), None),
            };
        let no_provisional_key_reason = if !pending || !provisional_key.is_empty() {
            ""
        } else if self.state.settings.provisional_key_days <= 0 {
            NO_PROVISIONAL_KEYS
        } else {
            NO_PROVISIONAL_AFTER_REVOCATION
        };
        Ok(RequestReissueResponse {
            status: reissue.status,
            key,
            key_id,
            received_at: reissue.received_at,
            delivery_on: reissue.delivery_on.clone(),
            reissue: Some(reissue),
            provisional_key,
            provisional_key_expires_at,
            no_provisional_key_reason: no_provisional_key_reason.into(),
        })
    }

    async fn get_reissue_call(
        &self,
        request: Request<GetReissueRequest>,
    ) -> Result<GetReissueResponse> {
        let caller = self.state.caller(&request).await?;
        let id = id_field("id", &request.into_inner().id)?;
        let not_found = || crate::store::reissues::reissue_not_found(&id);
        let record = self
            .state
            .store
            .get_reissue(&id)
            .await?
            .ok_or_else(not_found)?;
        if caller.require_contract(&record.contract_id).is_err() {
            return Err(not_found());
        }
        Ok(GetReissueResponse {
            reissue: Some(reissue_for(&caller, reissue_message(record, self.today()))),
        })
    }

    async fn list_reissues_call(
        &self,
        request: Request<ListReissuesRequest>,
    ) -> Result<ListReissuesResponse> {
        self.state.caller(&request).await?.require_staff()?;
        let r = request.into_inner();
        let status = match crate::pb::ReissueStatus::try_from(r.status) {
            Ok(crate::pb::ReissueStatus::Unspecified | crate::pb::ReissueStatus::PendingReview) => {
                ReissueStatus::PendingReview
            }
            Ok(crate::pb::ReissueStatus::Issued) => ReissueStatus::Issued,
            Ok(crate::pb::ReissueStatus::Unchanged) => ReissueStatus::Unchanged,
            Ok(crate::pb::ReissueStatus::Approved) => ReissueStatus::Approved,
            Ok(crate::pb::ReissueStatus::Rejected) => ReissueStatus::Rejected,
            Err(_) => return Err(Error::invalid("status", "unknown reissue status")),
        };
        let limit = page_size_field("page_size", r.page_size)?;
        let after = match decode_page_token(&r.page_token)? {
            None => None,
            Some(text) => {
                let (on, id) = text.split_once('|').ok_or_else(not_a_page_token)?;
                let on =
                    crate::domain::dates::parse_iso_date(on).map_err(|_| not_a_page_token())?;
                Some((on, id.to_owned()))
            }
        };
        let mut records = self
            .state
            .store
            .list_reissues(&ReissueQuery {
                status,
                after,
                limit: limit + 1,
            })
            .await?;
        let next_page_token = one_page(&mut records, limit, |last| {
            format!("{}|{}", format_date(last.delivery_on), last.id)
        });
        let today = self.today();
        Ok(ListReissuesResponse {
            reissues: records
                .into_iter()
                .map(|r| reissue_message(r, today))
                .collect(),
            next_page_token,
        })
    }

    /// After a key was issued: the key it superseded is no longer active.
    fn forget_superseded(&self, key: Option<&KeyRecord>) {
        if let Some(previous) = key.and_then(|key| key.supersedes.as_deref()) {
            self.state.cache.forget_key(previous);
        }
    }

    async fn approve_reissue_call(
        &self,
        request: Request<ApproveReissueRequest>,
    ) -> Result<ApproveReissueResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let id = id_field("id", &request.into_inner().id)?;
        let record = self
            .state
            .store
            .approve_reissue(
                &id,
                &caller.token_name,
                self.state.clock.now(),
                self.state.keyring.as_ref(),
                &caller.audit(),
            )
            .await?;
        self.forget_superseded(record.key.as_ref());
        tracing::info!(reissue_id = %id, by = %caller.token_name, "reissue approved");
        Ok(ApproveReissueResponse {
            reissue: Some(reissue_message(record, self.today())),
        })
    }

    async fn reject_reissue_call(
        &self,
        request: Request<RejectReissueRequest>,
    ) -> Result<RejectReissueResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let r = request.into_inner();
        id_field("id", &r.id)?;
        let reason = name_field("reason", &r.reason)?;
        let record = self
            .state
            .store
            .reject_reissue(
                &r.id,
                &reason,
                &caller.token_name,
                self.state.clock.now(),
                &caller.audit(),
            )
            .await?;
        tracing::info!(reissue_id = %r.id, by = %caller.token_name, "reissue rejected");
        Ok(RejectReissueResponse {
            reissue: Some(reissue_message(record, self.today())),
        })
    }

    async fn revoke_key_call(
        &self,
        request: Request<RevokeKeyRequest>,
    ) -> Result<RevokeKeyResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let r = request.into_inner();
        id_field("key_id", &r.key_id)?;
        let reason = name_field("reason", &r.reason)?;
        let key = self
            .state
            .store
            .revoke_key(
                &r.key_id,
                &reason,
                &caller.token_name,
                self.state.clock.now(),
                &caller.audit(),
            )
            .await?;
        self.state.cache.forget_key(&key.id);
        tracing::info!(key_id = %key.id, by = %caller.token_name, "license key revoked");
        Ok(RevokeKeyResponse {
            license_key: Some(key.into()),
        })
    }

    async fn list_license_keys_call(
        &self,
        request: Request<ListLicenseKeysRequest>,
    ) -> Result<ListLicenseKeysResponse> {
        let caller = self.state.caller(&request).await?;
        let license_id = request.into_inner().license_id;
        code_field("license_id", &license_id)?;
        self.require_license(&caller, &license_id).await?;
        if self
            .state
            .store
            .contract_by_license(&license_id)
            .await?
            .is_none()
        {
            return Err(license_not_found(&license_id));
        }
        let keys = self.state.store.list_license_keys(&license_id).await?;
        Ok(ListLicenseKeysResponse {
            license_keys: keys.into_iter().map(Into::into).collect(),
        })
    }

    async fn verify_key_call(
        &self,
        request: Request<VerifyKeyRequest>,
    ) -> Result<VerifyKeyResponse> {
        let caller = self.state.caller(&request).await?;
        let r = request.into_inner();
        let fingerprint = if r.fingerprint.is_empty() {
            None
        } else {
            Some(fingerprint_field(&r.fingerprint)?)
        };
        let verified = match self.state.keyring.verify(&r.key) {
            Ok(verified) => verified,
            Err(failure) => {
                return Ok(VerifyKeyResponse {
                    valid: false,
                    reason: failure.reason().into(),
                    ..Default::default()
                });
            }
        };
        let claims = &verified.claims;
        // A customer learns only that another contract's key is genuinely
        // signed (it holds the key, so it can read the claims anyway); the
        // record's status and successor stay hidden, and it is not read.
        let other_contract = caller
            .contract_scope()
            .is_some_and(|own| own != claims.contract_id);
        let verdict = if other_contract {
            KeyVerdict::other_contract(claims, fingerprint.as_ref())
        } else {
            // Provisional keys are on record apart from the license's keys.
            let record = if claims.provisional {
                self.state.store.find_provisional_key(&claims.jti).await?
            } else {
                self.state.key_record(&claims.jti).await?
            };
            key_verdict(
                &r.key,
                claims,
                fingerprint.as_ref(),
                record.as_ref(),
                self.state.clock.now(),
            )
        };
        let status = match verdict.status {
            _ if other_contract => crate::pb::KeyStatus::Unspecified,
            Some(status) => key_status(status),
            None => crate::pb::KeyStatus::NotOnRecord,
        };
        let expires_at = claims.expires_at().map(timestamp);
        let issued_at = chrono::DateTime::parse_from_rfc3339(&claims.iat)
            .ok()
            .map(|at| timestamp(at.with_timezone(&chrono::Utc)));
        Ok(VerifyKeyResponse {
            valid: verdict.valid(),
            reason: verdict
                .refusal
                .map(Reason::as_str)
                .unwrap_or_default()
                .into(),
            key_id: claims.jti.clone(),
            signing_key_id: verified.signing_key_id.clone(),
            claims: Some(KeyClaims {
                issuer: claims.iss.clone(),
                license_id: claims.sub.clone(),
                contract_id: claims.contract_id.clone(),
                product: claims.product.clone(),
                seats: claims.seats,
                fingerprint: claims.fingerprint.clone(),
                issued_at,
                key_id: claims.jti.clone(),
                sequence: claims.sequence,
                supersedes_key_id: claims.supersedes.clone().unwrap_or_default(),
                support_ends_on: claims.support_ends_on.clone().unwrap_or_default(),
                expires_at,
                provisional: claims.provisional,
            }),
            status: status.into(),
            superseded_by_key_id: verdict.superseded_by.unwrap_or_default(),
            fingerprint_matches: verdict.fingerprint_matches,
            fingerprint_match: match_kind(verdict.fingerprint_match.as_ref()).into(),
            changed_components: verdict
                .fingerprint_match
                .as_ref()
                .map(|f| f.changed_names().into_iter().map(str::to_owned).collect())
                .unwrap_or_default(),
        })
    }

    fn get_signing_keys_call(&self) -> GetSigningKeysResponse {
        let signing_keys = self
            .state
            .keyring
            .infos()
            .iter()
            .filter(|k| k.status != KeyFileStatus::Retired)
            .map(|k| SigningKey {
                id: k.id.clone(),
                paserk: k.paserk.clone(),
                public_key_pem: k.public_pem.clone(),
                status: match k.status {
                    KeyFileStatus::Active => SigningKeyStatus::Active,
                    _ => SigningKeyStatus::Verifying,
                }
                .into(),
            })
            .collect();
        GetSigningKeysResponse { signing_keys }
    }
}

#[tonic::async_trait]
impl LicenseService for LicenseApi {
    async fn issue_first_key(
        &self,
        request: Request<IssueFirstKeyRequest>,
    ) -> Result<Response<IssueFirstKeyResponse>, Status> {
        answer(self.issue_first_key_call(request).await)
    }

    async fn request_reissue(
        &self,
        request: Request<RequestReissueRequest>,
    ) -> Result<Response<RequestReissueResponse>, Status> {
        answer(self.request_reissue_call(request).await)
    }

    async fn get_reissue(
        &self,
        request: Request<GetReissueRequest>,
    ) -> Result<Response<GetReissueResponse>, Status> {
        answer(self.get_reissue_call(request).await)
    }

    async fn list_reissues(
        &self,
        request: Request<ListReissuesRequest>,
    ) -> Result<Response<ListReissuesResponse>, Status> {
        answer(self.list_reissues_call(request).await)
    }

    async fn approve_reissue(
        &self,
        request: Request<ApproveReissueRequest>,
    ) -> Result<Response<ApproveReissueResponse>, Status> {
        answer(self.approve_reissue_call(request).await)
    }

    async fn reject_reissue(
        &self,
        request: Request<RejectReissueRequest>,
    ) -> Result<Response<RejectReissueResponse>, Status> {
        answer(self.reject_reissue_call(request).await)
    }

    async fn revoke_key(
        &self,
        request: Request<RevokeKeyRequest>,
    ) -> Result<Response<RevokeKeyResponse>, Status> {
        answer(self.revoke_key_call(request).await)
    }

    async fn list_license_keys(
        &self,
        request: Request<ListLicenseKeysRequest>,
    ) -> Result<Response<ListLicenseKeysResponse>, Status> {
        answer(self.list_license_keys_call(request).await)
    }

    async fn verify_key(
        &self,
        request: Request<VerifyKeyRequest>,
    ) -> Result<Response<VerifyKeyResponse>, Status> {
        answer(self.verify_key_call(request).await)
    }

    async fn get_signing_keys(
        &self,
        _request: Request<GetSigningKeysRequest>,
    ) -> Result<Response<GetSigningKeysResponse>, Status> {
        Ok(Response::new(self.get_signing_keys_call()))
    }
}
