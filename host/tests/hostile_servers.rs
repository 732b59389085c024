//! Servers that misbehave: each case must end in a clear, catchable error
//! within the limits, and, left uncaught, in the limit it names.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};
use support::{run_fixture, Ran, RawServer, Reply, TestServer};

fn probe(url: &str, read_as: &str, catch: bool, args: &[&str]) -> Ran {
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let input = json!({ "url": url, "as": read_as, "catch": catch }).to_string();
    let mut all = vec!["--input", &input, "--allow-host", &host];
    all.extend_from_slice(args);
    run_fixture("fetch-probe.js", &all)
}

fn caught(ran: &Ran) -> String {
    assert_eq!(ran.code, 0, "{ran:?}");
    ran.state()["caught"]
        .as_str()
        .unwrap_or_else(|| panic!("expected a caught error: {ran:?}"))
        .to_string()
}

fn write_slowly(mut stream: TcpStream, head: &str, byte_every: Duration, bytes: usize) {
    let _ = stream.write_all(head.as_bytes());
    for _ in 0..bytes {
        thread::sleep(byte_every);
        if stream.write_all(b"x").is_err() {
            return;
        }
    }
}

#[test]
fn a_server_that_never_answers_hits_the_fetch_time_limit() {
    let server = RawServer::start(|_stream| thread::sleep(Duration::from_secs(60)));
    let message = caught(&probe(
        &server.url("/"),
        "text",
        true,
        &["--fetch-timeout-ms", "300"],
    ));
    assert_eq!(message, "TypeError: fetch from `127.0.0.1` failed: no complete response within 300 ms (fetch_timeout_ms)");

    let ran = probe(
        &server.url("/"),
        "text",
        false,
        &["--fetch-timeout-ms", "300"],
    );
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(
        ran.stderr
            .contains("waited on a fetch longer than the fetch time limit (300 ms"),
        "{ran:?}"
    );
}

#[test]
fn a_trickling_body_hits_the_fetch_time_limit() {
    let server = RawServer::start(|s| {
        write_slowly(
            s,
            "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n",
            Duration::from_millis(50),
            1000,
        )
    });
    let message = caught(&probe(
        &server.url("/"),
        "text",
        true,
        &["--fetch-timeout-ms", "500"],
    ));
    assert!(
        message.contains("no complete response within 500 ms"),
        "{message}"
    );
}

#[test]
fn the_run_deadline_ends_a_fetch_that_outlasts_the_run() {
    let server = RawServer::start(|_stream| thread::sleep(Duration::from_secs(60)));
    let ran = probe(
        &server.url("/"),
        "text",
        true,
        &["--timeout-ms", "300", "--fetch-timeout-ms", "20000"],
    );
    assert_eq!(
        ran.code, 4,
        "catching does not help against the run's own deadline: {ran:?}"
    );
    assert!(
        ran.stderr.contains("exceeded the time limit (300 ms"),
        "{ran:?}"
    );
}

#[test]
fn huge_bodies_hit_the_response_size_limit_streamed_declared_or_compressed() {
    let streamed = RawServer::start(|mut s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n");
        let chunk = vec![b'z'; 64 * 1024];
        for _ in 0..256 {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let declared = RawServer::start(|mut s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000000000\r\n\r\nshort");
    });
    let bomb = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![0u8; 64 * 1024 * 1024]).unwrap();
        gz.finish().unwrap()
    };
    assert!(
        bomb.len() < 200_000,
        "the bomb is small on the wire: {}",
        bomb.len()
    );
    let gzip = RawServer::start(move |mut s| {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
            bomb.len()
        );
        let _ = s
            .write_all(head.as_bytes())
            .and_then(|_| s.write_all(&bomb));
    });
    for server in [&streamed, &declared, &gzip] {
        let message = caught(&probe(
            &server.url("/"),
            "bytes",
            true,
            &["--max-fetch-response-bytes", "1000000"],
        ));
        assert!(
            message.contains("the response body exceeded the limit of 1000000 bytes"),
            "{message}"
        );
    }
    let ran = probe(
        &gzip.url("/"),
        "bytes",
        false,
        &["--max-fetch-response-bytes", "1000000"],
    );
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(
        ran.stderr
            .contains("over the response size limit (1000000 bytes"),
        "{ran:?}"
    );
}

#[test]
fn huge_headers_are_a_catchable_network_error() {
    let server = RawServer::start(|mut s| {
        let mut head = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..2000 {
            head.push_str(&format!("x-junk-{i}: {}\r\n", "h".repeat(1000)));
        }
        head.push_str("content-length: 2\r\n\r\nok");
        let _ = s.write_all(head.as_bytes());
    });
    let message = caught(&probe(&server.url("/"), "text", true, &[]));
    assert!(
        message.starts_with("TypeError: fetch from `127.0.0.1` failed"),
        "{message}"
    );
}

#[test]
fn an_endless_redirect_loop_stops_after_ten_hops() {
    let server = TestServer::start(vec![("/loop", Box::new(|_| Reply::redirect("/loop")))]);
    let message = caught(&probe(&server.url("/loop"), "text", true, &[]));
    assert!(message.contains("more than 10 redirects"), "{message}");
    assert_eq!(
        server.requests().len(),
        11,
        "the first request and ten redirects"
    );
}

#[test]
fn invalid_utf8_is_replaced_and_invalid_json_is_a_syntax_error() {
    let server = TestServer::start(vec![
        (
            "/bytes",
            // Not FF FE: that is UTF-16LE's byte order mark, which
            // res.text() honours (the BOM decides before the charset).
            Box::new(|_| Reply::ok("text/plain", vec![0xff, 0x80, b'a'])),
        ),
        (
            "/json",
            Box::new(|_| Reply::ok("application/json", "{nope")),
        ),
    ]);
    let ran = probe(&server.url("/bytes"), "text", false, &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state()["body"],
        Value::String("\u{fffd}\u{fffd}a".into())
    );

    let message = caught(&probe(&server.url("/json"), "json", true, &[]));
    assert!(
        message.starts_with(&format!(
            "SyntaxError: response from {} is not valid JSON",
            server.url("/json")
        )),
        "{message}"
    );
}

#[test]
fn header_values_are_bytes_both_ways_not_utf8() {
    // A raw server: the request head is kept as bytes, and the answer
    // carries the single byte 0xE9 (Latin-1 `é`) in a header value.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (head_tx, head_rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let _ = stream.write_all(
            b"HTTP/1.1 200 OK\r\nx-latin: caf\xe9\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        );
        let _ = head_tx.send(head);
    });
    let input = json!({ "url": format!("http://{addr}/") }).to_string();
    let ran = run_fixture(
        "header-bytes.js",
        &["--input", &input, "--allow-host", &addr.to_string()],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state(),
        json!({ "received": "caf\u{e9}", "codes": [99, 97, 102, 0xe9] })
    );
    let head = head_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let sent = b"x-sent: caf\xe9\r\n";
    assert!(
        head.windows(sent.len()).any(|w| w == sent),
        "the request head: {}",
        String::from_utf8_lossy(&head)
    );
}
