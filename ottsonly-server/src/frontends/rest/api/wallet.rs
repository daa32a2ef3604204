use super::state::{ApiTags, State, page};
use crate::common::metrics;
use crate::frontends::rest::auth::BearerAuth;
use crate::frontends::rest::dto::{
    AddMoneyRequest, AdjustRequest, Balance, Direction, LedgerEntry, LedgerPage, TopUpCredit, TopUpIntent,
    VerifyPaymentRequest, money,
};
use crate::frontends::rest::error::{ApiResult, ok};
use ottsonly_core::UserId;
use ottsonly_core::wallet::{Adjustment, PaymentOutcome};
use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;

pub struct WalletApi(pub State);

#[OpenApi(tag = "ApiTags::Wallet")]
impl WalletApi {
    /// The caller's balance (user, admin).
    #[oai(path = "/wallet", method = "get", operation_id = "get_wallet")]
    async fn balance(&self, auth: BearerAuth) -> ApiResult<Json<Balance>> {
        ok(Balance { balance_paise: self.0.app.wallet().balance(&auth.0).await?.paise() })
    }

    /// The caller's ledger, newest first (user, admin).
    #[oai(path = "/wallet/transactions", method = "get", operation_id = "list_wallet_transactions")]
    async fn transactions(
        &self,
        auth: BearerAuth,
        /// Items per page, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<LedgerPage>> {
        ok(self.0.app.wallet().transactions(&auth.0, &page(limit.0, cursor.0)).await?.into())
    }

    /// Start a top-up: creates a gateway order to pay at checkout (user, admin).
    /// 503 `payments_not_configured` while no gateway is configured. 429 `too_many_open_topups`
    /// when 10 unpaid top-ups are open, 429 `topup_rate_limited` (with `Retry-After`) after 5 in
    /// a minute.
    #[oai(path = "/wallet/add-money", method = "post", operation_id = "create_topup")]
    async fn add_money(&self, auth: BearerAuth, body: Json<AddMoneyRequest>) -> ApiResult<Json<TopUpIntent>> {
        let amount = money("amount_paise", body.0.amount_paise)?;
        let intent = self.0.app.wallet().create_topup(&auth.0, amount).await?;
        ok(TopUpIntent::new(intent, &self.0.public_url))
    }

    /// Confirm a checkout payment and credit the wallet, once per payment (user, admin). Only a
    /// payment Razorpay reports captured is credited (captured here first when the server is set
    /// to manual capture), also after its top-up expired; 409 `payment_not_captured` while it is
    /// only authorized (the webhook or reconciliation credits it once captured).
    #[oai(path = "/wallet/verify-payment", method = "post", operation_id = "verify_topup_payment")]
    async fn verify_payment(
        &self,
        auth: BearerAuth,
        body: Json<VerifyPaymentRequest>,
    ) -> ApiResult<Json<TopUpCredit>> {
        let b = body.0;
        let wallet = self.0.app.wallet();
        let outcome = wallet
            .verify_payment(&auth.0, &b.razorpay_order_id, &b.razorpay_payment_id, &b.razorpay_signature)
            .await?;
        if let PaymentOutcome::Credited(c) = &outcome {
            metrics::record_topup(c.credited.paise());
        }
        let c = outcome.into_credit()?;
        ok(TopUpCredit { credited_paise: c.credited.paise(), balance_paise: c.balance.paise() })
    }

    /// Credit or debit a wallet by hand, with a reason (admin). `request_id` makes retries
    /// apply once.
    #[oai(path = "/wallet/adjust", method = "post", operation_id = "adjust_wallet")]
    async fn adjust(&self, auth: BearerAuth, body: Json<AdjustRequest>) -> ApiResult<Json<LedgerEntry>> {
        let b = body.0;
        let adj = Adjustment {
            user_id: UserId::from_string(b.user_id),
            amount: money("amount_paise", b.amount_paise)?,
            direction: b.direction.into(),
            reason: b.reason.into(),
            request_id: b.request_id.map(String::from),
        };
        let entry = self.0.app.wallet().adjust(&auth.0, adj).await?;
        metrics::record_adjustment(match b.direction {
            Direction::Credit => "credit",
            Direction::Debit => "debit",
        });
        ok(entry.into())
    }
}
