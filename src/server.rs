//! Serving: `serve(listener, state, options, shutdown)` puts the gRPC
//! services, the standard health service and reflection (v1 and v1alpha)
//! on a bound listener, optionally over TLS, and stops gracefully when
//! `shutdown` completes, finishing the calls in flight. The daemon and the
//! tests both call it.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::error::{Error, Result};
use crate::grpc::AppState;
use crate::grpc::license::LicenseApi;
use crate::grpc::pb::license_service_server::LicenseServiceServer;
use crate::grpc::pb::support_service_server::SupportServiceServer;
use crate::grpc::support::SupportApi;

/// The largest request message accepted, in bytes: room for the longest
/// inquiry (20,000 characters of Japanese text is about 60 KB of UTF-8); a
/// bigger message is refused before it is decoded.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// The service names the health service reports on, besides "" (the whole
/// server).
const SERVICE_NAMES: [&str; 2] = [
    "neo.support.v1.SupportService",
    "neo.support.v1.LicenseService",
];

/// A certificate chain and private key in PEM, for TLS.
#[derive(Clone)]
pub struct TlsFiles {
    /// The certificate chain, PEM.
    pub cert_pem: Vec<u8>,
    /// The private key, PEM.
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsFiles { <redacted> }")
    }
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// TLS certificate and key; plaintext when `None`.
    pub tls: Option<TlsFiles>,
    /// How often the health service checks the database.
    pub health_interval: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            tls: None,
            health_interval: Duration::from_secs(2),
        }
    }
}

/// Serves on `listener` until `shutdown` completes, then finishes the calls
/// in flight and returns.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    report_health(&reporter, &state).await;
    let revocations = state.watch_revocations();
    let monitor = tokio::spawn(monitor_health(
        reporter,
        state.clone(),
        options.health_interval,
    ));

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::grpc::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(Error::internal)?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::grpc::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(Error::internal)?;

    let license = LicenseServiceServer::new(LicenseApi::new(state.clone()))
        .max_decoding_message_size(MAX_REQUEST_BYTES);
    let support = SupportServiceServer::new(SupportApi::new(state))
        .max_decoding_message_size(MAX_REQUEST_BYTES);

    let mut builder = Server::builder().layer(crate::telemetry::CallLogLayer);
    if let Some(tls) = &options.tls {
        let identity = Identity::from_pem(&tls.cert_pem, &tls.key_pem);
        builder = builder
            .tls_config(ServerTlsConfig::new().identity(identity))
            .map_err(|_| Error::invalid("tls", "the TLS certificate or key is not usable"))?;
    }
    let result = builder
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(support)
        .add_service(license)
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await;
    monitor.abort();
    revocations.abort();
    result.map_err(Error::internal)
}

/// The accepted connections, with Nagle's algorithm off: a response
/// written in two pieces (headers, then the message) would otherwise wait
/// for the client's delayed ACK, some 40 ms.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

async fn report_health(reporter: &HealthReporter, state: &AppState) {
    let status = match state.store.ping().await {
        Ok(()) => ServingStatus::Serving,
        Err(_) => ServingStatus::NotServing,
    };
    reporter.set_service_status("", status).await;
    for name in SERVICE_NAMES {
        reporter.set_service_status(name, status).await;
    }
}

/// Keeps the health status in step with the database: NOT_SERVING while it
/// cannot be reached, SERVING again once it can.
async fn monitor_health(reporter: HealthReporter, state: AppState, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        report_health(&reporter, &state).await;
    }
}
