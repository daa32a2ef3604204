//! `ottsonly-server serve`: the HTTP server with graceful shutdown and the maintenance task.

use crate::app::{HttpOptions, build_app};
use crate::bootstrap::open_core;
use crate::config::Settings;
use crate::http::BodyLimits;
use crate::integrations::Integrations;
use crate::telegram::{TelegramConfig, TelegramDispatcher, TelegramSetup};
use anyhow::Context;
use ottsonly_core::Ottsonly;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{EndpointExt, Server};
use std::time::Duration;
use tokio::sync::watch;

/// How often subscription maintenance (expiry sweep and reminders) runs.
pub const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    settings.validate()?;
    let bind = settings.bind_addr()?;
    tracing::info!(env = ?settings.env, database = %settings.database_url_redacted(), "starting");
    let app = open_core(&settings).await?;
    let options = HttpOptions {
        ip_rate_limit: settings.ip_rate_limit,
        cors_origins: settings.cors_origins.clone(),
        body_limits: BodyLimits::default(),
        razorpay_webhook_secret: settings.razorpay_webhook_secret.clone(),
    };
    let telegram = TelegramConfig::from_settings(&settings);
    // `GET /health` reports what the integrations do.
    let endpoint = build_app(app.clone(), options).data(Integrations::new(&telegram, &settings));
    let acceptor =
        TcpListener::bind(bind).into_acceptor().await.with_context(|| format!("cannot listen on {bind}"))?;
    let local = acceptor.local_addr().first().and_then(|a| a.as_socket_addr().copied());
    let addr = local.map_or_else(|| bind.to_string(), |a| a.to_string());
    // Tests and operators read this line to learn the port when binding to port 0.
    tracing::info!(addr = %addr, "listening");

    let (stop_tx, stop_rx) = watch::channel(false);
    let alerts = match telegram {
        TelegramSetup::On(config) => {
            let dispatcher = TelegramDispatcher::new(app.clone(), *config)?;
            let mut stop = stop_rx.clone();
            Some(tokio::spawn(dispatcher.run(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })))
        }
        TelegramSetup::Off(why) => {
            tracing::warn!("telegram alerts are off: {why}");
            None
        }
    };
    let reconcile = app.payments_configured().then(|| {
        let every = Duration::from_secs(settings.razorpay_reconcile_every_s.max(10));
        tokio::spawn(reconcile_loop(app.clone(), every, stop_rx.clone()))
    });
    let maintenance = tokio::spawn(maintenance_loop(app, stop_rx));
    let timeout = Duration::from_secs(settings.shutdown_timeout_s);
    let result = Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(endpoint, shutdown_signal(), Some(timeout))
        .await;
    let _ = stop_tx.send(true);
    if tokio::time::timeout(Duration::from_secs(10), maintenance).await.is_err() {
        tracing::warn!("maintenance task did not stop in time");
    }
    if let Some(reconcile) = reconcile
        && tokio::time::timeout(Duration::from_secs(30), reconcile).await.is_err()
    {
        tracing::warn!("payment reconciliation did not stop in time");
    }
    // The dispatcher finishes the message in flight (bounded by its request timeout).
    if let Some(alerts) = alerts
        && tokio::time::timeout(Duration::from_secs(30), alerts).await.is_err()
    {
        tracing::warn!("telegram alert dispatcher did not stop in time");
    }
    result.context("server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM; the server then stops accepting and drains in-flight requests.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received; shutting down"),
        _ = term => tracing::info!("SIGTERM received; shutting down"),
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
                Err(e) => tracing::warn!(error = %crate::error::error_chain(&e), "subscription maintenance failed"),
            },
        }
    }
    tracing::debug!("maintenance task stopped");
}

/// Most open top-ups one reconciliation pass asks the gateway about.
pub const RECONCILE_BATCH: u32 = 200;

/// Asks the gateway about top-ups still open after core's `reconcile_after`, crediting captured
/// payments and expiring intents past the horizon: this saves the user who paid and closed the
/// browser before the checkout callback ran (and any webhook was lost).
pub async fn reconcile_loop(app: Ottsonly, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {}
        }
        let wallet = app.wallet();
        tokio::select! {
            _ = stop.changed() => break,
            r = wallet.reconcile(false, RECONCILE_BATCH) => match r {
                Ok(report) if report.checked > 0 => tracing::info!(
                    checked = report.checked, credited = report.credited, expired = report.expired,
                    errors = report.errors, "payment reconciliation"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %crate::error::error_chain(&e), "payment reconciliation failed"),
            },
        }
    }
    tracing::debug!("reconciliation task stopped");
}
