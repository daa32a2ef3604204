//! Webhook mode: Telegram posts each update to the configured URL with the secret token header;
//! a call without the right secret (compared in constant time) is refused before the body is
//! read. The update is handled before answering, so Telegram's retry of an unanswered call is
//! a replay that core's idempotency keys absorb.

use super::ShopBot;
use crate::adapters::telegram::bot_api::{WEBHOOK_SECRET_HEADER, webhook_secret_ok};
use crate::common::secret::Secret;
use poem::http::StatusCode;
use poem::{Endpoint, Request, Response};
use std::sync::Arc;
use teloxide::types::Update;

/// Largest update body accepted.
const MAX_BODY: usize = 1 << 20;

/// The endpoint to mount at the webhook URL's path.
pub fn endpoint(bot: Arc<ShopBot>, secret: Secret) -> impl Endpoint<Output = Response> {
    poem::endpoint::make(move |req: Request| {
        let (bot, secret) = (bot.clone(), secret.clone());
        async move {
            if req.method() != poem::http::Method::POST {
                return Response::builder().status(StatusCode::METHOD_NOT_ALLOWED).finish();
            }
            let got = req.headers().get(WEBHOOK_SECRET_HEADER).and_then(|v| v.to_str().ok());
            if !webhook_secret_ok(&secret, got) {
                return Response::builder().status(StatusCode::UNAUTHORIZED).finish();
            }
            let Ok(body) = req.into_body().into_bytes_limit(MAX_BODY).await else {
                return Response::builder().status(StatusCode::PAYLOAD_TOO_LARGE).finish();
            };
            // An update this bot cannot read is acknowledged (Telegram would resend it forever).
            if let Ok(update) = serde_json::from_slice::<Update>(&body) {
                bot.handle(&update).await;
            }
            Response::builder().status(StatusCode::OK).finish()
        }
    })
}
