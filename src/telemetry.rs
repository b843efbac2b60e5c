//! Logs and metrics. Each call's log line (RPC, status code, duration,
//! request id; never a token or a key) is written at DEBUG when it
//! succeeded, at INFO when it was refused and at WARN when the server
//! failed; refusals and failures of one kind are limited to a few lines a
//! minute, the rest counted. Prometheus metrics are served on a listener of
//! their own when `--metrics-listen` is given; their `rpc` label comes from
//! a fixed set (`unknown` for any path that is not an RPC of the server).
//!
//! Metrics: `neo_support_calls_total{rpc,code}`,
//! `neo_support_call_duration_seconds{rpc}` (histogram),
//! `neo_support_reissues_total{outcome}`, and gauges refreshed from the
//! database: `neo_support_review_queue{state="pending|overdue"}`,
//! `neo_support_outbox_unsent`, `neo_support_outbox_overdue`,
//! `neo_support_outbox_oldest_unsent_seconds`, `neo_support_db_pool_in_use`,
//! `neo_support_panics_total`, `neo_support_log_lines_suppressed_total`.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::HeaderValue;
use tower::{Layer, Service};

use crate::domain::Backlog;

/// The header that carries a call's request id (given by the client, or
/// made here), echoed in the response; the gRPC layer records it in the
/// audit trail.
pub const REQUEST_ID: &str = "x-request-id";

/// The label of each RPC the server answers, by request path: a fixed
/// set, so that no caller can grow the metrics by calling made-up paths.
#[derive(Debug, Clone)]
pub struct RpcLabels(Arc<HashMap<String, &'static str>>);

/// The label of every path that is not an RPC of the server.
pub const UNKNOWN_RPC: &str = "unknown";

impl RpcLabels {
    /// The labels of `(path, label)` pairs.
    pub fn new(paths: impl IntoIterator<Item = (String, &'static str)>) -> Self {
        Self(Arc::new(paths.into_iter().collect()))
    }

    /// The label of a request path: the RPC's name, or [`UNKNOWN_RPC`].
    pub fn label(&self, path: &str) -> &'static str {
        self.0.get(path).copied().unwrap_or(UNKNOWN_RPC)
    }
}

/// Adds [`CallLog`] to every call.
#[derive(Debug, Clone)]
pub struct CallLogLayer {
    labels: RpcLabels,
}

impl CallLogLayer {
    /// Logs and measures calls, labelled by `labels`.
    pub fn new(labels: RpcLabels) -> Self {
        Self { labels }
    }
}

impl<S> Layer<S> for CallLogLayer {
    type Service = CallLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallLog {
            inner,
            labels: self.labels.clone(),
        }
    }
}

/// Logs and measures each call.
#[derive(Debug, Clone)]
pub struct CallLog<S> {
    inner: S,
    labels: RpcLabels,
}

fn valid_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    ok.then(|| text.to_owned())
}

/// The canonical name of a numeric gRPC status.
pub fn code_label(code: &str) -> &'static str {
    let number: i32 = code.parse().unwrap_or(2);
    crate::pb::code_name(tonic::Code::from(number))
}

/// Lines of one kind (RPC and status code) written per minute at most,
/// after a first burst; the rest are counted and reported with the next
/// line of that kind.
const LOG_LINES_PER_MINUTE: u32 = 20;
const LOG_LINES_BURST: u32 = 10;

/// Keeps refusals and errors visible without letting a flood of them fill
/// the disk: each kind (RPC, code) gets [`LOG_LINES_PER_MINUTE`] lines.
struct LogBudget {
    limiter: governor::DefaultKeyedRateLimiter<(&'static str, &'static str)>,
    suppressed: Mutex<HashMap<(&'static str, &'static str), u64>>,
}

impl LogBudget {
    fn new() -> Self {
        let quota = governor::Quota::per_minute(
            NonZeroU32::new(LOG_LINES_PER_MINUTE).unwrap_or(NonZeroU32::MIN),
        )
        .allow_burst(NonZeroU32::new(LOG_LINES_BURST).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: governor::RateLimiter::keyed(quota),
            suppressed: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(lines suppressed since the last one)` when a line of this kind
    /// may be written now; `None` when it is counted instead. The keys come
    /// from fixed sets, so the state is bounded.
    fn allow(&self, rpc: &'static str, code: &'static str) -> Option<u64> {
        let key = (rpc, code);
        let mut suppressed = self.suppressed.lock().unwrap_or_else(|e| e.into_inner());
        if self.limiter.check_key(&key).is_ok() {
            Some(suppressed.remove(&key).unwrap_or(0))
        } else {
            *suppressed.entry(key).or_insert(0) += 1;
            metrics::counter!("neo_support_log_lines_suppressed_total").increment(1);
            None
        }
    }
}

static LOG_BUDGET: LazyLock<LogBudget> = LazyLock::new(LogBudget::new);

/// Codes that mean the server failed, logged at WARN; any other refusal is
/// the caller's and logged at INFO.
fn is_server_fault(code: &str) -> bool {
    matches!(
        code,
        "INTERNAL" | "UNAVAILABLE" | "UNKNOWN" | "DATA_LOSS" | "TRANSPORT_ERROR"
    )
}

/// Writes the log line of one call: successes and the health and
/// reflection services at DEBUG; calls to unknown paths at DEBUG; refusals
/// at INFO and server faults at WARN, each kind within its budget.
fn log_call(rpc: &'static str, method: &str, code: &'static str, duration_ms: f64, id: &str) {
    let quiet = code == "OK" || rpc == UNKNOWN_RPC || method.starts_with("/grpc.");
    if quiet {
        tracing::debug!(%method, code, duration_ms, request_id = %id, "call");
        return;
    }
    let Some(suppressed) = LOG_BUDGET.allow(rpc, code) else {
        return;
    };
    if is_server_fault(code) {
        tracing::warn!(rpc, code, duration_ms, request_id = %id, suppressed, "call failed");
    } else {
        tracing::info!(rpc, code, duration_ms, request_id = %id, suppressed, "call refused");
    }
}

impl<S, B, RB> Service<http::Request<B>> for CallLog<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let rpc = self.labels.label(request.uri().path());
        // Only a known method's path is kept for the log line: an unknown
        // one may be anything a caller made up.
        let method = if rpc == UNKNOWN_RPC {
            String::new()
        } else {
            request.uri().path().to_owned()
        };
        let request_id = request
            .headers()
            .get(REQUEST_ID)
            .and_then(valid_request_id)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            request.headers_mut().insert(REQUEST_ID, value);
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let started = Instant::now();
            let mut result = inner.call(request).await;
            let elapsed = started.elapsed();
            // A refusal travels in the headers (trailers-only); a success
            // carries its status in the trailers: OK.
            let code = match &mut result {
                Ok(response) => {
                    if let Ok(value) = HeaderValue::from_str(&request_id) {
                        response.headers_mut().insert(REQUEST_ID, value);
                    }
                    let status = response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("0");
                    code_label(status)
                }
                Err(_) => "TRANSPORT_ERROR",
            };
            log_call(
                rpc,
                &method,
                code,
                // Rounded to the microsecond: `0.123` ms, not `0.123456789`.
                elapsed.as_micros() as f64 / 1000.0,
                &request_id,
            );
            metrics::counter!("neo_support_calls_total", "rpc" => rpc, "code" => code).increment(1);
            metrics::histogram!("neo_support_call_duration_seconds", "rpc" => rpc)
                .record(elapsed.as_secs_f64());
            result
        })
    }
}

/// An event watcher opened (gauge `neo_support_event_watchers`).
pub fn watcher_opened() {
    metrics::gauge!("neo_support_event_watchers").increment(1.0);
}

/// An event watcher closed.
pub fn watcher_closed() {
    metrics::gauge!("neo_support_event_watchers").decrement(1.0);
}

/// Counts a watcher refused because its token has as many open as it may.
pub fn count_watcher_refused() {
    metrics::counter!("neo_support_event_watchers_refused_total").increment(1);
}

/// Counts a watcher dropped because it did not read.
pub fn count_watcher_dropped() {
    metrics::counter!("neo_support_event_watchers_dropped_total").increment(1);
}

/// Counts renewal reminders queued.
pub fn count_reminders(queued: usize) {
    metrics::counter!("neo_support_renewal_reminders_total").increment(queued as u64);
}

/// Counts a panic caught in a handler, which is answered INTERNAL.
pub fn count_panic() {
    metrics::counter!("neo_support_panics_total").increment(1);
}

/// Counts a reissue by its outcome (`issued`, `unchanged`,
/// `pending_review`, ...).
pub fn count_reissue(outcome: &'static str) {
    metrics::counter!("neo_support_reissues_total", "outcome" => outcome).increment(1);
}

/// Serves Prometheus metrics on `address` (path `/metrics`, or any path).
pub fn install_prometheus(address: SocketAddr) -> Result<(), String> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(address)
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("duration_seconds".into()),
            &[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ],
        )
        .map_err(|e| e.to_string())?
        .install()
        .map_err(|e| e.to_string())
}

/// Where the gauges read their figures.
#[async_trait::async_trait]
pub trait GaugeSource: Send + Sync {
    /// The backlog now, or `None` when it cannot be read (the gauges then
    /// keep their last value).
    async fn backlog(&self) -> Option<Backlog>;
    /// Database connections in use now.
    fn pool_in_use(&self) -> u32;
}

/// Refreshes the gauges from `source` every `interval`, forever.
pub async fn refresh_gauges(source: Arc<dyn GaugeSource>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        if let Some(backlog) = source.backlog().await {
            metrics::gauge!("neo_support_review_queue", "state" => "pending")
                .set(backlog.pending_reviews as f64);
            metrics::gauge!("neo_support_review_queue", "state" => "overdue")
                .set(backlog.overdue_reviews as f64);
            metrics::gauge!("neo_support_outbox_unsent").set(backlog.outbox_unsent as f64);
            metrics::gauge!("neo_support_outbox_overdue").set(backlog.outbox_overdue as f64);
            metrics::gauge!("neo_support_outbox_oldest_unsent_seconds")
                .set(backlog.oldest_unsent_seconds as f64);
        }
        metrics::gauge!("neo_support_db_pool_in_use").set(f64::from(source.pool_in_use()));
    }
}
