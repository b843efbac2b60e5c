//! How an installation checks its license key at start, offline:
//!
//! ```text
//! cargo run -p neo-license --example check-key -- --public-keys DIR [--fingerprint FP] KEY|@FILE
//! ```
//!
//! `DIR` holds the public keys `neo-support keys public --write DIR`
//! wrote; `--fingerprint` defaults to this machine's version 2
//! fingerprint. Prints the verdict; exits 0 when the key is valid for this
//! machine, 1 when it is not, 2 on a usage error.

use std::process::ExitCode;

use neo_license::{Components, Fingerprint, Verifier};

fn usage(message: &str) -> ExitCode {
    eprintln!("check-key: {message}");
    eprintln!("usage: check-key --public-keys DIR [--fingerprint FP] KEY|@FILE");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut public_keys = None;
    let mut fingerprint = None;
    let mut key = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--public-keys" => public_keys = args.next(),
            "--fingerprint" => fingerprint = args.next(),
            _ if key.is_none() && !arg.starts_with("--") => key = Some(arg),
            _ => return usage(&format!("unexpected argument {arg}")),
        }
    }
    let (Some(dir), Some(key)) = (public_keys, key) else {
        return usage("--public-keys DIR and KEY|@FILE are required");
    };
    let key = match key.strip_prefix('@') {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => return usage(&format!("cannot read {path}: {error}")),
        },
        None => key,
    };
    let this_machine = match fingerprint {
        Some(text) => match Fingerprint::parse(&text) {
            Ok(fp) => fp,
            Err(message) => return usage(&format!("--fingerprint: {message}")),
        },
        None => Components::this_machine().fingerprint(),
    };
    let verifier = match Verifier::from_dir(&dir) {
        Ok(verifier) if !verifier.is_empty() => verifier,
        Ok(_) => return usage(&format!("no public keys in {dir}")),
        Err(error) => return usage(&error.to_string()),
    };
    match verifier.check(&key, &this_machine) {
        Ok(check) => {
            println!("{}", check.summary());
            if check.is_valid() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(failure) => {
            println!("not valid: {} ({failure})", failure.reason());
            ExitCode::from(1)
        }
    }
}
