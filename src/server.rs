//! Serving: `serve(listener, state, options, shutdown)` puts the gRPC
//! services, the standard health service and reflection (v1 and v1alpha)
//! on a bound listener, optionally over TLS, and stops gracefully when
//! `shutdown` completes, finishing the calls in flight. The daemon and the
//! tests both call it.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use prost::Message as _;
use tower_http::catch_panic::{CatchPanicLayer, ResponseForPanic};

use tokio::net::TcpListener;

use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::error::{Error, Result};
use crate::grpc::AppState;
use crate::grpc::gate::GateLayer;
use crate::grpc::license::LicenseApi;
use crate::grpc::support::SupportApi;
use crate::pb::license_service_server::LicenseServiceServer;
use crate::pb::support_service_server::SupportServiceServer;
use crate::telemetry::{CallLogLayer, RpcLabels};

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

/// What one connection may hold of the server, in HTTP/2 terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Streams (calls) open at once on one connection, advertised to the
    /// client in the HTTP/2 SETTINGS.
    pub max_concurrent_streams: u32,
    /// How long a call may take, from its headers to its answer (a
    /// streaming answer may go on after that); a shorter `grpc-timeout`
    /// from the client wins.
    pub request_timeout: Duration,
    /// How often the server pings an idle connection.
    pub keepalive_interval: Duration,
    /// How long the server waits for the answer to a ping before it closes
    /// the connection.
    pub keepalive_timeout: Duration,
    /// The largest header list a client may send, in bytes.
    pub max_header_list_bytes: u32,
    /// Streams a client may open and reset before the server answers them
    /// (the HTTP/2 "rapid reset" limit); past it the connection is closed.
    pub max_pending_reset_streams: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_concurrent_streams: 100,
            request_timeout: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
            max_header_list_bytes: 16 * 1024,
            max_pending_reset_streams: 20,
        }
    }
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// TLS certificate and key; plaintext when `None`.
    pub tls: Option<TlsFiles>,
    /// How often the health service checks the database.
    pub health_interval: Duration,
    /// What one connection may hold.
    pub limits: ConnectionLimits,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            tls: None,
            health_interval: Duration::from_secs(2),
            limits: ConnectionLimits::default(),
        }
    }
}

/// The `rpc` label of every path the server answers: the service's own
/// RPCs and the standard health service from their descriptors, and
/// reflection.
fn rpc_labels() -> RpcLabels {
    static LABELS: LazyLock<RpcLabels> = LazyLock::new(|| {
        let mut paths = vec![
            (
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo".to_owned(),
                "ServerReflectionInfo",
            ),
            (
                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo".to_owned(),
                "ServerReflectionInfo",
            ),
        ];
        for encoded in [
            crate::pb::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ] {
            let Ok(set) = prost_types::FileDescriptorSet::decode(encoded) else {
                continue;
            };
            for file in set.file {
                let package = file.package();
                for service in &file.service {
                    for method in &service.method {
                        // Leaked once per process: a fixed, small set.
                        let label: &'static str = Box::leak(method.name().into());
                        let path = format!("/{package}.{}/{}", service.name(), method.name());
                        paths.push((path, label));
                    }
                }
            }
        }
        RpcLabels::new(paths)
    });
    LABELS.clone()
}

/// Answers a panic in a handler with INTERNAL, and logs and counts it.
#[derive(Debug, Clone, Copy)]
struct PanicToInternal;

impl ResponseForPanic for PanicToInternal {
    type ResponseBody = tonic::body::Body;

    fn response_for_panic(
        &mut self,
        panic: Box<dyn std::any::Any + Send + 'static>,
    ) -> http::Response<Self::ResponseBody> {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(panic = %message, "a handler panicked; answered INTERNAL");
        crate::telemetry::count_panic();
        crate::grpc::to_status(Error::internal("a handler panicked")).into_http()
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
    let event_watch = state.watch_events();
    let bus = state.events.clone();
    // Watch streams never end by themselves: at shutdown they are ended,
    // so the calls in flight can finish.
    let shutdown = async move {
        shutdown.await;
        bus.stop();
    };
    let monitor = tokio::spawn(monitor_health(
        reporter,
        state.clone(),
        options.health_interval,
    ));

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(Error::internal)?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(Error::internal)?;

    let license = LicenseServiceServer::new(LicenseApi::new(state.clone()))
        .max_decoding_message_size(MAX_REQUEST_BYTES);
    let support = SupportServiceServer::new(SupportApi::new(state.clone()))
        .max_decoding_message_size(MAX_REQUEST_BYTES);

    let limits = options.limits;
    let layers = tower::ServiceBuilder::new()
        .layer(CallLogLayer::new(rpc_labels()))
        .layer(CatchPanicLayer::custom(PanicToInternal))
        .layer(GateLayer::new(state.clone()));
    let mut builder = Server::builder()
        .max_concurrent_streams(limits.max_concurrent_streams)
        .timeout(limits.request_timeout)
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout))
        .http2_max_header_list_size(limits.max_header_list_bytes)
        .http2_max_pending_accept_reset_streams(Some(limits.max_pending_reset_streams))
        .http2_max_local_error_reset_streams(Some(1024))
        .layer(layers);
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
    event_watch.abort();
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

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer, ServiceExt};

    #[tokio::test]
    async fn a_panicking_handler_is_answered_internal() {
        let panicking = tower::service_fn(|_: http::Request<()>| async {
            if true {
                panic!("handler bug");
            }
            Ok::<_, std::convert::Infallible>(http::Response::new(tonic::body::Body::default()))
        });
        let service = CatchPanicLayer::custom(PanicToInternal).layer(panicking);
        let response = service
            .oneshot(http::Request::new(()))
            .await
            .expect("a response, not a dropped stream");
        assert_eq!(response.headers()["grpc-status"], "13");
        assert_eq!(response.headers()["grpc-message"], "internal%20error");
    }
}
