//! What both providers' senders share: the HTTP client, endpoint building, and turning a
//! failure into the text the user reads (the detail goes to the log, without the code).

use crate::common::error_chain;
use anyhow::Context;
use ottsonly_core::PhoneNumber;
use reqwest012 as reqwest;
use std::time::Duration;
use url::Url;

/// What the user is told; core prefixes "the code could not be delivered: ".
const USER_TIMEOUT: &str =
    "the SMS provider did not answer in time; request a new code when the resend wait is over";
const USER_UNAVAILABLE: &str =
    "the SMS provider is unavailable; request a new code when the resend wait is over";
const USER_REFUSED: &str = "the SMS provider refused the message; check the number, then request a new code when the resend wait is over";

pub(super) fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        // Credentials go to the configured host only.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the SMS HTTP client")
}

/// `base` with `segments` appended to its path (a base with a path prefix keeps it).
pub(super) fn endpoint(base: &Url, segments: &[&str]) -> anyhow::Result<Url> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("`{base}` cannot be a base URL"))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// A provider's failure, mapped to what the user is told; the detail is logged, never returned.
pub(super) fn failure(provider: &str, phone: &PhoneNumber, code: &str, e: reqwest::Error) -> String {
    let timeout = e.is_timeout();
    // Without the URL: it carries the account id (and could carry more with another provider).
    let detail = scrub(&error_chain(&e.without_url()), code);
    tracing::warn!(provider, phone = %phone.masked(), timeout, error = %detail, "OTP SMS not sent");
    if timeout { USER_TIMEOUT } else { USER_UNAVAILABLE }.to_string()
}

pub(super) fn refused(provider: &str, phone: &PhoneNumber, code: &str, status: u16, detail: &str) -> String {
    let detail = scrub(detail, code);
    tracing::warn!(provider, phone = %phone.masked(), status, error = %detail, "OTP SMS refused by the provider");
    if status == 429 || status >= 500 { USER_UNAVAILABLE } else { USER_REFUSED }.to_string()
}

/// Removes the code from provider text before it is logged, and bounds its length.
pub(super) fn scrub(text: &str, code: &str) -> String {
    let text = if code.is_empty() { text.to_string() } else { text.replace(code, "<code>") };
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_a_path_prefix() {
        let base = Url::parse("http://127.0.0.1:9/prefix/").unwrap();
        let url = endpoint(&base, &["2010-04-01", "Accounts", "AC1", "Messages.json"]).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9/prefix/2010-04-01/Accounts/AC1/Messages.json");
        let base = Url::parse("https://control.msg91.com").unwrap();
        assert_eq!(
            endpoint(&base, &["api", "v5", "flow", ""]).unwrap().as_str(),
            "https://control.msg91.com/api/v5/flow/"
        );
    }

    #[test]
    fn scrub_removes_the_code() {
        assert_eq!(scrub("bad body 123456 here", "123456"), "bad body <code> here");
        assert_eq!(scrub(&"x".repeat(1000), "1").len(), 300);
    }
}
