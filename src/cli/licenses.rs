//! `neo-support key`, `keys`, `reissue` and `fingerprint` commands.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::{Cli, Failure, Output, client_options, rfc3339, text_or_null};
use crate::client::{self, LicenseClient};
use crate::domain::license::Fingerprint;
use crate::pb;
use crate::signer::keys::verifier_from_dir;

/// `key` commands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Verify a license key: exit 0 valid, 1 not valid (says why), 2 usage
    /// error. Offline from public keys by default; --online also checks the
    /// key's record (superseded, revoked).
    Verify(VerifyArgs),
    /// Give a license its first key (staff).
    Issue {
        /// The license id.
        #[arg(long)]
        license: String,
        /// The server fingerprint to bind it to.
        #[arg(long)]
        fingerprint: String,
    },
    /// Revoke a key (staff).
    Revoke {
        /// The key's id (`LK-...`).
        #[arg(value_parser = key_id_arg)]
        key_id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Every key of a license, issued, superseded and revoked.
    List {
        /// The license id.
        #[arg(long)]
        license: String,
    },
}

/// `key verify` arguments.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The key, `@FILE` to read it from a file, or `-` for standard input.
    key: String,
    /// Public keys (`*.public.pem`) to verify with, offline.
    #[arg(long, default_value = "keys", conflicts_with = "online")]
    public_keys: PathBuf,
    /// Ask the server instead: also tells superseded and revoked keys.
    #[arg(long)]
    online: bool,
    /// The fingerprint the key must be bound to.
    #[arg(long)]
    fingerprint: Option<String>,
}

/// `keys` commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// The server's public signing keys (no token needed).
    Public {
        /// Also write each as `ID.public.pem` into this directory, for
        /// `key verify --public-keys DIR`.
        #[arg(long)]
        write: Option<PathBuf>,
        /// With --write, accept the keys over plain http:// from a server
        /// that is not on this machine (anyone on the path could swap
        /// them, and they decide what verifies offline).
        #[arg(long)]
        insecure: bool,
    },
}

/// Whether `server` is plain `http://` to a host other than this machine.
fn plaintext_to_another_host(server: &str) -> bool {
    let Ok(url) = url::Url::parse(server) else {
        return false;
    };
    if url.scheme() != "http" {
        return false;
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => !ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => !ip.is_loopback(),
        Some(url::Host::Domain(name)) => !name.eq_ignore_ascii_case("localhost"),
        None => true,
    }
}

/// `reissue` commands.
#[derive(Debug, Subcommand)]
pub enum ReissueCommand {
    /// Ask for a key bound to a new server.
    Request {
        /// The license id.
        #[arg(long)]
        license: String,
        /// The new server's fingerprint.
        #[arg(long)]
        fingerprint: String,
        /// An idempotency id; the same id gets the same answer. A new one
        /// is made when omitted.
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Reissues waiting for review by deadline (staff), or with --status.
    List {
        /// Which reissues.
        #[arg(long, value_enum, default_value_t = ReissueStatusArg::PendingReview)]
        status: ReissueStatusArg,
        /// Reissues per page (1-100).
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        /// The next_page_token of the previous page.
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// One reissue request.
    Show {
        /// The reissue's id (`RR-...`).
        #[arg(value_parser = reissue_id_arg)]
        id: String,
    },
    /// Approve a reissue waiting for review: its key is signed now (staff).
    Approve {
        /// The reissue's id (`RR-...`).
        #[arg(value_parser = reissue_id_arg)]
        id: String,
    },
    /// Reject a reissue waiting for review (staff).
    Reject {
        /// The reissue's id (`RR-...`).
        #[arg(value_parser = reissue_id_arg)]
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

/// Reissue statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReissueStatusArg {
    /// Signed at once.
    Issued,
    /// Same fingerprint: the current key.
    Unchanged,
    /// Waiting for review.
    PendingReview,
    /// Approved by staff.
    Approved,
    /// Rejected by staff.
    Rejected,
}

fn key_status_name(status: i32) -> &'static str {
    match pb::KeyStatus::try_from(status) {
        Ok(pb::KeyStatus::Active) => "active",
        Ok(pb::KeyStatus::Superseded) => "superseded",
        Ok(pb::KeyStatus::Revoked) => "revoked",
        Ok(pb::KeyStatus::NotOnRecord) => "not_on_record",
        _ => "unspecified",
    }
}

fn reissue_status_name(status: i32) -> &'static str {
    match pb::ReissueStatus::try_from(status) {
        Ok(pb::ReissueStatus::Issued) => "issued",
        Ok(pb::ReissueStatus::Unchanged) => "unchanged",
        Ok(pb::ReissueStatus::PendingReview) => "pending_review",
        Ok(pb::ReissueStatus::Approved) => "approved",
        Ok(pb::ReissueStatus::Rejected) => "rejected",
        _ => "unspecified",
    }
}

fn key_json(k: &pb::LicenseKey) -> Value {
    json!({
        "key": k.key,
        "key_id": k.key_id,
        "sequence": k.sequence,
        "license_id": k.license_id,
        "contract_id": k.contract_id,
        "fingerprint": k.fingerprint,
        "status": key_status_name(k.status),
        "signing_key_id": k.signing_key_id,
        "supersedes": text_or_null(&k.supersedes_key_id),
        "superseded_by": text_or_null(&k.superseded_by_key_id),
        "issued_at": rfc3339(k.issued_at.as_ref()),
        "requested_by": k.requested_by,
        "revoked_at": rfc3339(k.revoked_at.as_ref()),
        "revoke_reason": text_or_null(&k.revoke_reason),
    })
}

fn key_text(k: &pb::LicenseKey) -> String {
    format!(
        "{}\t#{}\t{}\t{}\n",
        k.key_id,
        k.sequence,
        key_status_name(k.status),
        k.fingerprint
    )
}

fn reissue_json(r: &pb::Reissue) -> Value {
    let key = r.license_key.as_ref();
    json!({
        "id": r.id,
        "status": reissue_status_name(r.status),
        "license_id": r.license_id,
        "contract_id": r.contract_id,
        "request_id": r.request_id,
        "fingerprint": r.fingerprint,
        "received_at": rfc3339(r.received_at.as_ref()),
        "delivery_on": r.delivery_on,
        "overdue": r.overdue,
        "key": key.map(|k| Value::String(k.key.clone())).unwrap_or(Value::Null),
        "key_id": key.map(|k| Value::String(k.key_id.clone())).unwrap_or(Value::Null),
        "requested_by": r.requested_by,
        "decided_by": text_or_null(&r.decided_by),
        "decided_at": rfc3339(r.decided_at.as_ref()),
        "reject_reason": text_or_null(&r.reject_reason),
        "review_reason": text_or_null(&r.review_reason),
    })
}

fn reissue_text(r: &pb::Reissue) -> String {
    let overdue = if r.overdue { "\tOVERDUE" } else { "" };
    let review = if r.review_reason.is_empty() {
        String::new()
    } else {
        format!("\treview: {}", r.review_reason)
    };
    format!(
        "{}\t{}\t{}\tdeliver by {}\t{}{overdue}{review}\n",
        r.id,
        r.license_id,
        reissue_status_name(r.status),
        r.delivery_on,
        r.fingerprint
    )
}

/// Input the CLI judges itself: exit 2.
fn usage(message: String) -> Failure {
    Failure::Usage(message)
}

/// A local file could not be written: exit 1.
fn io_failure(message: String) -> Failure {
    Failure::Refused {
        code: "INTERNAL".into(),
        reason: None,
        message,
    }
}

/// An id the server made: `PREFIX` and letters or digits.
fn prefixed_id(text: &str, prefix: &str) -> Result<String, String> {
    let ok = text
        .strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!("{text:?} is not an id of the form {prefix}..."))
    }
}

fn key_id_arg(text: &str) -> Result<String, String> {
    prefixed_id(text, "LK-")
}

fn reissue_id_arg(text: &str) -> Result<String, String> {
    prefixed_id(text, "RR-")
}

/// Reads KEY, @FILE or - (standard input).
fn read_key(arg: &str) -> Result<String, Failure> {
    let text = if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| usage(format!("cannot read standard input: {e}")))?;
        text
    } else if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read {path}: {e}")))?
    } else {
        arg.to_owned()
    };
    Ok(text.trim().to_owned())
}

pub(crate) async fn connect(cli: &Cli) -> Result<LicenseClient, Failure> {
    Ok(client::license(&client_options(cli)?).await?)
}

fn verdict(
    valid: bool,
    reason: &str,
    key_id: &str,
    claims: Value,
    status: Value,
    fingerprint_checked: bool,
) -> Result<Output, Failure> {
    let json = json!({
        "valid": valid,
        "reason": text_or_null(reason),
        "key_id": text_or_null(key_id),
        "claims": claims,
        "status": status,
    });
    let text = if valid && !fingerprint_checked {
        format!("valid: {key_id} (fingerprint not checked)")
    } else if valid {
        format!("valid: {key_id}")
    } else {
        format!("not valid: {reason}")
    };
    let output = Output { json, text };
    if valid {
        Ok(output)
    } else {
        Err(Failure::Negative(output))
    }
}

fn claims_json(c: &crate::domain::license::LicenseClaims) -> Value {
    serde_json::to_value(c).unwrap_or(Value::Null)
}

async fn verify(cli: &Cli, args: &VerifyArgs) -> Result<Output, Failure> {
    let key = read_key(&args.key)?;
    if let Some(fp) = &args.fingerprint {
        Fingerprint::parse(fp).map_err(|m| usage(format!("--fingerprint: {m}")))?;
    }
    if args.online {
        let answer = connect(cli)
            .await?
            .verify_key(pb::VerifyKeyRequest {
                key,
                fingerprint: args.fingerprint.clone().unwrap_or_default(),
            })
            .await?
            .into_inner();
        let claims = answer.claims.as_ref().map_or(Value::Null, |c| {
            json!({
                "iss": c.issuer,
                "sub": c.license_id,
                "iat": rfc3339(c.issued_at.as_ref()),
                "jti": c.key_id,
                "contract_id": c.contract_id,
                "product": c.product,
                "seats": c.seats,
                "fingerprint": c.fingerprint,
                "sequence": c.sequence,
                "supersedes": text_or_null(&c.supersedes_key_id),
                "support_ends_on": text_or_null(&c.support_ends_on),
            })
        });
        let status = if answer.status == 0 {
            Value::Null
        } else {
            key_status_name(answer.status).into()
        };
        return verdict(
            answer.valid,
            &answer.reason,
            &answer.key_id,
            claims,
            status,
            args.fingerprint.is_some(),
        );
    }
    let verifier = verifier_from_dir(&args.public_keys).map_err(|e| usage(e.to_string()))?;
    if verifier.is_empty() {
        return Err(usage(format!(
            "no public keys (*.public.pem) in {}; fetch them with `neo-support keys public --write DIR` or use --online",
            args.public_keys.display()
        )));
    }
    match verifier.verify(&key) {
        Err(failure) => verdict(
            false,
            failure.reason(),
            "",
            Value::Null,
            Value::Null,
            args.fingerprint.is_some(),
        ),
        Ok(verified) => {
            let claims = &verified.claims;
            let mismatch = args
                .fingerprint
                .as_ref()
                .is_some_and(|fp| fp != &claims.fingerprint);
            let reason = if mismatch { "FINGERPRINT_MISMATCH" } else { "" };
            verdict(
                !mismatch,
                reason,
                &claims.jti,
                claims_json(claims),
                Value::Null,
                args.fingerprint.is_some(),
            )
        }
    }
}

/// Runs a `key` command.
pub(crate) async fn key(cli: &Cli, command: &KeyCommand) -> Result<Output, Failure> {
    Ok(match command {
        KeyCommand::Verify(args) => return verify(cli, args).await,
        KeyCommand::Issue {
            license,
            fingerprint,
        } => {
            let r = connect(cli)
                .await?
                .issue_first_key(pb::IssueFirstKeyRequest {
                    license_id: license.clone(),
                    fingerprint: fingerprint.clone(),
                })
                .await?
                .into_inner();
            let key = r.license_key.unwrap_or_default();
            let mut json = key_json(&key);
            json["delivery_on"] = r.delivery_on.clone().into();
            Output {
                json,
                text: key.key,
            }
        }
        KeyCommand::Revoke { key_id, reason } => {
            let key = connect(cli)
                .await?
                .revoke_key(pb::RevokeKeyRequest {
                    key_id: key_id.clone(),
                    reason: reason.clone(),
                })
                .await?
                .into_inner()
                .license_key
                .unwrap_or_default();
            Output {
                json: key_json(&key),
                text: key_text(&key),
            }
        }
        KeyCommand::List { license } => {
            let keys = connect(cli)
                .await?
                .list_license_keys(pb::ListLicenseKeysRequest {
                    license_id: license.clone(),
                })
                .await?
                .into_inner()
                .license_keys;
            super::list(&keys, key_json, key_text)
        }
    })
}

/// Runs a `keys` command.
pub(crate) async fn keys(cli: &Cli, command: &KeysCommand) -> Result<Output, Failure> {
    let KeysCommand::Public { write, insecure } = command;
    if write.is_some() && !insecure && plaintext_to_another_host(&cli.server) {
        return Err(usage(format!(
            "refusing to write public keys fetched over plain http:// from {}: they decide which \
             license keys verify offline, and anyone on the network path could replace them. Use \
             https:// (with --ca-cert), run this on the server's machine, or give --insecure",
            cli.server
        )));
    }
    let keys = connect(cli)
        .await?
        .get_signing_keys(pb::GetSigningKeysRequest {})
        .await?
        .into_inner()
        .signing_keys;
    if let Some(dir) = write {
        std::fs::create_dir_all(dir)
            .map_err(|e| io_failure(format!("cannot create {}: {e}", dir.display())))?;
        for key in &keys {
            let name: String = key
                .id
                .trim_start_matches("k4.pid.")
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(16)
                .collect();
            let path = dir.join(format!("{name}.public.pem"));
            std::fs::write(&path, &key.public_key_pem)
                .map_err(|e| io_failure(format!("cannot write {}: {e}", path.display())))?;
        }
    }
    let status = |s: i32| match pb::SigningKeyStatus::try_from(s) {
        Ok(pb::SigningKeyStatus::Active) => "active",
        Ok(pb::SigningKeyStatus::Verifying) => "verifying",
        _ => "unspecified",
    };
    Ok(Output {
        json: keys
            .iter()
            .map(|k| json!({"id": k.id, "paserk": k.paserk, "status": status(k.status), "public_key_pem": k.public_key_pem}))
            .collect(),
        text: keys.iter().map(|k| format!("{}\t{}\t{}\n", k.id, status(k.status), k.paserk)).collect(),
    })
}

/// Runs a `reissue` command.
pub(crate) async fn reissue(
    client: &mut LicenseClient,
    command: &ReissueCommand,
) -> Result<Output, Failure> {
    Ok(match command {
        ReissueCommand::Request {
            license,
            fingerprint,
            request_id,
        } => {
            let request_id = request_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let r = client
                .request_reissue(pb::RequestReissueRequest {
                    license_id: license.clone(),
                    fingerprint: fingerprint.clone(),
                    request_id: request_id.clone(),
                })
                .await?
                .into_inner();
            let reissue = r.reissue.unwrap_or_default();
            let json = json!({
                "status": reissue_status_name(r.status),
                "key": text_or_null(&r.key),
                "key_id": text_or_null(&r.key_id),
                "received_at": rfc3339(r.received_at.as_ref()),
                "delivery_on": r.delivery_on,
                "reissue_id": reissue.id,
                "request_id": request_id,
            });
            if r.key.is_empty() {
                // Waiting for review: nothing on stdout, exit 3.
                let text = format!(
                    "{} {} (staff decide by {})",
                    reissue_status_name(r.status),
                    reissue.id,
                    r.delivery_on
                );
                return Err(Failure::Waiting(Output { json, text }));
            }
            Output {
                json,
                text: r.key.clone(),
            }
        }
        ReissueCommand::List {
            status,
            page_size,
            page_token,
        } => {
            let status = match status {
                ReissueStatusArg::Issued => pb::ReissueStatus::Issued,
                ReissueStatusArg::Unchanged => pb::ReissueStatus::Unchanged,
                ReissueStatusArg::PendingReview => pb::ReissueStatus::PendingReview,
                ReissueStatusArg::Approved => pb::ReissueStatus::Approved,
                ReissueStatusArg::Rejected => pb::ReissueStatus::Rejected,
            };
            let r = client
                .list_reissues(pb::ListReissuesRequest {
                    status: status.into(),
                    page_size: *page_size,
                    page_token: page_token.clone(),
                })
                .await?
                .into_inner();
            let page = super::list(&r.reissues, reissue_json, reissue_text);
            let mut text = page.text;
            if !r.next_page_token.is_empty() {
                text.push_str(&format!("(more: --page-token {})\n", r.next_page_token));
            }
            Output {
                json: json!({"reissues": page.json, "next_page_token": text_or_null(&r.next_page_token)}),
                text,
            }
        }
        ReissueCommand::Show { id } => {
            let r = client
                .get_reissue(pb::GetReissueRequest { id: id.clone() })
                .await?
                .into_inner()
                .reissue
                .unwrap_or_default();
            Output {
                json: reissue_json(&r),
                text: reissue_text(&r),
            }
        }
        ReissueCommand::Approve { id } => {
            let r = client
                .approve_reissue(pb::ApproveReissueRequest { id: id.clone() })
                .await?
                .into_inner()
                .reissue
                .unwrap_or_default();
            // The key it signed, alone on stdout (`NEW_KEY=$(...)`).
            let key = r.license_key.clone().unwrap_or_default();
            let mut json = reissue_json(&r);
            json["key"] = text_or_null(&key.key);
            json["key_id"] = text_or_null(&key.key_id);
            Output {
                json,
                text: key.key,
            }
        }
        ReissueCommand::Reject { id, reason } => {
            let r = client
                .reject_reissue(pb::RejectReissueRequest {
                    id: id.clone(),
                    reason: reason.clone(),
                })
                .await?
                .into_inner()
                .reissue
                .unwrap_or_default();
            Output {
                json: reissue_json(&r),
                text: reissue_text(&r),
            }
        }
    })
}

/// This machine's fingerprint: `nsfp1:` and the first 40 hexadecimal
/// digits of SHA-256 over a fixed label and the systemd machine id
/// (`/etc/machine-id`, else `/var/lib/dbus/machine-id`). It stays the same
/// across reboots and changes when the OS is installed anew, as on a new
/// server. Installations compute it the same way.
pub fn machine_fingerprint() -> Result<String, String> {
    use sha2::{Digest, Sha256};
    let machine_id = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|text| text.trim().to_owned())
        .filter(|id| !id.is_empty())
        .ok_or("no machine id in /etc/machine-id or /var/lib/dbus/machine-id")?;
    let digest = Sha256::digest(format!("neo-support fingerprint v1\n{machine_id}").as_bytes());
    let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
    Ok(format!("nsfp1:{hex}"))
}

/// Runs `fingerprint`.
pub(crate) fn fingerprint() -> Result<Output, Failure> {
    let fingerprint = machine_fingerprint().map_err(|message| Failure::Refused {
        code: "FAILED_PRECONDITION".into(),
        reason: Some("NO_MACHINE_ID".into()),
        message,
    })?;
    Ok(Output {
        json: json!({"fingerprint": fingerprint}),
        text: fingerprint,
    })
}
