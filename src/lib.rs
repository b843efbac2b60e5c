//! neo-support: the service behind the annual support contract of
//! desknet's NEO Backup Server.
//!
//! A map of the modules, from the inside out (each imports only those
//! above it; `tests/it/layout.rs` checks it):
//! - [`error`] and [`clock`]: the one error type with its reason codes, and
//!   where the time comes from.
//! - [`domain`]: pure rules with no I/O: the Japanese business calendar
//!   ([`domain::holidays`], [`domain::calendar`]), dates, contracts and
//!   periods, inquiries, license claims with [`domain::license`]'s
//!   `decide_reissue` and `key_verdict`, and access tokens.
//! - [`signer`]: PASETO v4.public and PASERK, and the signing-key files.
//! - [`store`]: the [`store::Store`] trait, implemented once by
//!   [`store::SqlStore`] over a small [`store::Backend`] trait (SQLite,
//!   PostgreSQL), in plain functions by topic.
//! - [`mail`]: the outbox worker that sends what the store queued.
//! - [`pb`]: the generated protobuf types and the wire helpers shared by
//!   server, client and CLI.
//! - [`telemetry`]: the call log and the metrics; the gauges read their
//!   figures through [`telemetry::GaugeSource`].
//! - [`grpc`]: the gRPC services (one file per topic), the gate that
//!   authenticates and rate-limits, the conversion between proto messages
//!   and domain types, and the only place that builds `tonic::Status`.
//! - [`server`]: `serve(listener, state, options, shutdown)`, used by the
//!   daemon and the tests, with health, reflection, TLS and the HTTP/2
//!   limits.
//! - [`client`]: the typed client shared by the CLI and the tests.
//! - [`devcert`]: a development CA and server certificate for TLS
//!   (`neo-supportd tls create-dev-cert`).
//! - [`cli`] and [`daemon`]: what the two binaries `neo-support` and
//!   `neo-supportd` do, so that the binaries stay thin.
#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod clock;
pub mod daemon;
pub mod devcert;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod mail;
pub mod pb;
pub mod server;
pub mod signer;
pub mod store;
pub mod telemetry;

pub use error::{Error, Result};
