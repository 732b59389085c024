//! Charms ready to run again: what the dispatcher read and prepared for a
//! charm's last run (its settings, its compiled module and its limits),
//! kept by the charm's revision.
//!
//! Why: a run read its charm from the store before it started, a round
//! trip to one of the store's reader threads. At saturation with trivial
//! charms, switching threads was the largest cost in the kernel profile
//! (issue 18). The store raises a charm's revision
//! ([`CharmCode::revision`]) in the transaction of every change a run
//! reads, and a claim returns it ([`charm_store::ClaimedRun::charm_revision`]).
//! An entry of that revision is therefore the charm as it was when the run
//! was claimed, except for its failure count and next due time, which a
//! run's own bookkeeping changes and the run path does not read from here.
//!
//! Bounded by weight, in bytes, not by count (`--charm-cache-mb`): a
//! charm's bytecode can be megabytes. The cache (quick_cache) keeps the
//! entries used most often and recently, and one full scan does not flush
//! it. It is split in 8 shards, and a charm heavier than most of a shard's
//! share (32 MiB of the default 256) is never kept: it is read for each
//! run, as before.
//!
//! The budget should hold every charm the node runs within their interval.
//! Charms run in a cycle, and a cache smaller than the cycle misses on
//! about the share it cannot hold: 64 MiB (about 50,000 trivial charms)
//! read 45% of the runs' charms from the store at 100,000 charms every
//! minute (issue 18).

use std::sync::Arc;

use charm_engine::limits::SandboxLimits;
use charm_engine::CompiledCharm;
use charm_store::{CharmCode, CharmId};

/// Shards of the cache. Each has its share of the budget, and a charm
/// heavier than about all of one share (32 MiB of the default 256) is
/// never kept. quick_cache would halve the count when a shard held fewer
/// than 32 charms, which needs a budget under the flag's least (1 MiB), so
/// a share is an eighth of every budget the flag takes.
const SHARDS: usize = 8;

/// Bytes an entry holds besides its bytecode and strings: the structs,
/// the parsed limits and the cache's own slot (an estimate, so a cache
/// full of trivial charms stays near its budget).
const ENTRY_OVERHEAD_BYTES: u64 = 768;

/// A charm prepared for its runs.
#[derive(Debug)]
pub(crate) struct ReadyCharm {
    /// The charm as read for a run, without its source, bytecode and stored
    /// limits (they are in `compiled` and `limits`). Its
    /// `consecutive_failures` and `next_run_at` are as of the read.
    pub(crate) code: CharmCode,
    /// Its module, compiled for this runtime.
    pub(crate) compiled: CompiledCharm,
    /// Its limits: the daemon's defaults under what the charm set, within
    /// the daemon's ceilings.
    pub(crate) limits: SandboxLimits,
}

impl ReadyCharm {
    /// `code` as read for a run, with its module and limits; the bytecode
    /// and stored limits leave `code` (`compiled` and `limits` hold them).
    pub(crate) fn new(mut code: CharmCode, compiled: CompiledCharm, limits: SandboxLimits) -> Self {
        code.bytecode = Vec::new();
        code.source = String::new();
        code.limits = serde_json::Value::Null;
        ReadyCharm {
            code,
            compiled,
            limits,
        }
    }

    /// The bytes it holds, about.
    fn weight(&self) -> u64 {
        let code = &self.code;
        let strings = [
            code.space.len(),
            code.name.len(),
            code.source_sha256.len(),
            code.runtime_sha256.len(),
            self.compiled.name.len(),
            self.compiled.source_sha256.len(),
            self.compiled.runtime_sha256.len(),
            self.compiled.bytecode.len(),
        ];
        let hosts: usize = code.allowed_hosts.iter().map(String::len).sum();
        let optional = [
            &code.integration,
            &code.schedule,
            &code.disabled_reason,
            &code.alert_state,
            &code.alert_fingerprint,
        ]
        .iter()
        .map(|s| s.as_ref().map_or(0, String::len))
        .sum::<usize>();
        let bytes = strings.iter().sum::<usize>() + hosts + optional;
        ENTRY_OVERHEAD_BYTES + u64::try_from(bytes).unwrap_or(u64::MAX)
    }
}

#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<CharmId, Arc<ReadyCharm>> for ByBytes {
    fn weight(&self, _id: &CharmId, ready: &Arc<ReadyCharm>) -> u64 {
        ready.weight()
    }
}

/// The prepared charms, shared by every run task.
pub(crate) struct ReadyCharms {
    cache: quick_cache::sync::Cache<CharmId, Arc<ReadyCharm>, ByBytes>,
}

impl ReadyCharms {
    /// An empty cache of at most `budget_bytes` (about).
    pub(crate) fn new(budget_bytes: u64) -> Self {
        let estimated_items =
            usize::try_from(budget_bytes / (ENTRY_OVERHEAD_BYTES + 512)).unwrap_or(usize::MAX);
        // A fixed number of shards, not quick_cache's default of 4 per core:
        // a shard's share of the budget bounds the heaviest charm kept, and
        // it should not shrink on a machine with more cores.
        let options = quick_cache::OptionsBuilder::new()
            .estimated_items_capacity(estimated_items.max(1))
            .weight_capacity(budget_bytes)
            .shards(SHARDS)
            .build();
        let cache = match options {
            Ok(options) => quick_cache::sync::Cache::with_options(
                options,
                ByBytes,
                Default::default(),
                Default::default(),
            ),
            // Unreachable: both required options are set above.
            Err(_) => quick_cache::sync::Cache::with_weighter(
                estimated_items.max(1),
                budget_bytes,
                ByBytes,
            ),
        };
        ReadyCharms { cache }
    }

    /// Charm `id` as prepared at `revision`, if it is kept at exactly that
    /// one; `None` means read it (and [`ReadyCharms::keep`] it).
    pub(crate) fn get(&self, id: &CharmId, revision: i64) -> Option<Arc<ReadyCharm>> {
        self.cache
            .get(id)
            .filter(|ready| ready.code.revision == revision)
    }

    /// Keeps `ready` for its charm's next runs, in place of any other
    /// revision of it.
    pub(crate) fn keep(&self, ready: Arc<ReadyCharm>) {
        self.cache.insert(ready.code.id.clone(), ready);
    }

    /// Forgets every charm kept.
    pub(crate) fn clear(&self) {
        self.cache.clear();
    }

    /// How many charms are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.cache.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(n: u32, revision: i64, bytecode_len: usize) -> Arc<ReadyCharm> {
        let id = CharmId::parse(&format!("{n:032x}")).expect("an id");
        let code = CharmCode {
            id,
            space: "s".into(),
            name: "c.js".into(),
            integration: None,
            source: "export function bgUpdater() {}".into(),
            source_sha256: "a".repeat(64),
            bytecode: vec![0; bytecode_len],
            runtime_sha256: "b".repeat(64),
            interval_s: 60,
            schedule: None,
            max_attempts: 3,
            limits: serde_json::json!({ "fuel": 1_000_000 }),
            allowed_hosts: vec!["example.com".into()],
            private_network: false,
            enabled: true,
            disabled_reason: None,
            disabled_at: None,
            consecutive_failures: 0,
            next_run_at: 0,
            alert_state: None,
            alert_fingerprint: None,
            has_secrets: false,
            revision,
        };
        let compiled = CompiledCharm {
            name: code.name.clone(),
            bytecode: Arc::from(code.bytecode.as_slice()),
            integration: None,
            source_sha256: code.source_sha256.clone(),
            runtime_sha256: code.runtime_sha256.clone(),
            modules: Vec::new(),
        };
        Arc::new(ReadyCharm::new(code, compiled, SandboxLimits::default()))
    }

    #[test]
    fn a_charm_is_found_only_at_the_revision_it_was_kept_at() {
        let cache = ReadyCharms::new(crate::service::config::DEFAULT_CHARM_CACHE_MB << 20);
        let first = ready(1, 4, 100);
        let id = first.code.id.clone();
        assert!(cache.get(&id, 4).is_none(), "nothing kept yet");
        cache.keep(first);
        let found = cache.get(&id, 4).expect("kept at 4");
        assert!(found.code.bytecode.is_empty() && found.code.source.is_empty());
        assert_eq!(found.compiled.bytecode.len(), 100, "the module holds it");
        assert!(cache.get(&id, 5).is_none(), "a newer revision is read");
        cache.keep(ready(1, 5, 200));
        assert!(cache.get(&id, 4).is_none(), "replaced");
        assert_eq!(
            cache.get(&id, 5).expect("kept").compiled.bytecode.len(),
            200
        );
        assert!(cache.get(&ready(2, 5, 1).code.id, 5).is_none(), "by charm");
        cache.clear();
        assert!(cache.get(&id, 5).is_none(), "cleared");
    }

    #[test]
    fn the_cache_holds_about_its_budget_of_bytes() {
        let one = ready(0, 0, 1_000).weight();
        let budget = one * 512;
        let cache = ReadyCharms::new(budget);
        for n in 0..4_000u32 {
            cache.keep(ready(n, 0, 1_000));
        }
        assert!(
            (128..=512).contains(&cache.len()),
            "{} charms of {one} bytes kept in {budget}",
            cache.len()
        );
        assert!(cache.cache.weight() <= budget);
    }
}
