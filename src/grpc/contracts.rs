//! SupportService: contracts, orders, renewal quotes and customer tokens.

use tonic::Request;

use crate::domain::contract::{
    ContractId, NewContract, NewOrder, OrderKind, coverage, last_end, period_on, quote_renewal,
    status_on,
};
use crate::domain::dates::{format_date, jst_date};
use crate::domain::reply_to::{MailDomain, domain_of};
use crate::domain::token::{Role, TokenSecret};
use crate::error::{Error, Reason, Result};
use crate::grpc::contract_not_found;
use crate::grpc::convert::{
    code_field, date_field, decode_id_page_token, decode_page_token, email_field,
    format_optional_date, name_field, one_page, optional_date_field, page_size_field,
    status_filter,
};
use crate::grpc::support::SupportApi;
use crate::pb::timestamp;
use crate::pb::*;
use crate::store::contracts::ContractQuery;
use crate::store::{NewToken, TokenQuery, TokenRecord};

/// Most seats a license can have; a typo guard, far above any real one.
const MAX_SEATS: i64 = 1_000_000;

fn seats_field(field: &str, value: i64) -> Result<i64> {
    if (1..=MAX_SEATS).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(
            field,
            format!("must be between 1 and {MAX_SEATS}"),
        ))
    }
}

/// Refuses a field the order kind does not take.
fn unused(field: &str, set: bool, kind: &str) -> Result<()> {
    if set {
        Err(Error::invalid(
            field,
            format!("does not apply to a {kind} order"),
        ))
    } else {
        Ok(())
    }
}

fn new_order(request: &RecordOrderRequest) -> Result<NewOrder> {
    let received_on = date_field("received_on", &request.received_on)?;
    let purchased_on = optional_date_field("purchased_on", &request.purchased_on)?;
    let kind = pb_order_kind(request.kind)?;
    let name = kind.as_str();
    if kind != OrderKind::Certificate {
        unused("start_on", !request.start_on.is_empty(), name)?;
        unused("end_on", !request.end_on.is_empty(), name)?;
        unused("certificate_no", !request.certificate_no.is_empty(), name)?;
    }
    if kind != OrderKind::AddSeats {
        unused("seats", request.seats != 0, name)?;
    }
    let require_purchase = || {
        purchased_on.ok_or_else(|| {
            Error::invalid("purchased_on", format!("is required for a {name} order"))
        })
    };
    Ok(match kind {
        OrderKind::FirstYear => NewOrder::FirstYear {
            received_on,
            purchased_on: require_purchase()?,
        },
        OrderKind::Renewal | OrderKind::ReContinuation => {
            unused("purchased_on", purchased_on.is_some(), name)?;
            if kind == OrderKind::Renewal {
                NewOrder::Renewal { received_on }
            } else {
                NewOrder::ReContinuation { received_on }
            }
        }
        OrderKind::AddSeats => NewOrder::AddSeats {
            received_on,
            purchased_on: require_purchase()?,
            seats: seats_field("seats", request.seats)?,
        },
        OrderKind::Certificate => {
            unused("purchased_on", purchased_on.is_some(), name)?;
            let start = date_field("start_on", &request.start_on)?;
            let end = date_field("end_on", &request.end_on)?;
            if end < start {
                return Err(crate::grpc::convert::range_reversed(
                    "end_on",
                    "must not be before start_on",
                ));
            }
            let certificate_no = name_field("certificate_no", &request.certificate_no)?;
            NewOrder::Certificate {
                received_on,
                start,
                end,
                certificate_no,
            }
        }
    })
}

/// Most domains one UpdateContract names, a typo guard.
const MAX_DOMAINS_PER_UPDATE: usize = 20;

fn mail_domains_field(field: &str, values: &[String]) -> Result<Vec<MailDomain>> {
    if values.len() > MAX_DOMAINS_PER_UPDATE {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_DOMAINS_PER_UPDATE} domains at once"),
        ));
    }
    values
        .iter()
        .map(|value| MailDomain::parse(value).map_err(|message| Error::invalid(field, message)))
        .collect()
}

/// The contact address's domain, then the added ones.
fn all_mail_domains(contact_email: &str, added: Vec<String>) -> Vec<String> {
    std::iter::once(domain_of(contact_email))
        .chain(added)
        .collect()
}

fn pb_order_kind(value: i32) -> Result<OrderKind> {
    match crate::pb::OrderKind::try_from(value) {
        Ok(crate::pb::OrderKind::FirstYear) => Ok(OrderKind::FirstYear),
        Ok(crate::pb::OrderKind::Renewal) => Ok(OrderKind::Renewal),
        Ok(crate::pb::OrderKind::ReContinuation) => Ok(OrderKind::ReContinuation),
        Ok(crate::pb::OrderKind::AddSeats) => Ok(OrderKind::AddSeats),
        Ok(crate::pb::OrderKind::Certificate) => Ok(OrderKind::Certificate),
        _ => Err(Error::invalid("kind", "unknown or unset order kind")),
    }
}

impl SupportApi {
    pub(crate) async fn create_contract_call(
        &self,
        request: Request<CreateContractRequest>,
    ) -> Result<CreateContractResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let r = request.into_inner();
        let id = if r.id.is_empty() {
            ContractId::generate()
        } else {
            code_field("id", &r.id)?
        };
        let contract = NewContract {
            id,
            customer_name: name_field("customer_name", &r.customer_name)?,
            contact_email: email_field("contact_email", &r.contact_email)?,
            license_id: code_field("license_id", &r.license_id)?,
            seats: seats_field("seats", r.seats)?,
            customized: r.customized,
        };
        let created = self
            .state
            .store
            .create_contract(&contract, self.state.clock.now(), &caller.audit())
            .await?;
        tracing::info!(contract_id = %created.id, by = %caller.token_name, "contract created");
        Ok(CreateContractResponse {
            contract: Some(created.into()),
        })
    }

    pub(crate) async fn get_contract_call(
        &self,
        request: Request<GetContractRequest>,
    ) -> Result<GetContractResponse> {
        let caller = self.state.caller(&request).await?;
        let r = request.into_inner();
        let id = code_field("id", &r.id)?;
        caller.require_contract(id.as_str())?;
        let date = match optional_date_field("date", &r.date)? {
            Some(date) => date,
            None => jst_date(self.state.clock.now()),
        };
        let (contract, orders) = self
            .state
            .store
            .contract_with_orders(&r.id)
            .await?
            .ok_or_else(|| contract_not_found(&r.id))?;
        let mail_domains = self.state.store.contract_mail_domains(&r.id).await?;
        let status = status_on(&orders, date);
        let current_period_seats = period_on(&orders, date).map_or(0, |o| o.seats);
        let spans = coverage(&orders)
            .into_iter()
            .map(|(from, to)| DateSpan {
                start_on: format_date(from),
                end_on: format_date(to),
            })
            .collect();
        let support_end_on = format_optional_date(last_end(&orders));
        let periods = orders
            .iter()
            .filter(|o| o.is_live_period())
            .cloned()
            .map(Into::into)
            .collect();
        let contract_email = contract.contact_email.clone();
        Ok(GetContractResponse {
            next_renewal_seats: contract.seats,
            contract: Some(contract.into()),
            orders: orders.into_iter().map(Into::into).collect(),
            periods,
            coverage: spans,
            date: format_date(date),
            status: crate::pb::ContractStatus::from(status).into(),
            current_period_seats,
            support_end_on,
            mail_domains: all_mail_domains(&contract_email, mail_domains),
        })
    }

    pub(crate) async fn update_contract_call(
        &self,
        request: Request<UpdateContractRequest>,
    ) -> Result<UpdateContractResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let r = request.into_inner();
        let id = code_field("id", &r.id)?;
        let add = mail_domains_field("add_mail_domains", &r.add_mail_domains)?;
        let remove = mail_domains_field("remove_mail_domains", &r.remove_mail_domains)?;
        let mail_domains = self
            .state
            .store
            .update_mail_domains(
                id.as_str(),
                &add,
                &remove,
                &caller.token_name,
                self.state.clock.now(),
                &caller.audit(),
            )
            .await?;
        let (contract, _) = self
            .state
            .store
            .contract_with_orders(id.as_str())
            .await?
            .ok_or_else(|| contract_not_found(id.as_str()))?;
        tracing::info!(contract_id = %id, by = %caller.token_name, "contract mail domains updated");
        Ok(UpdateContractResponse {
            mail_domains: all_mail_domains(&contract.contact_email, mail_domains),
            contract: Some(contract.into()),
        })
    }

    pub(crate) async fn list_contracts_call(
        &self,
        request: Request<ListContractsRequest>,
    ) -> Result<ListContractsResponse> {
        self.state.caller(&request).await?.require_staff()?;
        let r = request.into_inner();
        let limit = page_size_field("page_size", r.page_size)?;
        let status_on_date = match optional_date_field("status_on", &r.status_on)? {
            Some(date) => date,
            None => jst_date(self.state.clock.now()),
        };
        let query = ContractQuery {
            status: status_filter(r.status)?.map(|status| (status, status_on_date)),
            ends_before: optional_date_field("support_ends_before_on", &r.support_ends_before_on)?,
            after_id: decode_page_token(&r.page_token)?,
            limit: limit + 1,
        };
        let mut rows = self.state.store.list_contracts(&query).await?;
        let next_page_token = one_page(&mut rows, limit, |(last, _)| last.id.clone());
        let contracts = rows
            .into_iter()
            .map(|(contract, orders)| ContractSummary {
                status: crate::pb::ContractStatus::from(status_on(&orders, status_on_date)).into(),
                support_end_on: format_optional_date(last_end(&orders)),
                contract: Some(contract.into()),
            })
            .collect();
        Ok(ListContractsResponse {
            contracts,
            next_page_token,
        })
    }

    pub(crate) async fn record_order_call(
        &self,
        request: Request<RecordOrderRequest>,
    ) -> Result<RecordOrderResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let r = request.into_inner();
        let contract_id = code_field("contract_id", &r.contract_id)?;
        let order = new_order(&r)?;
        let recorded = self
            .state
            .store
            .record_order(
                contract_id.as_str(),
                &order,
                &caller.token_name,
                self.state.clock.now(),
                &caller.audit(),
            )
            .await?;
        tracing::info!(contract_id = %contract_id, order_id = recorded.id, kind = recorded.kind.as_str(), by = %caller.token_name, "order recorded");
        Ok(RecordOrderResponse {
            order: Some(recorded.into()),
        })
    }

    pub(crate) async fn quote_renewal_call(
        &self,
        request: Request<QuoteRenewalRequest>,
    ) -> Result<QuoteRenewalResponse> {
        self.state.caller(&request).await?.require_staff()?;
        let r = request.into_inner();
        code_field("contract_id", &r.contract_id)?;
        let received_on = date_field("received_on", &r.received_on)?;
        let (_, orders) = self
            .state
            .store
            .contract_with_orders(&r.contract_id)
            .await?
            .ok_or_else(|| contract_not_found(&r.contract_id))?;
        let quote =
            quote_renewal(&orders, received_on).map_err(|refusal| Error::FailedPrecondition {
                reason: refusal.reason(),
                message: refusal.to_string(),
            })?;
        Ok(QuoteRenewalResponse {
            kind: crate::pb::OrderKind::from(quote.kind).into(),
            start_on: format_date(quote.period.start),
            end_on: format_date(quote.period.end),
        })
    }

    pub(crate) async fn create_access_token_call(
        &self,
        request: Request<CreateAccessTokenRequest>,
    ) -> Result<CreateAccessTokenResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let r = request.into_inner();
        code_field("contract_id", &r.contract_id)?;
        if self
            .state
            .store
            .contract_with_orders(&r.contract_id)
            .await?
            .is_none()
        {
            return Err(contract_not_found(&r.contract_id));
        }
        let name = if r.name.is_empty() {
            let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
            format!("customer {} {suffix}", r.contract_id)
        } else {
            r.name.clone()
        };
        crate::domain::token::check_token_name(&name)
            .map_err(|message| Error::invalid("name", message))?;
        let now = self.state.clock.now();
        let expires_at = match r.expires_in_days {
            0 => None,
            days @ 1..=MAX_TOKEN_DAYS => Some(now + chrono::Duration::days(i64::from(days))),
            _ => {
                return Err(Error::invalid(
                    "expires_in_days",
                    format!("must be between 1 and {MAX_TOKEN_DAYS}, or 0 for no expiry"),
                ));
            }
        };
        let secret = TokenSecret::generate();
        let role = Role::Customer {
            contract_id: r.contract_id.clone(),
        };
        let hash = secret.hash();
        let record = self
            .state
            .store
            .create_access_token(
                &NewToken {
                    name: &name,
                    role: &role,
                    token_hash: &hash,
                    expires_at,
                    created_by: Some(caller.token_id),
                },
                now,
                &caller.audit(),
            )
            .await?;
        tracing::info!(token_id = record.id, contract_id = %r.contract_id, by = %caller.token_name, "customer token created");
        Ok(CreateAccessTokenResponse {
            id: record.id,
            name: record.name,
            contract_id: r.contract_id,
            token: secret.expose().to_owned(),
            expire_time: record.expires_at.map(timestamp),
        })
    }

    pub(crate) async fn list_access_tokens_call(
        &self,
        request: Request<ListAccessTokensRequest>,
    ) -> Result<ListAccessTokensResponse> {
        self.state.caller(&request).await?.require_staff()?;
        let r = request.into_inner();
        let limit = page_size_field("page_size", r.page_size)?;
        let after_id = decode_id_page_token(&r.page_token)?;
        let query = TokenQuery {
            contract_id: (!r.contract_id.is_empty()).then_some(r.contract_id),
            after_id,
            limit: limit + 1,
        };
        let mut tokens = self.state.store.list_access_tokens(&query).await?;
        let next_page_token = one_page(&mut tokens, limit, |last| last.id.to_string());
        Ok(ListAccessTokensResponse {
            access_tokens: tokens.into_iter().map(access_token).collect(),
            next_page_token,
        })
    }

    pub(crate) async fn revoke_access_token_call(
        &self,
        request: Request<RevokeAccessTokenRequest>,
    ) -> Result<RevokeAccessTokenResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let r = request.into_inner();
        let reason = name_field("reason", &r.reason)?;
        let now = self.state.clock.now();
        let store = &self.state.store;
        let revoked = match (r.id, r.created_by) {
            (id, 0) if id > 0 => match store
                .revoke_access_token(id, &reason, now, &caller.audit())
                .await?
            {
                Some(record) => vec![record],
                None => {
                    return Err(match store.get_token(id).await? {
                        Some(_) => Error::FailedPrecondition {
                            reason: Reason::TokenAlreadyRevoked.as_str(),
                            message: format!("token {id} is already revoked"),
                        },
                        None => token_not_found(id),
                    });
                }
            },
            (0, creator) if creator > 0 => {
                if store.get_token(creator).await?.is_none() {
                    return Err(token_not_found(creator));
                }
                store
                    .revoke_tokens_created_by(creator, &reason, now, &caller.audit())
                    .await?
            }
            (0, 0) => {
                return Err(Error::invalid(
                    "id",
                    "give the id of the token to revoke, or created_by",
                ));
            }
            (id, 0) if id < 0 => return Err(Error::invalid("id", "must be a token id")),
            (0, _) => return Err(Error::invalid("created_by", "must be a token id")),
            _ => {
                return Err(Error::invalid(
                    "created_by",
                    "give either id or created_by, not both",
                ));
            }
        };
        // This replica refuses them at once; the others when the
        // revocation's notification reaches them.
        for record in &revoked {
            self.state.cache.forget_token_id(record.id);
        }
        let ids: Vec<i64> = revoked.iter().map(|record| record.id).collect();
        tracing::info!(?ids, by = %caller.token_name, "access tokens revoked");
        Ok(RevokeAccessTokenResponse {
            access_tokens: revoked.into_iter().map(access_token).collect(),
        })
    }
}

/// Most days a token created through the server lives.
const MAX_TOKEN_DAYS: i32 = 3650;

fn token_not_found(id: i64) -> Error {
    Error::NotFound {
        reason: Reason::TokenNotFound.as_str(),
        message: format!("there is no access token with id {id}"),
    }
}

/// A stored token as staff see it.
fn access_token(record: TokenRecord) -> AccessToken {
    let (role, contract_id) = match record.role {
        Role::Staff => (TokenRole::Staff, String::new()),
        Role::Customer { contract_id } => (TokenRole::Customer, contract_id),
    };
    AccessToken {
        id: record.id,
        name: record.name,
        role: role.into(),
        contract_id,
        created_at: Some(timestamp(record.created_at)),
        expire_time: record.expires_at.map(timestamp),
        revoke_time: record.revoked_at.map(timestamp),
        revoke_reason: record.revoke_reason.unwrap_or_default(),
        created_by: record.created_by.unwrap_or_default(),
    }
}

impl SupportApi {
    pub(crate) async fn list_renewal_reminders_call(
        &self,
        request: Request<ListRenewalRemindersRequest>,
    ) -> Result<ListRenewalRemindersResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let id = code_field("contract_id", &request.get_ref().contract_id)?;
        if self
            .state
            .store
            .contract_with_orders(id.as_str())
            .await?
            .is_none()
        {
            return Err(crate::grpc::contract_not_found(id.as_str()));
        }
        let reminders = self
            .state
            .store
            .list_renewal_reminders(id.as_str())
            .await?
            .into_iter()
            .map(|r| RenewalReminder {
                id: r.id,
                contract_id: r.contract_id,
                period_end: crate::domain::dates::format_date(r.period_end),
                threshold: r.threshold,
                due_on: crate::domain::dates::format_date(r.due_on),
                outbox_id: r.outbox_id,
                mail_status: r.mail_status,
                created_at: Some(timestamp(r.created_at)),
            })
            .collect();
        Ok(ListRenewalRemindersResponse { reminders })
    }
}
