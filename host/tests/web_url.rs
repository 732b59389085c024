//! URL, URLSearchParams and URLPattern inside the sandbox: the URL
//! standard's own examples, fetch with URL inputs and URLSearchParams
//! bodies, and an integration that pages an API with a bearer token against
//! a real server on loopback.

mod support;

use std::collections::HashMap;

use serde_json::{json, Value};
use support::{run_fixture, Ran, Reply, SeenRequest, TestServer};

/// Runs a fixture that needs no network and returns its state.
fn state_of(fixture: &str) -> Value {
    let ran = run_fixture(fixture, &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    ran.state()
}

#[test]
fn urls_parse_as_the_standards_examples_say() {
    let state = state_of("web-url.js");
    assert_eq!(
        state["parsing"],
        json!([
            "https://example.org/",
            "https://example.com///",
            "https://example.com/foo",
            "hello:world",
            "https://example.com/example.org",
            "https://example.com/demo/",
            "https://example.com/example",
            // The standard has "file:///C:/demo"; the url crate (and so the
            // host's allow-list) keeps the "|" (see the README).
            "file:///C|/demo",
            "file:///C:/",
            "file:///",
            "https://user:password@example.org/",
            "https://example.org/foo%20bar",
            "https://example.com/x",
            "TypeError",
            "TypeError",
            "TypeError",
            "TypeError",
            "https://example.org//",
            "https://example.com/[]?[]#[]",
            "https://example/%?%#%",
            "https://example/%25?%25#%25",
            "http://127.0.0.1/",
            "http://127.0.0.1/",
            "http://[::1]/",
            "https://xn--fa-hia.example/",
            "https://example.com/",
        ])
    );
}

#[test]
fn a_url_has_the_standards_components() {
    let state = state_of("web-url.js");
    assert_eq!(
        state["components"],
        json!({
            "href": "https://user:pa%20ss@example.org:8080/a/c?x=1&y=2#frag",
            "origin": "https://example.org:8080",
            "protocol": "https:",
            "username": "user",
            "password": "pa%20ss",
            "host": "example.org:8080",
            "hostname": "example.org",
            "port": "8080",
            "pathname": "/a/c",
            "search": "?x=1&y=2",
            "hash": "#frag",
            "json": "{\"url\":\"https://user:pa%20ss@example.org:8080/a/c?x=1&y=2#frag\"}",
            "string": "https://user:pa%20ss@example.org:8080/a/c?x=1&y=2#frag",
            "opaqueOrigin": "null",
            "defaultPort": "",
            "blobOrigin": "https://example.org",
        })
    );
}

#[test]
fn setters_follow_the_state_overrides() {
    let state = state_of("web-url.js");
    assert_eq!(
        state["setters"],
        json!({
            "protocol": "https://example.org/path?q=1#h",
            "protocolIgnored": "https:",
            "credentials": "https://us%20er:p%40ss@example.org/path?q=1#h",
            "host": "https://us%20er:p%40ss@example.com:8443/path?q=1#h",
            // A ":" invalidates the whole value of the hostname setter.
            "hostname": "https://us%20er:p%40ss@example.com:8443/path?q=1#h",
            "port": "8080",
            "defaultPort": ["", "example.com"],
            "badPort": "",
            "pathname": "/a%20b/c",
            "search": "?x%20y=1",
            "hash": "#x%20y",
            "cleared": "https://us%20er:p%40ss@example.com/a%20b/c",
            "noHost": "mailto:someone@example.org",
            "badHref": "TypeError",
            "href": ["https://example.com/new?a=b", "b"],
        })
    );
}

#[test]
fn search_params_and_the_query_stay_in_step_both_ways() {
    let state = state_of("web-url.js");
    assert_eq!(
        state["link"],
        json!({
            "sorted": "?key=e1f7bc78&q=%F0%9F%8F%B3%EF%B8%8F%E2%80%8D%F0%9F%8C%88",
            "appended": "https://example.org/?key=e1f7bc78&q=%F0%9F%8F%B3%EF%B8%8F%E2%80%8D%F0%9F%8C%88&a=b+c",
            "fromSearch": [["1", "2"], 2, true],
            "emptied": "https://example.org/",
            "withHash": "https://example.org/?z=1#keep",
        })
    );
}

#[test]
fn search_params_parse_encode_and_order_as_the_standard_says() {
    let state = state_of("web-url.js");
    assert_eq!(
        state["params"],
        json!({
            "entries": [["a", "1"], ["b", "2"], ["a", "3"], ["c", "%zz"], ["d", ""], ["e", "x y z"]],
            "getAll": ["1", "3"],
            "get": ["1", null, "", "x y z", "%zz"],
            "has": [true, true, false, false],
            "deletedOne": "b=2&a=3&c=%25zz&d=&e=x+y+z",
            "setReplaces": "b=only&a=3&c=%25zz&d=&e=x+y+z",
            "encoded": "q=a+b%26c%3Dd%2F%C3%A9%7E*%27%28%29&%E2%82%AC=1",
            "fromPairs": "x=1&y=2",
            "fromParams": "k=v",
            "fromRecord": "one=1&two=true",
            "lone": "s=%EF%BF%BD",
            "sorted": "a=b&a=a&e=2&z=b&z=a&%C3%A9=1",
            "badPair": "TypeError",
            "seen": ["a=1:2", "b=2:2"],
            "keys": ["a", "b"],
            "values": ["1", "2"],
            "liveSeen": ["a", "n1", "n2"],
            "size": 3,
            "tag": "[object URLSearchParams]",
        })
    );
}

#[test]
fn url_statics_and_errors() {
    let state = state_of("web-url.js");
    assert_eq!(
        state["statics"],
        json!({
            "canParse": [true, false, true],
            "parse": ["https://example.org/a", null],
            "parseIsURL": true,
        })
    );
    assert_eq!(
        state["errors"],
        json!({
            "relative": ["TypeError", "invalid URL: \"/relative\""],
            "badBase": "TypeError",
            "noArgs": "TypeError",
        })
    );
}

#[test]
fn url_patterns_match_as_the_standards_examples_say() {
    let state = state_of("web-urlpattern.js");
    assert_eq!(
        state,
        json!({
            "components": ["https", "example.com", "/books/:id", "*", ""],
            "normalised": "/caf%C3%A9/:x",
            "bookGroups": {"id": "123"},
            "bookInputs": ["https://example.com/books/123?x=1"],
            "bookSearch": {"input": "x=1", "groups": {"0": "x=1"}},
            "fullHost": {"input": "example.com", "groups": {}},
            "test": [true, false, false, true, false, true, true],
            "optional": [true, {}],
            "wildcard": {"0": "cats/tom"},
            "hosts": [true, true, false],
            "caseless": [true, false],
            "regexp": [{"0": "bar", "rest": "a/b"}, false],
            "protocol": [true, true, false],
            "hasRegExpGroups": [false, true, true],
            "errors": ["TypeError", "TypeError", "TypeError", "TypeError"],
            "notAUrl": null,
            "tag": "[object URLPattern]",
        })
    );
}

/// The query of a request path as name -> values, decoded.
fn query(request: &SeenRequest) -> HashMap<String, Vec<String>> {
    let url = url::Url::parse(&format!("http://x{}", request.path)).expect("request path");
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in url.query_pairs() {
        map.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    map
}

const TOKEN: &str = "tok-5e3f=/+";
const SINCE: &str = "2026-11-01T00:00:00+01:00";

/// The paging API: four pages of items, each linking to the next in a
/// different relative form; every page checks the token and the query.
fn paging_server() -> TestServer {
    let items = |req: &SeenRequest| -> Reply {
        if req.headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {TOKEN}"))
        {
            return Reply {
                status: 401,
                headers: vec![],
                body: b"bad token".to_vec(),
            };
        }
        let q = query(req);
        let one = |k: &str| q.get(k).filter(|v| v.len() == 1).map(|v| v[0].clone());
        if one("since").as_deref() != Some(SINCE)
            || one("per_page").as_deref() != Some("2")
            || one("fields").as_deref() != Some("id,name")
        {
            return Reply {
                status: 400,
                headers: vec![],
                body: format!("bad query: {}", req.path).into_bytes(),
            };
        }
        let rest = "since=2026-11-01T00%3A00%3A00%2B01%3A00&per_page=2&fields=id%2Cname";
        let (ids, next): (&[u32], Value) = match one("page").as_deref() {
            None => (&[1, 2], json!(format!("items?page=2&{rest}"))),
            Some("2") => (&[3, 4], json!(format!("/api/v1/items?page=3&{rest}"))),
            Some("3") => (&[5, 6], json!(format!("?{rest}&page=4"))),
            Some("4") => (&[7], Value::Null),
            Some(other) => panic!("unexpected page {other}"),
        };
        let items: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id, "name": format!("item {id}")}))
            .collect();
        Reply::ok(
            "application/json",
            json!({"items": items, "next": next}).to_string(),
        )
    };
    let report = |req: &SeenRequest| -> Reply {
        let ok = req.headers.get("authorization").map(String::as_str)
            == Some(&format!("Bearer {TOKEN}"))
            && req.headers.get("content-type").map(String::as_str)
                == Some("application/x-www-form-urlencoded;charset=UTF-8");
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Reply::ok(
            "application/json",
            json!({"ok": ok, "pairs": pairs}).to_string(),
        )
    };
    TestServer::start(vec![
        ("/api/v1/items", Box::new(items)),
        ("/v1/report", Box::new(report)),
    ])
}

/// Runs the paging charm against `server` with `token`.
fn run_paging(server: &TestServer, token: &str) -> Ran {
    let input = json!({"api": server.url("/api/"), "token": token, "since": SINCE});
    run_fixture(
        "api-paging.js",
        &[
            "--allow-host",
            &server.host_port(),
            "--input",
            &input.to_string(),
        ],
    )
}

#[test]
fn a_charm_pages_an_api_with_url_search_params_and_a_bearer_token() {
    let server = paging_server();
    let ran = run_paging(&server, TOKEN);
    assert_eq!(ran.code, 0, "{ran:?}");
    let state = ran.state();
    assert_eq!(
        state["items"],
        json!(["item 1", "item 2", "item 3", "item 4", "item 5", "item 6", "item 7"])
    );
    assert_eq!(state["pages"], json!(["1", "2", "3", "4"]));
    let requests = server.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/api/v1/items?since=2026-11-01T00%3A00%3A00%2B01%3A00&per_page=2&fields=id%2Cname",
            "/api/v1/items?page=2&since=2026-11-01T00%3A00%3A00%2B01%3A00&per_page=2&fields=id%2Cname",
            "/api/v1/items?page=3&since=2026-11-01T00%3A00%3A00%2B01%3A00&per_page=2&fields=id%2Cname",
            "/api/v1/items?since=2026-11-01T00%3A00%3A00%2B01%3A00&per_page=2&fields=id%2Cname&page=4",
            "/v1/report",
        ]
    );
    assert_eq!(
        state["ack"],
        json!({"ok": true, "pairs": [
            ["count", "7"], ["since", SINCE],
            ["id", "1"], ["id", "2"], ["id", "3"], ["id", "4"], ["id", "5"], ["id", "6"], ["id", "7"],
        ]})
    );
}

#[test]
fn a_wrong_token_stops_the_paging_with_the_servers_answer() {
    let server = paging_server();
    let ran = run_paging(&server, "wrong");
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("answered 401: bad token"), "{ran:?}");
    assert_eq!(server.requests().len(), 1);
}
