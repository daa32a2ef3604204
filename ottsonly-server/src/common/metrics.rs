//! Prometheus metrics: one process-wide recorder, rendered as text on `GET /metrics` (no
//! listener of its own).

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

pub const HTTP_REQUESTS: &str = "http_requests_total";
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
pub const PURCHASES: &str = "ottsonly_purchases_total";
pub const PURCHASE_PAISE: &str = "ottsonly_purchase_amount_paise_total";
pub const TOPUPS: &str = "ottsonly_topups_total";
pub const TOPUP_PAISE: &str = "ottsonly_topup_amount_paise_total";
pub const REFUNDS: &str = "ottsonly_refunds_total";
/// Business figures (money in) that only a holder of the metrics token may read.
pub const REVENUE_METRICS: &[&str] = &[PURCHASE_PAISE, TOPUP_PAISE];
pub const ADJUSTMENTS: &str = "ottsonly_wallet_adjustments_total";
/// Admin alerts (Telegram dispatcher): sent to every admin chat; failed and due again later;
/// parked as failed after the last attempt; and 429 answers from the Bot API.
pub const ALERTS_DELIVERED: &str = "ottsonly_alerts_delivered_total";
pub const ALERTS_RETRIED: &str = "ottsonly_alerts_retried_total";
pub const ALERTS_PARKED: &str = "ottsonly_alerts_parked_total";
pub const TELEGRAM_RATE_LIMITED: &str = "ottsonly_telegram_rate_limited_total";
/// The Telegram shop bot: updates handled, purchases made through it, and failures (a Bot API
/// call that failed, a core error that was not an answer).
pub const SHOP_BOT_UPDATES: &str = "ottsonly_shop_bot_updates_total";
pub const SHOP_BOT_PURCHASES: &str = "ottsonly_shop_bot_purchases_total";
pub const SHOP_BOT_ERRORS: &str = "ottsonly_shop_bot_errors_total";

/// Latency buckets in seconds, from a fast read to a slow write under contention.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A handle on the process-wide recorder. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    handle: Option<PrometheusHandle>,
}

impl Metrics {
    /// Installs the recorder on first use. The `metrics` facade has one global recorder per
    /// process, so every app built in this process (tests build many) shares it.
    pub fn global() -> Metrics {
        static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
        let handle = HANDLE.get_or_init(|| {
            let builder = match PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), BUCKETS)
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics buckets rejected; using summaries");
                    PrometheusBuilder::new()
                }
            };
            match builder.install_recorder() {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics will be empty");
                    None
                }
            }
        });
        Metrics { handle: handle.clone() }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        match &self.handle {
            Some(h) => {
                // Without the exporter's own task, histogram upkeep is ours to run.
                h.run_upkeep();
                h.render()
            }
            None => String::new(),
        }
    }
}

pub fn record_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let labels =
        [("method", method.to_string()), ("route", route.to_string()), ("status", status.to_string())];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(elapsed.as_secs_f64());
}

pub fn record_purchase(amount_paise: i64) {
    metrics::counter!(PURCHASES).increment(1);
    metrics::counter!(PURCHASE_PAISE).increment(amount_paise.max(0).unsigned_abs());
}

pub fn record_topup(amount_paise: i64) {
    metrics::counter!(TOPUPS).increment(1);
    metrics::counter!(TOPUP_PAISE).increment(amount_paise.max(0).unsigned_abs());
}

pub fn record_refund() {
    metrics::counter!(REFUNDS).increment(1);
}

pub fn record_adjustment(direction: &'static str) {
    metrics::counter!(ADJUSTMENTS, "direction" => direction).increment(1);
}

/// Adds `n` to one of the Telegram counters (`ALERTS_*`, `SHOP_BOT_*`, `TELEGRAM_RATE_LIMITED`).
pub fn record_alerts(counter: &'static str, n: u64) {
    metrics::counter!(counter).increment(n);
}
