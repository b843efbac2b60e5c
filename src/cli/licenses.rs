//! `neo-support key`, `keys`, `reissue` and `fingerprint` commands.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Cli, Failure, Output, client_options, rfc3339, text_or_null};
use crate::client::{self, LicenseClient};
use crate::domain::license::Fingerprint;
use crate::pb;
use neo_license::{Component, Components, FingerprintMatch, MatchKind, Verifier, compare};

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
        #[arg(long, value_enum, default_value_t = pb::ReissueStatus::PendingReview)]
        status: pb::ReissueStatus,
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

fn key_status_name(status: i32) -> &'static str {
    match pb::KeyStatus::try_from(status) {
        Ok(pb::KeyStatus::Active) => "active",
        Ok(pb::KeyStatus::Superseded) => "superseded",
        Ok(pb::KeyStatus::Revoked) => "revoked",
        Ok(pb::KeyStatus::NotOnRecord) => "not_on_record",
        Ok(pb::KeyStatus::Provisional) => "provisional",
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
        "changed_components": r.changed_components,
        "provisional_key": r.provisional_key.as_ref().map_or(Value::Null, provisional_json),
    })
}

fn provisional_json(p: &pb::ProvisionalKey) -> Value {
    json!({
        "key": p.key,
        "key_id": p.key_id,
        "fingerprint": p.fingerprint,
        "expires_at": rfc3339(p.expires_at.as_ref()),
        "status": key_status_name(p.status),
        "superseded_by": text_or_null(&p.superseded_by_key_id),
    })
}

fn reissue_text(r: &pb::Reissue) -> String {
    let overdue = if r.overdue { "\tOVERDUE" } else { "" };
    let review = if r.review_reason.is_empty() {
        String::new()
    } else {
        format!("\treview: {}", r.review_reason)
    };
    let changed = if r.changed_components.is_empty() {
        String::new()
    } else {
        format!("\tchanged: {}", r.changed_components.join(","))
    };
    format!(
        "{}\t{}\t{}\tdeliver by {}\t{}{changed}{overdue}{review}\n",
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

/// What `key verify` found, offline or online.
#[derive(Default)]
struct KeyVerdictView {
    valid: bool,
    reason: String,
    key_id: String,
    claims: Value,
    status: Value,
    /// How the given fingerprint matched: the kind and changed components.
    found: Option<(String, Vec<String>)>,
    provisional: bool,
    expires_at: Value,
}

fn verdict(view: KeyVerdictView) -> Result<Output, Failure> {
    let KeyVerdictView {
        valid,
        reason,
        key_id,
        claims,
        status,
        found,
        provisional,
        expires_at,
    } = view;
    let mut json = json!({
        "valid": valid,
        "reason": text_or_null(&reason),
        "key_id": text_or_null(&key_id),
        "claims": claims,
        "status": status,
        "match": found.as_ref().map_or(Value::Null, |(kind, _)| kind.clone().into()),
        "changed": found.as_ref().map_or(Value::Null, |(_, changed)| json!(changed)),
    });
    if provisional {
        json["provisional"] = true.into();
        json["expires_at"] = expires_at.clone();
    }
    let matched = match &found {
        Some((kind, changed)) if changed.is_empty() => format!(" ({kind})"),
        Some((kind, changed)) => format!(" ({kind}, changed: {})", changed.join(", ")),
        None => String::new(),
    };
    let text = if valid {
        let until = match (&expires_at, provisional) {
            (Value::String(at), true) => {
                // For people: JST with its offset; JSON keeps UTC.
                let shown = chrono::DateTime::parse_from_rfc3339(at).map_or_else(
                    |_| at.clone(),
                    |at| {
                        at.with_timezone(&crate::domain::dates::jst())
                            .format("%Y-%m-%d %H:%M:%S %:z")
                            .to_string()
                    },
                );
                format!(", provisional until {shown}")
            }
            _ => String::new(),
        };
        let unchecked = if found.is_none() {
            " (fingerprint not checked)"
        } else {
            ""
        };
        format!("valid: {key_id}{matched}{until}{unchecked}")
    } else {
        format!("not valid: {reason}{matched}")
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

fn match_kind_name(kind: i32) -> Option<&'static str> {
    match pb::FingerprintMatch::try_from(kind) {
        Ok(pb::FingerprintMatch::Exact) => Some("exact"),
        Ok(pb::FingerprintMatch::Tolerated) => Some("tolerated"),
        Ok(pb::FingerprintMatch::Mismatch) => Some("mismatch"),
        _ => None,
    }
}

async fn verify(cli: &Cli, args: &VerifyArgs) -> Result<Output, Failure> {
    let key = read_key(&args.key)?;
    let fingerprint = match &args.fingerprint {
        Some(fp) => Some(Fingerprint::parse(fp).map_err(|m| usage(format!("--fingerprint: {m}")))?),
        None => None,
    };
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
            let mut claims = json!({
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
            });
            if c.provisional {
                claims["exp"] = rfc3339(c.expires_at.as_ref());
                claims["provisional"] = true.into();
            }
            claims
        });
        let status = if answer.status == 0 {
            Value::Null
        } else {
            key_status_name(answer.status).into()
        };
        let found = match_kind_name(answer.fingerprint_match)
            .map(|kind| (kind.to_owned(), answer.changed_components.clone()));
        let provisional = answer.claims.as_ref().is_some_and(|c| c.provisional);
        let expires_at = rfc3339(answer.claims.as_ref().and_then(|c| c.expires_at.as_ref()));
        return verdict(KeyVerdictView {
            valid: answer.valid,
            reason: answer.reason,
            key_id: answer.key_id,
            claims,
            status,
            found,
            provisional,
            expires_at,
        });
    }
    let verifier = Verifier::from_dir(&args.public_keys).map_err(|e| usage(e.to_string()))?;
    if verifier.is_empty() {
        return Err(usage(format!(
            "no public keys (*.public.pem) in {}; fetch them with `neo-support keys public --write DIR` or use --online",
            args.public_keys.display()
        )));
    }
    match verifier.verify(&key) {
        Err(failure) => verdict(KeyVerdictView {
            reason: failure.reason().into(),
            claims: Value::Null,
            status: Value::Null,
            expires_at: Value::Null,
            ..KeyVerdictView::default()
        }),
        Ok(verified) => {
            let found = fingerprint
                .as_ref()
                .map(|fp| verified.match_fingerprint(fp));
            let mismatch = found
                .as_ref()
                .is_some_and(|f| f.kind == MatchKind::Mismatch);
            let claims = &verified.claims;
            verdict(KeyVerdictView {
                valid: !mismatch,
                reason: if mismatch { "FINGERPRINT_MISMATCH" } else { "" }.into(),
                key_id: claims.jti.clone(),
                claims: claims_json(claims),
                status: Value::Null,
                found: found.map(|f| {
                    let changed = f.changed_names().into_iter().map(str::to_owned).collect();
                    (f.kind.as_str().to_owned(), changed)
                }),
                provisional: claims.provisional,
                expires_at: claims.exp.clone().map_or(Value::Null, Value::String),
            })
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
            for (path, text) in [
                (dir.join(format!("{name}.public.pem")), &key.public_key_pem),
                (dir.join(format!("{name}.public.paserk")), &key.paserk),
            ] {
                std::fs::write(&path, text)
                    .map_err(|e| io_failure(format!("cannot write {}: {e}", path.display())))?;
            }
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
                "provisional_key": text_or_null(&r.provisional_key),
                "provisional_key_expires_at": rfc3339(r.provisional_key_expires_at.as_ref()),
                "no_provisional_key_reason": text_or_null(&r.no_provisional_key_reason),
            });
            if r.key.is_empty() {
                // Waiting for review: nothing on stdout and exit 3, so that
                // `NEW_KEY=$(...)` never captures something that is not the
                // license's key; the provisional key, if any, on stderr.
                let mut text = format!(
                    "{} {} (staff decide by {})",
                    reissue_status_name(r.status),
                    reissue.id,
                    r.delivery_on
                );
                if !r.provisional_key.is_empty() {
                    text.push_str(&format!(
                        "; provisional key until {}:\n{}",
                        super::jst_text(r.provisional_key_expires_at.as_ref()),
                        r.provisional_key
                    ));
                } else if !r.no_provisional_key_reason.is_empty() {
                    text.push_str(&format!("; {}", r.no_provisional_key_reason));
                }
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
            let r = client
                .list_reissues(pb::ListReissuesRequest {
                    status: (*status).into(),
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

/// `fingerprint` arguments.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct FingerprintArgs {
    /// Compute the fingerprint from these raw values instead of this
    /// machine's (names: machine, board, disk, nic; any not given is
    /// absent).
    #[arg(long = "component", value_name = "NAME=VALUE")]
    components: Vec<String>,
    /// Compare two fingerprints.
    #[command(subcommand)]
    command: Option<FingerprintCommand>,
}

/// `fingerprint` commands.
#[derive(Debug, Subcommand)]
pub enum FingerprintCommand {
    /// How fingerprint B (a machine) matches A (the one a key is bound
    /// to): exact, tolerated (exit 0) or mismatch (exit 1).
    Compare {
        /// The fingerprint a key is bound to.
        a: String,
        /// The machine's fingerprint.
        b: String,
    },
}

/// The JSON of a match: `{"match", "changed"}`.
pub(crate) fn match_json(found: &FingerprintMatch) -> Value {
    json!({"match": found.kind.as_str(), "changed": found.changed_names()})
}

/// Runs `fingerprint`.
pub(crate) fn fingerprint(args: &FingerprintArgs) -> Result<Output, Failure> {
    if let Some(FingerprintCommand::Compare { a, b }) = &args.command {
        let parse = |name: &str, text: &str| {
            Fingerprint::parse(text).map_err(|m| usage(format!("fingerprint {name}: {m}")))
        };
        let found = compare(&parse("A", a)?, &parse("B", b)?);
        let changed = if found.changed.is_empty() {
            String::new()
        } else {
            format!(" (changed: {})", found.changed_names().join(", "))
        };
        let output = Output {
            json: match_json(&found),
            text: format!("{}{changed}", found.kind),
        };
        return if found.is_valid() {
            Ok(output)
        } else {
            Err(Failure::Negative(output))
        };
    }
    let components = if args.components.is_empty() {
        Components::this_machine()
    } else {
        let mut raw = Vec::new();
        for given in &args.components {
            let (name, value) = given
                .split_once('=')
                .ok_or_else(|| usage(format!("--component {given}: expected NAME=VALUE")))?;
            let component = Component::from_name(name).ok_or_else(|| {
                usage(format!(
                    "--component {name}: the names are machine, board, disk and nic"
                ))
            })?;
            raw.push((component, value));
        }
        Components::from_raw(raw)
    };
    let fingerprint = components.fingerprint();
    let hashed = |c: Component| components.get(c).map_or(Value::Null, Value::from);
    Ok(Output {
        json: json!({
            "fingerprint": fingerprint.as_str(),
            "components": {
                "machine": hashed(Component::Machine),
                "board": hashed(Component::Board),
                "disk": hashed(Component::Disk),
                "nic": hashed(Component::Nic),
            },
        }),
        text: fingerprint.as_str().to_owned(),
    })
}
