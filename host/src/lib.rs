//! charm-host: the service, its HTTP API and the command line, over the
//! sandbox core (`charm-engine`) and the store (`charm-store`).
//!
//! * [`service`]: `charm-host serve`: registry, scheduler, dispatcher,
//!   metrics, and their wiring;
//! * [`api`]: the HTTP API and the operator's dashboard;
//! * [`cli`]: the command line and its exit codes; `main.rs` only calls
//!   [`cli::main`];
//! * [`run_file`]: a run's recorded inputs as kept and as exported
//!   (`charm-host-run/1`), for `charm-host replay`;
//! * [`token`]: the API token a daemon makes and keeps, and the server file
//!   through which the command line on the same machine finds it.
#![warn(missing_docs)]

pub mod api;
pub mod cli;
pub mod run_file;
pub mod service;
pub mod token;
