//! Contracts, orders, renewal quotes and customer tokens against a real
//! server, on each database backend.

use crate::common::{bad_fields, first_year, jst_at, new_contract, on_each_backend, order, reason};
use neo_support::pb::{self, OrderKind};
use tonic::Code;

fn span(o: &pb::Order) -> (&str, &str) {
    (o.start_on.as_str(), o.end_on.as_str())
}

#[tokio::test]
async fn contracts_are_created_with_given_or_generated_ids_and_bad_ones_change_nothing() {
    on_each_backend(async |server| {
        let mut staff = server.staff().await;
        let given = staff
            .create_contract(new_contract("NEO-2026-0001", "LIC-1", 10, false))
            .await
            .unwrap()
            .into_inner()
            .contract
            .unwrap();
        assert_eq!(given.id, "NEO-2026-0001", "{}", server.label);
        let generated = staff
            .create_contract(new_contract("", "LIC-2", 5, true))
            .await
            .unwrap()
            .into_inner()
            .contract
            .unwrap();
        assert!(generated.id.starts_with("C-"), "{}", generated.id);

        let same_id = staff
            .create_contract(new_contract("NEO-2026-0001", "LIC-3", 1, false))
            .await
            .unwrap_err();
        assert_eq!(
            (same_id.code(), reason(&same_id)),
            (Code::AlreadyExists, "CONTRACT_EXISTS".into()),
            "{}",
            server.label
        );
        let same_license = staff
            .create_contract(new_contract("NEO-2026-0002", "LIC-1", 1, false))
            .await
            .unwrap_err();
        assert_eq!(
            (same_license.code(), reason(&same_license)),
            (Code::AlreadyExists, "LICENSE_UNDER_CONTRACT".into()),
            "{}",
            server.label
        );

        let mut bad_email = new_contract("X-1", "LIC-4", 1, false);
        bad_email.contact_email = "not an address".into();
        let cases = [
            (bad_email, "contact_email"),
            (new_contract("X 1", "LIC-4", 1, false), "id"),
            (new_contract("X-1", "", 1, false), "license_id"),
            (new_contract("X-1", "LIC-4", 0, false), "seats"),
            (
                pb::CreateContractRequest {
                    customer_name: " ".into(),
                    ..new_contract("X-1", "LIC-4", 1, false)
                },
                "customer_name",
            ),
        ];
        for (request, field) in cases {
            let status = staff.create_contract(request).await.unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{field}");
            assert_eq!(bad_fields(&status), [field]);
        }
        let listed = staff
            .list_contracts(pb::ListContractsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .contracts;
        assert_eq!(listed.len(), 2, "{}", server.label);
    })
    .await;
}

#[tokio::test]
async fn orders_compute_the_specs_worked_examples() {
    on_each_backend(async |server| {
        let mut staff = server.staff().await;
        staff
            .create_contract(new_contract("A", "LIC-A", 10, false))
            .await
            .unwrap();
        let first = staff
            .record_order(first_year("A", "2026-11-24", "2026-11-24"))
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        assert_eq!(
            span(&first),
            ("2026-12-01", "2027-11-30"),
            "{}",
            server.label
        );
        let renewal = staff
            .record_order(order("A", OrderKind::Renewal, "2027-10-15"))
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        assert_eq!(span(&renewal), ("2027-12-01", "2028-11-30"));

        staff
            .create_contract(new_contract("B", "LIC-B", 10, false))
            .await
            .unwrap();
        staff
            .record_order(first_year("B", "2026-12-01", "2026-12-01"))
            .await
            .unwrap();
        let late = staff
            .record_order(order("B", OrderKind::Renewal, "2028-02-10"))
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        assert_eq!(span(&late), ("2028-03-01", "2029-02-28"));
        let b = staff
            .get_contract(pb::GetContractRequest {
                id: "B".into(),
                date: "2028-01-15".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(b.status, pb::ContractStatus::Lapsed as i32);
        let covered: Vec<_> = b
            .coverage
            .iter()
            .map(|s| (s.start_on.as_str(), s.end_on.as_str()))
            .collect();
        assert_eq!(
            covered,
            [("2026-12-01", "2027-11-30"), ("2028-03-01", "2029-02-28")]
        );

        staff
            .create_contract(new_contract("C", "LIC-C", 10, false))
            .await
            .unwrap();
        staff
            .record_order(first_year("C", "2026-11-24", "2026-11-24"))
            .await
            .unwrap();
        // Exactly a year after expiry is still a renewal; the day after is not.
        let quote = staff
            .quote_renewal(pb::QuoteRenewalRequest {
                contract_id: "C".into(),
                received_on: "2028-11-30".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (quote.kind, quote.start_on.as_str()),
            (OrderKind::Renewal as i32, "2028-12-01")
        );
        let quote = staff
            .quote_renewal(pb::QuoteRenewalRequest {
                contract_id: "C".into(),
                received_on: "2028-12-01".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (quote.kind, quote.start_on.as_str(), quote.end_on.as_str()),
            (OrderKind::ReContinuation as i32, "2028-12-01", "2029-11-30")
        );
        let refused = staff
            .record_order(order("C", OrderKind::Renewal, "2028-12-01"))
            .await
            .unwrap_err();
        assert_eq!(
            (refused.code(), reason(&refused)),
            (Code::FailedPrecondition, "RECONTINUATION_REQUIRED".into()),
            "{}",
            server.label
        );
        let too_early = staff
            .record_order(order("C", OrderKind::ReContinuation, "2028-11-30"))
            .await
            .unwrap_err();
        assert_eq!(reason(&too_early), "RENEWAL_STILL_ALLOWED");
        assert!(
            too_early.message().contains("2028-11-30"),
            "{}",
            too_early.message()
        );
        let c = staff
            .get_contract(pb::GetContractRequest {
                id: "C".into(),
                date: "2028-12-01".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(c.orders.len(), 1, "refused orders write nothing");
        assert_eq!(c.status, pb::ContractStatus::RecontinuationRequired as i32);
        let recontinued = staff
            .record_order(order("C", OrderKind::ReContinuation, "2028-12-01"))
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        assert_eq!(span(&recontinued), ("2028-12-01", "2029-11-30"));
    })
    .await;
}

#[tokio::test]
async fn orders_that_contradict_the_history_are_refused_and_write_nothing() {
    on_each_backend(async |server| {
        let mut staff = server.staff().await;
        staff
            .create_contract(new_contract("H", "LIC-H", 10, false))
            .await
            .unwrap();
        let before_first = staff
            .record_order(order("H", OrderKind::Renewal, "2027-01-01"))
            .await
            .unwrap_err();
        assert_eq!(
            reason(&before_first),
            "FIRST_YEAR_REQUIRED",
            "{}",
            server.label
        );
        staff
            .record_order(first_year("H", "2026-11-24", "2026-11-24"))
            .await
            .unwrap();
        let second_first = staff
            .record_order(first_year("H", "2027-11-24", "2027-11-24"))
            .await
            .unwrap_err();
        assert_eq!(reason(&second_first), "FIRST_YEAR_EXISTS");
        let certificate = |start: &str, end: &str, no: &str| pb::RecordOrderRequest {
            start_on: start.into(),
            end_on: end.into(),
            certificate_no: no.into(),
            ..order("H", OrderKind::Certificate, "2026-12-10")
        };
        staff
            .record_order(certificate("2026-12-01", "2027-11-30", "CERT-1"))
            .await
            .unwrap();
        let overlapping = staff
            .record_order(certificate("2027-06-01", "2028-05-31", "CERT-2"))
            .await
            .unwrap_err();
        assert_eq!(reason(&overlapping), "OVERLAPPING_PERIOD");

        let unknown = staff
            .record_order(order("NOPE", OrderKind::Renewal, "2027-01-01"))
            .await
            .unwrap_err();
        assert_eq!(
            (unknown.code(), reason(&unknown)),
            (Code::NotFound, "CONTRACT_NOT_FOUND".into())
        );
        let bad = [
            (order("H", OrderKind::Unspecified, "2027-01-01"), "kind"),
            (order("H", OrderKind::Renewal, "2027-02-30"), "received_on"),
            (
                order("H", OrderKind::FirstYear, "2027-01-01"),
                "purchased_on",
            ),
            (
                order("H", OrderKind::AddSeats, "2027-01-01"),
                "purchased_on",
            ),
            (
                pb::RecordOrderRequest {
                    seats: 3,
                    ..order("H", OrderKind::Renewal, "2027-01-01")
                },
                "seats",
            ),
            (
                pb::RecordOrderRequest {
                    purchased_on: "2027-01-01".into(),
                    ..order("H", OrderKind::AddSeats, "2027-01-01")
                },
                "seats",
            ),
            (certificate("2027-12-01", "2027-11-30", "CERT-3"), "end_on"),
            (
                certificate("2027-12-01", "2028-11-30", ""),
                "certificate_no",
            ),
        ];
        for (request, field) in bad {
            let status = staff.record_order(request).await.unwrap_err();
            assert_eq!(
                (status.code(), bad_fields(&status)),
                (Code::InvalidArgument, vec![field.to_owned()]),
                "{field} on {}",
                server.label
            );
        }
        let h = staff
            .get_contract(pb::GetContractRequest {
                id: "H".into(),
                date: "2027-01-01".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(h.orders.len(), 2, "{}", server.label);
    })
    .await;
}

#[tokio::test]
async fn a_certificate_takes_precedence_and_seats_are_charged_from_the_next_renewal() {
    on_each_backend(async |server| {
        let mut staff = server.staff().await;
        staff
            .create_contract(new_contract("S", "LIC-S", 10, false))
            .await
            .unwrap();
        let first = staff
            .record_order(first_year("S", "2026-11-24", "2026-11-20"))
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        let certificate = staff
            .record_order(pb::RecordOrderRequest {
                start_on: "2026-11-15".into(),
                end_on: "2027-11-14".into(),
                certificate_no: "NEO-CERT-0042".into(),
                ..order("S", OrderKind::Certificate, "2026-11-30")
            })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        let seats = staff
            .record_order(pb::RecordOrderRequest {
                purchased_on: "2027-05-10".into(),
                seats: 5,
                ..order("S", OrderKind::AddSeats, "2027-05-10")
            })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        assert_eq!(
            span(&seats),
            ("2027-05-10", "2027-11-14"),
            "{}",
            server.label
        );

        let s = staff
            .get_contract(pb::GetContractRequest {
                id: "S".into(),
                date: "2027-06-01".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(s.periods.len(), 1, "{}", server.label);
        assert_eq!(
            (s.periods[0].kind, s.periods[0].certificate_no.as_str()),
            (OrderKind::Certificate as i32, "NEO-CERT-0042")
        );
        let superseded = s.orders.iter().find(|o| o.id == first.id).unwrap();
        assert_eq!(superseded.superseded_by_order_id, certificate.id);
        assert_eq!(s.support_end_on, "2027-11-14");
        assert_eq!(
            (s.current_period_seats, s.next_renewal_seats),
            (10, 15),
            "{}",
            server.label
        );
        assert_eq!(s.contract.unwrap().seats, 15);

        let renewal = staff
            .record_order(order("S", OrderKind::Renewal, "2027-10-01"))
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        assert_eq!(
            (span(&renewal), renewal.seats),
            (("2027-11-15", "2028-11-14"), 15)
        );
        // Seats bought while lapsed are not covered until renewal.
        let lapsed = staff
            .record_order(pb::RecordOrderRequest {
                purchased_on: "2029-01-10".into(),
                seats: 2,
                ..order("S", OrderKind::AddSeats, "2029-01-10")
            })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        assert_eq!(span(&lapsed), ("", ""));
    })
    .await;
}

#[tokio::test]
async fn concurrent_renewals_of_one_contract_chain_without_overlap() {
    on_each_backend(async |server| {
        let mut staff = server.staff().await;
        staff
            .create_contract(new_contract("R", "LIC-R", 10, false))
            .await
            .unwrap();
        staff
            .record_order(first_year("R", "2026-11-24", "2026-11-24"))
            .await
            .unwrap();
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let mut client = staff.clone();
                tokio::spawn(async move {
                    client
                        .record_order(order("R", OrderKind::Renewal, "2027-10-01"))
                        .await
                })
            })
            .collect();
        for call in calls {
            call.await
                .unwrap()
                .expect("every concurrent renewal is recorded");
        }
        let r = staff
            .get_contract(pb::GetContractRequest {
                id: "R".into(),
                date: "2027-01-01".into(),
            })
            .await
            .unwrap()
            .into_inner();
        let mut periods: Vec<_> = r
            .periods
            .iter()
            .map(|p| (p.start_on.clone(), p.end_on.clone()))
            .collect();
        periods.sort();
        assert_eq!(periods.len(), 9, "{}", server.label);
        for pair in periods.windows(2) {
            let next_start = chrono::NaiveDate::parse_from_str(&pair[1].0, "%Y-%m-%d").unwrap();
            let end = chrono::NaiveDate::parse_from_str(&pair[0].1, "%Y-%m-%d").unwrap();
            assert_eq!(
                end.succ_opt().unwrap(),
                next_start,
                "{periods:?} on {}",
                server.label
            );
        }
        assert_eq!(r.coverage.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn contracts_are_listed_page_by_page_with_filters() {
    on_each_backend(async |server| {
        let mut staff = server.staff().await;
        for (i, received) in [
            "2026-01-10",
            "2026-04-10",
            "2026-07-10",
            "2026-10-10",
            "2027-02-10",
        ]
        .iter()
        .enumerate()
        {
            let id = format!("L-{i}");
            staff
                .create_contract(new_contract(&id, &format!("LIC-L{i}"), 10, false))
                .await
                .unwrap();
            staff
                .record_order(first_year(&id, received, received))
                .await
                .unwrap();
        }
        staff
            .create_contract(new_contract("L-9", "LIC-L9", 10, false))
            .await
            .unwrap();
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = staff
                .list_contracts(pb::ListContractsRequest {
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert!(page.contracts.len() <= 2);
            seen.extend(page.contracts.into_iter().map(|s| s.contract.unwrap().id));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(
            seen,
            ["L-0", "L-1", "L-2", "L-3", "L-4", "L-9"],
            "{}",
            server.label
        );

        let ids = |list: pb::ListContractsResponse| {
            list.contracts
                .into_iter()
                .map(|s| s.contract.unwrap().id)
                .collect::<Vec<_>>()
        };
        let status = |status: pb::ContractStatus, on: &str| pb::ListContractsRequest {
            status: status.into(),
            status_on: on.into(),
            ..Default::default()
        };
        // On 2027-03-15: L-0 (ended 2027-01-31) lapsed; L-1..L-4 active (L-4
        // covered from its purchase on 2027-02-10); L-9 has no period.
        let active = staff
            .list_contracts(status(pb::ContractStatus::Active, "2027-03-15"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            ids(active),
            ["L-1", "L-2", "L-3", "L-4"],
            "{}",
            server.label
        );
        let lapsed = staff
            .list_contracts(status(pb::ContractStatus::Lapsed, "2027-03-15"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ids(lapsed), ["L-0"]);
        // Lapsed from the day after its last day (2027-01-31) through the
        // last day a renewal is allowed, 2028-01-31; not on its last day.
        // (The others' periods end later and lapse in their turn.)
        for (on, l0_lapsed) in [
            ("2027-01-31", false),
            ("2027-02-01", true),
            ("2028-01-31", true),
            ("2028-02-01", false),
        ] {
            let lapsed = staff
                .list_contracts(status(pb::ContractStatus::Lapsed, on))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                ids(lapsed).contains(&"L-0".to_owned()),
                l0_lapsed,
                "L-0 lapsed on {on}, {}",
                server.label
            );
        }
        let not_started = staff
            .list_contracts(status(pb::ContractStatus::NotStarted, "2027-03-15"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ids(not_started), ["L-9"]);
        let before_purchase = staff
            .list_contracts(status(pb::ContractStatus::NotStarted, "2027-02-09"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ids(before_purchase), ["L-4", "L-9"]);
        let recontinue = staff
            .list_contracts(status(
                pb::ContractStatus::RecontinuationRequired,
                "2028-02-01",
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ids(recontinue), ["L-0"], "{}", server.label);
        // Renewal reminders: support ending before 2027-06-01.
        let ending = staff
            .list_contracts(pb::ListContractsRequest {
                support_ends_before_on: "2027-06-01".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ids(ending), ["L-0", "L-1"]);
        let bad = staff
            .list_contracts(pb::ListContractsRequest {
                page_token: "???".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&bad), ["page_token"]);
        let bad = staff
            .list_contracts(pb::ListContractsRequest {
                page_size: 1000,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&bad), ["page_size"]);
    })
    .await;
}

#[tokio::test]
async fn a_customer_token_sees_only_its_own_contract() {
    on_each_backend(async |server| {
        let mut staff = server.staff().await;
        staff
            .create_contract(new_contract("MINE", "LIC-M", 10, false))
            .await
            .unwrap();
        staff
            .create_contract(new_contract("THEIRS", "LIC-T", 10, false))
            .await
            .unwrap();
        let token = staff
            .create_access_token(pb::CreateAccessTokenRequest {
                contract_id: "MINE".into(),
                name: String::new(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(token.token.starts_with("nst_"));
        let mut customer = server.client(Some(&token.token)).await;
        let mine = customer
            .get_contract(pb::GetContractRequest {
                id: "MINE".into(),
                date: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(mine.contract.unwrap().id, "MINE");
        let theirs = customer
            .get_contract(pb::GetContractRequest {
                id: "THEIRS".into(),
                date: String::new(),
            })
            .await
            .unwrap_err();
        let missing = customer
            .get_contract(pb::GetContractRequest {
                id: "NOPE".into(),
                date: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (theirs.code(), reason(&theirs)),
            (missing.code(), reason(&missing)),
            "{}",
            server.label
        );
        assert_eq!(theirs.code(), Code::NotFound);
        let denied = customer
            .record_order(first_year("MINE", "2026-11-24", "2026-11-24"))
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        let denied = customer
            .list_contracts(pb::ListContractsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        let denied = customer
            .create_access_token(pb::CreateAccessTokenRequest {
                contract_id: "MINE".into(),
                name: String::new(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        let unknown = staff
            .create_access_token(pb::CreateAccessTokenRequest {
                contract_id: "NOPE".into(),
                name: String::new(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), Code::NotFound, "{}", server.label);
        // The default date of GetContract is today in JST from the server's clock.
        server.clock.set(jst_at(2026, 12, 1, 0, 30, 0));
        let today = staff
            .get_contract(pb::GetContractRequest {
                id: "MINE".into(),
                date: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(today.date, "2026-12-01");
    })
    .await;
}
