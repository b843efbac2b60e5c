//! The commands of `neo-supportd` that work on the database, the keys
//! directory and certificate files directly: `token`, `keys`, `backup` and
//! `tls create-dev-cert`.

use crate::clock::{Clock, SystemClock};
use crate::domain::token::{Role, TokenSecret, check_token_name};
use crate::error::{Error, Result};
use crate::signer::keys::{self};
use crate::store::NewToken;

use super::args::{DatabaseArgs, KeysCommand, TokenCommand};
use super::key_error;

pub(super) fn create_dev_cert(host: &str, out: &std::path::Path) -> Result<()> {
    let files = crate::devcert::create(host, out)
        .map_err(|error| Error::invalid("host", error.to_string()))?;
    let host = host.trim();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let listen = if loopback {
        "127.0.0.1:50051"
    } else {
        "0.0.0.0:50051"
    };
    let authority = if host.contains(':') {
        format!("[{host}]:50051")
    } else {
        format!("{host}:50051")
    };
    eprintln!(
        "wrote {} and {} (the CA), {} and {} (the server); private keys are mode 0600",
        files.ca_cert.display(),
        files.ca_key.display(),
        files.server_cert.display(),
        files.server_key.display(),
    );
    eprintln!("start the server with the server certificate:");
    println!(
        "neo-supportd serve --listen {listen} --tls-cert {} --tls-key {}",
        files.server_cert.display(),
        files.server_key.display(),
    );
    eprintln!("and let clients trust the CA (copy ca.crt to them; never ca.key):");
    println!(
        "neo-support --server https://{authority} --ca-cert {} keys public",
        files.ca_cert.display(),
    );
    Ok(())
}

pub(super) fn run_keys(command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Generate { dir } => {
            let info = keys::generate(&dir.keys_dir, false).map_err(key_error)?;
            println!("{}\t{}\t{}", info.id, info.status.as_str(), info.name);
        }
        KeysCommand::Rotate { dir } => {
            let info = keys::generate(&dir.keys_dir, true).map_err(key_error)?;
            eprintln!("the new key signs from the next server start; the old keys keep verifying");
            println!("{}\t{}\t{}", info.id, info.status.as_str(), info.name);
        }
        KeysCommand::Retire { key, dir } => {
            let info = keys::retire(&dir.keys_dir, &key).map_err(key_error)?;
            println!("{}\t{}\t{}", info.id, info.status.as_str(), info.name);
        }
        KeysCommand::List { json, dir } => {
            let infos = keys::list(&dir.keys_dir).map_err(key_error)?;
            if json {
                let rows: Vec<_> = infos
                    .iter()
                    .map(|k| serde_json::json!({"id": k.id, "status": k.status.as_str(), "name": k.name, "paserk": k.paserk}))
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                println!("ID\tSTATUS\tNAME");
                for k in infos {
                    println!("{}\t{}\t{}", k.id, k.status.as_str(), k.name);
                }
            }
        }
    }
    Ok(())
}

/// `init`: creates a missing SQLite database and applies the migrations.
pub(super) async fn init(database: &DatabaseArgs) -> Result<()> {
    let store = database.connect(true).await?;
    eprintln!(
        "database ready at {} ({}), migrations applied",
        database.describe(),
        store.backend()
    );
    Ok(())
}

/// `backup --to PATH`: a consistent copy of the database while it is in use.
pub(super) async fn backup(to: &std::path::Path, database: &DatabaseArgs) -> Result<()> {
    let store = database.connect(false).await?;
    store.backup_to(to).await?;
    eprintln!("backed up {} to {}", database.describe(), to.display());
    Ok(())
}

pub(super) async fn run_token(command: TokenCommand) -> Result<()> {
    let now = SystemClock.now();
    let at =
        |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // For people: JST with its offset, to the second.
    let jst = |at: chrono::DateTime<chrono::Utc>| {
        at.with_timezone(&crate::domain::dates::jst())
            .format("%Y-%m-%d %H:%M:%S %:z")
            .to_string()
    };
    match command {
        TokenCommand::Create {
            name,
            expires_in,
            database,
            ..
        } => {
            check_token_name(&name).map_err(|message| Error::invalid("name", message))?;
            let store = database.connect(false).await?;
            let secret = TokenSecret::generate();
            let hash = secret.hash();
            let token = NewToken {
                name: &name,
                role: &Role::Staff,
                token_hash: &hash,
                expires_at: expires_in.map(|days| now + chrono::Duration::days(i64::from(days))),
                created_by: None,
            };
            let record = store
                .create_access_token(&token, now, &crate::store::Audit::daemon())
                .await?;
            let expiry = record
                .expires_at
                .map(|expires| format!(", expires {}", jst(expires)))
                .unwrap_or_default();
            tracing::warn!(
                "created staff token {} (id {}{expiry}) in {}; it is shown only this once:",
                record.name,
                record.id,
                database.describe()
            );
            println!("{}", secret.expose());
        }
        TokenCommand::List { json, database } => {
            let store = database.connect(false).await?;
            let tokens = store.list_tokens().await?;
            if json {
                let rows: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "id": t.id,
                            "name": t.name,
                            "role": t.role.kind(),
                            "contract_id": match &t.role { Role::Customer { contract_id } => Some(contract_id), Role::Staff => None },
                            "created_by": t.created_by,
                            "created_at": at(t.created_at),
                            "expire_time": t.expires_at.map(at),
                            "revoked_at": t.revoked_at.map(at),
                            "revoke_reason": t.revoke_reason,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                println!("ID\tROLE\tNAME\tCREATED BY\tCREATED\tEXPIRES\tREVOKED\tREASON");
                let dash = || "-".to_owned();
                for t in tokens {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        t.id,
                        t.role.kind(),
                        t.name,
                        t.created_by.map(|id| id.to_string()).unwrap_or_else(dash),
                        jst(t.created_at),
                        t.expires_at.map(jst).unwrap_or_else(dash),
                        t.revoked_at.map(jst).unwrap_or_else(dash),
                        t.revoke_reason.unwrap_or_else(dash),
                    );
                }
            }
        }
        TokenCommand::Revoke {
            id,
            reason,
            database,
        } => {
            let reason = reason.trim();
            if reason.is_empty()
                || reason.chars().count() > 100
                || reason.chars().any(char::is_control)
            {
                return Err(Error::invalid(
                    "reason",
                    "1 to 100 characters, no control characters",
                ));
            }
            let store = database.connect(false).await?;
            if store
                .revoke_access_token(id, reason, now, &crate::store::Audit::daemon())
                .await?
                .is_none()
            {
                return Err(Error::NotFound {
                    reason: "TOKEN_NOT_FOUND",
                    message: format!("no token in use has id {id}"),
                });
            }
            tracing::warn!(
                "revoked token {id} in {}; running servers refuse it within a second",
                database.describe()
            );
        }
    }
    Ok(())
}
