//! A set of named modules in one payload: a charm of several files.
//!
//! [`MAGIC`], the number of modules as a little-endian `u32`, then for each
//! module the length of its name (`u32`), the name (UTF-8), the length of
//! its body (`u32`) and the body. The **entry is the last** module, and
//! every module comes after the modules it imports, so that the guest can
//! declare them in order (QuickJS resolves a module's imports when it
//! declares it).
//!
//! * [`crate::export::COMPILE_MODULES`] takes a set of JavaScript sources
//!   and, on success, returns an [`crate::envelope`] whose bytes are a set
//!   of the same names with their bytecode.
//! * [`crate::export::RUN`] takes either one module's bytecode (a charm of
//!   one file, as in version 2 before sets) or such a set. QuickJS bytecode
//!   begins with its format version, never 0, so a set's leading zero byte
//!   tells them apart.

/// The first bytes of a module set.
pub const MAGIC: [u8; 8] = *b"\0charms1";

/// The size of the set's header: [`MAGIC`] and the module count.
pub const HEADER_LEN: usize = MAGIC.len() + 4;

/// The header of a set of `count` modules.
pub fn header(count: u32) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    out[..MAGIC.len()].copy_from_slice(&MAGIC);
    out[MAGIC.len()..].copy_from_slice(&count.to_le_bytes());
    out
}

/// Whether `bytes` are a module set (rather than one module's bytecode).
pub fn is_set(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// The modules of a set, in order: `(name, body)`. A set that is shorter
/// than its own lengths say, or longer, yields one `Err(Malformed)` and
/// stops.
pub fn iter(bytes: &[u8]) -> Modules<'_> {
    match bytes.strip_prefix(&MAGIC).and_then(|rest| take_u32(rest)) {
        Some((count, rest)) => Modules {
            rest,
            left: count,
            broken: false,
        },
        None => Modules {
            rest: &[],
            left: 0,
            broken: true,
        },
    }
}

/// A set whose lengths do not add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// The iterator of [`iter`].
#[derive(Debug, Clone)]
pub struct Modules<'a> {
    rest: &'a [u8],
    left: u32,
    broken: bool,
}

impl<'a> Iterator for Modules<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.broken {
            self.broken = false;
            self.left = 0;
            return Some(Err(Malformed));
        }
        if self.left == 0 {
            return (!self.rest.is_empty()).then(|| {
                self.rest = &[];
                Err(Malformed)
            });
        }
        self.left -= 1;
        let module = take_bytes(self.rest).and_then(|(name, rest)| {
            let (body, rest) = take_bytes(rest)?;
            Some((name, body, rest))
        });
        match module {
            Some((name, body, rest)) => {
                self.rest = rest;
                Some(Ok((name, body)))
            }
            None => {
                self.left = 0;
                self.rest = &[];
                Some(Err(Malformed))
            }
        }
    }
}

fn take_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (word, rest) = bytes.split_at_checked(4)?;
    Some((
        u32::from_le_bytes([word[0], word[1], word[2], word[3]]),
        rest,
    ))
}

fn take_bytes(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = take_u32(bytes)?;
    rest.split_at_checked(usize::try_from(len).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(modules: &[(&str, &str)], out: &mut [u8]) -> usize {
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(&header(modules.len() as u32));
        for (name, body) in modules {
            put(&(name.len() as u32).to_le_bytes());
            put(name.as_bytes());
            put(&(body.len() as u32).to_le_bytes());
            put(body.as_bytes());
        }
        at
    }

    #[test]
    fn round_trip() {
        let mut buf = [0u8; 128];
        let len = set(
            &[("lib.js", "export const x = 1;"), ("main.js", "m")],
            &mut buf,
        );
        let bytes = &buf[..len];
        assert!(is_set(bytes));
        let mut modules = iter(bytes);
        assert_eq!(
            modules.next(),
            Some(Ok((&b"lib.js"[..], &b"export const x = 1;"[..])))
        );
        assert_eq!(modules.next(), Some(Ok((&b"main.js"[..], &b"m"[..]))));
        assert_eq!(modules.next(), None);
    }

    #[test]
    fn broken_sets_say_so_once() {
        let mut buf = [0u8; 64];
        let len = set(&[("a.js", "x")], &mut buf);
        let mut short = iter(&buf[..len - 1]);
        assert_eq!(short.next(), Some(Err(Malformed)));
        assert_eq!(short.next(), None);
        let mut long = iter(&buf[..len + 1]);
        assert!(matches!(long.next(), Some(Ok(_))));
        assert_eq!(long.next(), Some(Err(Malformed)));
        assert_eq!(long.next(), None);
        assert_eq!(iter(b"bytecode").next(), Some(Err(Malformed)));
        assert!(!is_set(&[26, 0, 0]));
    }
}
