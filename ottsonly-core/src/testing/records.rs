//! Plain records with fixed ids and times for a backend's own tests (nothing is written): the
//! same rows on every backend, so their tests differ only in what is backend-specific.

use crate::ids::*;
use crate::model::*;
use crate::money::Money;
use crate::phone::PhoneNumber;

/// `ms` milliseconds after a fixed instant (in 2030).
pub fn at(ms: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_millis(1_900_000_000_000 + ms).expect("valid time")
}

/// A customer with an empty wallet, created at `at(0)`.
pub fn user(id: &str, phone: &str) -> User {
    User::new(UserId::from_string(id), PhoneNumber::from_e164(phone).expect("valid phone"), Role::User, at(0))
}

/// Netflix Premium at ₹199.00 for 30 days, active, 3 in stock, created at `at(0)`.
pub fn product(id: &str) -> Product {
    Product {
        id: ProductId::from_string(id),
        platform_name: "Netflix".into(),
        plan_name: "Premium".into(),
        description: String::new(),
        price: Money::from_paise(19_900).expect("price"),
        duration_days: 30,
        stock: 3,
        is_active: true,
        created_at: at(0),
        updated_at: at(0),
    }
}

/// One record of each kind that has a unique rule, linked as a purchase would link them (all
/// at `at(0)`, of user `u1` with phone +919876543210).
pub struct Linked {
    pub user: User,
    /// `o1`, of product `p1`, with idempotency key `k1`.
    pub order: Order,
    /// `l1`: the debit of `o1`, leaving 0.
    pub entry: LedgerEntry,
    /// `s1`, for `o1`, waiting for a login.
    pub sub: Subscription,
    /// `t1` (gateway order `order_1`) and `t2` (`order_2`), both open.
    pub topups: [TopUp; 2],
    /// `r1`, family `f1`, hash `h1`.
    pub token: RefreshToken,
    /// `c1`, assigned to `s1`, in no pool.
    pub cred: CredentialRecord,
}

pub fn linked() -> Linked {
    let user = user("u1", "+919876543210");
    let p = product("p1");
    let order = Order::purchase(OrderId::from_string("o1"), &user.id, &p, Some("k1"), at(0));
    let entry = LedgerEntry::purchase_debit(LedgerEntryId::from_string("l1"), &order, Money::ZERO);
    let sub = Subscription::for_order(SubscriptionId::from_string("s1"), &order, &p, None, at(0));
    let topup = TopUp {
        id: TopUpId::from_string("t1"),
        user_id: user.id.clone(),
        amount: Money::from_paise(50_000).expect("amount"),
        currency: "INR".into(),
        gateway_order_id: "order_1".into(),
        gateway_payment_id: None,
        status: TopUpStatus::Created,
        created_at: at(0),
        updated_at: at(0),
        paid_at: None,
    };
    let second =
        TopUp { id: TopUpId::from_string("t2"), gateway_order_id: "order_2".into(), ..topup.clone() };
    let token = RefreshToken {
        id: RefreshTokenId::from_string("r1"),
        user_id: user.id.clone(),
        family_id: "f1".into(),
        token_hash: "h1".into(),
        token_version: 0,
        created_at: at(0),
        expires_at: at(1000),
        used_at: None,
        revoked_at: None,
    };
    let cred = CredentialRecord {
        id: CredentialId::from_string("c1"),
        product_id: None,
        sealed: vec![1, 2, 3],
        status: CredentialStatus::Assigned,
        subscription_id: Some(sub.id.clone()),
        created_at: at(0),
        assigned_at: Some(at(0)),
    };
    Linked { user, order, entry, sub, topups: [topup, second], token, cred }
}
