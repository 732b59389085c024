//! charm-host: the service, its HTTP API and the command line, over the
//! sandbox core (`charm-engine`) and the store (`charm-store`).
//!
//! * [`service`]: `charm-host serve`: registry, scheduler, dispatcher,
//!   metrics, and their wiring;
//! * [`api`]: the HTTP API and the operator's dashboard;
//! * [`cli`]: the command line and its exit codes; `main.rs` only calls
//!   [`cli::main`];
//! * [`token`]: the API token a daemon makes and keeps, and the server file
//!   through which the command line on the same machine finds it.
#![warn(missing_docs)]

pub mod api;
pub mod cli;
pub mod service;
pub mod token;
