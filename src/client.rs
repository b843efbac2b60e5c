//! The typed client shared by the CLI and the tests: a channel to the
//! server (plaintext `http://` or TLS `https://`, with an optional CA
//! certificate to trust) that sends the bearer token with every call.

use std::time::Duration;

use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Status};

use crate::pb::license_service_client::LicenseServiceClient;
use crate::pb::support_service_client::SupportServiceClient;

/// Where and how to connect.
#[derive(Clone, Default)]
pub struct ClientOptions {
    /// `http://host:port` or `https://host:port`.
    pub server: String,
    /// The bearer token, if any.
    pub token: Option<String>,
    /// A PEM CA certificate to trust for `https://` (else the system's
    /// roots).
    pub ca_cert_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The server URL is not usable.
    #[error(
        "{0:?} is not a server URL: use http://HOST:PORT (plaintext) or https://HOST:PORT (TLS); \
         a URL without a scheme is refused"
    )]
    BadUrl(String),
    /// The token cannot be sent as a header.
    #[error("the token contains characters that cannot be sent")]
    BadToken,
    /// TLS could not be set up.
    #[error("TLS set-up failed: {0}")]
    Tls(String),
    /// The server presented a CA certificate as its own, as a one-line
    /// `openssl req -x509` self-signed certificate is.
    #[error(
        "cannot connect to {0}: the server's TLS certificate is a CA certificate (basicConstraints CA:TRUE, \
         what a one-line `openssl req -x509` makes), and TLS clients refuse a CA certificate as a server's \
         own. Make a CA and a server certificate signed by it with \
         `neo-supportd tls create-dev-cert --host NAME`, start the server with its server.crt and server.key \
         (--tls-cert, --tls-key), and give clients its ca.crt as --ca-cert"
    )]
    CaAsServerCertificate(String),
    /// The server did not answer.
    #[error("cannot connect to {server}: {reason}")]
    Unreachable {
        /// The server URL.
        server: String,
        /// What the transport said.
        reason: String,
    },
}

/// Adds `authorization: Bearer TOKEN` to every call.
#[derive(Clone)]
pub struct BearerToken(Option<AsciiMetadataValue>);

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A SupportService client that sends the token.
pub type SupportClient = SupportServiceClient<InterceptedService<Channel, BearerToken>>;

/// Opens a channel to the server.
pub async fn channel(options: &ClientOptions) -> Result<Channel, ConnectError> {
    let bad_url = || ConnectError::BadUrl(options.server.clone());
    if !(options.server.starts_with("http://") || options.server.starts_with("https://")) {
        return Err(bad_url());
    }
    let mut endpoint = Endpoint::from_shared(options.server.clone())
        .map_err(|_| bad_url())?
        .connect_timeout(Duration::from_secs(5));
    if options.server.starts_with("https://") {
        let mut tls = ClientTlsConfig::new();
        tls = match &options.ca_cert_pem {
            Some(pem) => tls.ca_certificate(Certificate::from_pem(pem)),
            None => tls.with_native_roots(),
        };
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|error| ConnectError::Tls(error.to_string()))?;
    }
    endpoint.connect().await.map_err(|error| {
        let reason = error_chain(&error);
        if reason.contains("CaUsedAsEndEntity") {
            ConnectError::CaAsServerCertificate(options.server.clone())
        } else {
            ConnectError::Unreachable {
                server: options.server.clone(),
                reason,
            }
        }
    })
}

/// The interceptor for a token.
pub fn bearer(token: Option<&str>) -> Result<BearerToken, ConnectError> {
    token
        .map(|token| {
            AsciiMetadataValue::try_from(format!("Bearer {token}"))
                .map_err(|_| ConnectError::BadToken)
        })
        .transpose()
        .map(BearerToken)
}

/// A SupportService client on a fresh channel.
pub async fn support(options: &ClientOptions) -> Result<SupportClient, ConnectError> {
    let interceptor = bearer(options.token.as_deref())?;
    Ok(SupportServiceClient::with_interceptor(
        channel(options).await?,
        interceptor,
    ))
}

/// A LicenseService client that sends the token.
pub type LicenseClient = LicenseServiceClient<InterceptedService<Channel, BearerToken>>;

/// A LicenseService client on a fresh channel.
pub async fn license(options: &ClientOptions) -> Result<LicenseClient, ConnectError> {
    let interceptor = bearer(options.token.as_deref())?;
    Ok(LicenseServiceClient::with_interceptor(
        channel(options).await?,
        interceptor,
    ))
}

/// An error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
