//! `URL` and `URLSearchParams`: the native half of `js/36_url.js`.
//!
//! Parsing and the setters are the `url` crate's (the WHATWG URL standard,
//! the same major version as the host's fetch allow-list, so a charm parses
//! a URL exactly as fetch checks it); the query string's name-value pairs
//! are `form_urlencoded`'s. A URL crosses the boundary as its serialisation
//! (always ASCII), and comes back as the list of its components.

use url::{quirks, Url};

/// A URL's components, in the order `js/36_url.js` reads them: href,
/// origin, protocol, username, password, host, hostname, port, pathname,
/// search, hash (the standard's getters).
fn components(url: &Url) -> Vec<String> {
    vec![
        quirks::href(url).to_owned(),
        quirks::origin(url),
        quirks::protocol(url).to_owned(),
        quirks::username(url).to_owned(),
        quirks::password(url).to_owned(),
        quirks::host(url).to_owned(),
        quirks::hostname(url).to_owned(),
        quirks::port(url).to_owned(),
        quirks::pathname(url).to_owned(),
        quirks::search(url).to_owned(),
        quirks::hash(url).to_owned(),
    ]
}

/// The standard's "API URL parser": `input` against `base`, if any.
fn parse(input: &str, base: Option<&str>) -> Option<Url> {
    let base = match base {
        Some(base) => Some(Url::parse(base).ok()?),
        None => None,
    };
    Url::options().base_url(base.as_ref()).parse(input).ok()
}

/// `host.urlParse(input, base?) -> components | undefined`.
pub fn url_parse(input: String, base: Option<String>) -> Option<Vec<String>> {
    parse(&input, base.as_deref()).map(|url| components(&url))
}

/// `host.urlCanParse(input, base?) -> bool`, without building components.
pub fn url_can_parse(input: String, base: Option<String>) -> bool {
    parse(&input, base.as_deref()).is_some()
}

/// `host.urlSet(href, setter, value) -> components | undefined`: `href` (a URL
/// this module serialised) with one attribute set as the standard's setter
/// does, through the basic URL parser's state overrides. A value a setter
/// rejects leaves the URL as it was, which is not an error. `query` is
/// `URLSearchParams`' update steps: an empty string removes the query.
/// `undefined` only for an unknown setter or an `href` that does not parse.
pub fn url_set(href: String, setter: String, value: String) -> Option<Vec<String>> {
    let mut url = Url::parse(&href).ok()?;
    // Rejected values are ignored: the standard's setters return silently.
    let _ = match setter.as_str() {
        "protocol" => quirks::set_protocol(&mut url, &value),
        "username" => quirks::set_username(&mut url, &value),
        "password" => quirks::set_password(&mut url, &value),
        "host" => quirks::set_host(&mut url, &value),
        "hostname" => quirks::set_hostname(&mut url, &value),
        "port" => quirks::set_port(&mut url, &value),
        "pathname" => {
            quirks::set_pathname(&mut url, &value);
            Ok(())
        }
        "search" => {
            quirks::set_search(&mut url, &value);
            Ok(())
        }
        "hash" => {
            quirks::set_hash(&mut url, &value);
            Ok(())
        }
        "query" => {
            url.set_query((!value.is_empty()).then_some(value.as_str()));
            Ok(())
        }
        _ => return None,
    };
    Some(components(&url))
}

/// `host.formParse(text) -> [name, value, name, value, ...]`: the
/// `application/x-www-form-urlencoded` parser.
pub fn form_parse(text: String) -> Vec<String> {
    let mut flat = Vec::new();
    for (name, value) in form_urlencoded::parse(text.as_bytes()) {
        flat.push(name.into_owned());
        flat.push(value.into_owned());
    }
    flat
}

/// `host.formSerialize([name, value, ...]) -> text`: the
/// `application/x-www-form-urlencoded` serializer (UTF-8).
pub fn form_serialize(flat: Vec<String>) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for pair in flat.chunks(2) {
        if let [name, value] = pair {
            serializer.append_pair(name, value);
        }
    }
    serializer.finish()
}
