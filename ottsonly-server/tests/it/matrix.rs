//! The seed's role matrix, checked over HTTP: every operation × {anonymous, user, another user,
//! support, admin}, with the expectation derived from one table (and from core's
//! `Action::allowed`, the same rule core enforces).

use crate::support::*;
use ottsonly_core::{Action, Role};
use poem::http::Method;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Anonymous,
    User,
    /// Another plain user, who owns none of the fixture's order, subscription or notification.
    Other,
    Support,
    Admin,
}

const EVERYONE: [Who; 5] = [Who::Anonymous, Who::User, Who::Other, Who::Support, Who::Admin];

impl Who {
    fn role(self) -> Option<Role> {
        match self {
            Who::Anonymous => None,
            Who::User | Who::Other => Some(Role::User),
            Who::Support => Some(Role::Support),
            Who::Admin => Some(Role::Admin),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Access {
    /// Anyone, with or without a token.
    Public,
    /// Any authenticated caller whose role the matrix allows; others 403.
    Role(Action),
    /// The owner, or staff whose role the matrix allows; everyone else 404 (existence hidden).
    OwnerOrStaff(Action),
    /// The owner only; everyone else 404.
    OwnerOnly,
    /// Admins only (operator tools outside the seed's matrix); others 403.
    AdminOnly,
}

#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Allowed,
    Status(u16),
}

fn expected(access: Access, who: Who) -> Expect {
    let Some(role) = who.role() else {
        return if matches!(access, Access::Public) { Expect::Allowed } else { Expect::Status(401) };
    };
    let allowed = match access {
        Access::Public => true,
        Access::Role(a) => a.allowed(role),
        Access::AdminOnly => role == Role::Admin,
        Access::OwnerOrStaff(a) => who == Who::User || (role.is_staff() && a.allowed(role)),
        Access::OwnerOnly => who == Who::User,
    };
    match (allowed, access) {
        (true, _) => Expect::Allowed,
        (false, Access::OwnerOrStaff(_) | Access::OwnerOnly) => Expect::Status(404),
        (false, _) => Expect::Status(403),
    }
}

struct Row {
    method: Method,
    /// The path as the OpenAPI document writes it.
    path: &'static str,
    /// Which fixture id replaces `{id}`.
    id: &'static str,
    query: &'static str,
    body: Option<Value>,
    access: Access,
    /// The status of an allowed call.
    ok: u16,
}

fn row(method: Method, path: &'static str, access: Access, ok: u16) -> Row {
    Row { method, path, id: "", query: "", body: None, access, ok }
}

impl Row {
    fn id(mut self, id: &'static str) -> Self {
        self.id = id;
        self
    }
    fn query(mut self, q: &'static str) -> Self {
        self.query = q;
        self
    }
    fn body(mut self, b: Value) -> Self {
        self.body = Some(b);
        self
    }
}

fn table() -> Vec<Row> {
    use Access::*;
    use Method as M;
    let creds = json!({ "username": "new@example.com", "password": "pw" });
    vec![
        row(M::GET, "/health", Public, 200),
        row(M::GET, "/ready", Public, 200),
        row(M::GET, "/metrics", Public, 200),
        // Auth
        row(M::POST, "/auth/login", Public, 200).body(json!({ "phone": VICTIM })),
        row(M::POST, "/auth/verify", Public, 200).body(json!({ "phone": VICTIM, "otp": CODE })),
        row(M::POST, "/auth/refresh", Public, 400).body(json!({ "refresh_token": "bogus" })),
        row(M::POST, "/auth/logout", Public, 204).body(json!({ "refresh_token": "bogus" })),
        row(M::POST, "/auth/logout-all", Role(Action::MyProfile), 204),
        // My profile
        row(M::GET, "/users/me", Role(Action::MyProfile), 200),
        row(M::PATCH, "/users/me", Role(Action::MyProfile), 200).body(json!({ "name": "N" })),
        // View all users / manage users
        row(M::GET, "/users", Role(Action::ViewAllUsers), 200),
        row(M::GET, "/users/{id}", Role(Action::ViewAllUsers), 200).id("victim"),
        row(M::PUT, "/users/{id}/role", Role(Action::ManageUsers), 200).id("victim").body(json!({ "role": "support" })),
        row(M::POST, "/users/{id}/block", Role(Action::ManageUsers), 200).id("victim").body(json!({})),
        row(M::POST, "/users/{id}/unblock", Role(Action::ManageUsers), 200).id("victim"),
        row(M::GET, "/users/{id}/transactions", Role(Action::WalletAdmin), 200).id("user"),
        // Browse products / manage products
        row(M::GET, "/products", Public, 200),
        row(M::GET, "/products", Role(Action::ManageProducts), 200).query("include_inactive=true"),
        row(M::GET, "/products/{id}", Public, 200).id("product"),
        row(M::POST, "/products", Role(Action::ManageProducts), 201)
            .body(json!({ "platform_name": "Prime", "plan_name": "Lite", "price_paise": 100, "duration_days": 30 })),
        row(M::PATCH, "/products/{id}", Role(Action::ManageProducts), 200).id("product").body(json!({ "plan_name": "Gold" })),
        row(M::DELETE, "/products/{id}", Role(Action::ManageProducts), 200).id("product"),
        row(M::POST, "/products/{id}/stock", Role(Action::ManageProducts), 200).id("product").body(json!({ "delta": 1 })),
        row(M::POST, "/products/{id}/credentials", Role(Action::ManageProducts), 200)
            .id("product")
            .body(json!({ "credentials": [creds.clone()] })),
        // Orders
        row(M::POST, "/orders", Role(Action::CreateOrder), 201).body(json!({ "product_id": "{product}" })),
        row(M::GET, "/orders/my", Role(Action::MyOrders), 200),
        row(M::GET, "/orders", Role(Action::ViewAllOrders), 200),
        row(M::GET, "/orders/{id}", OwnerOrStaff(Action::ViewAllOrders), 200).id("order"),
        row(M::POST, "/orders/{id}/refund", Role(Action::RefundOrders), 200).id("order").body(json!({ "reason": "r" })),
        // Subscriptions
        row(M::GET, "/subscriptions/my", Role(Action::MySubscriptions), 200),
        row(M::GET, "/subscriptions", Role(Action::ViewAllSubscriptions), 200),
        row(M::GET, "/subscriptions/{id}", OwnerOrStaff(Action::ViewAllSubscriptions), 200).id("subscription"),
        row(M::PUT, "/subscriptions/{id}/credentials", Role(Action::AssignCredentials), 200).id("subscription").body(creds),
        row(M::POST, "/subscriptions/{id}/cancel", Role(Action::AssignCredentials), 200).id("subscription").body(json!({})),
        // Wallet / wallet admin
        row(M::GET, "/wallet", Role(Action::Wallet), 200),
        row(M::GET, "/wallet/transactions", Role(Action::Wallet), 200),
        row(M::POST, "/wallet/add-money", Role(Action::Wallet), 200).body(json!({ "amount_paise": 10_000 })),
        // An unknown gateway order: allowed callers get core's 404, not 401/403.
        row(M::POST, "/wallet/verify-payment", Role(Action::Wallet), 404)
            .body(json!({ "razorpay_order_id": "order_x", "razorpay_payment_id": "pay_x", "razorpay_signature": "00" })),
        row(M::POST, "/wallet/adjust", Role(Action::WalletAdmin), 200)
            .body(json!({ "user_id": "{user}", "amount_paise": 100, "direction": "credit", "reason": "r" })),
        // Notifications / bulk notify
        row(M::GET, "/notifications", Role(Action::Notifications), 200),
        row(M::GET, "/notifications/unread-count", Role(Action::Notifications), 200),
        row(M::POST, "/notifications/{id}/read", OwnerOnly, 204).id("notification"),
        row(M::POST, "/notifications/read-all", Role(Action::Notifications), 200),
        row(M::DELETE, "/notifications/{id}", OwnerOnly, 204).id("notification"),
        row(M::POST, "/notifications/bulk", Role(Action::BulkNotify), 200)
            .body(json!({ "title": "t", "message": "m", "audience": "all" })),
        // Operator tools
        row(M::GET, "/admin/outbox", AdminOnly, 200),
        row(M::GET, "/admin/audit", AdminOnly, 200),
    ]
}

struct Fixture {
    t: TestApp,
    tokens: HashMap<Who, String>,
    ids: HashMap<&'static str, String>,
}

/// A fresh shop for each row, so one row's writes cannot change another's outcome: four
/// logged-in actors, a blockable victim, a product with a pool, funded wallets, and one
/// purchase (order, subscription, notifications) owned by `User`.
async fn fixture() -> Fixture {
    let t = TestApp::builder().gateway().build().await;
    let admin = t.token(ADMIN, Role::Admin).await;
    let support = t.token(SUPPORT, Role::Support).await;
    let user = t.token(USER, Role::User).await;
    let other = t.token(OTHER, Role::User).await;
    let victim = t.set_role(VICTIM, Role::User).await;
    let user_id = t.user_id(&user).await;
    let product = t.product(&admin, 1_000, 0, 6).await;
    for token in [&user, &other, &admin] {
        let id = t.user_id(token).await;
        t.fund(&admin, &id, 100_000).await;
    }
    let p = t.post("/orders", Some(&user), json!({ "product_id": product })).await.expect(201);
    let notification =
        t.get("/notifications", Some(&user)).await.expect(200).items()[0]["id"].as_str().unwrap().to_string();
    let ids = HashMap::from([
        ("user", user_id),
        ("victim", victim),
        ("product", product),
        ("order", p.str("/order/id")),
        ("subscription", p.str("/subscription/id")),
        ("notification", notification),
    ]);
    let tokens =
        HashMap::from([(Who::User, user), (Who::Other, other), (Who::Support, support), (Who::Admin, admin)]);
    Fixture { t, tokens, ids }
}

fn fill(s: &str, ids: &HashMap<&'static str, String>) -> String {
    ids.iter().fold(s.to_string(), |acc, (k, v)| acc.replace(&format!("{{{k}}}"), v))
}

#[tokio::test]
async fn role_matrix_over_every_route() {
    let mut failures = Vec::new();
    for r in table() {
        let f = fixture().await;
        let mut path = r.path.replace("{id}", f.ids.get(r.id).map_or("", String::as_str));
        if !r.query.is_empty() {
            path = format!("{path}?{}", r.query);
        }
        let body =
            r.body.as_ref().map(|b| serde_json::from_str(&fill(&b.to_string(), &f.ids)).expect("body"));
        for who in EVERYONE {
            let token = f.tokens.get(&who).map(String::as_str);
            let resp = f.t.call(r.method.clone(), &path, token, body.clone()).await;
            let want = expected(r.access, who);
            let good = match want {
                Expect::Allowed => resp.status == r.ok,
                Expect::Status(s) => resp.status == s,
            };
            if !good {
                failures.push(format!(
                    "{} {} as {who:?}: expected {want:?} (ok = {}), got {} {}",
                    r.method, path, r.ok, resp.status, resp.text
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn the_matrix_covers_every_operation() {
    let t = TestApp::new().await;
    let spec: Value = serde_json::from_str(&ottsonly_server::spec_json(&t.app)).unwrap();
    let mut in_spec = BTreeSet::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        // Called by Razorpay with a signature, not with a role: covered in razorpay.rs.
        if path == "/webhooks/razorpay" {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            in_spec.insert((method.to_uppercase(), path.clone()));
        }
    }
    let in_table: BTreeSet<_> = table().iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    let missing: Vec<_> = in_spec.difference(&in_table).collect();
    let unknown: Vec<_> = in_table.difference(&in_spec).collect();
    assert!(missing.is_empty(), "operations without a matrix row: {missing:?}");
    assert!(unknown.is_empty(), "matrix rows for operations not in the spec: {unknown:?}");
}

/// The seed's matrix gives support no Wallet: staff views of a user carry the balance for admins
/// only, in the list and in the single view.
#[tokio::test]
async fn support_sees_no_wallet_balances() {
    let f = fixture().await;
    let user = &f.ids["user"];
    for (who, shows) in [(Who::Support, false), (Who::Admin, true)] {
        let token = Some(f.tokens[&who].as_str());
        let one = f.t.get(&format!("/users/{user}"), token).await.expect(200);
        assert_eq!(one.body.get("wallet_balance_paise").is_some(), shows, "{who:?}: {}", one.text);
        if shows {
            assert_eq!(one.i64("/wallet_balance_paise"), 99_000);
        }
        let list = f.t.get("/users", token).await.expect(200);
        let items = list.items();
        assert!(!items.is_empty());
        for item in items {
            assert_eq!(item.get("wallet_balance_paise").is_some(), shows, "{who:?}: {item}");
        }
    }
    assert!(!Action::Wallet.allowed(Role::Support) && !Action::WalletAdmin.allowed(Role::Support));
}

#[test]
fn expectations_follow_the_seed() {
    // Spot checks of the derivation itself.
    assert_eq!(expected(Access::Role(Action::CreateOrder), Who::Support), Expect::Status(403));
    assert_eq!(expected(Access::Role(Action::ViewAllOrders), Who::Support), Expect::Allowed);
    assert_eq!(expected(Access::Role(Action::ViewAllOrders), Who::User), Expect::Status(403));
    assert_eq!(expected(Access::OwnerOrStaff(Action::ViewAllOrders), Who::Other), Expect::Status(404));
    assert_eq!(expected(Access::OwnerOnly, Who::Admin), Expect::Status(404));
    assert_eq!(expected(Access::Public, Who::Anonymous), Expect::Allowed);
    assert_eq!(expected(Access::AdminOnly, Who::Anonymous), Expect::Status(401));
}
