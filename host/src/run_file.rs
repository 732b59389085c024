//! The run file (`charm-host-run/1`): one run, self-contained, to replay
//! offline.
//!
//! Owns the two encodings of a run's recording: [`RunInputs`], what the
//! service keeps beside each run record (compressed with deflate: bodies,
//! the usual bulk, are text that shrinks several times, for about 10 µs on
//! a trivial run), and [`RunFile`], what `GET
//! /api/runs/{id}/export` writes and `charm-host replay` reads: the inputs
//! with the charm's source and the run's record. It never runs anything
//! and never touches the store.
//!
//! The file, as JSON: `format` (`charm-host-run/1`), `note`, `run` (`id`,
//! `charmId`, `space`, `outcome`, `error`, `startedAt`), `charm` (`name`,
//! `sha256`, `source`), `redactedSecrets` (names), and `inputs`:
//! `stateBefore`, `ctx`, `limits`, `allowedHosts`, `privateNetwork` and
//! `recording` (`charm_engine::Recording`: `seed`, `wallClockNs`,
//! `monotonicClockNs`, `fetches`, `wakes`, `maxBytes`, `truncated`).
//!
//! Secrets: a run's inputs are made with its redactor ([`RunInputs::new`]):
//! `ctx.secrets` keeps the names with `[redacted]` values, and any secret
//! value in the context is replaced too (the engine's recording redacts
//! fetches itself). A replay gets the placeholders.

use std::io::Read as _;

use charm_engine::limits::SandboxLimits;
use charm_engine::{Recording, Redactor, RunContext, Secrets};
use serde::{Deserialize, Serialize};

/// The `format` of a run file this version writes and reads.
pub const FORMAT: &str = "charm-host-run/1";

/// The largest kept recording once decompressed, in bytes: far over what
/// the largest cap (`--record-bytes-per-run`) and state produce, so only a
/// corrupt row reaches it.
const MAX_INPUTS_BYTES: u64 = 512 * 1024 * 1024;

/// Why a kept recording or a run file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RunFileError {
    /// The kept recording does not decompress or parse.
    #[error("the kept recording is unreadable: {0}")]
    Stored(String),
    /// The file is not a run file this version reads.
    #[error("not a run file: {0}")]
    Invalid(String),
}

/// The deflate level of kept recordings. zlib-rs's level 1 uses only the
/// fixed Huffman codes: 4.5 µs for a trivial run's 720-byte recording, but
/// 539 bytes kept. Level 2 builds codes when they are smaller: 10.5 µs,
/// 420 bytes (miniz_oxide's level 1, before: 16.3 µs, 430 bytes; issue 18).
const DEFLATE_LEVEL: u32 = 2;

thread_local! {
    /// Each thread's deflate compressor, reset between recordings. A new
    /// one allocates its tables (a reset only clears them again), which
    /// cost more than compressing a trivial run's recording: 19–170 µs a
    /// recording against 15 µs reused, measured for issue 18 with
    /// miniz_oxide. A thread holds one while it lives.
    static DEFLATE: std::cell::RefCell<flate2::Compress> = std::cell::RefCell::new(
        flate2::Compress::new(flate2::Compression::new(DEFLATE_LEVEL), false),
    );
}

/// `input` deflated by `deflate`, which is reset first.
fn deflate_all(deflate: &mut flate2::Compress, input: &[u8]) -> Result<Vec<u8>, RunFileError> {
    deflate.reset();
    let mut out = Vec::with_capacity(input.len() / 3 + 64);
    loop {
        let (read, written) = (deflate.total_in(), deflate.total_out());
        let consumed = usize::try_from(read)
            .unwrap_or(input.len())
            .min(input.len());
        let status = deflate
            .compress_vec(&input[consumed..], &mut out, flate2::FlushCompress::Finish)
            .map_err(|e| RunFileError::Stored(e.to_string()))?;
        if status == flate2::Status::StreamEnd {
            return Ok(out);
        }
        if out.len() < out.capacity()
            && (read, written) == (deflate.total_in(), deflate.total_out())
        {
            return Err(RunFileError::Stored("deflate made no progress".into()));
        }
        // The output is full: room for as much again.
        out.reserve(out.capacity().max(64));
    }
}

/// What a run received besides its charm's source: kept beside each run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunInputs {
    /// The state before the run, its JSON text as the run got it (key
    /// order included: a replay hands the charm the same text).
    pub state_before: Box<serde_json::value::RawValue>,
    /// `ctx` as the run received it, secrets redacted.
    pub ctx: serde_json::Value,
    /// The limits it ran under.
    pub limits: SandboxLimits,
    /// Its allow-list.
    pub allowed_hosts: Vec<String>,
    /// Whether exact entries could reach private addresses.
    pub private_network: bool,
    /// What crossed the sandbox's boundary.
    pub recording: Recording,
}

impl RunInputs {
    /// A run's inputs, with every secret value of `redactor` replaced and
    /// `ctx.secrets` showing names only.
    ///
    /// # Errors
    /// [`RunFileError::Invalid`] when the state is not JSON.
    pub fn new(
        state_before: &str,
        ctx: &RunContext,
        limits: &SandboxLimits,
        (allowed_hosts, private_network): (&[String], bool),
        recording: Recording,
        redactor: &Redactor,
    ) -> Result<RunInputs, RunFileError> {
        let ctx = RunContext {
            secrets: ctx.secrets.redacted(),
            ..ctx.clone()
        };
        let ctx = serde_json::to_string(&ctx).map_err(|e| RunFileError::Invalid(e.to_string()))?;
        let ctx = serde_json::from_str(&redactor.json(&ctx))
            .map_err(|e| RunFileError::Invalid(e.to_string()))?;
        let state_before = serde_json::value::RawValue::from_string(redactor.json(state_before))
            .map_err(|e| RunFileError::Invalid(format!("the state is not JSON: {e}")))?;
        Ok(RunInputs {
            state_before,
            ctx,
            limits: limits.clone(),
            allowed_hosts: allowed_hosts.to_vec(),
            private_network,
            recording,
        })
    }

    /// The kept form: JSON, deflated (raw deflate, level 2).
    ///
    /// # Errors
    /// [`RunFileError::Stored`] when it does not encode.
    pub fn encode(&self) -> Result<Vec<u8>, RunFileError> {
        let json = serde_json::to_vec(self).map_err(|e| RunFileError::Stored(e.to_string()))?;
        DEFLATE.with_borrow_mut(|deflate| deflate_all(deflate, &json))
    }

    /// Reads the kept form.
    ///
    /// # Errors
    /// [`RunFileError::Stored`] when it does not inflate or parse.
    pub fn decode(data: &[u8]) -> Result<RunInputs, RunFileError> {
        let mut json = Vec::new();
        flate2::read::DeflateDecoder::new(data)
            .take(MAX_INPUTS_BYTES)
            .read_to_end(&mut json)
            .map_err(|e| RunFileError::Stored(e.to_string()))?;
        serde_json::from_slice(&json).map_err(|e| RunFileError::Stored(e.to_string()))
    }
}

/// The run a file holds, as its record showed it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// Its id.
    pub id: i64,
    /// Its charm's id.
    pub charm_id: String,
    /// Its charm's space.
    pub space: String,
    /// How it ended (`ok`, `error`, `timeout`, ...).
    pub outcome: Option<String>,
    /// Its error, if it failed.
    pub error: Option<String>,
    /// When it started, ms since the epoch.
    pub started_at: Option<i64>,
}

/// The charm's source the run ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceFile {
    /// Its module name (a `.ts` name is TypeScript).
    pub name: String,
    /// Hex sha256 of `source`.
    pub sha256: String,
    /// The source.
    pub source: String,
}

/// A run file: `charm-host runs export` writes one, `charm-host replay`
/// reads one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// What the file is, for a reader who opens it.
    #[serde(default)]
    pub note: String,
    /// The run.
    pub run: RunSummary,
    /// The source it ran.
    pub charm: SourceFile,
    /// Names of the secrets whose values are `[redacted]` here and in the
    /// replay.
    #[serde(default)]
    pub redacted_secrets: Vec<String>,
    /// What it received.
    pub inputs: RunInputs,
}

/// What every run file says of itself.
pub const NOTE: &str =
    "A charm-host run: replay it offline with `charm-host replay FILE [--source FILE]`. \
Secret values are replaced by \"[redacted]\" here and in the replay; the random seed lets anyone \
holding this file recompute every random value the run drew.";

impl RunFile {
    /// Reads a run file from its text.
    ///
    /// # Errors
    /// [`RunFileError::Invalid`] naming what is wrong.
    pub fn parse(text: &str) -> Result<RunFile, RunFileError> {
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
        }
        let head: Head =
            serde_json::from_str(text).map_err(|e| RunFileError::Invalid(e.to_string()))?;
        match head.format.as_deref() {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(RunFileError::Invalid(format!(
                    "its format is `{other}`; this charm-host reads `{FORMAT}`"
                )))
            }
            None => {
                return Err(RunFileError::Invalid(format!(
                    "it has no `format` (expected `{FORMAT}`)"
                )))
            }
        }
        let file: RunFile =
            serde_json::from_str(text).map_err(|e| RunFileError::Invalid(e.to_string()))?;
        file.inputs
            .recording
            .check()
            .map_err(|e| RunFileError::Invalid(e.to_string()))?;
        Ok(file)
    }

    /// The names of the secrets the run had.
    pub fn secret_names(ctx: &serde_json::Value) -> Vec<String> {
        ctx.get("secrets")
            .and_then(serde_json::Value::as_object)
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// `ctx.secrets` for the replay: each name with the placeholder.
    pub fn replay_secrets(&self) -> Secrets {
        Self::secret_names(&self.inputs.ctx)
            .into_iter()
            .map(|name| (name, charm_engine::REDACTED.to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording() -> Recording {
        Recording {
            seed: "00".repeat(32),
            wall_clock_ns: vec![1],
            monotonic_clock_ns: vec![2],
            fetches: Vec::new(),
            wakes: Vec::new(),
            max_bytes: 10,
            truncated: false,
        }
    }

    #[test]
    fn inputs_round_trip_through_the_kept_form_without_secret_values() {
        let mut secrets = Secrets::none();
        secrets.insert("TOKEN", "hunter2-long");
        let ctx = RunContext {
            charm_id: "c".into(),
            space: "s".into(),
            integration: None,
            run_id: "1".into(),
            input: serde_json::json!({"echo": "hunter2-long"}),
            events: serde_json::json!([]),
            now: 5,
            attempt: 1,
            idempotency_key: "c:1".into(),
            secrets: secrets.clone(),
        };
        let inputs = RunInputs::new(
            "{\"n\":1}",
            &ctx,
            &SandboxLimits::default(),
            (&[], false),
            recording(),
            &secrets.redactor(),
        )
        .unwrap();
        let kept = inputs.encode().unwrap();
        let back = RunInputs::decode(&kept).unwrap();
        let text = serde_json::to_string(&back).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(back.ctx["secrets"]["TOKEN"], "[redacted]");
        assert_eq!(back.state_before.get(), "{\"n\":1}");
        assert!(RunInputs::decode(b"not deflate").is_err());
    }

    #[test]
    fn one_compressor_deflates_recordings_of_any_size_one_after_another() {
        let inflate = |data: &[u8]| {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(data)
                .read_to_end(&mut out)
                .unwrap();
            out
        };
        // Bytes that do not compress: the output outgrows its first guess.
        let mut x = 0x9e37_79b9_u32;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect();
        let text = "a line of a feed\n".repeat(50_000).into_bytes();
        let mut deflate = flate2::Compress::new(flate2::Compression::new(DEFLATE_LEVEL), false);
        for input in [&noise[..], b"{}", &text[..], b"", &noise[..1000]] {
            let kept = deflate_all(&mut deflate, input).unwrap();
            assert_eq!(inflate(&kept), input);
        }
    }

    #[test]
    fn a_recording_kept_by_miniz_oxide_still_reads() {
        // A trivial run's recording as a build before zlib-rs kept it
        // (flate2 on miniz_oxide, level 1), from a bench database.
        let kept = [
            "8d52cb6edb3010fc973dab80f810f538a6971605f203452150e4d2112c920645453602ff7b973292143d451711b3b33b",
            "335cbec19a75c6277431210c6ff70a4cbed20174cee82f190646d08b4efea785016aa6b9648c89da35ad10b66bd1bade",
            "369db4ba9728a1027cc59057187effa960b63423660ce6f60b6f5fe81f184d98c36523e1b02d0b8d08194f49e7390618",
            "1e50883bd96a7b25bab66f55adc862dac261b0f4af6812160b25ce7ad18692c1f1ffc681122eb39f8f32b80d171a557f",
            "7c1578f431dd463fc1a0640579f618b73c7a4a240a8d18fa3a12441ec7e996910aac965dd3aa476989a7779c2bce240d",
            "f1d4e1309b97426eea07ef00c684eb258615df5b1a2e79d711c515fef8af3cfb942f703a846ba296f12606b3a544573f",
            "1e9d4589290aab9725ee687fc4b5442e4bb9a4f99576fe8c798fe90c434e1b5690d0c464e7702acb5f11cbb6a79e6271",
            "a62497689c7453c79c607dafb5765637aeae1593dc70c126270cd6add04cb58c5bada59353790d3be97f5fa2393f93dd",
            "a2ee63883986d97ca25c74a2a978d38b8edecc87fdc2def5b9242947afaf4fff5d37390f86a29057a79715eff7bf",
        ]
        .concat();
        let kept: Vec<u8> = (0..kept.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&kept[i..i + 2], 16).unwrap())
            .collect();
        let mut json = Vec::new();
        flate2::read::DeflateDecoder::new(&kept[..])
            .read_to_end(&mut json)
            .unwrap();
        assert_eq!((kept.len(), json.len()), (430, 720));
        let inputs = RunInputs::decode(&kept).unwrap();
        assert_eq!(inputs.state_before.get(), "{}");
        assert_eq!(inputs.ctx["charmId"], "01a2411130f5733d87edf9d584da94e4");
        assert_eq!(inputs.limits.fuel, 10_000_000_000);
        let again = RunInputs::decode(&inputs.encode().unwrap()).unwrap();
        assert_eq!(
            serde_json::to_string(&again).unwrap(),
            serde_json::to_string(&inputs).unwrap()
        );
    }

    #[test]
    fn a_file_of_another_format_is_refused_by_name() {
        let err = RunFile::parse(r#"{"format":"charm-host-run/9"}"#).unwrap_err();
        assert!(err.to_string().contains("`charm-host-run/9`"), "{err}");
        let err = RunFile::parse("[]").unwrap_err();
        assert!(err.to_string().starts_with("not a run file"), "{err}");
    }
}
