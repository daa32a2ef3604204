//! Links the server sends outside its pages (a Telegram message, a redirect), built in one place
//! so that every front-end sends the same URL for the same thing.

use ottsonly_core::TopUpId;
use url::Url;

/// Where the host mounts the checkout front-end.
pub const CHECKOUT_PREFIX: &str = "/pay";

/// The checkout page of a top-up: `{public_url}/pay/{topup_id}?t={token}`, each part escaped.
/// `public_url` is an absolute http(s) URL, possibly with a base path (the settings check it);
/// the token is core's checkout-link token.
pub fn checkout_url(public_url: &str, topup_id: &TopUpId, token: &str) -> String {
    let mut url = Url::parse(public_url).unwrap_or_else(|_| Url::parse("http://127.0.0.1").expect("valid"));
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().push(CHECKOUT_PREFIX.trim_start_matches('/')).push(topup_id.as_str());
    }
    url.query_pairs_mut().clear().append_pair("t", token);
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkout_links_escape_what_they_carry() {
        let id = TopUpId::from_string("a b/c");
        assert_eq!(
            checkout_url("https://shop.example", &id, "17.ab&x"),
            "https://shop.example/pay/a%20b%2Fc?t=17.ab%26x"
        );
        let id = TopUpId::from_string("0192");
        assert_eq!(
            checkout_url("https://shop.example/base", &id, "1.f"),
            "https://shop.example/base/pay/0192?t=1.f"
        );
    }
}
