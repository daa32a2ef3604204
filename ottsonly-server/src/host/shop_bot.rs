//! Starting the Telegram shop bot from `serve`: long polling as a background task with the stop
//! signal, or in webhook mode an endpoint to mount (and `setWebhook` at start).

use crate::adapters::telegram::ShopSetup;
use crate::frontends::telegram_shop::{ShopBot, ShopBotOptions, webhook};
use ottsonly_core::Ottsonly;
use poem::{EndpointExt, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The running bot: a polling task, or a webhook endpoint and its path.
pub struct ShopBotRun {
    pub task: Option<JoinHandle<()>>,
    pub webhook: Option<(String, poem::endpoint::BoxEndpoint<'static, Response>)>,
}

impl ShopBotRun {
    pub async fn join(self) {
        if let Some(task) = self.task
            && tokio::time::timeout(Duration::from_secs(30), task).await.is_err()
        {
            tracing::warn!("telegram shop bot did not stop in time");
        }
    }
}

pub async fn start(
    app: &Ottsonly,
    setup: ShopSetup,
    public_url: &str,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<ShopBotRun>> {
    let ShopSetup::On { bot_token, api_url, webhook } = setup else {
        return Ok(None);
    };
    let mut options = ShopBotOptions::new(bot_token, api_url);
    options.public_url = public_url.to_string();
    let bot = ShopBot::new(app.clone(), options)?;
    match webhook {
        None => {
            let task = tokio::spawn(bot.run(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            }));
            Ok(Some(ShopBotRun { task: Some(task), webhook: None }))
        }
        Some((url, secret)) => {
            if let Err(e) = bot.set_commands().await {
                tracing::warn!(error = %e, "could not set the bot's command menu");
            }
            bot.set_webhook(&url, &secret).await.map_err(|e| anyhow::anyhow!("setWebhook failed: {e}"))?;
            tracing::info!(path = url.path(), "telegram shop bot in webhook mode");
            let ep = webhook::endpoint(Arc::new(bot), secret).map_to_response().boxed();
            Ok(Some(ShopBotRun { task: None, webhook: Some((url.path().to_string(), ep)) }))
        }
    }
}
