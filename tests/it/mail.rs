//! E-mail over SMTP with a real SMTP server on a port (aiosmtpd from PyPI,
//! writing what it receives into a Maildir): license-key notices, inquiry
//! acknowledgements and answers arrive with the right recipient, decoded
//! Japanese subject and body; a server that is down, then up, gets the mail
//! after a retry; a message that keeps failing is left for staff.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{TestServer, first_year, jst_at, new_contract, on_each_backend};
use neo_support::mail::{Mailer, SmtpSettings, WorkerSettings, deliver_one};
use neo_support::pb;
use neo_support::store::outbox::OutboxQuery;

/// aiosmtpd on a port, storing mail in a Maildir.
pub(crate) struct SmtpServer {
    child: Child,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts it on `port`; `None` (with a note) where aiosmtpd is not
    /// installed, except under CI, which must have it.
    pub(crate) fn start(port: u16) -> Option<Self> {
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        if !available {
            crate::common::skip_or_fail(
                "aiosmtpd is not installed (pip install aiosmtpd): skipping the SMTP test",
            );
            return None;
        }
        let maildir = tempfile::tempdir().unwrap();
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let server = Self { child, maildir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(server);
        panic!("aiosmtpd did not start on port {port}");
    }

    /// The raw messages received so far.
    pub(crate) fn messages(&self) -> Vec<Vec<u8>> {
        let new = self.maildir.path().join("mail").join("new");
        let mut files: Vec<_> = std::fs::read_dir(new)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mailer(port: u16) -> Mailer {
    Mailer::new(&SmtpSettings {
        url: format!("smtp://127.0.0.1:{port}?tls=none"),
        password: None,
        from: "desknet's NEO サポート <support@example.co.jp>".into(),
    })
    .unwrap()
}

/// A received mail: (To, decoded Subject, Message-ID, decoded body).
pub(crate) fn parse(raw: &[u8]) -> (String, String, String, String) {
    use mailparse::MailHeaderMap;
    let mail = mailparse::parse_mail(raw).unwrap();
    let header = |name: &str| mail.headers.get_first_value(name).unwrap_or_default();
    (
        header("To"),
        header("Subject"),
        header("Message-ID"),
        mail.get_body().unwrap(),
    )
}

async fn deliver_all(server: &TestServer, mailer: &Mailer, settings: &WorkerSettings) -> usize {
    let mut sent = 0;
    while deliver_one(
        server.store.as_ref(),
        mailer,
        server.clock.as_ref(),
        settings,
    )
    .await
    .unwrap()
    {
        sent += 1;
    }
    sent
}

#[tokio::test]
async fn key_notices_and_inquiry_mail_arrive_with_decoded_japanese() {
    let port = free_port();
    let Some(smtp) = SmtpServer::start(port) else {
        return;
    };
    on_each_backend(async |server| {
        let before = smtp.messages().len();
        let mut staff = server.staff().await;
        staff
            .create_contract(new_contract("M", "LIC-M", 10, false))
            .await
            .unwrap();
        staff
            .record_order(first_year("M", "2026-10-20", "2026-10-20"))
            .await
            .unwrap();
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        licenses
            .issue_first_key(pb::IssueFirstKeyRequest {
                license_id: "LIC-M".into(),
                fingerprint: "srv-mail-0001.example".into(),
            })
            .await
            .unwrap();
        let moved = licenses
            .request_reissue(pb::RequestReissueRequest {
                license_id: "LIC-M".into(),
                fingerprint: "srv-mail-0002.example".into(),
                request_id: "mail-1".into(),
            })
            .await
            .unwrap()
            .into_inner();
        let inquiry = staff
            .submit_inquiry(pb::SubmitInquiryRequest {
                contract_id: "M".into(),
                product: pb::Product::BackupServer.into(),
                category: pb::InquiryCategory::Defect.into(),
                subject: "バックアップが止まる".into(),
                body: "昨夜から止まります。".into(),
                reply_to: "tanaka@example.co.jp".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .inquiry
            .unwrap();
        staff
            .answer_inquiry(pb::AnswerInquiryRequest {
                id: inquiry.id,
                answer: "パッチ 1.2.3 を適用してください。".into(),
            })
            .await
            .unwrap();

        let sent = deliver_all(server, &mailer(port), &WorkerSettings::default()).await;
        assert_eq!(
            sent, 4,
            "first key, reissue, acknowledgement, answer on {}",
            server.label
        );
        let received: Vec<_> = smtp.messages()[before..]
            .iter()
            .map(|raw| parse(raw))
            .collect();
        assert_eq!(received.len(), 4, "{}", server.label);

        let (to, subject, message_id, body) = received
            .iter()
            .find(|m| m.1.contains("再発行"))
            .expect("the reissue notice");
        assert_eq!(to, "it-admin@example.co.jp");
        assert!(subject.contains("LIC-M"), "{subject}");
        assert!(
            message_id.starts_with("<neo-support.outbox."),
            "{message_id}"
        );
        for part in [
            "srv-mail-0002.example",
            moved.key_id.as_str(),
            moved.delivery_on.as_str(),
            "key verify",
        ] {
            assert!(body.contains(part), "{part} in {body}");
        }
        let (to, subject, _, body) = received
            .iter()
            .find(|m| m.1.contains("受け付けました"))
            .expect("the acknowledgement");
        assert_eq!(to, "tanaka@example.co.jp");
        assert!(subject.contains(&inquiry.id.to_string()));
        assert!(
            body.contains("午前9:00〜12:00") && body.contains("電子メール"),
            "{body}"
        );
        let (_, _, _, body) = received
            .iter()
            .find(|m| m.1.contains("回答"))
            .expect("the answer");
        assert!(body.contains("パッチ 1.2.3 を適用してください。"), "{body}");

        let outbox = server
            .store
            .list_outbox(&OutboxQuery {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            outbox
                .iter()
                .all(|m| m.status == "sent" && m.message_id.is_some()),
            "{outbox:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_server_that_is_down_then_up_gets_the_mail_after_a_retry() {
    on_each_backend(async |server| {
        let port = free_port();
        let mut staff = server.staff().await;
        staff
            .create_contract(new_contract("D", "LIC-D", 10, false))
            .await
            .unwrap();
        staff
            .record_order(first_year("D", "2026-10-20", "2026-10-20"))
            .await
            .unwrap();
        server
            .licenses(Some(&server.staff_token))
            .await
            .issue_first_key(pb::IssueFirstKeyRequest {
                license_id: "LIC-D".into(),
                fingerprint: "srv-down-0001.example".into(),
            })
            .await
            .unwrap();
        let settings = WorkerSettings {
            retry_base: Duration::from_secs(60),
            max_attempts: 3,
            ..WorkerSettings::default()
        };
        let mailer = mailer(port);

        // Down: the attempt fails and is scheduled a minute later.
        assert!(
            deliver_one(
                server.store.as_ref(),
                &mailer,
                server.clock.as_ref(),
                &settings
            )
            .await
            .unwrap()
        );
        let queued = &server
            .store
            .list_outbox(&OutboxQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()[0];
        assert_eq!(
            (queued.status.as_str(), queued.attempts),
            ("pending", 1),
            "{}",
            server.label
        );
        assert!(queued.last_error.is_some());
        assert_eq!(queued.next_attempt_at, Some(jst_at(2026, 11, 25, 10, 1, 0)));
        // Not due yet: nothing is tried.
        assert!(
            !deliver_one(
                server.store.as_ref(),
                &mailer,
                server.clock.as_ref(),
                &settings
            )
            .await
            .unwrap()
        );

        // Up, and a minute later: delivered.
        let Some(smtp) = SmtpServer::start(port) else {
            return;
        };
        server.clock.set(jst_at(2026, 11, 25, 10, 1, 0));
        assert!(
            deliver_one(
                server.store.as_ref(),
                &mailer,
                server.clock.as_ref(),
                &settings
            )
            .await
            .unwrap()
        );
        assert_eq!(smtp.messages().len(), 1, "{}", server.label);
        let sent = &server
            .store
            .list_outbox(&OutboxQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()[0];
        assert_eq!((sent.status.as_str(), sent.attempts), ("sent", 2));
    })
    .await;
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_left_for_staff_who_can_retry_it() {
    on_each_backend(async |server| {
        let port = free_port();
        let mut staff = server.staff().await;
        staff
            .create_contract(new_contract("F", "LIC-F", 10, false))
            .await
            .unwrap();
        server
            .licenses(Some(&server.staff_token))
            .await
            .issue_first_key(pb::IssueFirstKeyRequest {
                license_id: "LIC-F".into(),
                fingerprint: "srv-fail-0001.example".into(),
            })
            .await
            .unwrap();
        let settings = WorkerSettings {
            retry_base: Duration::from_secs(1),
            max_attempts: 2,
            ..WorkerSettings::default()
        };
        let mailer = mailer(port);
        for minute in 1..=2 {
            deliver_one(
                server.store.as_ref(),
                &mailer,
                server.clock.as_ref(),
                &settings,
            )
            .await
            .unwrap();
            server.clock.set(jst_at(2026, 11, 25, 10, minute, 0));
        }
        let failed = staff
            .list_outbox_messages(pb::ListOutboxMessagesRequest {
                status: "failed".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .messages;
        assert_eq!(failed.len(), 1, "{}", server.label);
        assert_eq!(failed[0].attempts, 2);
        assert!(
            !deliver_one(
                server.store.as_ref(),
                &mailer,
                server.clock.as_ref(),
                &settings
            )
            .await
            .unwrap(),
            "failed mail is not retried by itself"
        );
        // Unsent after its due date: overdue.
        server.clock.set(jst_at(2026, 11, 26, 10, 0, 0));
        let overdue = staff
            .list_outbox_messages(pb::ListOutboxMessagesRequest {
                overdue: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .messages;
        assert!(overdue.len() == 1 && overdue[0].overdue, "{}", server.label);
        let retried = staff
            .retry_outbox_message(pb::RetryOutboxMessageRequest { id: failed[0].id })
            .await
            .unwrap()
            .into_inner()
            .message
            .unwrap();
        assert_eq!((retried.status.as_str(), retried.attempts), ("pending", 0));
        let Some(smtp) = SmtpServer::start(port) else {
            return;
        };
        assert!(
            deliver_one(
                server.store.as_ref(),
                &mailer,
                server.clock.as_ref(),
                &settings
            )
            .await
            .unwrap()
        );
        assert_eq!(smtp.messages().len(), 1);
        let again = staff
            .retry_outbox_message(pb::RetryOutboxMessageRequest { id: failed[0].id })
            .await
            .unwrap_err();
        assert_eq!(crate::common::reason(&again), "ALREADY_SENT");
    })
    .await;
}

#[test]
fn a_reissue_on_a_running_server_is_mailed_audited_counted_and_backed_up() {
    let daemon_bin = env!("CARGO_BIN_EXE_neo-supportd");
    let client_bin = env!("CARGO_BIN_EXE_neo-support");
    let smtp_port = free_port();
    let Some(smtp) = SmtpServer::start(smtp_port) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/neo.db", dir.path().display());
    let token = crate::common::staff_token_on(&database_url, "ops-tanaka");
    let metrics = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let smtp_url = format!("smtp://127.0.0.1:{smtp_port}?tls=none");
    let daemon = crate::common::Daemon::start_with(
        &database_url,
        &dir.path().join("keys"),
        &[
            "--smtp-url",
            &smtp_url,
            "--mail-from",
            "support@example.co.jp",
            "--metrics-listen",
            &metrics,
        ],
    );
    let server = format!("http://{}", daemon.address);
    let call = |args: &[&str]| {
        let mut all = vec![
            "--server",
            server.as_str(),
            "--token",
            token.as_str(),
            "--json",
        ];
        all.extend_from_slice(args);
        let output = Command::new(client_bin).args(&all).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let received = crate::common::a_month_ago();
    call(&[
        "contract",
        "create",
        "--id",
        "E2E",
        "--customer",
        "株式会社エンドツーエンド",
        "--contact",
        "admin@e2e.example.co.jp",
        "--license-id",
        "BS-E2E",
        "--seats",
        "3",
    ]);
    call(&[
        "order",
        "record",
        "--contract",
        "E2E",
        "--kind",
        "first-year",
        "--received-on",
        &received,
        "--purchased-on",
        &received,
    ]);
    call(&[
        "key",
        "issue",
        "--license",
        "BS-E2E",
        "--fingerprint",
        "srv-e2e-old-0001.example",
    ]);
    let moved = call(&[
        "reissue",
        "request",
        "--license",
        "BS-E2E",
        "--fingerprint",
        "srv-e2e-new-0002.example",
    ]);
    let key_id = moved["key_id"].as_str().unwrap().to_owned();

    // The mail arrives at the real SMTP server.
    let mut notice = None;
    for _ in 0..100 {
        notice = smtp
            .messages()
            .iter()
            .map(|raw| parse(raw))
            .find(|m| m.1.contains("再発行"));
        if notice.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (to, subject, _, body) = notice.expect("the reissue notice arrives");
    assert_eq!(to, "admin@e2e.example.co.jp");
    assert!(subject.contains("BS-E2E"));
    assert!(body.contains(&key_id) && body.contains("srv-e2e-new-0002.example"));

    // The events say who did it.
    let events = call(&[
        "events",
        "list",
        "--license",
        "BS-E2E",
        "--kind",
        "key.reissued",
    ]);
    assert_eq!(events["events"][0]["actor"], "ops-tanaka");
    assert!(
        events["events"][0]["detail"]
            .as_str()
            .unwrap()
            .contains(&key_id)
    );

    // The metrics show it.
    let scraped = crate::common::http_get(&metrics, "/metrics");
    assert!(
        scraped.contains(r#"neo_support_reissues_total{outcome="issued"} 1"#),
        "{scraped}"
    );

    // A backup taken while it runs restores it.
    let backup = dir.path().join("backup.db");
    let status = Command::new(daemon_bin)
        .args(["backup", "--to"])
        .arg(&backup)
        .args(["--database-url", &database_url])
        .status()
        .unwrap();
    assert!(status.success());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let restored_keys = runtime.block_on(async {
        let store = neo_support::store::connect(
            &format!("sqlite://{}", backup.display()),
            &Default::default(),
        )
        .await
        .unwrap();
        store.list_license_keys("BS-E2E").await.unwrap()
    });
    assert!(restored_keys.iter().any(|k| k.id == key_id));
    let (status, _) = daemon.terminate();
    assert!(status.success());
}

/// A fake SMTP server on a port that offers `AUTH PLAIN` but no STARTTLS,
/// answers yes to everything, and keeps every line it is sent.
async fn fake_smtp_without_starttls() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake.example ESMTP\r\n").await?;
                let mut in_data = false;
                while let Some(line) = lines.next_line().await? {
                    log.lock().unwrap().push(line.clone());
                    let verb = line.to_ascii_uppercase();
                    let answer: &[u8] = if in_data {
                        if line == "." {
                            in_data = false;
                            b"250 queued\r\n"
                        } else {
                            continue;
                        }
                    } else if verb.starts_with("EHLO") {
                        b"250-fake.example\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
                    } else if verb.starts_with("AUTH") {
                        b"235 2.7.0 accepted\r\n"
                    } else if verb.starts_with("DATA") {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if verb.starts_with("QUIT") {
                        write.write_all(b"221 bye\r\n").await?;
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(answer).await?;
                }
                std::io::Result::Ok(())
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn a_server_without_starttls_gets_neither_the_password_nor_the_mail() {
    let (port, seen) = fake_smtp_without_starttls().await;
    let db = crate::common::TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let mut staff = server.staff().await;
    staff
        .create_contract(new_contract("T", "LIC-T", 3, false))
        .await
        .unwrap();
    staff
        .record_order(first_year("T", "2026-10-20", "2026-10-20"))
        .await
        .unwrap();
    let mut licenses = server.licenses(Some(&server.staff_token)).await;
    licenses
        .issue_first_key(pb::IssueFirstKeyRequest {
            license_id: "LIC-T".into(),
            fingerprint: "srv-tls-0001.example".into(),
        })
        .await
        .unwrap();
    let settings = |url: String| SmtpSettings {
        url,
        password: Some("hunter2-smtp-password".into()),
        from: "support@example.co.jp".into(),
    };

    // smtp:// (loopback, so credentials are allowed at start) requires
    // STARTTLS: the fake server never sees AUTH or the message.
    let safe = Mailer::new(&settings(format!("smtp://neo-support@127.0.0.1:{port}"))).unwrap();
    assert!(
        deliver_one(
            server.store.as_ref(),
            &safe,
            server.clock.as_ref(),
            &WorkerSettings::default()
        )
        .await
        .unwrap()
    );
    let lines = seen.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|l| l.to_ascii_uppercase().starts_with("EHLO")),
        "it connected: {lines:?}"
    );
    for verb in ["AUTH", "MAIL", "RCPT", "DATA"] {
        assert!(
            !lines
                .iter()
                .any(|l| l.to_ascii_uppercase().starts_with(verb)),
            "{verb} sent without TLS: {lines:?}"
        );
    }
    let outbox = server
        .store
        .list_outbox(&OutboxQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(outbox[0].status, "pending", "{outbox:?}");
    assert!(
        outbox[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("STARTTLS"),
        "{outbox:?}"
    );

    // What the same fake server got before the fix, and still gets when
    // asked for explicitly (to a loopback address only): the password.
    seen.lock().unwrap().clear();
    server
        .clock
        .set(neo_support::clock::Clock::now(server.clock.as_ref()) + chrono::Duration::hours(2));
    let opportunistic = Mailer::new(&settings(format!(
        "smtp://neo-support@127.0.0.1:{port}?tls=opportunistic"
    )))
    .unwrap();
    assert!(
        deliver_one(
            server.store.as_ref(),
            &opportunistic,
            server.clock.as_ref(),
            &WorkerSettings::default()
        )
        .await
        .unwrap()
    );
    let lines = seen.lock().unwrap().clone();
    assert!(
        lines.iter().any(|l| l.starts_with("AUTH PLAIN")),
        "{lines:?}"
    );
    server.stop().await;
    db.drop_database().await;
}

#[test]
fn the_server_refuses_to_start_with_credentials_over_plain_smtp_to_another_host() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("smtp-password");
    std::fs::write(&password, "hunter2\n").unwrap();
    // Private, as it must be: the refusal below is the SMTP rule's.
    std::fs::set_permissions(
        &password,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    for url in [
        "smtp://neo-support@mail.example.co.jp:25?tls=none",
        "smtp://neo-support@mail.example.co.jp?tls=opportunistic",
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_neo-supportd"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
            .arg(format!("sqlite://{}/neo.db", dir.path().display()))
            .arg("--keys-dir")
            .arg(dir.path().join("keys"))
            .args(["--smtp-url", url, "--smtp-password-file"])
            .arg(&password)
            .env("NEO_SUPPORT_LOG", "error")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{url}: {stderr}");
        assert!(
            stderr.contains("refusing to send SMTP credentials"),
            "{url}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}
