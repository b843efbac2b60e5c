//! Logs and metrics: one log line per call (method, status code, duration,
//! request id; never a token or a key) and Prometheus metrics, served on a
//! listener of their own when `--metrics-listen` is given.
//!
//! Metrics: `neo_support_calls_total{rpc,code}`,
//! `neo_support_call_duration_seconds{rpc}` (histogram),
//! `neo_support_reissues_total{outcome}`, and gauges refreshed from the
//! database: `neo_support_review_queue{state="pending|overdue"}`,
//! `neo_support_outbox_unsent`, `neo_support_outbox_overdue`,
//! `neo_support_outbox_oldest_unsent_seconds`, `neo_support_db_pool_in_use`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::HeaderValue;
use tower::{Layer, Service};

use crate::clock::Clock;
use crate::store::Store;

/// The header that carries a call's request id (given by the client, or
/// made here), echoed in the response.
pub const REQUEST_ID: &str = "x-request-id";

/// Who is calling and which request this is, for the audit trail. The
/// call log opens it around every call; authentication fills in the
/// token's name and id.
#[derive(Debug, Default)]
pub struct CallContext {
    actor: Option<String>,
    actor_token_id: Option<i64>,
    request_id: Option<String>,
}

tokio::task_local! {
    static CALL: std::cell::RefCell<CallContext>;
}

impl CallContext {
    /// Runs `future` inside a call with this request id.
    pub async fn scope<F: Future>(request_id: String, future: F) -> F::Output {
        let context = CallContext {
            actor: None,
            actor_token_id: None,
            request_id: Some(request_id),
        };
        CALL.scope(std::cell::RefCell::new(context), future).await
    }

    /// Records the authenticated token's name and id for the rest of the
    /// call.
    pub fn set_actor(name: &str, token_id: i64) {
        let _ = CALL.try_with(|call| {
            let mut call = call.borrow_mut();
            call.actor = Some(name.to_owned());
            call.actor_token_id = Some(token_id);
        });
    }

    /// The id of the current call's token; `None` outside a call or before
    /// authentication.
    pub fn current_token_id() -> Option<i64> {
        CALL.try_with(|call| call.borrow().actor_token_id)
            .ok()
            .flatten()
    }

    /// `(actor, request id)` of the current call; outside a call, the
    /// `neo-supportd` commands.
    pub fn current() -> (String, Option<String>) {
        CALL.try_with(|call| {
            let call = call.borrow();
            (
                call.actor.clone().unwrap_or_else(|| "anonymous".into()),
                call.request_id.clone(),
            )
        })
        .unwrap_or_else(|_| ("neo-supportd".into(), None))
    }
}

/// Adds [`CallLog`] to every call.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallLogLayer;

impl<S> Layer<S> for CallLogLayer {
    type Service = CallLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallLog { inner }
    }
}

/// Logs and measures each call.
#[derive(Debug, Clone)]
pub struct CallLog<S> {
    inner: S,
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
    crate::cli::code_name(tonic::Code::from(number))
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
        let method = request.uri().path().to_owned();
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
            let mut result = CallContext::scope(request_id.clone(), inner.call(request)).await;
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
            let duration_ms = elapsed.as_secs_f64() * 1000.0;
            if method.starts_with("/grpc.") {
                tracing::debug!(%method, code, duration_ms, %request_id, "call");
            } else {
                tracing::info!(%method, code, duration_ms, %request_id, "call");
            }
            let rpc = method.rsplit('/').next().unwrap_or_default().to_owned();
            metrics::counter!("neo_support_calls_total", "rpc" => rpc.clone(), "code" => code)
                .increment(1);
            metrics::histogram!("neo_support_call_duration_seconds", "rpc" => rpc)
                .record(elapsed.as_secs_f64());
            result
        })
    }
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

/// Refreshes the gauges from the database every `interval`, forever.
pub async fn refresh_gauges(store: Arc<dyn Store>, clock: Arc<dyn Clock>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        let now = clock.now();
        match store.gauges(now).await {
            Ok(g) => {
                metrics::gauge!("neo_support_review_queue", "state" => "pending")
                    .set(g.pending_reviews as f64);
                metrics::gauge!("neo_support_review_queue", "state" => "overdue")
                    .set(g.overdue_reviews as f64);
                metrics::gauge!("neo_support_outbox_unsent").set(g.outbox_unsent as f64);
                metrics::gauge!("neo_support_outbox_overdue").set(g.outbox_overdue as f64);
                metrics::gauge!("neo_support_outbox_oldest_unsent_seconds")
                    .set(g.oldest_unsent_seconds as f64);
            }
            Err(error) => {
                tracing::debug!(%error, "gauges not refreshed: the database is not answering")
            }
        }
        metrics::gauge!("neo_support_db_pool_in_use").set(store.pool_in_use() as f64);
    }
}
