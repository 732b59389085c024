//! The return area: how an export hands back its result.
//!
//! An export returns the address of [`LEN`] bytes in guest memory: three
//! little-endian `u32` words, the [`crate::Status`], then the pointer and the
//! length of the payload. The guest keeps the area and the payload alive
//! until its next call; the host copies both out at once.

/// Size of the return area in bytes.
pub const LEN: usize = 12;

/// The three words of a return area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetArea {
    /// The status word (a [`crate::Status`] when valid).
    pub status: u32,
    /// Where the payload starts in guest memory.
    pub ptr: u32,
    /// The payload's length in bytes.
    pub len: u32,
}

impl RetArea {
    /// The words in memory order, for a guest to store as `[u32; 3]`
    /// (wasm is little-endian).
    pub fn to_words(self) -> [u32; 3] {
        [self.status, self.ptr, self.len]
    }

    /// Decodes the bytes the host read from guest memory.
    pub fn from_bytes(bytes: &[u8; LEN]) -> RetArea {
        let word = |i: usize| {
            u32::from_le_bytes([
                bytes[4 * i],
                bytes[4 * i + 1],
                bytes[4 * i + 2],
                bytes[4 * i + 3],
            ])
        };
        RetArea {
            status: word(0),
            ptr: word(1),
            len: word(2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_bytes_agree() {
        let area = RetArea {
            status: 1,
            ptr: 0x0102_0304,
            len: 70_000,
        };
        let mut bytes = [0u8; LEN];
        for (i, w) in area.to_words().iter().enumerate() {
            bytes[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        assert_eq!(RetArea::from_bytes(&bytes), area);
    }
}
