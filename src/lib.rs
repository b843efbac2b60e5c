//! neo-support: the service behind the annual support contract of
//! desknet's NEO Backup Server.
//!
//! A map of the modules, from the inside out:
//! - [`domain`]: pure rules with no I/O: the Japanese business calendar
//!   ([`domain::holidays`], [`domain::calendar`]), date parsing
//!   ([`domain::dates`]) and access tokens ([`domain::token`]).
//! - [`error`]: the one error type of the library.
//! - [`store`]: the [`store::Store`] trait, implemented once by
//!   [`store::SqlStore`] over a small [`store::Backend`] trait (SQLite,
//!   PostgreSQL), in plain functions by topic.
//! - [`grpc`]: the generated protobuf types, the gRPC services and the
//!   conversion between proto messages and domain types; the only place
//!   that builds `tonic::Status`.
//! - [`ical`] and [`http_feed`]: the business calendar as an iCalendar
//!   document, and the plain HTTP listener that serves it.
//! - [`server`]: `serve(listener, state, shutdown)`, used by the daemon and
//!   the tests, with health, reflection and TLS.
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
pub mod http_feed;
pub mod ical;
pub mod mail;
pub mod pb;
pub mod server;
pub mod signer;
pub mod store;
pub mod telemetry;

pub use error::{Error, Result};
