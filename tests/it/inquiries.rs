//! Technical inquiries against a real server with a pinned clock, on each
//! database backend.

use crate::common::{
    TestServer, bad_fields, first_year, jst_at, new_contract, on_each_backend, reason,
};
use neo_support::pb;
use neo_support::pb::datetime;
use tonic::Code;

fn inquiry(
    contract_id: &str,
    product: pb::Product,
    category: pb::InquiryCategory,
) -> pb::SubmitInquiryRequest {
    pb::SubmitInquiryRequest {
        contract_id: contract_id.into(),
        product: product.into(),
        category: category.into(),
        subject: "バックアップが途中で止まる".into(),
        body: "昨夜のジョブがエラーで停止しました。ログを添付します。".into(),
        reply_to: "it-admin@example.co.jp".into(),
    }
}

fn defect(contract_id: &str) -> pb::SubmitInquiryRequest {
    inquiry(
        contract_id,
        pb::Product::BackupServer,
        pb::InquiryCategory::Defect,
    )
}

/// A contract covered from 2026-11-01 through 2027-10-31.
async fn active_contract(server: &TestServer, id: &str, customized: bool) {
    let mut staff = server.staff().await;
    staff
        .create_contract(new_contract(id, &format!("LIC-{id}"), 10, customized))
        .await
        .unwrap();
    staff
        .record_order(first_year(id, "2026-10-20", "2026-10-20"))
        .await
        .unwrap();
}

async fn count(server: &TestServer) -> usize {
    let query = neo_support::store::inquiries::InquiryQuery {
        limit: 1000,
        ..Default::default()
    };
    server.store.list_inquiries(&query).await.unwrap().len()
}

#[tokio::test]
async fn handling_starts_at_the_next_open_moment() {
    on_each_backend(async |server| {
        active_contract(server, "Q", false).await;
        server
            .staff()
            .await
            .create_closure(pb::CreateClosureRequest {
                closure: Some(pb::Closure {
                    name: "年末年始休暇".into(),
                    range: Some(pb::closure::Range::EveryYear(pb::MonthDayRange {
                        start_month_day: "12-29".into(),
                        end_month_day: "01-03".into(),
                    })),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
        let mut staff = server.staff().await;
        let cases = [
            (
                jst_at(2026, 11, 25, 8, 59, 59),
                jst_at(2026, 11, 25, 9, 0, 0),
            ),
            (jst_at(2026, 11, 25, 9, 0, 0), jst_at(2026, 11, 25, 9, 0, 0)),
            (
                jst_at(2026, 11, 25, 11, 59, 59),
                jst_at(2026, 11, 25, 11, 59, 59),
            ),
            (
                jst_at(2026, 11, 25, 12, 0, 0),
                jst_at(2026, 11, 25, 13, 0, 0),
            ),
            (
                jst_at(2026, 11, 25, 17, 29, 59),
                jst_at(2026, 11, 25, 17, 29, 59),
            ),
            (
                jst_at(2026, 11, 25, 17, 30, 0),
                jst_at(2026, 11, 26, 9, 0, 0),
            ),
            // 勤労感謝の日.
            (
                jst_at(2026, 11, 23, 10, 0, 0),
                jst_at(2026, 11, 24, 9, 0, 0),
            ),
            // In the year-end closure.
            (jst_at(2026, 12, 30, 10, 0, 0), jst_at(2027, 1, 4, 9, 0, 0)),
        ];
        for (received_at, starts_at) in cases {
            server.clock.set(received_at);
            let answer = staff
                .submit_inquiry(defect("Q"))
                .await
                .unwrap()
                .into_inner();
            let stored = answer.inquiry.unwrap();
            assert_eq!(
                stored.received_at.as_ref().and_then(datetime),
                Some(received_at),
                "{}",
                server.label
            );
            assert_eq!(
                stored.handling_starts_at.as_ref().and_then(datetime),
                Some(starts_at),
                "{received_at} on {}",
                server.label
            );
            assert_eq!(stored.status, pb::InquiryStatus::Open as i32);
            assert_eq!(stored.reply_channel, "email");
            assert!(answer.notice.contains("e-mail only"), "{}", answer.notice);
        }
        assert_eq!(count(server).await, cases.len());
    })
    .await;
}

#[tokio::test]
async fn every_refusal_has_its_reason_and_stores_nothing() {
    on_each_backend(async |server| {
        active_contract(server, "Q", false).await;
        let mut staff = server.staff().await;
        staff
            .create_contract(new_contract("NEW", "LIC-NEW", 10, false))
            .await
            .unwrap();
        server.clock.set(jst_at(2026, 11, 25, 10, 0, 0));
        let refused = [
            (
                inquiry(
                    "Q",
                    pb::Product::DesknetsNeo,
                    pb::InquiryCategory::Operation,
                ),
                Code::FailedPrecondition,
                "NEO_SUPPORT_REQUIRED",
            ),
            (
                inquiry(
                    "Q",
                    pb::Product::BackupServer,
                    pb::InquiryCategory::Customization,
                ),
                Code::FailedPrecondition,
                "CUSTOMIZATION_NOT_COVERED",
            ),
            (defect("NEW"), Code::FailedPrecondition, "SUPPORT_EXPIRED"),
            (defect("NOPE"), Code::NotFound, "CONTRACT_NOT_FOUND"),
        ];
        for (request, code, why) in refused {
            let status = staff.submit_inquiry(request).await.unwrap_err();
            assert_eq!(
                (status.code(), reason(&status)),
                (code, why.to_owned()),
                "{}",
                server.label
            );
        }
        let neo = staff
            .submit_inquiry(inquiry(
                "Q",
                pb::Product::DesknetsNeo,
                pb::InquiryCategory::Operation,
            ))
            .await
            .unwrap_err();
        assert!(
            neo.message().contains("desknet's NEO 年間サポート"),
            "{}",
            neo.message()
        );

        let invalid = [
            (
                pb::SubmitInquiryRequest {
                    reply_to: "not-an-address".into(),
                    ..defect("Q")
                },
                "reply_to",
            ),
            (
                pb::SubmitInquiryRequest {
                    subject: "  ".into(),
                    ..defect("Q")
                },
                "subject",
            ),
            (
                pb::SubmitInquiryRequest {
                    subject: "件".repeat(201),
                    ..defect("Q")
                },
                "subject",
            ),
            (
                pb::SubmitInquiryRequest {
                    body: String::new(),
                    ..defect("Q")
                },
                "body",
            ),
            (
                pb::SubmitInquiryRequest {
                    body: "本".repeat(20_001),
                    ..defect("Q")
                },
                "body",
            ),
            (
                pb::SubmitInquiryRequest {
                    category: 0,
                    ..defect("Q")
                },
                "category",
            ),
            (
                pb::SubmitInquiryRequest {
                    product: 0,
                    ..defect("Q")
                },
                "product",
            ),
        ];
        for (request, field) in invalid {
            let status = staff.submit_inquiry(request).await.unwrap_err();
            assert_eq!(
                (status.code(), bad_fields(&status)),
                (Code::InvalidArgument, vec![field.to_owned()]),
                "{field}"
            );
        }
        let outbox = neo_support::store::outbox::OutboxQuery {
            limit: 100,
            ..Default::default()
        };
        assert!(
            server.store.list_outbox(&outbox).await.unwrap().is_empty(),
            "no acknowledgement for a refusal"
        );
        // The longest body is taken.
        staff
            .submit_inquiry(pb::SubmitInquiryRequest {
                body: "本".repeat(20_000),
                ..defect("Q")
            })
            .await
            .unwrap();
        assert_eq!(count(server).await, 1, "{}", server.label);

        // The day after the contract ends, support has expired.
        server.clock.set(jst_at(2027, 11, 1, 10, 0, 0));
        let expired = staff.submit_inquiry(defect("Q")).await.unwrap_err();
        assert_eq!(reason(&expired), "SUPPORT_EXPIRED");
        // 2027-10-31 23:59:59 JST is still the last covered day.
        server.clock.set(jst_at(2027, 10, 31, 23, 59, 59));
        staff.submit_inquiry(defect("Q")).await.unwrap();
        assert_eq!(count(server).await, 2);
    })
    .await;
}

#[tokio::test]
async fn customized_contracts_take_customization_questions() {
    on_each_backend(async |server| {
        active_contract(server, "CUST", true).await;
        server.clock.set(jst_at(2026, 11, 25, 10, 0, 0));
        let mut staff = server.staff().await;
        let request = inquiry(
            "CUST",
            pb::Product::BackupServer,
            pb::InquiryCategory::Customization,
        );
        let stored = staff
            .submit_inquiry(request)
            .await
            .unwrap()
            .into_inner()
            .inquiry
            .unwrap();
        assert_eq!(
            stored.category,
            pb::InquiryCategory::Customization as i32,
            "{}",
            server.label
        );
    })
    .await;
}

#[tokio::test]
async fn the_queue_runs_in_handling_order_and_customers_see_only_their_own() {
    on_each_backend(async |server| {
        active_contract(server, "A", false).await;
        active_contract(server, "B", false).await;
        let mut staff = server.staff().await;
        let token_a = staff
            .create_access_token(pb::CreateAccessTokenRequest {
                contract_id: "A".into(),
                name: "A's admin".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .token;
        let mut customer = server.client(Some(&token_a)).await;

        // Submitted out of handling order: Saturday evening, then Monday 10:00, then Friday 18:00.
        server.clock.set(jst_at(2026, 11, 28, 19, 0, 0));
        let saturday = customer
            .submit_inquiry(defect("A"))
            .await
            .unwrap()
            .into_inner()
            .inquiry
            .unwrap();
        server.clock.set(jst_at(2026, 11, 30, 10, 0, 0));
        let monday = staff
            .submit_inquiry(defect("B"))
            .await
            .unwrap()
            .into_inner()
            .inquiry
            .unwrap();
        server.clock.set(jst_at(2026, 11, 27, 18, 0, 0));
        let friday = customer
            .submit_inquiry(defect("A"))
            .await
            .unwrap()
            .into_inner()
            .inquiry
            .unwrap();

        let mut ids = Vec::new();
        let mut token = String::new();
        loop {
            let page = staff
                .list_inquiries(pb::ListInquiriesRequest {
                    page_size: 1,
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            ids.extend(page.inquiries.iter().map(|i| i.id));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        // Friday 18:00 and Saturday both start Monday 09:00 (id order); Monday 10:00 after.
        assert_eq!(ids, [saturday.id, friday.id, monday.id], "{}", server.label);

        let own = customer
            .list_inquiries(pb::ListInquiriesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .inquiries;
        assert_eq!(
            own.iter().map(|i| i.id).collect::<Vec<_>>(),
            [saturday.id, friday.id]
        );
        let other = customer
            .list_inquiries(pb::ListInquiriesRequest {
                contract_id: "B".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(other.code(), Code::NotFound);
        let hidden = customer
            .get_inquiry(pb::GetInquiryRequest { id: monday.id })
            .await
            .unwrap_err();
        assert_eq!(
            (hidden.code(), reason(&hidden)),
            (Code::NotFound, "INQUIRY_NOT_FOUND".into())
        );
        let submit_for_other = customer.submit_inquiry(defect("B")).await.unwrap_err();
        assert_eq!(submit_for_other.code(), Code::NotFound);

        let denied = customer
            .answer_inquiry(pb::AnswerInquiryRequest {
                id: friday.id,
                answer: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        server.clock.set(jst_at(2026, 11, 30, 11, 0, 0));
        let answered = staff
            .answer_inquiry(pb::AnswerInquiryRequest {
                id: friday.id,
                answer: "回答です。".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .inquiry
            .unwrap();
        assert_eq!(answered.status, pb::InquiryStatus::Answered as i32);
        assert_eq!(
            answered.answered_at.as_ref().and_then(datetime),
            Some(jst_at(2026, 11, 30, 11, 0, 0))
        );
        // Issue 14: an answer needs a body, and an answered inquiry can be
        // answered again (each answer mailed); the first answer's instant
        // stays.
        let empty = staff
            .answer_inquiry(pb::AnswerInquiryRequest {
                id: friday.id,
                answer: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (empty.code(), reason(&empty)),
            (Code::InvalidArgument, "ANSWER_REQUIRED".into())
        );
        server.clock.set(jst_at(2026, 11, 30, 11, 30, 0));
        let again = staff
            .answer_inquiry(pb::AnswerInquiryRequest {
                id: friday.id,
                answer: "補足です。".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .inquiry
            .unwrap();
        assert_eq!(
            again.answered_at.as_ref().and_then(datetime),
            Some(jst_at(2026, 11, 30, 11, 0, 0))
        );
        let missing = staff
            .answer_inquiry(pb::AnswerInquiryRequest {
                id: 999_999,
                answer: "x".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound);

        let open = staff
            .list_inquiries(pb::ListInquiriesRequest {
                status: pb::InquiryStatus::Open.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .inquiries;
        assert_eq!(
            open.iter().map(|i| i.id).collect::<Vec<_>>(),
            [saturday.id, monday.id],
            "{}",
            server.label
        );
        let only_b = staff
            .list_inquiries(pb::ListInquiriesRequest {
                contract_id: "B".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .inquiries;
        assert_eq!(only_b.iter().map(|i| i.id).collect::<Vec<_>>(), [monday.id]);
        let seen = customer
            .get_inquiry(pb::GetInquiryRequest { id: saturday.id })
            .await
            .unwrap()
            .into_inner()
            .inquiry
            .unwrap();
        assert_eq!(seen.body, saturday.body);
    })
    .await;
}

/// A customer token for `contract_id`, made by staff through the server.
async fn customer_token(server: &TestServer, contract_id: &str) -> String {
    server
        .staff()
        .await
        .create_access_token(pb::CreateAccessTokenRequest {
            contract_id: contract_id.into(),
            name: format!("{contract_id}'s admin"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .token
}

async fn outbox_len(server: &TestServer) -> usize {
    let query = neo_support::store::outbox::OutboxQuery {
        limit: 1000,
        ..Default::default()
    };
    server.store.list_outbox(&query).await.unwrap().len()
}

#[tokio::test]
async fn control_characters_and_bidi_overrides_in_mail_text_are_refused_and_nothing_is_queued() {
    on_each_backend(async |server| {
        active_contract(server, "X", false).await;
        let token = customer_token(server, "X").await;
        let mut customer = server.client(Some(&token)).await;
        let forged = "お問合せ\r\n\r\nYour license was suspended. Log in at http://evil.example/login to restore it.\u{1b}[2J\u{1b}]0;pwned\u{7}";
        let cases = [
            ("subject", forged.to_owned(), "本文".to_owned()),
            ("subject", "件名\n二行目".into(), "本文".into()),
            ("subject", "件名\tタブ".into(), "本文".into()),
            ("subject", "invoice\u{202E}fdp.exe".into(), "本文".into()),
            ("subject", "件名\u{2067}隠す\u{2069}".into(), "本文".into()),
            ("subject", "件名\u{9b}2J".into(), "本文".into()),
            ("body", "件名".into(), "画面を消す\u{1b}[2J\u{1b}]0;pwned\u{7}".into()),
            ("body", "件名".into(), "bare\rCR".into()),
            ("body", "件名".into(), "C1 \u{85} next line".into()),
            ("body", "件名".into(), "DEL \u{7f}".into()),
            ("body", "件名".into(), "NUL \u{0}".into()),
            ("body", "件名".into(), "bidi \u{202D}override".into()),
        ];
        for (field, subject, body) in cases {
            let refused = customer
                .submit_inquiry(pb::SubmitInquiryRequest {
                    subject: subject.clone(),
                    body: body.clone(),
                    ..defect("X")
                })
                .await
                .unwrap_err();
            assert_eq!(refused.code(), Code::InvalidArgument, "{subject:?} {body:?}");
            assert_eq!(bad_fields(&refused), [field], "{subject:?} {body:?}");
            assert!(
                !refused.message().contains('\u{1b}'),
                "{:?}",
                refused.message()
            );
        }
        assert_eq!(count(server).await, 0, "{}", server.label);
        assert_eq!(outbox_len(server).await, 0, "{}", server.label);

        // Newlines and tabs are a body's; CRLF is stored as LF.
        let stored = customer
            .submit_inquiry(pb::SubmitInquiryRequest {
                body: "一行目\r\n\t二行目\n三行目".into(),
                ..defect("X")
            })
            .await
            .unwrap()
            .into_inner()
            .inquiry
            .unwrap();
        let kept = server.store.get_inquiry(stored.id).await.unwrap().unwrap();
        assert_eq!(kept.body, "一行目\n\t二行目\n三行目");
        assert_eq!(outbox_len(server).await, 1);

        // The staff's answer is mail text too.
        let mut staff = server.staff().await;
        let refused = staff
            .answer_inquiry(pb::AnswerInquiryRequest {
                id: stored.id,
                answer: "回答\u{1b}]0;pwned\u{7}".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&refused), ["answer"]);
        let still = server.store.get_inquiry(stored.id).await.unwrap().unwrap();
        assert_eq!(still.status.as_str(), "open");
        assert_eq!(outbox_len(server).await, 1, "{}", server.label);
    })
    .await;
}

#[tokio::test]
async fn replies_to_addresses_outside_the_contracts_mail_domains_are_refused() {
    on_each_backend(async |server| {
        active_contract(server, "R", false).await;
        let token = customer_token(server, "R").await;
        let mut customer = server.client(Some(&token)).await;

        // The attack: 20 inquiries to 20 outside addresses.
        for i in 0..20 {
            let refused = customer
                .submit_inquiry(pb::SubmitInquiryRequest {
                    reply_to: format!("victim{i}@outside{i}.example"),
                    ..defect("R")
                })
                .await
                .unwrap_err();
            assert_eq!(refused.code(), Code::InvalidArgument);
            assert_eq!(reason(&refused), "REPLY_TO_NOT_ALLOWED");
            assert_eq!(bad_fields(&refused), ["reply_to"]);
        }
        // A subdomain, or a domain that ends like the contact's, is another domain.
        for reply_to in ["x@sub.example.co.jp", "x@example.co.jp.evil.example"] {
            let refused = customer
                .submit_inquiry(pb::SubmitInquiryRequest {
                    reply_to: reply_to.into(),
                    ..defect("R")
                })
                .await
                .unwrap_err();
            assert_eq!(reason(&refused), "REPLY_TO_NOT_ALLOWED", "{reply_to}");
        }
        assert_eq!(count(server).await, 0, "{}", server.label);
        assert_eq!(outbox_len(server).await, 0, "{}", server.label);

        // The contact's own domain, in any case, is allowed.
        customer
            .submit_inquiry(pb::SubmitInquiryRequest {
                reply_to: "Tanaka@EXAMPLE.co.jp".into(),
                ..defect("R")
            })
            .await
            .unwrap();

        // Staff add a partner's domain; customers cannot.
        let update = pb::UpdateContractRequest {
            id: "R".into(),
            add_mail_domains: vec!["Partner.Example.JP".into()],
            remove_mail_domains: vec![],
        };
        let denied = customer.update_contract(update.clone()).await.unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        let mut staff = server.staff().await;
        let updated = staff.update_contract(update).await.unwrap().into_inner();
        assert_eq!(
            updated.mail_domains,
            ["example.co.jp", "partner.example.jp"]
        );
        let shown = customer
            .get_contract(pb::GetContractRequest {
                id: "R".into(),
                date: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(shown.mail_domains, ["example.co.jp", "partner.example.jp"]);
        customer
            .submit_inquiry(pb::SubmitInquiryRequest {
                reply_to: "sato@partner.example.jp".into(),
                ..defect("R")
            })
            .await
            .unwrap();

        // Garbage, the contact's own domain and unknown domains are refused
        // with the field named, and change nothing.
        for (add, remove, field) in [
            (vec!["evil.example/login"], vec![], "add_mail_domains"),
            (vec!["user@evil.example"], vec![], "add_mail_domains"),
            (vec!["localhost"], vec![], "add_mail_domains"),
            (
                vec!["ok.example.jp", "a\r\nb.example"],
                vec![],
                "add_mail_domains",
            ),
            (vec![], vec!["example.co.jp"], "remove_mail_domains"),
            (
                vec![],
                vec!["never-added.example.jp"],
                "remove_mail_domains",
            ),
        ] {
            let refused = staff
                .update_contract(pb::UpdateContractRequest {
                    id: "R".into(),
                    add_mail_domains: add.iter().map(|d| d.to_string()).collect(),
                    remove_mail_domains: remove.iter().map(|d| d.to_string()).collect(),
                })
                .await
                .unwrap_err();
            assert_eq!(refused.code(), Code::InvalidArgument, "{add:?} {remove:?}");
            assert_eq!(bad_fields(&refused), [field], "{add:?} {remove:?}");
        }
        assert_eq!(
            server.store.contract_mail_domains("R").await.unwrap(),
            ["partner.example.jp"]
        );
        let missing = staff
            .update_contract(pb::UpdateContractRequest {
                id: "NOPE".into(),
                add_mail_domains: vec!["a.example.jp".into()],
                remove_mail_domains: vec![],
            })
            .await
            .unwrap_err();
        assert_eq!(reason(&missing), "CONTRACT_NOT_FOUND");

        // Removed again, the partner's domain is refused again.
        staff
            .update_contract(pb::UpdateContractRequest {
                id: "R".into(),
                add_mail_domains: vec![],
                remove_mail_domains: vec!["PARTNER.example.jp".into()],
            })
            .await
            .unwrap();
        let refused = customer
            .submit_inquiry(pb::SubmitInquiryRequest {
                reply_to: "sato@partner.example.jp".into(),
                ..defect("R")
            })
            .await
            .unwrap_err();
        assert_eq!(reason(&refused), "REPLY_TO_NOT_ALLOWED");
        assert_eq!(count(server).await, 2, "{}", server.label);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_contract_gets_twenty_inquiries_a_jst_day_even_when_sent_at_once() {
    use tonic_types::StatusExt;
    on_each_backend(async |server| {
        active_contract(server, "L", false).await;
        active_contract(server, "M", false).await;
        let token = customer_token(server, "L").await;
        server.clock.set(jst_at(2026, 11, 25, 23, 0, 0));
        let attempts = (0..26).map(|_| {
            let server_url = server.options(Some(&token));
            async move {
                let mut customer = neo_support::client::support(&server_url).await.unwrap();
                customer.submit_inquiry(defect("L")).await
            }
        });
        let results = futures_join_all(attempts).await;
        let accepted = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(accepted, 20, "{}", server.label);
        for refused in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
            assert_eq!(reason(refused), "RATE_LIMITED");
            let retry = refused
                .get_error_details()
                .retry_info()
                .and_then(|info| info.retry_delay)
                .expect("a RetryInfo detail");
            // 23:00 JST: the next day starts in an hour.
            assert_eq!(retry, std::time::Duration::from_secs(3600));
        }
        assert_eq!(count(server).await, 20, "{}", server.label);
        assert_eq!(outbox_len(server).await, 20, "{}", server.label);

        // Another contract has its own allowance; the next JST day, so has L.
        server
            .staff()
            .await
            .submit_inquiry(defect("M"))
            .await
            .unwrap();
        server.clock.set(jst_at(2026, 11, 26, 0, 0, 0));
        let mut customer = server.client(Some(&token)).await;
        customer.submit_inquiry(defect("L")).await.unwrap();
        assert_eq!(count(server).await, 22, "{}", server.label);
    })
    .await;
}

/// Runs the futures at once and collects their outputs in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}
