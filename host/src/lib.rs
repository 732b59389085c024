//! charm-host: runs untrusted JavaScript "charms" in the background, each
//! task in a fresh WebAssembly sandbox.
//!
//! The modules follow the data: a charm's source is [`compile`]d to
//! bytecode inside the [`sandbox`], and each [`run`] calls its `bgUpdater`
//! in a fresh task whose [`limits`] the sandbox enforces and whose reach
//! outside is only through [`capabilities`]. The guest side of the boundary
//! is the embedded [`runtime`]; [`cli`] is the command-line edge.

pub mod api;
pub mod capabilities;
pub mod cli;
pub mod compile;
pub mod js_error;
pub mod limits;
pub mod metrics;
pub mod queue;
pub mod registry;
pub mod run;
pub mod runtime;
pub mod sandbox;
pub mod scheduler;
pub mod service;
pub mod store;
