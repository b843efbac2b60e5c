//! The plain HTTP listener (`--http-listen`): `GET /calendar.ics`, the
//! business calendar as an iCalendar feed for help desks and calendar
//! clients. It needs no token: national holidays and announced closures
//! are public. Everything a caller can make it hold is bounded: the query
//! (whole years, at most ten), the request head (size and time to
//! arrive), the connections at once, each connection's lifetime, and the
//! requests per second from one address (an IPv4 address or an IPv6 /64),
//! past which it answers 429.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Datelike;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::domain::dates::jst_date;
use crate::grpc::{AppState, feed_document, years_of};

/// The feed's path.
pub const FEED_PATH: &str = "/calendar.ics";

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 256;

/// Time a client gets to send its request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest a connection stays open, keep-alive included.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// The largest request head read, in bytes.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Requests per second one address may make on average, and at once.
const PER_ADDRESS_PER_SECOND: u32 = 5;
const PER_ADDRESS_BURST: u32 = 20;

/// Past this many addresses the limiter forgets those back to a full
/// allowance.
const PRUNE_ABOVE: usize = 10_000;

/// The per-address request limiter.
type AddressLimiter = governor::DefaultKeyedRateLimiter<std::net::IpAddr>;

fn address_limiter() -> AddressLimiter {
    let per_second =
        std::num::NonZeroU32::new(PER_ADDRESS_PER_SECOND).unwrap_or(std::num::NonZeroU32::MIN);
    let burst = std::num::NonZeroU32::new(PER_ADDRESS_BURST).unwrap_or(std::num::NonZeroU32::MIN);
    governor::RateLimiter::keyed(governor::Quota::per_second(per_second).allow_burst(burst))
}

/// The longest query string taken.
const MAX_QUERY_BYTES: usize = 256;

/// Reads `?from=YEAR&to=YEAR`; anything else in the query is refused.
fn parse_query(query: Option<&str>) -> std::result::Result<(Option<i32>, Option<i32>), String> {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok((None, None));
    };
    if query.len() > MAX_QUERY_BYTES {
        return Err("the query is too long".into());
    }
    let (mut from, mut to) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match key {
            "from" => &mut from,
            "to" => &mut to,
            _ => return Err("only from and to are taken".into()),
        };
        if slot.is_some() {
            return Err(format!("{key} is given twice"));
        }
        if value.is_empty() || value.len() > 4 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{key} must be a year, e.g. 2026"));
        }
        *slot = Some(
            value
                .parse::<i32>()
                .map_err(|_| format!("{key} must be a year"))?,
        );
    }
    Ok((from, to))
}

fn text(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{message}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Whether an `If-None-Match` header names `etag` (or is `*`).
fn matches_etag(header: Option<&HeaderValue>, etag: &str) -> bool {
    let Some(value) = header.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// Answers one request.
pub async fn answer(state: &AppState, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() != FEED_PATH {
        return text(
            StatusCode::NOT_FOUND,
            "not found; the feed is /calendar.ics",
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let (from, to) = match parse_query(request.uri().query()) {
        Ok(years) => years,
        Err(message) => return text(StatusCode::BAD_REQUEST, &message),
    };
    let this_year = jst_date(state.clock.now()).year();
    let years = match years_of(from, to, this_year) {
        Ok(years) => years,
        Err(error) => return text(StatusCode::BAD_REQUEST, &error.to_string()),
    };
    let (document, stamp) = match feed_document(state, years).await {
        Ok(found) => found,
        Err(error) => {
            tracing::error!(%error, "cannot build the calendar feed");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the calendar cannot be read now",
            );
        }
    };
    let digest = Sha256::digest(document.as_bytes());
    let etag = format!(
        "\"{}\"",
        digest
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let last_modified = stamp.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let not_modified = matches_etag(request.headers().get(header::IF_NONE_MATCH), &etag);
    let mut response = if not_modified {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else if request.method() == Method::HEAD {
        let mut response = Response::new(Full::new(Bytes::new()));
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(document.len()));
        response
    } else {
        Response::new(Full::new(Bytes::from(document)))
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&last_modified) {
        headers.insert(header::LAST_MODIFIED, value);
    }
    response
}

/// Serves the feed on `listener` until `shutdown` resolves.
pub async fn serve_feed(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let limiter = Arc::new(address_limiter());
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => return,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let (stream, peer): (_, SocketAddr) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a feed connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        let limiter = limiter.clone();
        if limiter.len() > PRUNE_ABOVE {
            limiter.retain_recent();
        }
        tokio::spawn(async move {
            let _permit = permit;
            let address = crate::grpc::gate::address_key(peer.ip());
            let service = service_fn(move |request: Request<Incoming>| {
                let state = state.clone();
                let limiter = limiter.clone();
                async move {
                    if limiter.check_key(&address).is_err() {
                        let mut response = text(
                            StatusCode::TOO_MANY_REQUESTS,
                            "too many requests; wait a second",
                        );
                        response
                            .headers_mut()
                            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                        return Ok::<_, Infallible>(response);
                    }
                    Ok::<_, Infallible>(answer(&state, &request).await)
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_LIFETIME, connection).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!(%peer, %error, "feed connection ended"),
                Err(_) => tracing::debug!(%peer, "feed connection open too long; closed"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_take_whole_years_only() {
        assert_eq!(parse_query(None), Ok((None, None)));
        assert_eq!(
            parse_query(Some("from=2026&to=2027")),
            Ok((Some(2026), Some(2027)))
        );
        assert!(parse_query(Some("from=2026&from=2027")).is_err());
        assert!(parse_query(Some("from=-1")).is_err());
        assert!(parse_query(Some("from=99999")).is_err());
        assert!(parse_query(Some("year=2026")).is_err());
        assert!(parse_query(Some(&"from=2026&".repeat(100))).is_err());
    }

    #[test]
    fn the_default_span_is_this_year_and_the_next() {
        let years = years_of(None, None, 2026).unwrap();
        assert_eq!((years.from(), years.to()), (2026, 2027));
        let years = years_of(Some(2030), None, 2026).unwrap();
        assert_eq!((years.from(), years.to()), (2030, 2031));
        assert!(years_of(Some(2026), Some(2036), 2026).is_err());
        assert!(years_of(None, Some(2025), 2026).is_err());
    }
}
