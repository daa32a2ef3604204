//! Connection strings, read and rewritten with the `url` crate rather than by hand.
//!
//! A MongoDB connection string is a URL except for one thing: its authority may list several
//! `host:port` seeds (`mongodb://u:p@h1:27017,h2:27017/db?replicaSet=rs`), which no URL parser
//! accepts (the first port would read `27017,h2:27017`). Such a seed list is set aside while
//! `url` parses the rest with one placeholder host in its place, and put back verbatim.

use url::{Position, Url};

/// What a password is replaced with.
const HIDDEN: &str = "***";
/// Stands in for a seed list while `url` parses the rest (`.invalid` never resolves).
const PLACEHOLDER_HOST: &str = "seed-list.invalid";

/// A connection string parsed by `url`, plus the seed list that stands aside, if any.
struct ConnString {
    url: Url,
    seed_list: Option<String>,
}

impl ConnString {
    /// `None` when `url` cannot parse it even with a seed list set aside.
    fn parse(uri: &str) -> Option<ConnString> {
        if let Ok(url) = Url::parse(uri) {
            return Some(ConnString { url, seed_list: None });
        }
        // The authority ends at the first '/', '?' or '#' (RFC 3986 §3.2); reserved characters
        // of a user name or password are percent-encoded, so none of these, and no '@', occur in
        // them. The hosts follow the last '@'.
        let (_, rest) = uri.split_once("://")?;
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        let hosts = authority.rsplit_once('@').map_or(authority, |(_, hosts)| hosts);
        if !hosts.contains(',') {
            return None;
        }
        let mut url = Url::parse(&uri.replacen(hosts, PLACEHOLDER_HOST, 1)).ok()?;
        // `replacen` took the first occurrence; make sure that was the authority's.
        if url.host_str() != Some(PLACEHOLDER_HOST) || url.port().is_some() {
            return None;
        }
        url.set_port(None).ok()?;
        Some(ConnString { url, seed_list: Some(hosts.to_owned()) })
    }

    fn into_string(self) -> String {
        match self.seed_list {
            None => self.url.into(),
            Some(hosts) => {
                format!("{}{hosts}{}", &self.url[..Position::BeforeHost], &self.url[Position::AfterPort..])
            }
        }
    }
}

/// `uri` with its database path replaced by `database`, options kept:
/// `mongodb://h:1/?replicaSet=rs` → `mongodb://h:1/DATABASE?replicaSet=rs`. For operators and
/// tests that point one server URI at several databases. A string that is no URL comes back
/// unchanged (connecting to it fails with its own clear error).
pub fn uri_with_database(uri: &str, database: &str) -> String {
    let Some(mut parsed) = ConnString::parse(uri) else { return uri.to_owned() };
    if parsed.url.cannot_be_a_base() {
        return uri.to_owned();
    }
    parsed.url.set_path(&format!("/{database}"));
    parsed.into_string()
}

/// `uri` with the password of its user info replaced by `***`, for logs and error messages:
/// `mongodb://app:hunter2@db:27017/x` → `mongodb://app:***@db:27017/x`. Works for any database
/// URL (`sqlite://…` has no password and comes back unchanged, as does anything without one).
/// Text that cannot be parsed but holds user info (an `@`) is hidden after its scheme.
pub fn redact_uri(uri: &str) -> String {
    match ConnString::parse(uri) {
        // `app:pw@host` parses too, as a path of scheme `app`: no user info to edit there.
        Some(parsed) if parsed.url.cannot_be_a_base() && uri.contains('@') => hidden_after_scheme(uri),
        Some(mut parsed) => {
            if parsed.url.password().is_none() {
                return uri.to_owned();
            }
            match parsed.url.set_password(Some(HIDDEN)) {
                Ok(()) => parsed.into_string(),
                Err(()) => hidden_after_scheme(uri),
            }
        }
        None if !uri.contains('@') => uri.to_owned(),
        None => hidden_after_scheme(uri),
    }
}

fn hidden_after_scheme(uri: &str) -> String {
    match uri.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://{HIDDEN}"),
        None => HIDDEN.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_swapped_into_the_uri() {
        let cases = [
            (
                "mongodb://127.0.0.1:1234/?replicaSet=secantus",
                "mongodb://127.0.0.1:1234/x?replicaSet=secantus",
            ),
            ("mongodb://h:1,h:2/old?w=majority", "mongodb://h:1,h:2/x?w=majority"),
            ("mongodb://h:1", "mongodb://h:1/x"),
            ("mongodb://h:1/old", "mongodb://h:1/x"),
            ("mongodb://u:p%40ss@h:1/old?tls=true", "mongodb://u:p%40ss@h:1/x?tls=true"),
            ("mongodb://u:p@h1:1,h2:2,h3:3/?replicaSet=rs", "mongodb://u:p@h1:1,h2:2,h3:3/x?replicaSet=rs"),
            (
                "mongodb+srv://cluster0.example.com/old?retryWrites=true",
                "mongodb+srv://cluster0.example.com/x?retryWrites=true",
            ),
            ("not a uri", "not a uri"),
        ];
        for (uri, want) in cases {
            assert_eq!(uri_with_database(uri, "x"), want, "{uri}");
        }
    }

    #[test]
    fn redacts_passwords_only() {
        let cases = [
            ("mongodb://app:hunter2@db:27017/x?rs=1", "mongodb://app:***@db:27017/x?rs=1"),
            (
                "mongodb://app:hunter2@h1:1,h2:2/x?replicaSet=rs",
                "mongodb://app:***@h1:1,h2:2/x?replicaSet=rs",
            ),
            ("mongodb://app:p%40ss%2Fw@db/x", "mongodb://app:***@db/x"),
            (
                "mongodb+srv://app:hunter2@cluster0.example.com/",
                "mongodb+srv://app:***@cluster0.example.com/",
            ),
            ("mongodb://app@db/x", "mongodb://app@db/x"),
            ("mongodb://db:27017/x", "mongodb://db:27017/x"),
            ("sqlite://ottsonly.db", "sqlite://ottsonly.db"),
            ("sqlite:data/ottsonly.db?mode=rwc", "sqlite:data/ottsonly.db?mode=rwc"),
            ("sqlite::memory:", "sqlite::memory:"),
            // Unparseable with user info: nothing of it shows.
            ("mongodb://app:hunter2@db:notaport/x", "mongodb://***"),
            ("app:hunter2@db", "***"),
        ];
        for (uri, want) in cases {
            assert_eq!(redact_uri(uri), want, "{uri}");
        }
    }
}
