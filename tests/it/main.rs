//! The integration tests: one binary, a module per area, each against a
//! real server on a port, a real database and real signatures. `common`
//! holds the harness (databases, in-process servers, the binaries).

mod common;

mod access;
mod backup;
mod calendar;
mod cli;
mod contracts;
mod daily_use;
mod defaults;
mod events;
mod faults;
mod hardening;
mod holiday_reference;
mod hostile_input;
mod inquiries;
mod installations;
mod integrations;
mod keys;
mod layout;
mod licenses;
mod mail;
mod paseto_interop;
mod paseto_vectors;
mod readme;
mod replicas;
mod store;
mod tls;
