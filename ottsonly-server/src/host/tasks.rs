//! The background tasks of a serving process: subscription maintenance every minute, payment
//! reconciliation (when a gateway is configured) and admin-alert delivery from the outbox (when
//! Telegram is configured). Each stops when the stop signal turns `true`.

use crate::adapters::telegram::{TelegramDispatcher, TelegramSetup};
use crate::common::error_chain;
use ottsonly_core::Ottsonly;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often subscription maintenance (expiry sweep and reminders) runs.
pub const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);

/// The running tasks.
pub struct Tasks {
    maintenance: JoinHandle<()>,
    reconcile: Option<JoinHandle<()>>,
    alerts: Option<JoinHandle<()>>,
}

impl Tasks {
    /// Starts every task the configuration asks for.
    pub fn start(
        app: &Ottsonly,
        telegram: TelegramSetup,
        reconcile_every: Duration,
        stop: watch::Receiver<bool>,
    ) -> anyhow::Result<Tasks> {
        let alerts = match telegram {
            TelegramSetup::On(config) => {
                let dispatcher = TelegramDispatcher::new(app.clone(), *config)?;
                let mut stop = stop.clone();
                Some(tokio::spawn(dispatcher.run(async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                })))
            }
            TelegramSetup::Off(why) => {
                tracing::warn!("telegram alerts are off: {why}");
                None
            }
        };
        let reconcile = app
            .payments_configured()
            .then(|| tokio::spawn(reconcile_loop(app.clone(), reconcile_every, stop.clone())));
        let maintenance = tokio::spawn(maintenance_loop(app.clone(), stop));
        Ok(Tasks { maintenance, reconcile, alerts })
    }

    /// Waits (bounded) for every task to stop once the stop signal was sent.
    pub async fn join(self) {
        if tokio::time::timeout(Duration::from_secs(10), self.maintenance).await.is_err() {
            tracing::warn!("maintenance task did not stop in time");
        }
        if let Some(reconcile) = self.reconcile
            && tokio::time::timeout(Duration::from_secs(30), reconcile).await.is_err()
        {
            tracing::warn!("payment reconciliation did not stop in time");
        }
        // The dispatcher finishes the message in flight (bounded by its request timeout).
        if let Some(alerts) = self.alerts
            && tokio::time::timeout(Duration::from_secs(30), alerts).await.is_err()
        {
            tracing::warn!("telegram alert dispatcher did not stop in time");
        }
    }
}

/// Runs subscription maintenance every minute until told to stop. A pass in progress is
/// abandoned at shutdown: each batch is its own unit of work, so nothing is left half done.
pub async fn maintenance_loop(app: Ottsonly, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(MAINTENANCE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {}
        }
        let subscriptions = app.subscriptions();
        tokio::select! {
            _ = stop.changed() => break,
            r = subscriptions.run_maintenance() => match r {
                Ok(report) if report.expired > 0 || report.reminded > 0 => {
                    tracing::info!(expired = report.expired, reminded = report.reminded, "subscription maintenance");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %error_chain(&e), "subscription maintenance failed"),
            },
        }
    }
    tracing::debug!("maintenance task stopped");
}

/// Asks the gateway about top-ups still open after core's `reconcile_after`, at most core's
/// `reconcile_batch` per pass (rotating across passes), crediting captured payments and
/// expiring intents past the horizon that no authorized payment holds open: this saves the user
/// who paid and closed the browser before the checkout callback ran (and any webhook was lost).
pub async fn reconcile_loop(app: Ottsonly, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {}
        }
        let wallet = app.wallet();
        let batch = app.config().wallet.reconcile_batch;
        tokio::select! {
            _ = stop.changed() => break,
            r = wallet.reconcile(false, batch) => match r {
                Ok(report) if report.checked > 0 => tracing::info!(
                    checked = report.checked, credited = report.credited, expired = report.expired,
                    held = report.held, pending = report.pending, gateway_calls = report.gateway_calls,
                    errors = report.errors, "payment reconciliation"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %error_chain(&e), "payment reconciliation failed"),
            },
        }
    }
    tracing::debug!("reconciliation task stopped");
}
