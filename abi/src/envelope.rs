//! Payloads that carry metadata and bytes: a little-endian `u32` giving the
//! length of a JSON metadata object, the metadata, then the bytes.
//!
//! * A successful [`crate::export::COMPILE`] returns
//!   `{"integration": string | null}` and the bytecode.
//! * A fetch request ([`crate::import::FETCH_START`]) is
//!   `{"url", "method", "headers": [[name, value], ...], "redirect": "follow" | "manual" | "error", "hasBody": bool}`
//!   and the body's bytes, exactly as the charm gave them.
//! * A fetch operation completes with
//!   `{"status", "statusText", "url", "redirected", "headers": [[name, value], ...]}`
//!   and the body; or, for a request that was refused or failed,
//!   `{"error": message, "kind": kind, "limit"?: {"kind", "value"}}` and no
//!   body, which the guest throws as a `TypeError` (as `fetch` does in
//!   browsers) and remembers the kind of (see [`crate::error`]).

/// Size of the metadata length prefix.
pub const PREFIX_LEN: usize = 4;

/// The metadata field of a fetch failure's message.
pub const FETCH_ERROR: &str = "error";

/// Splits an envelope into its JSON metadata and its bytes. Returns `None`
/// when the envelope is shorter than its own prefix says.
pub fn split(envelope: &[u8]) -> Option<(&[u8], &[u8])> {
    let prefix = envelope.get(..PREFIX_LEN)?;
    let meta_len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    let rest = &envelope[PREFIX_LEN..];
    if meta_len > rest.len() {
        return None;
    }
    Some(rest.split_at(meta_len))
}

/// The prefix to write before `meta_len` bytes of metadata.
pub fn prefix(meta_len: u32) -> [u8; PREFIX_LEN] {
    meta_len.to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let meta = br#"{"status":200}"#;
        let mut envelope = [0u8; 64];
        envelope[..4].copy_from_slice(&prefix(meta.len() as u32));
        envelope[4..4 + meta.len()].copy_from_slice(meta);
        envelope[4 + meta.len()..4 + meta.len() + 2].copy_from_slice(b"hi");
        let (m, body) = split(&envelope[..4 + meta.len() + 2]).unwrap();
        assert_eq!(m, meta);
        assert_eq!(body, b"hi");
    }

    #[test]
    fn a_truncated_envelope_is_rejected() {
        assert!(split(&[9, 0, 0, 0, b'{']).is_none());
        assert!(split(&[1, 0]).is_none());
    }
}
