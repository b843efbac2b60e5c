//! `neo-support bench`: a load generator against a running server. It runs
//! each chosen RPC for a while over N HTTP/2 connections with M calls in
//! flight and prints calls per second, latency percentiles and errors,
//! beside the health Check on the same server in the same run (the
//! baseline). It creates the data it needs (contracts, each with a license
//! and its first key) with the staff token, and says so.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::{Cli, Failure, Output, client_options};
use crate::client::{self, BearerToken};
use crate::pb;
use crate::pb::license_service_client::LicenseServiceClient;
use crate::pb::support_service_client::SupportServiceClient;

/// `bench` arguments.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which RPC to load (the health Check always runs too, as the
    /// baseline).
    #[arg(long, value_enum, default_value_t = RpcArg::All)]
    rpc: RpcArg,
    /// HTTP/2 connections.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Calls in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long each RPC runs: e.g. 10s, 500ms, 1m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Licenses the calls are spread over, each with its contract and first
    /// key (reissues of one license wait for each other, as they must).
    #[arg(long, default_value_t = 16)]
    licenses: usize,
}

/// The RPCs `bench` can load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RpcArg {
    /// grpc.health.v1.Health/Check only.
    Health,
    /// LicenseService/VerifyKey (online: signature and the key's record).
    VerifyKey,
    /// LicenseService/RequestReissue, a new fingerprint each call.
    Reissue,
    /// SupportService/GetDeliveryDate.
    Delivery,
    /// All of them in turn.
    All,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration such as 10s, 500ms or 1m");
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let number: u64 = number.parse().map_err(|_| bad())?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" | "" => Duration::from_secs(number),
        "m" => Duration::from_secs(number * 60),
        _ => return Err(bad()),
    };
    if duration.is_zero() {
        Err(bad())
    } else {
        Ok(duration)
    }
}

/// The figures of one RPC.
#[derive(Debug, Clone, Copy)]
struct Figures {
    calls_per_sec: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    errors: u64,
}

fn percentile(sorted: &[u32], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
}

/// What one call does; returns whether it succeeded.
type Call = Arc<
    dyn Fn(Channel, u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>
        + Send
        + Sync,
>;

async fn run(
    name: &str,
    channels: &[Channel],
    concurrency: usize,
    duration: Duration,
    call: Call,
) -> Figures {
    let deadline = Instant::now() + duration;
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let channel = channels[worker % channels.len()].clone();
        let call = call.clone();
        let counter = counter.clone();
        let errors = errors.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let started = Instant::now();
                let ok = call(channel.clone(), n).await;
                let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
                if ok {
                    latencies.push(micros);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let started = Instant::now();
    let progress = {
        let counter = counter.clone();
        let name = name.to_owned();
        tokio::spawn(async move {
            let width = 30usize;
            loop {
                let done = started.elapsed().as_secs_f64() / duration.as_secs_f64();
                let filled = ((done.min(1.0)) * width as f64) as usize;
                eprint!(
                    "\r{name:<11} [{}{}] {:>5.1}s {:>8} calls",
                    "#".repeat(filled),
                    " ".repeat(width - filled),
                    started.elapsed().as_secs_f64().min(duration.as_secs_f64()),
                    counter.load(Ordering::Relaxed)
                );
                let _ = std::io::stderr().flush();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap_or_default());
    }
    let elapsed = started.elapsed().as_secs_f64();
    progress.abort();
    eprintln!();
    latencies.sort_unstable();
    Figures {
        calls_per_sec: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.50),
        p90_ms: percentile(&latencies, 0.90),
        p99_ms: percentile(&latencies, 0.99),
        p999_ms: percentile(&latencies, 0.999),
        errors: errors.load(Ordering::Relaxed),
    }
}

fn failure(message: String) -> Failure {
    Failure::Refused {
        code: "INVALID_ARGUMENT".into(),
        reason: None,
        message,
    }
}

/// Runs `bench`.
pub(crate) async fn bench(cli: &Cli, args: &BenchArgs) -> Result<Output, Failure> {
    if args.connections == 0 || args.concurrency == 0 || args.licenses == 0 {
        return Err(failure(
            "--connections, --concurrency and --licenses must be at least 1".into(),
        ));
    }
    let options = client_options(cli)?;
    let mut channels = Vec::new();
    for _ in 0..args.connections {
        channels.push(client::channel(&options).await?);
    }
    let bearer = client::bearer(options.token.as_deref())?;
    let chosen: Vec<RpcArg> = match args.rpc {
        RpcArg::All => vec![RpcArg::VerifyKey, RpcArg::Reissue, RpcArg::Delivery],
        RpcArg::Health => vec![],
        other => vec![other],
    };

    // The data the RPCs need: licenses under active contracts, with keys.
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let mut license_ids = Vec::new();
    let mut keys = Vec::new();
    if chosen
        .iter()
        .any(|rpc| matches!(rpc, RpcArg::VerifyKey | RpcArg::Reissue))
    {
        let mut support =
            SupportServiceClient::with_interceptor(channels[0].clone(), bearer.clone());
        let mut licenses =
            LicenseServiceClient::with_interceptor(channels[0].clone(), bearer.clone());
        let today = crate::domain::dates::jst_date(chrono::Utc::now());
        let received = crate::domain::dates::format_date(today - chrono::Days::new(30));
        for n in 0..args.licenses {
            let id = format!("BENCH-{run_id}-{n:03}");
            support
                .create_contract(pb::CreateContractRequest {
                    id: id.clone(),
                    customer_name: "neo-support bench".into(),
                    contact_email: "bench@example.invalid".into(),
                    license_id: id.clone(),
                    seats: 1,
                    customized: false,
                })
                .await?;
            support
                .record_order(pb::RecordOrderRequest {
                    contract_id: id.clone(),
                    kind: pb::OrderKind::FirstYear.into(),
                    received_on: received.clone(),
                    purchased_on: received.clone(),
                    ..Default::default()
                })
                .await?;
            let key = licenses
                .issue_first_key(pb::IssueFirstKeyRequest {
                    license_id: id.clone(),
                    fingerprint: format!("bench-{run_id}-{n:03}-0000000000"),
                })
                .await?
                .into_inner()
                .license_key
                .unwrap_or_default()
                .key;
            license_ids.push(id);
            keys.push(key);
        }
        eprintln!(
            "bench: created {} contracts BENCH-{run_id}-000.., each with its license and first key, on {}",
            args.licenses, options.server
        );
    }
    let license_ids = Arc::new(license_ids);
    let keys = Arc::new(keys);

    let mut results: Vec<(&'static str, Figures)> = Vec::new();
    let health: Call = Arc::new(|channel, _| {
        Box::pin(async move {
            HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .is_ok()
        })
    });
    results.push((
        "health",
        run("health", &channels, args.concurrency, args.duration, health).await,
    ));
    for rpc in chosen {
        let bearer: BearerToken = bearer.clone();
        let (name, call): (&'static str, Call) = match rpc {
            RpcArg::VerifyKey => {
                let keys = keys.clone();
                (
                    "verify-key",
                    Arc::new(move |channel, n| {
                        let bearer = bearer.clone();
                        let key = keys[n as usize % keys.len()].clone();
                        Box::pin(async move {
                            let mut client =
                                LicenseServiceClient::with_interceptor(channel, bearer);
                            let request = pb::VerifyKeyRequest {
                                key,
                                fingerprint: String::new(),
                            };
                            matches!(client.verify_key(request).await, Ok(r) if r.get_ref().valid)
                        })
                    }),
                )
            }
            RpcArg::Reissue => {
                let (license_ids, run_id) = (license_ids.clone(), run_id.clone());
                (
                    "reissue",
                    Arc::new(move |channel, n| {
                        let bearer = bearer.clone();
                        let license_id = license_ids[n as usize % license_ids.len()].clone();
                        let fingerprint = format!("bench-{run_id}-{n:010}");
                        Box::pin(async move {
                            let mut client =
                                LicenseServiceClient::with_interceptor(channel, bearer);
                            client
                                .request_reissue(pb::RequestReissueRequest {
                                    license_id,
                                    request_id: fingerprint.clone(),
                                    fingerprint,
                                })
                                .await
                                .is_ok()
                        })
                    }),
                )
            }
            _ => (
                "delivery",
                Arc::new(move |channel, _| {
                    let bearer = bearer.clone();
                    Box::pin(async move {
                        let mut client = SupportServiceClient::with_interceptor(channel, bearer);
                        client
                            .get_delivery_date(pb::GetDeliveryDateRequest { received_at: None })
                            .await
                            .is_ok()
                    })
                }),
            ),
        };
        results.push((
            name,
            run(name, &channels, args.concurrency, args.duration, call).await,
        ));
    }

    let baseline = results[0].1.calls_per_sec.max(f64::MIN_POSITIVE);
    let mut json = Map::new();
    let mut text = format!(
        "{:<11} {:>11} {:>9} {:>8} {:>8} {:>8} {:>9} {:>7}\n",
        "rpc", "calls/s", "vs health", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "errors"
    );
    for (name, f) in &results {
        json.insert(
            (*name).into(),
            json!({
                "calls_per_sec": f.calls_per_sec,
                "p50_ms": f.p50_ms,
                "p90_ms": f.p90_ms,
                "p99_ms": f.p99_ms,
                "p999_ms": f.p999_ms,
                "errors": f.errors,
            }),
        );
        text.push_str(&format!(
            "{name:<11} {:>11.0} {:>8.1}% {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>7}\n",
            f.calls_per_sec,
            100.0 * f.calls_per_sec / baseline,
            f.p50_ms,
            f.p90_ms,
            f.p99_ms,
            f.p999_ms,
            f.errors
        ));
    }
    Ok(Output {
        json: Value::Object(json),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5h").is_err());
    }

    #[test]
    fn percentiles_pick_the_ranked_latency() {
        let sorted: Vec<u32> = (1..=1000).map(|n| n * 1000).collect();
        assert_eq!(percentile(&sorted, 0.5), 501.0);
        assert_eq!(percentile(&sorted, 0.999), 999.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
