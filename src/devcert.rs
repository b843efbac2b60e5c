//! Development TLS certificates (`neo-supportd tls create-dev-cert`): a
//! small CA and a server certificate for a host name, 127.0.0.1 and
//! localhost, signed by it. TLS clients refuse a CA certificate presented
//! as a server's (what `openssl req -x509` makes by default), so the
//! server gets its own certificate and the client trusts the CA.

use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

/// The files [`create`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevCert {
    /// The CA certificate, for the client's `--ca-cert`.
    pub ca_cert: PathBuf,
    /// The CA's private key (mode 0600), to sign more certificates.
    pub ca_key: PathBuf,
    /// The server certificate, for `--tls-cert`.
    pub server_cert: PathBuf,
    /// The server's private key (mode 0600), for `--tls-key`.
    pub server_key: PathBuf,
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum DevCertError {
    /// The host name cannot go into a certificate.
    #[error("--host: {0}")]
    BadHost(String),
    /// Certificate generation failed.
    #[error("cannot make the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file exists or cannot be written.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// The names the server certificate covers: `host`, then `localhost` and
/// `127.0.0.1` when not already given.
pub fn subject_names(host: &str) -> Result<Vec<String>, DevCertError> {
    let host = host.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':');
    if host.is_empty() || host.len() > 253 || !host.chars().all(allowed) {
        return Err(DevCertError::BadHost(
            "give a DNS name or an IP address (letters, digits, - . :)".into(),
        ));
    }
    let mut names = vec![host.to_owned()];
    for extra in ["localhost", "127.0.0.1"] {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(extra)) {
            names.push(extra.to_owned());
        }
    }
    Ok(names)
}

fn write_new(path: &Path, contents: &str, mode: u32) -> Result<(), DevCertError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let io = |error| DevCertError::Io(path.to_owned(), error);
    let mut file = options.open(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io)?;
    }
    file.write_all(contents.as_bytes()).map_err(io)
}

/// Writes `ca.crt`, `ca.key`, `server.crt` and `server.key` into `out`
/// (created if missing); refuses to overwrite any of them.
pub fn create(host: &str, out: &Path) -> Result<DevCert, DevCertError> {
    let names = subject_names(host)?;
    let files = DevCert {
        ca_cert: out.join("ca.crt"),
        ca_key: out.join("ca.key"),
        server_cert: out.join("server.crt"),
        server_key: out.join("server.key"),
    };
    for path in [
        &files.ca_cert,
        &files.ca_key,
        &files.server_cert,
        &files.server_key,
    ] {
        if path.exists() {
            return Err(DevCertError::Io(
                path.clone(),
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "exists already; choose another --out directory",
                ),
            ));
        }
    }
    std::fs::create_dir_all(out).map_err(|error| DevCertError::Io(out.to_owned(), error))?;

    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let mut ca_name = DistinguishedName::new();
    ca_name.push(DnType::CommonName, "neo-support development CA");
    ca_params.distinguished_name = ca_name;
    let ca_key = KeyPair::generate()?;
    let ca_key_pem = ca_key.serialize_pem();
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key)?;

    let mut server_params = CertificateParams::new(names.clone())?;
    let mut server_name = DistinguishedName::new();
    server_name.push(DnType::CommonName, names[0].clone());
    server_params.distinguished_name = server_name;
    server_params.is_ca = IsCa::ExplicitNoCa;
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate()?;
    let server_cert = server_params.signed_by(&server_key, &ca)?;

    write_new(&files.ca_key, &ca_key_pem, 0o600)?;
    write_new(&files.server_key, &server_key.serialize_pem(), 0o600)?;
    write_new(&files.ca_cert, &ca.pem(), 0o644)?;
    write_new(&files.server_cert, &server_cert.pem(), 0o644)?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_comes_first_and_loopback_names_are_added_once() {
        assert_eq!(
            subject_names("support.example.co.jp").unwrap(),
            ["support.example.co.jp", "localhost", "127.0.0.1"]
        );
        assert_eq!(
            subject_names("localhost").unwrap(),
            ["localhost", "127.0.0.1"]
        );
        assert!(subject_names("").is_err());
        assert!(subject_names("a b").is_err());
    }
}
