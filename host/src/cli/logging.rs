//! Logging setup for the binary.
//!
//! Host events go through `tracing` to stderr, as text or JSON, filtered by
//! `CHARM_HOST_LOG` (an `EnvFilter` directive, e.g. `info` or
//! `charm_host=debug`). For `charm-host run`, a charm's own console lines are
//! echoed to stderr plainly, the way a charm author expects to read them.

use std::io::{IsTerminal, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{filter, EnvFilter, Layer};

use charm_engine::CONSOLE_TARGET;

/// The environment variable holding the log filter.
pub const LOG_ENV: &str = "CHARM_HOST_LOG";

/// How host logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new(default))
}

/// Logging for `charm-host run`: host warnings and errors, and the charm's
/// console lines as plain text.
pub fn init_for_run(format: LogFormat) {
    let not_console = filter::filter_fn(|meta| meta.target() != CONSOLE_TARGET);
    let host = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .without_time()
            .with_filter(filter("warn"))
            .with_filter(not_console)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter("warn"))
            .with_filter(not_console)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(host)
        .with(ConsoleEcho)
        .try_init();
}

/// Logging for `charm-host serve`: everything at `info` and above by default,
/// charms' console lines included, as structured events with their charm,
/// space and run ids.
///
/// The filter is the subscriber's, not the layer's. As a per-layer filter
/// it lost events: sqlx asks `log::log_enabled!` after each query, which
/// reaches the filter outside `tracing`'s callsites and leaves the layer
/// marked disabled on that thread, so the next event there from a callsite
/// cached as enabled was dropped (tokio-rs/tracing#2519). On PostgreSQL,
/// with `CHARM_HOST_LOG=warn,charm_host::service=debug`, "registered as a
/// node" and every prune round's line never appeared. (`init_for_run`
/// keeps per-layer filters for its console layer; only a `trace`
/// directive lets its crates' `log` checks through, so it is left until
/// the upstream fix.)
pub fn init_for_service(format: LogFormat) {
    let layer = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(filter("info"))
        .with(layer)
        .try_init();
}

/// Writes charm console lines to stderr as `[level: ]message`.
struct ConsoleEcho;

impl<S: Subscriber> Layer<S> for ConsoleEcho {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != CONSOLE_TARGET {
            return;
        }
        let mut message = MessageField(String::new());
        event.record(&mut message);
        let prefix = match *event.metadata().level() {
            Level::ERROR => "error: ",
            Level::WARN => "warn: ",
            Level::DEBUG | Level::TRACE => "debug: ",
            Level::INFO => "",
        };
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{prefix}{}", message.0);
    }
}

struct MessageField(String);

impl Visit for MessageField {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }
}
