//! Input a hostile caller sends, against a real server on each database
//! backend: instants far outside the supported years, huge ids that an
//! error message would echo, and a customer verifying another contract's
//! license key.

use crate::common::{TestServer, bad_fields, first_year, new_contract, on_each_backend, reason};
use neo_support::domain::token::Role;
use neo_support::pb;
use prost_types::Timestamp;
use tonic::Code;

/// The instant the attack used: about 262,000 years from now, inside
/// chrono's range but past what a local-time conversion can represent.
const FAR_OFF_SECONDS: i64 = 8_210_266_873_200;

/// A refusal is INVALID_ARGUMENT naming `field`, in a short message.
fn assert_invalid(status: &tonic::Status, field: &str, what: &str, label: &str) {
    assert_eq!(
        (status.code(), reason(status), bad_fields(status)),
        (
            Code::InvalidArgument,
            "INVALID_ARGUMENT".to_owned(),
            vec![field.to_owned()]
        ),
        "{what} on {label}: {status:?}"
    );
    assert!(
        status.message().len() < 200,
        "{what} on {label}: a {}-byte message",
        status.message().len()
    );
    assert!(
        status.details().len() < 1000,
        "{what} on {label}: {} bytes of details",
        status.details().len()
    );
}

#[tokio::test]
async fn far_off_instants_are_refused_naming_the_field_on_every_rpc_that_takes_one() {
    on_each_backend(async |server| {
        let mut client = server.staff().await;
        let bad = [
            Timestamp {
                seconds: FAR_OFF_SECONDS,
                nanos: 0,
            },
            Timestamp {
                seconds: -FAR_OFF_SECONDS,
                nanos: 0,
            },
            Timestamp {
                seconds: i64::MAX,
                nanos: 0,
            },
            Timestamp {
                seconds: i64::MIN,
                nanos: 0,
            },
            // 2100-01-01T00:00:00+09:00, the first instant past 2099.
            Timestamp {
                seconds: 4_102_412_400,
                nanos: 0,
            },
            Timestamp {
                seconds: 1_800_000_000,
                nanos: 1_000_000_000,
            },
            Timestamp {
                seconds: 1_800_000_000,
                nanos: -1,
            },
        ];
        for at in bad {
            let what = format!("{at:?}");
            let status = client
                .get_reception_status(pb::GetReceptionStatusRequest { at: Some(at) })
                .await
                .unwrap_err();
            assert_invalid(&status, "at", &what, server.label);
            let status = client
                .get_delivery_date(pb::GetDeliveryDateRequest {
                    received_at: Some(at),
                })
                .await
                .unwrap_err();
            assert_invalid(&status, "received_at", &what, server.label);
            let status = client
                .list_events(pb::ListEventsRequest {
                    since_at: Some(at),
                    ..Default::default()
                })
                .await
                .unwrap_err();
            assert_invalid(&status, "since_at", &what, server.label);
        }
        // The server is still there, and an instant inside the years answers.
        let open = client
            .get_reception_status(pb::GetReceptionStatusRequest {
                at: Some(Timestamp {
                    seconds: 1_800_000_000,
                    nanos: 0,
                }),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(open.opens_at.is_some(), "{}", server.label);
    })
    .await;
}

#[tokio::test]
async fn a_ten_kilobyte_id_gets_a_short_invalid_argument_on_every_rpc_that_looks_one_up() {
    on_each_backend(async |server| {
        let huge = "X".repeat(10 * 1024);
        let mut staff = server.staff().await;
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        staff
            .create_contract(new_contract("H", "LIC-H", 5, false))
            .await
            .unwrap();
        let (_, customer) = server
            .token(
                "customer H",
                Role::Customer {
                    contract_id: "H".into(),
                },
            )
            .await;
        let mut customer_support = server.client(Some(&customer)).await;
        let mut customer_licenses = server.licenses(Some(&customer)).await;
        let fingerprint = "srv-0001.example:AAAA".to_owned();

        let checks: Vec<(&str, &str, tonic::Status)> = vec![
            (
                "GetContract",
                "id",
                staff
                    .get_contract(pb::GetContractRequest {
                        id: huge.clone(),
                        ..Default::default()
                    })
                    .await
                    .unwrap_err(),
            ),
            (
                "GetContract (customer)",
                "id",
                customer_support
                    .get_contract(pb::GetContractRequest {
                        id: huge.clone(),
                        ..Default::default()
                    })
                    .await
                    .unwrap_err(),
            ),
            (
                "QuoteRenewal",
                "contract_id",
                staff
                    .quote_renewal(pb::QuoteRenewalRequest {
                        contract_id: huge.clone(),
                        received_on: "2026-11-25".into(),
                    })
                    .await
                    .unwrap_err(),
            ),
            (
                "CreateAccessToken",
                "contract_id",
                staff
                    .create_access_token(pb::CreateAccessTokenRequest {
                        contract_id: huge.clone(),
                        ..Default::default()
                    })
                    .await
                    .unwrap_err(),
            ),
            (
                "SubmitInquiry (customer)",
                "contract_id",
                customer_support
                    .submit_inquiry(pb::SubmitInquiryRequest {
                        contract_id: huge.clone(),
                        ..Default::default()
                    })
                    .await
                    .unwrap_err(),
            ),
            (
                "ListInquiries (customer)",
                "contract_id",
                customer_support
                    .list_inquiries(pb::ListInquiriesRequest {
                        contract_id: huge.clone(),
                        ..Default::default()
                    })
                    .await
                    .unwrap_err(),
            ),
            (
                "IssueFirstKey",
                "license_id",
                licenses
                    .issue_first_key(pb::IssueFirstKeyRequest {
                        license_id: huge.clone(),
                        fingerprint: fingerprint.clone(),
                    })
                    .await
                    .unwrap_err(),
            ),
            (
                "RequestReissue (customer)",
                "license_id",
                customer_licenses
                    .request_reissue(pb::RequestReissueRequest {
                        license_id: huge.clone(),
                        fingerprint: fingerprint.clone(),
                        request_id: "r-1".into(),
                    })
                    .await
                    .unwrap_err(),
            ),
            (
                "RequestReissue (request id)",
                "request_id",
                customer_licenses
                    .request_reissue(pb::RequestReissueRequest {
                        license_id: "LIC-H".into(),
                        fingerprint: fingerprint.clone(),
                        request_id: huge.clone(),
                    })
                    .await
                    .unwrap_err(),
            ),
            (
                "RequestReissue (fingerprint)",
                "fingerprint",
                customer_licenses
                    .request_reissue(pb::RequestReissueRequest {
                        license_id: "LIC-H".into(),
                        fingerprint: huge.clone(),
                        request_id: "r-1".into(),
                    })
                    .await
                    .unwrap_err(),
            ),
            (
                "GetReissue (customer)",
                "id",
                customer_licenses
                    .get_reissue(pb::GetReissueRequest { id: huge.clone() })
                    .await
                    .unwrap_err(),
            ),
            (
                "ApproveReissue",
                "id",
                licenses
                    .approve_reissue(pb::ApproveReissueRequest { id: huge.clone() })
                    .await
                    .unwrap_err(),
            ),
            (
                "RejectReissue",
                "id",
                licenses
                    .reject_reissue(pb::RejectReissueRequest {
                        id: huge.clone(),
                        reason: "no".into(),
                    })
                    .await
                    .unwrap_err(),
            ),
            (
                "RevokeKey",
                "key_id",
                licenses
                    .revoke_key(pb::RevokeKeyRequest {
                        key_id: huge.clone(),
                        reason: "abuse".into(),
                    })
                    .await
                    .unwrap_err(),
            ),
            (
                "ListLicenseKeys (customer)",
                "license_id",
                customer_licenses
                    .list_license_keys(pb::ListLicenseKeysRequest {
                        license_id: huge.clone(),
                    })
                    .await
                    .unwrap_err(),
            ),
            (
                "ListEvents",
                "contract_id",
                staff
                    .list_events(pb::ListEventsRequest {
                        contract_id: huge.clone(),
                        ..Default::default()
                    })
                    .await
                    .unwrap_err(),
            ),
        ];
        for (rpc, field, status) in checks {
            assert_invalid(&status, field, rpc, server.label);
            assert!(
                !status.message().contains("XXXXXXXX"),
                "{rpc} on {}: the id is echoed: {}",
                server.label,
                status.message()
            );
        }
    })
    .await;
}

/// Contract `id` with license `LIC-id`, covered from 2026-11-01, and its
/// first key.
async fn licensed(server: &TestServer, id: &str) -> pb::LicenseKey {
    let mut staff = server.staff().await;
    staff
        .create_contract(new_contract(id, &format!("LIC-{id}"), 10, false))
        .await
        .unwrap();
    staff
        .record_order(first_year(id, "2026-10-20", "2026-10-20"))
        .await
        .unwrap();
    server
        .licenses(Some(&server.staff_token))
        .await
        .issue_first_key(pb::IssueFirstKeyRequest {
            license_id: format!("LIC-{id}"),
            fingerprint: "srv-old-0001.example:AAAA".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .license_key
        .unwrap()
}

#[tokio::test]
async fn a_customer_verifying_another_contracts_key_learns_only_that_its_signature_is_valid() {
    on_each_backend(async |server| {
        let theirs = licensed(server, "THEM").await;
        let ours = licensed(server, "US").await;
        // Their key is revoked: what a snooping customer must not learn.
        server
            .licenses(Some(&server.staff_token))
            .await
            .revoke_key(pb::RevokeKeyRequest {
                key_id: theirs.key_id.clone(),
                reason: "abuse".into(),
            })
            .await
            .unwrap();
        let (_, token) = server
            .token(
                "customer US",
                Role::Customer {
                    contract_id: "US".into(),
                },
            )
            .await;
        let mut customer = server.licenses(Some(&token)).await;
        let verify = async |client: &mut neo_support::client::LicenseClient, key: &str| {
            client
                .verify_key(pb::VerifyKeyRequest {
                    key: key.into(),
                    fingerprint: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
        };

        let answer = verify(&mut customer, &theirs.key).await;
        assert!(!answer.valid, "{}", server.label);
        assert_eq!(answer.reason, "OTHER_CONTRACT", "{}", server.label);
        assert_eq!(
            answer.status,
            pb::KeyStatus::Unspecified as i32,
            "{}",
            server.label
        );
        assert_eq!(answer.superseded_by_key_id, "");
        assert_eq!(answer.key_id, theirs.key_id, "the signature verified");

        // A forged copy of their key is still told apart.
        let mut forged = theirs.key.clone().into_bytes();
        let middle = forged.len() / 2;
        forged[middle] = if forged[middle] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        let answer = verify(&mut customer, &forged).await;
        assert!(!answer.valid);
        assert_ne!(answer.reason, "OTHER_CONTRACT", "{}", server.label);

        // Its own key, and staff, still see the record.
        let own = verify(&mut customer, &ours.key).await;
        assert!(own.valid, "{}: {own:?}", server.label);
        assert_eq!(own.status, pb::KeyStatus::Active as i32);
        let mut staff = server.licenses(Some(&server.staff_token)).await;
        let staff_view = verify(&mut staff, &theirs.key).await;
        assert_eq!(
            (staff_view.status, staff_view.reason.as_str()),
            (pb::KeyStatus::Revoked as i32, "KEY_REVOKED"),
            "{}",
            server.label
        );
    })
    .await;
}
