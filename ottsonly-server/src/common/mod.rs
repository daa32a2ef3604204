//! The ground floor of the server: what every other layer may use and nothing here imports from
//! them. [`secret`] (secret strings and the deployment environment), [`metrics`] (the one
//! process-wide Prometheus recorder and the counters), [`links`] (URLs sent outside a page),
//! [`http`] (what every HTML front-end wraps its routes in) and [`error_chain`].

pub mod http;
pub mod links;
pub mod metrics;
pub mod secret;

/// "outer: inner: innermost", for logs.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
