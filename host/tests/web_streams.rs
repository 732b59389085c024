//! Streams and compression inside the sandbox: the WHATWG Streams
//! standard's own examples, CompressionStream and DecompressionStream
//! against another implementation (flate2), fetch bodies as streams, a
//! gzip'd sitemap read through a pipe chain, and a gzip bomb. Each case runs
//! the real binary; the network ones against real servers on loopback.

mod support;

use std::io::{Read, Write};

use flate2::read::{DeflateDecoder, GzDecoder, ZlibDecoder};
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::{Compression, GzBuilder};
use serde_json::{json, Value};
use support::{run_fixture, Reply, SeenRequest, TestServer};

fn input(value: Value) -> String {
    value.to_string()
}

/// The text web-compression.js compresses, built the same way.
fn fixture_text() -> String {
    (0..4000)
        .map(|i| format!("line {i}: {} the quick brown fox\n", "é".repeat(i % 7)))
        .collect()
}

/// The format named in `?format=` of a request.
fn format_of(request: &SeenRequest) -> String {
    request
        .path
        .split("format=")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

fn compress(format: &str, bytes: &[u8]) -> Vec<u8> {
    match format {
        // A header with a file name and a comment, which a browser's
        // CompressionStream never writes but servers' gzip files have.
        "gzip" => {
            let mut gz = GzBuilder::new()
                .filename("page.txt")
                .comment("made by flate2")
                .write(Vec::new(), Compression::best());
            gz.write_all(bytes).unwrap();
            gz.finish().unwrap()
        }
        "deflate" => {
            let mut z = ZlibEncoder::new(Vec::new(), Compression::fast());
            z.write_all(bytes).unwrap();
            z.finish().unwrap()
        }
        _ => {
            let mut d = DeflateEncoder::new(Vec::new(), Compression::default());
            d.write_all(bytes).unwrap();
            d.finish().unwrap()
        }
    }
}

fn decompress(format: &str, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    match format {
        "gzip" => GzDecoder::new(bytes).read_to_end(&mut out)?,
        "deflate" => ZlibDecoder::new(bytes).read_to_end(&mut out)?,
        _ => DeflateDecoder::new(bytes).read_to_end(&mut out)?,
    };
    Ok(out)
}

#[test]
fn streams_behave_as_the_standards_examples_do() {
    let ran = run_fixture("web-streams.js", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state(),
        json!({
            "globals": [],
            "pushSource": ["chunk 1", "chunk 2", "chunk 3"],
            "backpressure": { "beforeRead": 3, "first": 1, "afterOneRead": 4 },
            "byob": {
                "bytes": [1, 2, 3, 4, 5, 6, 7, 8],
                "reads": [3, 3, 2],
                "givenBufferDetached": true,
                "minRead": 6
            },
            "tee": { "left": "abc", "right": "abc", "locked": true },
            "pipeAbort": {
                "written": [1, 2],
                "rejected": "AbortError",
                "cancelled": "AbortError",
                "aborted": "AbortError"
            },
            "errors": {
                "seen": ["FINE"],
                "forward": "TypeError: the source broke",
                "backward": "RangeError: the sink is full",
                "sourceCancelled": "the sink is full",
                "closed": "early"
            },
            "writableBackpressure": {
                "sizes": [2, 1, 0, -1],
                "order": ["wrote a", "wrote b", "ready", "wrote c", "closed"]
            },
            "templateTags": "Hello charm, you have 3 new items",
            "textStreams": { "roundTrip": true, "byteCount": 18 },
            "strategies": {
                "byteLength": [1024, 7],
                "count": [4, 1],
                "desired": [1024, 924],
                "locked": false
            }
        })
    );
}

#[test]
fn compression_streams_agree_with_another_implementation_and_fail_as_the_standard_says() {
    let text = fixture_text();
    let served = text.clone();
    let server = TestServer::start(vec![
        (
            "/upload",
            Box::new(move |request: &SeenRequest| {
                let format = format_of(request);
                let verdict = match decompress(&format, &request.body) {
                    Ok(bytes) if bytes == text.as_bytes() => "valid".to_string(),
                    Ok(bytes) => format!("different: {} bytes", bytes.len()),
                    Err(e) => format!("invalid: {e}"),
                };
                Reply::ok("text/plain", verdict)
            }),
        ),
        (
            "/compressed",
            Box::new(move |request: &SeenRequest| {
                let format = format_of(request);
                Reply::ok(
                    "application/octet-stream",
                    compress(&format, served.as_bytes()),
                )
            }),
        ),
    ]);
    let ran = run_fixture(
        "web-compression.js",
        &[
            "--allow-host",
            &server.host_port(),
            "--input",
            &input(json!({
                "upload": server.url("/upload"),
                "compressed": server.url("/compressed"),
            })),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let state = ran.state();
    for format in ["gzip", "deflate", "deflate-raw"] {
        let round_trip = &state["roundTrips"][format];
        assert_eq!(round_trip["smaller"], true, "{format}: {state}");
        assert_eq!(round_trip["equal"], true, "{format}: {state}");
        assert_eq!(round_trip["uint8"], true, "{format}: {state}");
        // About 190 KB of text comes out in pieces of at most 64 KiB.
        assert!(
            round_trip["pieces"].as_u64().unwrap() >= 3,
            "{format}: {state}"
        );
        assert_eq!(state["uploads"][format], "valid", "{format}: {state}");
        assert_eq!(state["fromServer"][format], fixture_text(), "{format}");
    }
    assert_eq!(
        state["errors"],
        json!({
            "corrupt": "TypeError: the compressed data is corrupt",
            "truncated": "TypeError: the compressed data ends too early",
            "trailing": "TypeError: there is data after the end of the compressed data",
            "checksum": "TypeError: the gzip data's checksum does not match",
            "wrongFormat": "TypeError: the compressed data is corrupt",
            "empty": "TypeError: the compressed data ends too early",
            "notBytes": "TypeError",
            "badFormat": "TypeError"
        })
    );
    assert_eq!(state["bufferSources"], "hi!");
}

/// A sitemap of `count` pages, some with an escaped `&` and some with
/// non-ASCII paths, so that multi-byte characters and entities fall across
/// the pieces the pipe chain makes.
fn sitemap(count: usize) -> (String, Vec<String>) {
    let urls: Vec<String> = (0..count)
        .map(|i| match i % 3 {
            0 => format!(
                "https://shop.example/products/{i}?ref=sitemap&page={}",
                i / 3
            ),
            1 => format!("https://shop.example/catégorie/été-{i}"),
            _ => format!("https://shop.example/p/{i}"),
        })
        .collect();
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for (i, url) in urls.iter().enumerate() {
        xml.push_str(&format!(
            "  <url>\n    <loc>{}</loc>\n    <lastmod>2026-11-{:02}</lastmod>\n    <changefreq>daily</changefreq>\n  </url>\n",
            url.replace('&', "&amp;"),
            1 + i % 28
        ));
    }
    xml.push_str("</urlset>\n");
    (xml, urls)
}

#[test]
fn a_gzipped_sitemap_is_read_through_decompression_and_text_streams() {
    let (xml, urls) = sitemap(3000);
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(xml.as_bytes()).unwrap();
    let body = gz.finish().unwrap();
    assert!(
        xml.len() > 4 * 64 * 1024,
        "the sitemap should span several pieces"
    );
    let server = TestServer::start(vec![(
        "/sitemap.xml.gz",
        Box::new(move |_: &SeenRequest| Reply::ok("application/gzip", body.clone())),
    )]);
    let known: Vec<&String> = urls.iter().take(1000).collect();
    let ran = run_fixture(
        "web-sitemap.js",
        &[
            "--allow-host",
            &server.host_port(),
            "--state",
            &json!({ "urls": known }).to_string(),
            "--input",
            &input(json!({ "url": server.url("/sitemap.xml.gz") })),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let state = ran.state();
    let got: Vec<String> = serde_json::from_value(state["urls"].clone()).unwrap();
    assert_eq!(got.len(), urls.len());
    assert_eq!(got, urls);
    assert_eq!(state["added"], 2000);
    assert_eq!(state["bodyUsed"], true);
    assert!(
        state["chunks"].as_u64().unwrap() >= 4,
        "{}",
        state["chunks"]
    );
}

#[test]
fn response_and_request_bodies_are_streams() {
    let server = TestServer::start(vec![
        (
            "/text",
            Box::new(|_: &SeenRequest| Reply::ok("text/plain; charset=utf-8", "héllo, streams")),
        ),
        (
            "/echo",
            Box::new(|request: &SeenRequest| {
                Reply::ok("application/octet-stream", request.body.clone())
            }),
        ),
    ]);
    let ran = run_fixture(
        "web-body-streams.js",
        &[
            "--allow-host",
            &server.host_port(),
            "--input",
            &input(json!({ "text": server.url("/text"), "echo": server.url("/echo") })),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state(),
        json!({
            "isStream": true,
            "usedWhileLocked": false,
            "lockedText": "TypeError",
            "received": "héllo, streams",
            "usedAfterRead": true,
            "afterRead": "TypeError",
            "byobFirst": "héll",
            "copyText": "héllo, streams",
            "echoed": "part 1;part 2;part 3;",
            "pulled": 3,
            "binary": [255, 0, 128, 65],
            "madeJson": { "from": "a stream" },
            "noDuplex": "TypeError",
            "overLimit": "TypeError: fetch: the body stream is larger than the limit of 1048576 bytes",
            "abortedWhileReading": "TimeoutError",
            "usedStream": "TypeError"
        })
    );
    // The over-limit and the aborted streams never reached the network;
    // the others arrived whole.
    let requests = server.requests();
    let posts: Vec<(&str, Vec<u8>)> = requests
        .iter()
        .filter(|r| r.path == "/echo")
        .map(|r| (r.method.as_str(), r.body.clone()))
        .collect();
    assert_eq!(
        posts,
        vec![
            ("POST", b"part 1;part 2;part 3;".to_vec()),
            ("PUT", vec![0xff, 0x00, 0x80, 0x41]),
        ]
    );
}

/// A gzip of `size` zero bytes: about a thousandth of the size.
fn zeros_gz(size: usize) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    let block = vec![0u8; 1 << 20];
    for _ in 0..size / block.len() {
        gz.write_all(&block).unwrap();
    }
    gz.finish().unwrap()
}

#[test]
fn a_gzip_bomb_read_piece_by_piece_stays_small_and_read_whole_hits_the_memory_limit() {
    // 96 MiB inflated, more than the 64 MiB memory limit.
    let body = zeros_gz(96 << 20);
    assert!(body.len() < 200 * 1024);
    let server = TestServer::start(vec![(
        "/bomb.gz",
        Box::new(move |_: &SeenRequest| Reply::ok("application/gzip", body.clone())),
    )]);
    let url = server.url("/bomb.gz");
    let allow = server.host_port();
    let run = |mode: &str| {
        let given = input(json!({ "url": url, "mode": mode }));
        run_fixture(
            "gzip-bomb.js",
            &["--allow-host", &allow, "--input", &given, "--stats"],
        )
    };
    let ran = run("pieces");
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state(),
        json!({ "bytes": 96 << 20, "largest": 64 * 1024 })
    );
    // The whole of linear memory at its peak, the runtime's snapshot
    // included: a few pieces' worth above a trivial run's 5 MiB.
    let peak_mib: f64 = ran
        .stderr
        .split("memory ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no memory figure: {ran:?}"));
    assert!(peak_mib < 16.0, "{peak_mib} MiB: {ran:?}");
    let ran = run("whole");
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(
        ran.stderr.contains("exceeded the memory limit (64 MiB"),
        "{ran:?}"
    );
}
