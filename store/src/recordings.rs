//! Run recordings: what each run received, kept beside its record.
//!
//! A recording is written in the transaction that records its run
//! ([`crate::Finished::recording`]) and deleted with the run (a foreign
//! key, so pruning runs prunes recordings). The charm's source the run ran
//! is kept once per charm and source hash, copied from the charm in the same
//! transaction, and deleted when no recording refers to it any more. The
//! store treats the recording as opaque bytes: the engine's format,
//! compressed by the service.

use crate::rows::Columns;
use crate::{CharmId, RunId, StoreError};

/// What a finished run recorded, to keep beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecording {
    /// Hex sha256 of the charm's source the run ran.
    pub source_sha256: String,
    /// The recording, as the service encodes it.
    pub data: Vec<u8>,
}

/// A kept recording, with the source its run ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecording {
    /// The run.
    pub run_id: RunId,
    /// Its charm.
    pub charm_id: CharmId,
    /// Hex sha256 of the source the run ran.
    pub source_sha256: String,
    /// The module name and source the run ran; `None` when the charm was
    /// updated while the run ran (the source it ran was never kept).
    pub source: Option<(String, String)>,
    /// The recording, as the service encoded it.
    pub data: Vec<u8>,
}

/// Keeps `$2`'s recording `$4` of source `$3` for run `$1`.
pub(crate) const INSERT: &str =
    "INSERT INTO run_recordings (run_id, charm_id, source_sha256, recording) \
     VALUES ($1, $2, $3, $4)";

/// Keeps charm `$1`'s source once, if it is still the one with hash `$2`.
///
/// Every recorded run asks, and the source is almost always kept already:
/// the `NOT EXISTS` is checked before the charm's source is read, so a
/// large source (its overflow pages) is not read for nothing. For a 52 KB
/// source, 34 µs a run without it against 9 µs with it (a loop of 20,000
/// through Python's sqlite3, issue 18); a trivial charm's is the same either way.
pub(crate) const KEEP_SOURCE: &str =
    "INSERT INTO recorded_sources (charm_id, source_sha256, name, source) \
     SELECT c.id, c.source_sha256, c.name, code.source FROM charms c \
       JOIN charm_code code ON code.charm_id = c.id WHERE c.id = $1 AND c.source_sha256 = $2 \
       AND NOT EXISTS (SELECT 1 FROM recorded_sources k \
                       WHERE k.charm_id = $1 AND k.source_sha256 = $2) \
     ON CONFLICT DO NOTHING";

/// Run `$1`'s recording and its source.
pub(crate) const READ: &str =
    "SELECT r.run_id, r.charm_id, r.source_sha256, r.recording, s.name, s.source \
     FROM run_recordings r LEFT JOIN recorded_sources s \
       ON s.charm_id = r.charm_id AND s.source_sha256 = r.source_sha256 \
     WHERE r.run_id = $1";

pub(crate) fn recording_from(row: &impl Columns) -> Result<StoredRecording, StoreError> {
    let name = row.opt_text("name")?;
    let source = row.opt_text("source")?;
    Ok(StoredRecording {
        run_id: row.int("run_id")?,
        charm_id: crate::rows::charm_id(row, "charm_id")?,
        source_sha256: row.text("source_sha256")?,
        source: name.zip(source),
        data: row.bytes("recording")?,
    })
}
