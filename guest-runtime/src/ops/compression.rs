//! The byte work of `CompressionStream` and `DecompressionStream` (the
//! Compression standard): `gzip` (RFC 1952), `deflate` (zlib, RFC 1950)
//! and `deflate-raw` (RFC 1951), on `miniz_oxide`. It runs inside the
//! sandbox, so every byte of it is fuel-metered. The streams themselves are
//! `js/46_compression.js`; this file owns the codecs, by handle.
//!
//! Output comes out in pieces of at most [`PIECE`] bytes, one per call, so
//! that the prelude can hand each to the readable side and wait for the
//! reader before making more: a decompression bomb read piece by piece
//! needs no more memory than a piece, and one read whole grows until the
//! run's memory limit ends the run.
//!
//! Errors are the standard's: corrupt or truncated input, and input after
//! the end of the compressed data, are `TypeError`s.

use std::cell::RefCell;

use javy_plugin_api::javy::quickjs::{Ctx, Error as JsError, Exception, TypedArray};
use miniz_oxide::deflate::core::CompressorOxide;
use miniz_oxide::deflate::stream::deflate;
use miniz_oxide::deflate::CompressionLevel;
use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// The largest piece of output one call returns (a gzip trailer may follow
/// the last piece's deflate bytes: [`OUT_LEN`]).
pub const PIECE: usize = 64 * 1024;

/// The length of a codec's output buffer: a piece and gzip's trailer.
const OUT_LEN: usize = PIECE + 8;

/// The formats the Compression standard names.
#[derive(Clone, Copy, PartialEq)]
enum Format {
    Gzip,
    Deflate,
    DeflateRaw,
}

impl Format {
    fn parse(name: &str) -> Option<Format> {
        match name {
            "gzip" => Some(Format::Gzip),
            "deflate" => Some(Format::Deflate),
            "deflate-raw" => Some(Format::DeflateRaw),
            _ => None,
        }
    }

    /// What miniz_oxide does itself: zlib's header and Adler-32, or nothing
    /// (gzip's framing is done here).
    fn data_format(self) -> DataFormat {
        match self {
            Format::Deflate => DataFormat::Zlib,
            Format::Gzip | Format::DeflateRaw => DataFormat::Raw,
        }
    }
}

/// Input given but not consumed yet.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    pos: usize,
}

impl Pending {
    fn push(&mut self, input: &[u8]) {
        if self.pos == self.bytes.len() {
            self.bytes.clear();
            self.pos = 0;
        } else if self.pos > 0 {
            self.bytes.drain(..self.pos);
            self.pos = 0;
        }
        self.bytes.extend_from_slice(input);
    }

    fn rest(&self) -> &[u8] {
        &self.bytes[self.pos..]
    }
}

/// Where a decoder is in its input.
#[derive(PartialEq)]
enum Stage {
    /// Reading gzip's header.
    Header,
    /// Inflating.
    Body,
    /// Reading gzip's trailer (CRC-32 and size).
    Trailer,
    /// The compressed data has ended: nothing may follow.
    Done,
}

struct Decoder {
    format: Format,
    out: Vec<u8>,
    state: Box<InflateState>,
    input: Pending,
    stage: Stage,
    crc: crc32fast::Hasher,
    size: u32,
}

struct Encoder {
    format: Format,
    out: Vec<u8>,
    compressor: Box<CompressorOxide>,
    input: Pending,
    header_written: bool,
    finished: bool,
    crc: crc32fast::Hasher,
    size: u32,
}

enum Codec {
    Decoder(Decoder),
    Encoder(Encoder),
}

thread_local! {
    /// The open codecs; a handle is an index.
    static CODECS: RefCell<Vec<Option<Codec>>> = const { RefCell::new(Vec::new()) };
}

/// `host.codecOpen(format, decompress) -> handle`.
pub fn codec_open(ctx: Ctx<'_>, format: String, decompress: bool) -> Result<i32, JsError> {
    let Some(format) = Format::parse(&format) else {
        return Err(Exception::throw_type(
            &ctx,
            &format!("unsupported compression format {format:?}: use \"gzip\", \"deflate\" or \"deflate-raw\""),
        ));
    };
    let codec = if decompress {
        Codec::Decoder(Decoder {
            format,
            out: vec![0; OUT_LEN],
            state: InflateState::new_boxed(format.data_format()),
            input: Pending::default(),
            stage: if format == Format::Gzip {
                Stage::Header
            } else {
                Stage::Body
            },
            crc: crc32fast::Hasher::new(),
            size: 0,
        })
    } else {
        Codec::Encoder(Encoder {
            format,
            out: vec![0; OUT_LEN],
            compressor: Box::new(CompressorOxide::with_format_and_level(
                format.data_format(),
                CompressionLevel::DefaultLevel,
            )),
            input: Pending::default(),
            header_written: false,
            finished: false,
            crc: crc32fast::Hasher::new(),
            size: 0,
        })
    };
    CODECS.with(|codecs| {
        let mut codecs = codecs.borrow_mut();
        let slot = match codecs.iter().position(Option::is_none) {
            Some(free) => {
                codecs[free] = Some(codec);
                free
            }
            None => {
                codecs.push(Some(codec));
                codecs.len() - 1
            }
        };
        i32::try_from(slot)
            .map_err(|_| Exception::throw_range(&ctx, "too many compression streams"))
    })
}

/// `host.codecStep(handle, input?, finish) -> Uint8Array | undefined`:
/// takes `input` (if given), then returns the next piece of output, or
/// undefined when there is none until more input comes (or, with `finish`,
/// none at all: the data is complete).
pub fn codec_step<'js>(
    ctx: Ctx<'js>,
    handle: i32,
    input: Option<TypedArray<'js, u8>>,
    finish: bool,
) -> Result<Option<TypedArray<'js, u8>>, JsError> {
    let input: &[u8] = match &input {
        Some(array) => array
            .as_bytes()
            .ok_or_else(|| Exception::throw_type(&ctx, "the chunk's buffer is detached"))?,
        None => &[],
    };
    CODECS.with(|codecs| {
        let mut codecs = codecs.borrow_mut();
        let Some(codec) = usize::try_from(handle)
            .ok()
            .and_then(|i| codecs.get_mut(i))
            .and_then(Option::as_mut)
        else {
            return Err(Exception::throw_type(
                &ctx,
                "the compression stream is closed",
            ));
        };
        let (written, out) = match codec {
            Codec::Decoder(decoder) => {
                if !input.is_empty() {
                    decoder.input.push(input);
                }
                let written = decoder
                    .step(finish)
                    .map_err(|m| Exception::throw_type(&ctx, m))?;
                (written, &decoder.out)
            }
            Codec::Encoder(encoder) => {
                if !input.is_empty() {
                    encoder.input.push(input);
                }
                (encoder.step(finish), &encoder.out)
            }
        };
        if written == 0 {
            return Ok(None);
        }
        TypedArray::new_copy(ctx.clone(), &out[..written]).map(Some)
    })
}

/// `host.codecClose(handle)`: frees the codec (a second close is a no-op).
pub fn codec_close(handle: i32) {
    CODECS.with(|codecs| {
        let mut codecs = codecs.borrow_mut();
        if let Some(slot) = usize::try_from(handle).ok().and_then(|i| codecs.get_mut(i)) {
            *slot = None;
        }
        while matches!(codecs.last(), Some(None)) {
            codecs.pop();
        }
    });
}

/// gzip's header flags (RFC 1952, 2.3.1).
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const FRESERVED: u8 = 0xe0;

/// The length of the gzip header at the start of `buf`, or `None` if more
/// bytes are needed to tell.
fn gzip_header_len(buf: &[u8]) -> Result<Option<usize>, &'static str> {
    if buf.len() < 10 {
        // Check what is there already, so garbage fails at once.
        if buf.first().is_some_and(|&b| b != 0x1f) || buf.get(1).is_some_and(|&b| b != 0x8b) {
            return Err("the data is not gzip: wrong magic bytes");
        }
        return Ok(None);
    }
    if buf[0] != 0x1f || buf[1] != 0x8b {
        return Err("the data is not gzip: wrong magic bytes");
    }
    if buf[2] != 8 {
        return Err("the gzip data uses an unknown compression method");
    }
    let flags = buf[3];
    if flags & FRESERVED != 0 {
        return Err("the gzip header has reserved flags set");
    }
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let Some(len) = buf.get(at..at + 2) else {
            return Ok(None);
        };
        at += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            match buf
                .get(at..)
                .and_then(|rest| rest.iter().position(|&b| b == 0))
            {
                Some(nul) => at += nul + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & FHCRC != 0 {
        let Some(crc16) = buf.get(at..at + 2) else {
            return Ok(None);
        };
        let expected = u16::from_le_bytes([crc16[0], crc16[1]]);
        if (crc32fast::hash(&buf[..at]) & 0xffff) as u16 != expected {
            return Err("the gzip header's checksum does not match");
        }
        at += 2;
    }
    if at > buf.len() {
        return Ok(None);
    }
    Ok(Some(at))
}

impl Decoder {
    /// Makes the next piece of output in `self.out` and returns its
    /// length (0: none yet, or none at all once `finish` is given); see
    /// [`codec_step`].
    fn step(&mut self, finish: bool) -> Result<usize, &'static str> {
        let out = &mut self.out[..PIECE];
        let mut written = 0;
        loop {
            match self.stage {
                Stage::Header => match gzip_header_len(self.input.rest())? {
                    Some(len) => {
                        self.input.pos += len;
                        self.stage = Stage::Body;
                    }
                    None => break,
                },
                Stage::Body => {
                    let result = inflate(
                        &mut self.state,
                        self.input.rest(),
                        &mut out[written..],
                        MZFlush::None,
                    );
                    let produced = &out[written..written + result.bytes_written];
                    if self.format == Format::Gzip {
                        self.crc.update(produced);
                        self.size = self.size.wrapping_add(result.bytes_written as u32);
                    }
                    self.input.pos += result.bytes_consumed;
                    written += result.bytes_written;
                    match result.status {
                        Ok(MZStatus::StreamEnd) => {
                            self.stage = if self.format == Format::Gzip {
                                Stage::Trailer
                            } else {
                                Stage::Done
                            };
                        }
                        Ok(_) => {
                            if written == out.len() {
                                break;
                            }
                            if result.bytes_consumed == 0 && result.bytes_written == 0 {
                                break;
                            }
                        }
                        // No progress without more input.
                        Err(MZError::Buf) => break,
                        Err(_) => return Err("the compressed data is corrupt"),
                    }
                }
                Stage::Trailer => {
                    let Some(trailer) = self.input.rest().get(..8) else {
                        break;
                    };
                    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
                    let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
                    if crc != self.crc.clone().finalize() {
                        return Err("the gzip data's checksum does not match");
                    }
                    if size != self.size {
                        return Err("the gzip data's length does not match");
                    }
                    self.input.pos += 8;
                    self.stage = Stage::Done;
                }
                Stage::Done => {
                    if !self.input.rest().is_empty() {
                        return Err("there is data after the end of the compressed data");
                    }
                    break;
                }
            }
        }
        if written == 0 && finish && self.stage != Stage::Done {
            return Err("the compressed data ends too early");
        }
        Ok(written)
    }
}

impl Encoder {
    /// Makes the next piece of output in `self.out` and returns its
    /// length (0: none until more input, or none at all once finished);
    /// see [`codec_step`].
    fn step(&mut self, finish: bool) -> usize {
        if self.finished {
            return 0;
        }
        let out = &mut self.out;
        let mut written = 0;
        if self.format == Format::Gzip && !self.header_written {
            // ID1 ID2 CM FLG MTIME(4) XFL OS(255: unknown), as browsers write it.
            out[..10].copy_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
            written = 10;
            self.header_written = true;
        }
        let flush = if finish {
            MZFlush::Finish
        } else {
            MZFlush::None
        };
        loop {
            let rest = self.input.rest();
            if rest.is_empty() && !finish {
                break;
            }
            let result = deflate(&mut self.compressor, rest, &mut out[written..PIECE], flush);
            if self.format == Format::Gzip {
                self.crc.update(&rest[..result.bytes_consumed]);
                self.size = self.size.wrapping_add(result.bytes_consumed as u32);
            }
            self.input.pos += result.bytes_consumed;
            written += result.bytes_written;
            match result.status {
                Ok(MZStatus::StreamEnd) => {
                    self.finished = true;
                    if self.format == Format::Gzip {
                        out[written..written + 4]
                            .copy_from_slice(&self.crc.clone().finalize().to_le_bytes());
                        out[written + 4..written + 8].copy_from_slice(&self.size.to_le_bytes());
                        written += 8;
                    }
                    break;
                }
                Ok(_) if written == PIECE => break,
                Ok(_) if result.bytes_consumed == 0 && result.bytes_written == 0 => break,
                Ok(_) => {}
                // Nothing more until there is more input.
                Err(_) => break,
            }
        }
        written
    }
}
