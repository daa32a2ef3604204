//! `ottsonly-server serve`: wires core once, mounts the front-ends (today the REST API), starts
//! the background tasks ([`super::tasks`]) and shuts everything down gracefully.

use super::bootstrap::open_core_reporting;
use super::settings::Settings;
use super::site::{SiteOptions, build_site};
use super::tasks::Tasks;
use crate::frontends::checkout::CheckoutOptions;
use crate::frontends::rest::{BodyLimits, HttpOptions, Integrations};
use crate::frontends::web::WebOptions;
use anyhow::Context;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{EndpointExt, Server};
use std::time::Duration;
use tokio::sync::watch;

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    settings.validate()?;
    let bind = settings.bind_addr()?;
    tracing::info!(env = ?settings.env, database = %settings.database_url_redacted(), "starting");
    for warning in settings.startup_warnings() {
        tracing::warn!("!!! {warning}");
    }
    let (app, dev_secrets) = open_core_reporting(&settings).await?;
    let options = HttpOptions {
        ip_rate_limit: settings.ip_rate_limit,
        cors_origins: settings.cors_origins.clone(),
        body_limits: BodyLimits::default(),
        razorpay_webhook_secret: settings.razorpay.webhook_secret.clone(),
        trusted_proxies: settings.trusted_proxies.clone(),
        metrics_token: settings.metrics_token.clone(),
        environment: settings.env,
        dev_secrets,
        public_url: settings.public_url.clone(),
    };
    let telegram = settings.telegram.setup();
    let shop_setup = settings.telegram.shop_setup();
    let integrations = Integrations::new(&telegram, settings.sms.provider).with_shop_bot(&shop_setup);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shop_bot =
        super::shop_bot::start(&app, shop_setup, &settings.public_url, stop_rx.clone()).await?;
    // `GET /health` reports what the integrations do.
    let web = WebOptions { environment: settings.env, public_url: settings.public_url.clone() };
    let site = SiteOptions { rest: options, checkout: CheckoutOptions::default(), web };
    let site = build_site(app.clone(), site);
    let endpoint = match shop_bot.as_mut().and_then(|b| b.webhook.take()) {
        Some((path, hook)) => poem::Route::new().at(path, hook).nest("/", site).boxed(),
        None => site.boxed(),
    }
    .data(integrations);
    let acceptor =
        TcpListener::bind(bind).into_acceptor().await.with_context(|| format!("cannot listen on {bind}"))?;
    let local = acceptor.local_addr().first().and_then(|a| a.as_socket_addr().copied());
    let addr = local.map_or_else(|| bind.to_string(), |a| a.to_string());
    // Tests and operators read this line to learn the port when binding to port 0.
    tracing::info!(addr = %addr, "listening");

    let reconcile_every = Duration::from_secs(settings.razorpay_reconcile_every_s.max(10));
    let tasks = Tasks::start(&app, telegram, reconcile_every, stop_rx)?;
    let timeout = Duration::from_secs(settings.shutdown_timeout_s);
    let result = Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(endpoint, shutdown_signal(), Some(timeout))
        .await;
    let _ = stop_tx.send(true);
    tasks.join().await;
    if let Some(bot) = shop_bot {
        bot.join().await;
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
