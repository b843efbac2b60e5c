//! The gate in front of the service's own RPCs. It reads the bearer token
//! from the request headers and checks it before the message body is read,
//! so a caller without a valid token never makes the server buffer a body;
//! it applies the rate limits: calls per second per token, and failed
//! authentications per minute per client address. The authenticated
//! [`Caller`] travels to the handler in the request's extensions.
//!
//! Health and reflection pass untouched (health is never limited), and so
//! does `GetSigningKeys`, which serves public keys to anyone.

use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tonic::metadata::MetadataMap;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tower::{Layer, Service};

use crate::error::Error;
use crate::grpc::{AppState, Caller, to_status};

/// The path prefix of the service's own RPCs.
const OWN_RPCS: &str = "/neo.support.v1.";

/// RPCs of the service that need no token.
const PUBLIC_RPCS: [&str; 1] = ["/neo.support.v1.LicenseService/GetSigningKeys"];

/// The most client addresses remembered as over their failed-authentication
/// limit; beyond it the least recently used are forgotten.
const MAX_BLOCKED_ADDRESSES: usize = 100_000;

/// Past this many addresses or tokens, a limiter's state is pruned of
/// entries that are back to a full allowance.
const PRUNE_ABOVE: usize = 10_000;

/// The rate limits, as configured. Zero turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Calls per second one token may make, on average.
    pub per_token_per_second: u32,
    /// Calls one token may make at once above that average.
    pub per_token_burst: u32,
    /// Failed authentications per minute from one client address (an IPv4
    /// address or an IPv6 /64); past it the address is refused before any
    /// database look-up until the minute has passed.
    pub auth_failures_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_token_per_second: 50,
            per_token_burst: 100,
            auth_failures_per_minute: 30,
        }
    }
}

/// The limiters' state, shared by every connection of one server.
pub struct Limiters {
    per_token: Option<DefaultKeyedRateLimiter<i64>>,
    failures: Option<DefaultKeyedRateLimiter<IpAddr>>,
    blocked: quick_cache::sync::Cache<IpAddr, Instant>,
}

impl std::fmt::Debug for Limiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiters")
            .field("blocked_addresses", &self.blocked.len())
            .finish_non_exhaustive()
    }
}

impl Limiters {
    /// Limiters for `limits`.
    pub fn new(limits: RateLimits) -> Self {
        let per_token = NonZeroU32::new(limits.per_token_per_second).map(|rate| {
            let burst = NonZeroU32::new(limits.per_token_burst).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        let failures = NonZeroU32::new(limits.auth_failures_per_minute)
            .map(|rate| RateLimiter::keyed(Quota::per_minute(rate)));
        Self {
            per_token,
            failures,
            blocked: quick_cache::sync::Cache::new(MAX_BLOCKED_ADDRESSES),
        }
    }

    /// RATE_LIMITED when `address` is over its failed-authentication limit.
    fn check_address(&self, address: IpAddr) -> Result<(), Error> {
        let Some(until) = self.blocked.get(&address) else {
            return Ok(());
        };
        let now = Instant::now();
        if until <= now {
            self.blocked.remove(&address);
            return Ok(());
        }
        Err(Error::RateLimited {
            message: "too many failed authentications from this address; wait before trying again"
                .into(),
            retry_after: Some(until - now),
        })
    }

    /// Counts a failed authentication from `address`; past the limit the
    /// address is refused until its allowance is back.
    fn record_failure(&self, address: IpAddr) {
        let Some(failures) = &self.failures else {
            return;
        };
        if failures.len() > PRUNE_ABOVE {
            failures.retain_recent();
            failures.shrink_to_fit();
        }
        if let Err(not_until) = failures.check_key(&address) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            self.blocked.insert(address, Instant::now() + wait);
            tracing::debug!(%address, "address over its failed-authentication limit");
        }
    }

    /// RATE_LIMITED when the token with this id is over its call rate.
    fn check_token(&self, token_id: i64) -> Result<(), Error> {
        let Some(per_token) = &self.per_token else {
            return Ok(());
        };
        // Only authenticated tokens get here, so the keys are bounded by
        // the tokens staff created; still, keep the map from growing stale.
        if per_token.len() > PRUNE_ABOVE {
            per_token.retain_recent();
            per_token.shrink_to_fit();
        }
        per_token.check_key(&token_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Error::RateLimited {
                message: "too many calls with this token; slow down".into(),
                retry_after: Some(wait.max(Duration::from_millis(1))),
            }
        })
    }
}

/// The address a limit counts against: IPv4 as is, IPv6 by its /64 (one
/// customer site holds a whole /64).
pub(crate) fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & (u128::MAX << 64);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// The client's address, from what tonic recorded of the connection.
fn peer_address<B>(request: &http::Request<B>) -> Option<IpAddr> {
    let extensions = request.extensions();
    let tcp = extensions.get::<TcpConnectInfo>().or_else(|| {
        extensions
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .map(TlsConnectInfo::get_ref)
    })?;
    tcp.remote_addr().map(|address: SocketAddr| address.ip())
}

impl AppState {
    /// Admits a call from its headers: the address's failed-authentication
    /// limit first (no database look-up for an address over it), then the
    /// token, then the token's call rate.
    async fn admit(&self, headers: http::HeaderMap, peer: Option<IpAddr>) -> Result<Caller, Error> {
        let address = peer.map(address_key);
        if let Some(address) = address {
            self.limiters.check_address(address)?;
        }
        let metadata = MetadataMap::from_headers(headers);
        let caller = match self.authenticate(&metadata).await {
            Ok(caller) => caller,
            Err(error) => {
                if let (Error::Unauthenticated { .. }, Some(address)) = (&error, address) {
                    self.limiters.record_failure(address);
                }
                return Err(error);
            }
        };
        self.limiters.check_token(caller.token_id)?;
        Ok(caller)
    }
}

/// Puts [`Gate`] in front of a service.
#[derive(Clone)]
pub struct GateLayer {
    state: AppState,
}

impl GateLayer {
    /// A gate over `state`'s tokens and limiters.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = Gate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Gate {
            inner,
            state: self.state.clone(),
        }
    }
}

/// Checks the token and the limits of each call to the service's own RPCs
/// before the inner service reads the message.
#[derive(Clone)]
pub struct Gate<S> {
    inner: S,
    state: AppState,
}

impl<S, B, RB> Service<http::Request<B>> for Gate<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        if !path.starts_with(OWN_RPCS) || PUBLIC_RPCS.contains(&path) {
            return Box::pin(self.inner.call(request));
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        let peer = peer_address(&request);
        let headers = request.headers().clone();
        Box::pin(async move {
            match state.admit(headers, peer).await {
                Ok(caller) => {
                    request.extensions_mut().insert(caller);
                    inner.call(request).await
                }
                Err(error) => Ok(to_status(error).into_http()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_of_one_site_count_as_one() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn an_address_is_refused_after_its_failures_until_the_window_passes() {
        let limiters = Limiters::new(RateLimits {
            auth_failures_per_minute: 3,
            ..RateLimits::default()
        });
        let address: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(limiters.check_address(address).is_ok());
            limiters.record_failure(address);
        }
        assert!(
            limiters.check_address(address).is_ok(),
            "3 failures are allowed"
        );
        limiters.record_failure(address);
        match limiters.check_address(address) {
            Err(Error::RateLimited { retry_after, .. }) => {
                let wait = retry_after.expect("a wait");
                assert!(wait > Duration::from_secs(10) && wait <= Duration::from_secs(20));
            }
            other => panic!("expected RATE_LIMITED, got {other:?}"),
        }
        let elsewhere: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limiters.check_address(elsewhere).is_ok());
    }
}
