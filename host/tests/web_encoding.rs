//! The encoding family of web APIs through the real binary: TextDecoder and
//! TextEncoder, atob and btoa, Blob, File, FormData and structuredClone on
//! the standards' own examples, and two integrations against loopback
//! servers: a windows-1252 RSS feed and a multipart upload.

mod support;

use serde_json::{json, Value};
use support::{run_fixture, Ran, Reply, TestServer};

fn ok(ran: &Ran) -> Value {
    assert_eq!(ran.code, 0, "{ran:?}");
    ran.state()
}

#[test]
fn text_decoder_knows_every_label_and_the_legacy_encodings() {
    let state = ok(&run_fixture("web-encoding.js", &[]));
    assert_eq!(
        state["names"],
        json!([
            "utf-8",
            "utf-8",
            "utf-8",
            "windows-1252",
            "windows-1252",
            "windows-1252",
            "windows-1252",
            "windows-1252",
            "iso-8859-2",
            "koi8-r",
            "shift_jis",
            "gbk",
            "gb18030",
            "big5",
            "euc-kr",
            "iso-2022-jp",
            "utf-16le",
            "utf-16be",
            "x-user-defined"
        ])
    );
    // An unknown label, and the replacement encoding's, are RangeErrors.
    assert_eq!(
        state["badLabels"],
        json!(["RangeError: true", "RangeError: true"])
    );
    assert_eq!(state["cp1252"], "\u{201C}Hi\u{201D} \u{2013} éü €");
    // The standard maps the Latin-1 labels to windows-1252.
    assert_eq!(state["latin1"], "é€");
    let legacy = &state["legacy"];
    assert_eq!(legacy["shiftJis"], "あ日");
    assert_eq!(legacy["eucKr"], "한");
    assert_eq!(legacy["big5"], "中");
    assert_eq!(legacy["gbk"], "中");
    assert_eq!(legacy["koi8"], "При");
    assert_eq!(legacy["userDefined"], json!(["41", "f780", "f7ff"]));
}

#[test]
fn text_decoder_fatal_bom_and_streaming_follow_the_standard() {
    let state = ok(&run_fixture("web-encoding.js", &[]));
    let fatal = &state["fatal"];
    assert_eq!(fatal["utf8"], "TypeError: true");
    assert_eq!(fatal["truncated"], "TypeError: true");
    assert_eq!(fatal["shiftJis"], "TypeError: true");
    assert_eq!(fatal["valid"], "€");
    // a, U+FFFD for C3, "(", U+FFFD for FF, one U+FFFD for the cut F0 9F 98, b.
    assert_eq!(
        fatal["replaced"],
        json!(["61", "fffd", "28", "fffd", "fffd", "62"])
    );
    assert_eq!(fatal["flags"], json!([true, false]));

    let bom = &state["bom"];
    assert_eq!(bom["utf8"], "A");
    assert_eq!(bom["kept"], json!(["feff", "41"]));
    assert_eq!(bom["utf16le"], "A");
    assert_eq!(bom["utf16be"], "A😀");
    // Another encoding's BOM is data: EF BB as U+BBEF, BF 00 as U+00BF.
    assert_eq!(bom["otherBom"], json!(["bbef", "bf"]));
    assert_eq!(bom["ignoreFlag"], true);

    // The euro sign (E2 82 AC) cut after two bytes comes out whole.
    assert_eq!(state["stream"], json!(["A", "€B", ""]));
    // A stream that ends inside a character flushes U+FFFD, or throws
    // when fatal; the decoder then starts afresh.
    assert_eq!(state["flushed"], json!(["fffd"]));
    assert_eq!(state["flushedFatal"], "TypeError: true");
    assert_eq!(state["afterError"], "A");
    // A surrogate pair fed one byte at a time.
    assert_eq!(state["emoji"], "😀");
    // ISO-2022-JP's mode (set by ESC $ B) carries across chunks.
    assert_eq!(state["jisText"], json!(["", "あい", "A"]));
    assert_eq!(
        state["sources"],
        json!(["héllo", "héllo", "xhéllox", "hi", "TypeError: true"])
    );
    assert_eq!(
        state["tags"],
        json!(["[object TextDecoder]", "[object TextEncoder]"])
    );
}

#[test]
fn text_encoder_encodes_and_encodes_into_a_short_buffer() {
    let state = ok(&run_fixture("web-encoding.js", &[]));
    let encode = &state["encode"];
    assert_eq!(encode["encoding"], "utf-8");
    assert_eq!(
        encode["utf8"],
        json!([0x41, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80])
    );
    // A lone surrogate is encoded as U+FFFD.
    assert_eq!(
        encode["loneSurrogate"],
        json!([0x61, 0xef, 0xbf, 0xbd, 0x62])
    );
    assert_eq!(encode["empty"], 0);
    // "A€😀" into 5 bytes: A and € fit (4 bytes, 2 UTF-16 code units); the
    // emoji's 4 bytes do not, and nothing of it is written.
    assert_eq!(encode["into"], json!([2, 4, [0x41, 0xe2, 0x82, 0xac, 0]]));
    // "héllo😀": 7 code units read, 10 bytes written.
    assert_eq!(encode["fits"], json!({"read": 7, "written": 10}));
    assert_eq!(encode["loneInto"], json!({"read": 2, "written": 4}));
    assert_eq!(encode["notUint8"], "TypeError: true");
}

#[test]
fn atob_and_btoa_are_forgiving_base64() {
    let state = ok(&run_fixture("web-encoding.js", &[]));
    let base64 = &state["base64"];
    assert_eq!(base64["btoa"], "SGVsbG8sIHdvcmxkIQ==");
    assert_eq!(base64["btoaLatin1"], "//4A");
    // ASCII whitespace is ignored, padding is optional.
    assert_eq!(base64["atob"], "Hello");
    assert_eq!(base64["noPadding"], "a");
    assert_eq!(base64["binary"], json!([255, 0, 128]));
    // Leftover bits that are not zero are discarded, not an error.
    assert_eq!(base64["trailingBits"], "a");
    // InvalidCharacterError is DOMException code 5; a missing argument is
    // a TypeError.
    assert_eq!(
        base64["errors"],
        json!([
            "InvalidCharacterError: 5",
            "InvalidCharacterError: 5",
            "InvalidCharacterError: 5",
            "InvalidCharacterError: 5",
            "InvalidCharacterError: 5",
            "TypeError: true"
        ])
    );
}

#[test]
fn blob_and_file_slice_normalise_and_read_as_the_file_api_says() {
    let state = ok(&run_fixture("web-blob-formdata.js", &[]));
    let blobs = &state["blobs"];
    assert_eq!(
        blobs["basics"],
        json!([12, "text/plain", "Hello, world", "[object Blob]"])
    );
    assert_eq!(
        blobs["slices"],
        json!(["world", "worl", "", "Hello", "image/png", "", 2])
    );
    // A type with a character outside printable ASCII becomes "".
    assert_eq!(blobs["types"], json!(["", " x ", 0]));
    assert_eq!(blobs["endings"], json!(["a\nb\nc\n", 4, "TypeError"]));
    // The constructor copies a buffer source: changing it later does not
    // change the Blob.
    assert_eq!(blobs["copied"], json!([1, 2, 3, 4]));
    assert_eq!(blobs["arrayBuffer"], 2);
    assert_eq!(blobs["notASequence"], "TypeError");
    // "é" is 2 bytes, the lone surrogate becomes U+FFFD (3 bytes).
    assert_eq!(blobs["utf8"], 5);
    let stream = state["stream"].as_str().unwrap();
    assert!(
        stream == "Hello, world"
            || stream.starts_with("TypeError: Blob.stream: ReadableStream is not available"),
        "{stream}"
    );

    let files = &state["files"];
    assert_eq!(
        files["file"],
        json!(["a.txt", 42, "text/plain", 3, true, "[object File]"])
    );
    assert_eq!(files["sliceIsBlob"], false);
    assert_eq!(files["lastModifiedNow"], true);
    assert_eq!(files["needsName"], "TypeError");
}

#[test]
fn formdata_keeps_order_and_turns_blobs_into_files() {
    let state = ok(&run_fixture("web-blob-formdata.js", &[]));
    let forms = &state["forms"];
    assert_eq!(
        forms["entries"],
        json!([
            ["a", "1"],
            ["b", ["File", "blob", "text/plain", 3]],
            ["a", "2"],
            ["c", ["File", "renamed.txt", "text/plain", 3]],
            ["d", ["File", "a.txt", "text/plain", 3]],
            ["e", "x\r\ny"]
        ])
    );
    assert_eq!(forms["get"], json!(["1", null, ["1", "2"], true, false]));
    assert_eq!(forms["sameFile"], true);
    assert_eq!(forms["renamedKeepsDate"], 42);
    assert_eq!(forms["filenameNeedsBlob"], "TypeError");
    assert_eq!(forms["noForms"], "TypeError");
    // set() replaces the first "a" in place and drops the second.
    assert_eq!(forms["afterSetDelete"], json!(["a", "c", "d", "e"]));
    assert_eq!(forms["live"], json!(["a", "c", "d", "e", "late"]));
    assert_eq!(forms["forEach"], 5);
}

#[test]
fn blob_and_formdata_bodies_round_trip_through_request_and_response() {
    let state = ok(&run_fixture("web-blob-formdata.js", &[]));
    let bodies = &state["bodies"];
    assert_eq!(bodies["blob"], json!(["text/plain", "Hello, world"]));
    assert_eq!(bodies["untypedBlob"], Value::Null);
    assert_eq!(bodies["contentType"], true);
    assert_eq!(bodies["freshBoundary"], true);
    // HTML's escaping: names and string values get CRLF line breaks, then
    // names and filenames escape LF, CR and '"'.
    assert_eq!(bodies["escaped"], json!([true, true, true, true, true]));
    assert_eq!(
        bodies["back"],
        json!([
            ["we\"ird\r\nname", "line1\r\nline2"],
            ["file", ["File", "qu\"ote\r.bin", "application/x-thing", 6]],
            ["blob", ["File", "blob", "application/octet-stream", 1]]
        ])
    );
    assert_eq!(bodies["backBytes"], json!([0, 255, 13, 10, 45, 45]));

    let responses = &state["responses"];
    assert_eq!(
        responses["urlencoded"],
        json!([
            ["a", "1"],
            ["b", "é x"],
            ["c", ""],
            ["", "d"],
            ["e", "%zz"],
            ["f", "A%4"]
        ])
    );
    // res.blob()'s type is the body's MIME type, serialised.
    assert_eq!(responses["blob"], json!(["text/plain;charset=UTF-8", "hi"]));
    for case in ["notForm", "noBoundary", "truncated"] {
        assert!(
            responses[case]
                .as_str()
                .is_some_and(|e| e.starts_with("TypeError: formData: ")),
            "{case}: {}",
            responses[case]
        );
    }
    assert_eq!(responses["quotedBoundary"], json!([["k", "v"]]));
}

#[test]
fn structured_clone_keeps_cycles_shared_references_and_types() {
    let state = ok(&run_fixture("web-structured-clone.js", &[]));
    let graph = &state["graph"];
    assert_eq!(graph["fresh"], true);
    assert_eq!(graph["cycle"], true);
    assert_eq!(graph["shared"], true);
    assert_eq!(graph["holes"], json!([3, false, 3]));
    assert_eq!(graph["date"], json!([true, 86400000, true]));
    // lastIndex is not part of a RegExp's serialisation.
    assert_eq!(graph["re"], json!([true, "ab+c", "giu", 0]));
    assert_eq!(graph["big"], json!(["bigint", true]));
    assert_eq!(graph["undefinedKept"], true);
    assert_eq!(graph["getterValue"], 5);
    assert_eq!(graph["protoKey"], json!([true, true]));
    assert_eq!(graph["hidden"], false);
    assert_eq!(graph["primitives"], json!(["0", "NaN", "s", "null"]));
    assert_eq!(graph["negativeZero"], true);

    let collections = &state["collections"];
    assert_eq!(collections["map"], json!([true, 2, true, 1, true]));
    assert_eq!(collections["set"], json!([true, true, true]));
    assert_eq!(collections["boxed"], json!([true, true, true, "object"]));

    let binary = &state["binary"];
    assert_eq!(binary["sharedBuffer"], true);
    assert_eq!(binary["view"], json!(["Uint8Array", 2, 4, 7]));
    assert_eq!(binary["floats"], json!([1.5, -2]));
    // The transferred buffer is detached; views into it follow it.
    assert_eq!(binary["transfer"], json!([0, true, [1, 2, 3], true]));
    assert_eq!(
        binary["transferErrors"],
        json!([
            "DataCloneError 25",
            "DataCloneError 25",
            "DataCloneError 25",
            "TypeError"
        ])
    );

    let errors = &state["errors"];
    assert_eq!(
        errors["range"],
        json!([true, "RangeError", "boom", "string"])
    );
    // A name outside the standard's seven becomes Error.
    assert_eq!(errors["named"], json!(["Error", "odd"]));
    assert_eq!(errors["noMessage"], false);
    assert_eq!(errors["dom"], json!([true, "AbortError", "gone", 20]));
    assert_eq!(
        state["blobs"],
        json!([true, "f.txt", 5, "text/plain", "abc"])
    );
    assert_eq!(state["point"], json!([true, 1]));
}

#[test]
fn structured_clone_refuses_functions_symbols_and_exotic_objects() {
    let state = ok(&run_fixture("web-structured-clone.js", &[]));
    assert_eq!(
        state["refused"],
        json!([
            "DataCloneError 25",
            "DataCloneError 25",
            "DataCloneError 25",
            "DataCloneError 25",
            "DataCloneError 25",
            "DataCloneError 25",
            "DataCloneError 25",
            // URL, Headers, AbortSignal, ReadableStream.
            "DataCloneError 25",
            "DataCloneError 25",
            "DataCloneError 25",
            "DataCloneError 25",
            "TypeError"
        ])
    );
}

#[test]
fn structured_clone_of_deep_values_neither_overflows_nor_costs_quadratic_fuel() {
    let state = ok(&run_fixture("web-structured-clone.js", &[]));
    assert_eq!(state["deep"], json!([50000, 50000]));
    let run = |levels: u32| {
        let ran = run_fixture(
            "web-structured-clone.js",
            &[
                "--stats",
                "--input",
                &json!({ "levels": levels }).to_string(),
            ],
        );
        assert_eq!(ok(&ran)["deep"], json!([levels, levels]));
        ran.fuel()
    };
    let (small, large) = (run(10_000), run(40_000));
    // Four times the depth: about four times the fuel (quadratic would be
    // sixteen).
    assert!(
        large < small * 6,
        "40,000 levels used {large} fuel, 10,000 levels {small}"
    );
}

/// `text` in windows-1252: Latin-1 as itself, and the punctuation the
/// encoding keeps in 0x80-0x9F.
fn windows_1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '€' => 0x80,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '–' => 0x96,
            '—' => 0x97,
            c => u8::try_from(u32::from(c)).expect("a character windows-1252 has"),
        })
        .collect()
}

const FEED: &str = "<?xml version=\"1.0\" encoding=\"windows-1252\"?>\n\
<rss version=\"2.0\"><channel><title>“Café” — Nouvelles</title>\n\
<item><title>Über die Brücke – ein Bericht</title></item>\n\
<item><title>Prix : 5 € à Genève</title></item>\n\
<item><title>It’s “quoted” déjà</title></item>\n\
</channel></rss>\n";

#[test]
fn a_windows_1252_rss_feed_reads_correctly_with_res_text() {
    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(FEED.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let server = TestServer::start(vec![
        (
            "/feed.xml",
            Box::new(|_| {
                Reply::ok(
                    "application/rss+xml; charset=windows-1252",
                    windows_1252(FEED),
                )
            }),
        ),
        (
            // A BOM outranks the declared charset.
            "/bom.xml",
            Box::new(move |_| {
                Reply::ok("application/rss+xml; charset=windows-1252", utf16.clone())
            }),
        ),
        (
            "/utf8.xml",
            Box::new(|_| Reply::ok("application/rss+xml", FEED)),
        ),
        (
            "/city.json",
            Box::new(|_| {
                Reply::ok(
                    "application/json;charset=\"ISO-8859-1\"",
                    windows_1252("{\"city\":\"Zürich\"}"),
                )
            }),
        ),
    ]);
    let ran = run_fixture(
        "web-rss-1252.js",
        &[
            "--allow-host",
            &server.host_port(),
            "--input",
            &json!({
                "feedUrl": server.url("/feed.xml"),
                "bomUrl": server.url("/bom.xml"),
                "utf8Url": server.url("/utf8.xml"),
                "jsonUrl": server.url("/city.json"),
            })
            .to_string(),
        ],
    );
    let state = ok(&ran);
    let titles = json!([
        "“Café” — Nouvelles",
        "Über die Brücke – ein Bericht",
        "Prix : 5 € à Genève",
        "It’s “quoted” déjà"
    ]);
    assert_eq!(
        state["contentType"],
        "application/rss+xml; charset=windows-1252"
    );
    assert_eq!(state["encoding"], "windows-1252");
    assert_eq!(state["titles"], titles);
    assert_eq!(state["bomTitles"], titles);
    assert_eq!(state["utf8Titles"], titles);
    assert_eq!(state["json"], json!({"city": "Zürich"}));
}

/// One part of a multipart/form-data body.
#[derive(Debug, PartialEq)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

fn position(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A strict parser of RFC 7578 bodies, for what the test server received:
/// every boundary line, header and CRLF where the RFC puts them.
fn parse_multipart(content_type: &str, body: &[u8]) -> Vec<Part> {
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("not multipart: {content_type}"));
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    let first = &delimiter[2..];
    assert!(body.starts_with(first), "the body starts with its boundary");
    let mut at = first.len();
    let mut parts = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            assert_eq!(
                &body[at + 2..],
                b"\r\n",
                "nothing after the close delimiter"
            );
            return parts;
        }
        assert!(body[at..].starts_with(b"\r\n"), "CRLF after a boundary");
        at += 2;
        let head_len = position(&body[at..], b"\r\n\r\n").expect("a part's headers end");
        let head = std::str::from_utf8(&body[at..at + head_len]).expect("UTF-8 headers");
        at += head_len + 4;
        let content_len = position(&body[at..], &delimiter).expect("a part is closed");
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            body: body[at..at + content_len].to_vec(),
        };
        at += content_len + delimiter.len();
        for line in head.split("\r\n") {
            let (name, value) = line.split_once(": ").expect("a header line");
            match name.to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    let mut fields = value.split("; ");
                    assert_eq!(fields.next(), Some("form-data"));
                    for field in fields {
                        let (key, quoted) = field.split_once('=').expect("a parameter");
                        let unquoted = quoted
                            .strip_prefix('"')
                            .and_then(|q| q.strip_suffix('"'))
                            .expect("a quoted parameter")
                            .to_string();
                        match key {
                            "name" => part.name = unquoted,
                            "filename" => part.filename = Some(unquoted),
                            other => panic!("unexpected parameter {other}"),
                        }
                    }
                }
                "content-type" => part.content_type = Some(value.to_string()),
                other => panic!("unexpected header {other}"),
            }
        }
        parts.push(part);
    }
}

#[test]
fn a_multipart_upload_reaches_the_server_intact() {
    let answer_form = "--XyZ\r\n\
        Content-Disposition: form-data; name=\"greeting\"\r\n\r\n\
        Grüße\r\n\
        --XyZ\r\n\
        Content-Disposition: form-data; name=\"report\"; filename=\"r.csv\"\r\n\
        Content-Type: text/csv\r\n\r\n\
        a,b\r\n1,2\r\n\
        --XyZ--\r\n";
    let server = TestServer::start(vec![
        (
            "/upload",
            Box::new(|_| Reply::ok("application/json", r#"{"stored":true}"#)),
        ),
        (
            "/form",
            Box::new(move |_| Reply::ok("multipart/form-data; boundary=XyZ", answer_form)),
        ),
    ]);
    let ran = run_fixture(
        "web-multipart-upload.js",
        &[
            "--allow-host",
            &server.host_port(),
            "--input",
            &json!({ "uploadUrl": server.url("/upload"), "formUrl": server.url("/form") })
                .to_string(),
        ],
    );
    let state = ok(&ran);
    assert_eq!(state["status"], 200);
    assert_eq!(state["answer"], json!({"stored": true}));
    assert_eq!(
        state["entries"],
        json!([
            ["greeting", "Grüße"],
            ["report", "r.csv", "text/csv", b"a,b\r\n1,2".to_vec()]
        ])
    );

    let upload = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/upload")
        .expect("the upload reached the server");
    assert_eq!(upload.method, "POST");
    let parts = parse_multipart(&upload.headers["content-type"], &upload.body);
    assert_eq!(
        parts,
        vec![
            Part {
                name: "title".into(),
                filename: None,
                content_type: None,
                body: "Rapport d’été".as_bytes().to_vec(),
            },
            Part {
                name: "attachment".into(),
                filename: Some("données.bin".into()),
                content_type: Some("application/octet-stream".into()),
                body: (0..=255).collect(),
            },
            Part {
                name: "notes".into(),
                filename: Some("notes.txt".into()),
                content_type: Some("text/plain".into()),
                body: b"line 1\nline 2".to_vec(),
            },
        ]
    );
}
