//! Behaviour of the whole domain over a backend: every rule, and the invariants under
//! concurrency. Every backend runs these through [`crate::service_scenario_tests!`].

use super::TestStore;
use super::harness::*;
use crate::access::Actor;
use crate::catalog::{NewProduct, ProductPatch};
use crate::error::Error;
use crate::model::*;
use crate::money::Money;
use crate::payments::PaymentStatus;
use crate::wallet::{Adjustment, ConfirmedVia, Direction, PaymentOutcome};
use chrono::TimeDelta;
use futures::future::join_all;
use std::sync::Arc;
use std::time::Duration;

fn money(p: i64) -> Money {
    Money::from_paise(p).expect("money")
}

async fn outbox_types(h: &Harness) -> Vec<String> {
    let page = h.app.outbox().list(None, &PageRequest::first(200)).await.expect("outbox");
    page.items
        .iter()
        .map(|i| {
            serde_json::from_str::<serde_json::Value>(&i.payload).expect("json")["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

async fn notification_kinds(h: &Harness, user: &Actor) -> Vec<NotificationKind> {
    let page = h.app.notifications().list(user, false, &PageRequest::default()).await.expect("list");
    page.items.into_iter().map(|n| n.kind).collect()
}

// ---------------------------------------------------------------- auth

pub async fn otp_login_creates_user_once(ts: TestStore) {
    let h = Harness::new(ts);
    let (s1, a1) = h.login("+91 98765 43210").await;
    assert_eq!(s1.user.phone.as_str(), "+919876543210");
    assert_eq!(a1.role, Role::User);
    h.clock.advance(TimeDelta::seconds(61));
    let (s2, a2) = h.login("098765-43210").await;
    assert_eq!(a1.user_id, a2.user_id, "one phone, one user");
    assert_ne!(s1.refresh_token, s2.refresh_token);
    assert_eq!(h.all_users().await.len(), 1);
}

pub async fn otp_is_stored_hashed(ts: TestStore) {
    let h = Harness::new(ts);
    h.app.auth().request_otp("+919876543210").await.unwrap();
    let code = h.sms.last_code("+919876543210").unwrap();
    assert_eq!(code.len(), 6);
    let mut r = h.ts.store.reader().await.unwrap();
    let rec = r.get_otp(&h.app.auth().parse_phone("+919876543210").unwrap()).await.unwrap().unwrap();
    assert!(!rec.code_mac.contains(&code), "code stored in clear");
    assert_eq!(rec.code_mac.len(), 64);
}

pub async fn otp_wrong_codes_then_dead(ts: TestStore) {
    let h = Harness::new(ts);
    let phone = "+919876543210";
    h.app.auth().request_otp(phone).await.unwrap();
    let code = h.sms.last_code(phone).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (0..5).rev() {
        match h.app.auth().verify_otp(phone, wrong).await {
            Err(Error::OtpInvalid { attempts_left }) => assert_eq!(attempts_left, left),
            other => panic!("expected invalid otp, got {other:?}"),
        }
    }
    assert!(matches!(h.app.auth().verify_otp(phone, &code).await, Err(Error::OtpAttemptsExceeded)));
    assert!(matches!(
        h.app.auth().verify_otp(phone, "12ab56").await,
        Err(Error::Validation { field: "otp", .. })
    ));
    assert!(h.all_users().await.is_empty(), "no user for a failed login");
}

pub async fn otp_expires_and_is_single_use(ts: TestStore) {
    let h = Harness::new(ts);
    let phone = "+919876543210";
    h.app.auth().request_otp(phone).await.unwrap();
    let code = h.sms.last_code(phone).unwrap();
    h.clock.advance(TimeDelta::seconds(301));
    assert!(matches!(h.app.auth().verify_otp(phone, &code).await, Err(Error::OtpExpired)));
    h.app.auth().request_otp(phone).await.unwrap();
    let code = h.sms.last_code(phone).unwrap();
    h.app.auth().verify_otp(phone, &code).await.expect("fresh code works");
    assert!(matches!(h.app.auth().verify_otp(phone, &code).await, Err(Error::OtpExpired)), "single use");
    assert!(
        matches!(h.app.auth().verify_otp("+919000011111", "123456").await, Err(Error::OtpExpired)),
        "never requested"
    );
}

pub async fn otp_cooldown_and_daily_cap(ts: TestStore) {
    let h = Harness::new(ts);
    let phone = "+919876543210";
    h.app.auth().request_otp(phone).await.unwrap();
    match h.app.auth().request_otp(phone).await {
        Err(e @ Error::OtpCooldown { .. }) => assert_eq!(e.retry_after().unwrap().as_secs(), 60),
        other => panic!("expected cooldown, got {other:?}"),
    }
    for _ in 1..10 {
        h.clock.advance(TimeDelta::seconds(61));
        h.app.auth().request_otp(phone).await.expect("within the daily cap");
    }
    h.clock.advance(TimeDelta::seconds(61));
    match h.app.auth().request_otp(phone).await {
        Err(e @ Error::OtpDailyLimit { .. }) => assert!(e.retry_after().unwrap().as_secs() > 3600),
        other => panic!("expected daily limit, got {other:?}"),
    }
    assert_eq!(h.sms.sent_count(), 10);
    h.clock.advance(TimeDelta::hours(24));
    h.app.auth().request_otp(phone).await.expect("a new day");
}

/// Resends give a new code with fresh per-code attempts, but not fresh guesses: the daily guess
/// budget (`otp_daily_guess_limit`, default 10) is kept across resends within the send window.
pub async fn otp_guesses_are_bounded_per_day_across_resends(ts: TestStore) {
    let h = Harness::new(ts);
    let phone = "+919876543210";
    let mut code = String::new();
    for round in 0..2u32 {
        h.app.auth().request_otp(phone).await.expect("a code");
        code = h.sms.last_code(phone).unwrap();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for left in (0..5).rev() {
            match h.app.auth().verify_otp(phone, wrong).await {
                Err(Error::OtpInvalid { attempts_left }) => assert_eq!(attempts_left, left, "round {round}"),
                other => panic!("expected invalid otp, got {other:?}"),
            }
        }
        h.clock.advance(TimeDelta::seconds(61));
    }
    // Ten wrong guesses today: even the right code of a fresh resend is refused, and no SMS is
    // spent on a code that could not be used.
    let sent = h.sms.sent_count();
    match h.app.auth().request_otp(phone).await {
        Err(e @ Error::OtpGuessLimit { .. }) => assert!(e.retry_after().unwrap().as_secs() > 3600),
        other => panic!("expected the guess limit, got {other:?}"),
    }
    assert_eq!(h.sms.sent_count(), sent);
    assert!(matches!(h.app.auth().verify_otp(phone, &code).await, Err(Error::OtpGuessLimit { .. })));
    assert_eq!(Error::OtpGuessLimit { retry_after: Duration::ZERO }.code(), "otp_guess_limit");
    h.clock.advance(TimeDelta::hours(24));
    h.app.auth().request_otp(phone).await.expect("a new day");
    let code = h.sms.last_code(phone).unwrap();
    h.app.auth().verify_otp(phone, &code).await.expect("a new day, a new budget");
}

/// Only mobile numbers of `otp_countries` (default India) get a code: against SMS pumping.
pub async fn otp_only_to_mobiles_of_allowed_countries(ts: TestStore) {
    assert_eq!(crate::CoreConfig::new([7u8; 32]).unwrap().auth.otp_countries, ["IN".to_string()].into());
    let h = Harness::with_config(ts, |c| {
        c.auth.otp_countries = ["IN".to_string(), "GB".to_string()].into();
    });
    let us = "+1 415 555 2671";
    assert!(matches!(h.app.auth().request_otp(us).await, Err(Error::PhoneCountryNotAllowed)));
    assert!(matches!(h.app.auth().verify_otp(us, "123456").await, Err(Error::PhoneCountryNotAllowed)));
    assert_eq!(Error::PhoneCountryNotAllowed.code(), "phone_country_not_allowed");
    // An Indian landline is a valid number but not a mobile one.
    assert!(matches!(
        h.app.auth().request_otp("+91 11 2345 6789").await,
        Err(Error::Validation { field: "phone", .. })
    ));
    assert_eq!(h.sms.sent_count(), 0);
    h.app.auth().request_otp("+44 7400 123456").await.expect("a UK mobile, GB allowed");
    assert!(h.sms.last_code("+447400123456").is_some());
}

pub async fn otp_delivery_failure_keeps_cooldown(ts: TestStore) {
    let h = Harness::new(ts);
    h.sms.set_failing(true);
    assert!(matches!(h.app.auth().request_otp("+919876543210").await, Err(Error::OtpDeliveryFailed(_))));
    h.sms.set_failing(false);
    assert!(matches!(h.app.auth().request_otp("+919876543210").await, Err(Error::OtpCooldown { .. })));
}

pub async fn test_phone_uses_fixed_code_without_limits(ts: TestStore) {
    let h = Harness::new(ts);
    for _ in 0..15 {
        h.app.auth().request_otp(TEST_PHONE).await.expect("no cooldown");
        h.app.auth().verify_otp(TEST_PHONE, TEST_PHONE_CODE).await.expect("fixed code");
    }
    assert_eq!(h.sms.sent_count(), 0, "test phones receive nothing");
    assert!(matches!(h.app.auth().verify_otp(TEST_PHONE, "000000").await, Err(Error::OtpInvalid { .. })));
}

pub async fn concurrent_otp_verification_succeeds_once(ts: TestStore) {
    let h = Arc::new(Harness::new(ts));
    let phone = "+919876543210";
    h.app.auth().request_otp(phone).await.unwrap();
    let code = h.sms.last_code(phone).unwrap();
    let tasks = (0..20).map(|_| {
        let (h, code) = (h.clone(), code.clone());
        tokio::spawn(async move { h.app.auth().verify_otp(phone, &code).await })
    });
    let results: Vec<_> = join_all(tasks).await.into_iter().map(|r| r.expect("join")).collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "exactly one login per code: {results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, Error::OtpExpired)));
    assert_eq!(h.all_users().await.len(), 1);
}

pub async fn refresh_rotates_and_reuse_revokes_family(ts: TestStore) {
    let h = Harness::new(ts);
    let (s1, _) = h.login("+919876543210").await;
    let s2 = h.app.auth().refresh(&s1.refresh_token).await.expect("rotate");
    assert_ne!(s2.refresh_token, s1.refresh_token);
    h.app.auth().authenticate(&s2.access_token).await.expect("new access token works");
    assert!(matches!(h.app.auth().refresh(&s1.refresh_token).await, Err(Error::RefreshTokenReused)));
    assert!(
        matches!(h.app.auth().refresh(&s2.refresh_token).await, Err(Error::RefreshTokenInvalid)),
        "reuse revoked the whole family"
    );
    assert!(matches!(h.app.auth().refresh("not-a-token").await, Err(Error::RefreshTokenInvalid)));
    // A refresh token expires with its lifetime.
    h.clock.advance(TimeDelta::seconds(61));
    let (s3, _) = h.login("+919876543210").await;
    h.clock.advance(TimeDelta::days(31));
    assert!(matches!(h.app.auth().refresh(&s3.refresh_token).await, Err(Error::RefreshTokenInvalid)));
}

pub async fn logout_and_logout_everywhere(ts: TestStore) {
    let h = Harness::new(ts);
    let (s1, actor) = h.login("+919876543210").await;
    h.clock.advance(TimeDelta::seconds(61));
    let (s2, _) = h.login("+919876543210").await;
    h.app.auth().logout(&s1.refresh_token).await.unwrap();
    h.app.auth().logout(&s1.refresh_token).await.expect("idempotent");
    assert!(matches!(h.app.auth().refresh(&s1.refresh_token).await, Err(Error::RefreshTokenInvalid)));
    h.app.auth().refresh(&s2.refresh_token).await.expect("other session untouched");
    h.app.auth().logout_all(&actor).await.unwrap();
    assert!(matches!(h.app.auth().authenticate(&s2.access_token).await, Err(Error::InvalidToken)));
}

pub async fn access_tokens_expire_and_resist_tampering(ts: TestStore) {
    let h = Harness::new(ts);
    let (s, _) = h.login("+919876543210").await;
    let mut forged = s.access_token.clone();
    forged.pop();
    forged.push(if s.access_token.ends_with('A') { 'B' } else { 'A' });
    assert!(matches!(h.app.auth().authenticate(&forged).await, Err(Error::InvalidToken)));
    assert!(matches!(h.app.auth().authenticate("garbage").await, Err(Error::InvalidToken)));
    h.clock.advance(TimeDelta::minutes(15));
    assert!(matches!(h.app.auth().authenticate(&s.access_token).await, Err(Error::TokenExpired)));
}

pub async fn blocked_users_cannot_log_in_and_tokens_stop(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let (s, user) = h.login("+919876543210").await;
    h.app.users().block(&admin, &user.user_id, Some("fraud")).await.unwrap();
    assert!(matches!(
        h.app.auth().authenticate(&s.access_token).await,
        Err(Error::InvalidToken | Error::UserBlocked)
    ));
    assert!(h.app.auth().refresh(&s.refresh_token).await.is_err());
    h.clock.advance(TimeDelta::seconds(61));
    // Login answers as for any number (no enumeration of accounts or blocks) but sends nothing.
    let sent = h.sms.sent_count();
    let stranger = h.app.auth().request_otp("+919822222222").await.expect("any number");
    let blocked = h.app.auth().request_otp("+919876543210").await.expect("same answer");
    assert_eq!(blocked, stranger);
    assert_eq!(h.sms.sent_count(), sent + 1, "no SMS to the blocked number");
    assert!(matches!(h.app.auth().request_otp("+919876543210").await, Err(Error::OtpCooldown { .. })));
    // The block bites at verify, whatever the code.
    assert!(matches!(h.app.auth().verify_otp("+919876543210", "000000").await, Err(Error::UserBlocked)));
    assert!(matches!(h.app.users().block(&admin, &admin.user_id, None).await, Err(Error::InvalidState(_))));
    h.app.users().unblock(&admin, &user.user_id).await.unwrap();
    h.clock.advance(TimeDelta::seconds(61));
    h.login("+919876543210").await;
}

pub async fn role_changes_apply_on_next_request(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let (s, user) = h.login("+919876543210").await;
    h.app.users().set_role(&admin, &user.user_id, Role::Support).await.unwrap();
    let now_support = h.app.auth().authenticate(&s.access_token).await.unwrap();
    assert_eq!(now_support.role, Role::Support, "the stored role is authoritative");
    let admin_p = h.product(&admin, 100, 5, 0).await;
    assert!(matches!(h.app.orders().purchase(&now_support, &admin_p.id, None).await, Err(Error::Forbidden)));
    assert!(matches!(h.app.wallet().balance(&now_support).await, Err(Error::Forbidden)));
    assert!(h.app.users().list(&now_support, None, None, &PageRequest::default()).await.is_ok());
    assert!(matches!(
        h.app.users().set_role(&now_support, &admin.user_id, Role::User).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        h.app.users().set_role(&admin, &admin.user_id, Role::User).await,
        Err(Error::InvalidState(_))
    ));
}

pub async fn profile_update_validates(ts: TestStore) {
    let h = Harness::new(ts);
    let (_, user) = h.login("+919876543210").await;
    let patch =
        crate::users::ProfilePatch { name: Some(" Asha ".into()), email: Some("Asha@Example.com".into()) };
    let u = h.app.users().update_profile(&user, patch).await.unwrap();
    assert_eq!(u.name.as_deref(), Some("Asha"));
    assert_eq!(u.email.as_deref(), Some("Asha@example.com"));
    let bad = crate::users::ProfilePatch { name: None, email: Some("nope".into()) };
    assert!(matches!(
        h.app.users().update_profile(&user, bad).await,
        Err(Error::Validation { field: "email", .. })
    ));
    let clear = crate::users::ProfilePatch { name: Some(String::new()), email: None };
    let u = h.app.users().update_profile(&user, clear).await.unwrap();
    assert_eq!(u.name, None);
    assert_eq!(u.email.as_deref(), Some("Asha@example.com"));
}

pub async fn staff_user_search(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    for i in 0..5 {
        h.user_with_role(&format!("+91987654321{i}"), Role::User).await;
    }
    h.user_with_role("+918888888888", Role::Support).await;
    let page = h.app.users().list(&admin, Some("98765"), None, &PageRequest::first(3)).await.unwrap();
    assert_eq!(page.items.len(), 3);
    let rest = PageRequest { limit: Some(3), cursor: page.next_cursor.clone() };
    let page2 = h.app.users().list(&admin, Some("98765"), None, &rest).await.unwrap();
    assert_eq!(page2.items.len(), 2);
    assert!(page2.next_cursor.is_none());
    let support =
        h.app.users().list(&admin, None, Some(Role::Support), &PageRequest::default()).await.unwrap();
    assert_eq!(support.items.len(), 1);
    let user = h.user_with_role("+917777777777", Role::User).await;
    assert!(matches!(
        h.app.users().list(&user, None, None, &PageRequest::default()).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        h.app.users().list(&admin, None, None, &PageRequest::first(201)).await,
        Err(Error::Validation { .. })
    ));
}

// ---------------------------------------------------------------- catalog

pub async fn product_list_cache_follows_writes(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let user = h.user_with_role("+919876543210", Role::User).await;
    let first = PageRequest::first(20);
    let stock_in_list = |page: &Page<Product>, id: &crate::ids::ProductId| {
        page.items.iter().find(|p| &p.id == id).map(|p| (p.stock, p.price.paise()))
    };
    let p = h.product(&admin, 10_000, 0, 3).await;
    let list = h.app.catalog().list(None, false, &first).await.unwrap();
    assert_eq!(stock_in_list(&list, &p.id), Some((3, 10_000)));
    // This process's own writes show at once: a purchase, a price change, a deactivation.
    h.fund(&admin, &user.user_id, 10_000).await;
    h.app.orders().purchase(&user, &p.id, None).await.unwrap();
    let list = h.app.catalog().list(None, false, &first).await.unwrap();
    assert_eq!(stock_in_list(&list, &p.id), Some((2, 10_000)));
    let patch = ProductPatch { price: Some(money(12_000)), ..Default::default() };
    h.app.catalog().update(&admin, &p.id, patch).await.unwrap();
    assert_eq!(
        stock_in_list(&h.app.catalog().list(None, false, &first).await.unwrap(), &p.id),
        Some((2, 12_000))
    );
    // Another instance's write (straight through the store) shows once the short TTL has passed.
    let mut tx = h.ts.store.begin().await.unwrap();
    tx.adjust_stock(&p.id, 5, false, h.app.now()).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    let cached = h.app.catalog().list(None, false, &first).await.unwrap();
    assert_eq!(stock_in_list(&cached, &p.id), Some((2, 12_000)), "served from the cache within the TTL");
    h.clock.advance(TimeDelta::from_std(h.app.config().catalog.list_cache_ttl).unwrap());
    let fresh = h.app.catalog().list(None, false, &first).await.unwrap();
    assert_eq!(stock_in_list(&fresh, &p.id), Some((7, 12_000)));
    // The admin's list with inactive products is never cached.
    h.app.catalog().deactivate(&admin, &p.id).await.unwrap();
    assert_eq!(stock_in_list(&h.app.catalog().list(None, false, &first).await.unwrap(), &p.id), None);
    let all = h.app.catalog().list(Some(&admin), true, &first).await.unwrap();
    assert!(stock_in_list(&all, &p.id).is_some());
}

pub async fn product_admin_and_visibility(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let user = h.user_with_role("+919876543210", Role::User).await;
    let bad = NewProduct {
        platform_name: " ".into(),
        plan_name: "x".into(),
        description: String::new(),
        price: money(100),
        duration_days: 30,
        stock: 0,
        is_active: true,
    };
    assert!(matches!(
        h.app.catalog().create(&admin, bad.clone()).await,
        Err(Error::Validation { field: "platform_name", .. })
    ));
    let zero_price = NewProduct { platform_name: "P".into(), price: Money::ZERO, ..bad.clone() };
    assert!(matches!(
        h.app.catalog().create(&admin, zero_price).await,
        Err(Error::Validation { field: "price_paise", .. })
    ));
    let bad_days = NewProduct { platform_name: "P".into(), duration_days: 0, ..bad.clone() };
    assert!(matches!(
        h.app.catalog().create(&admin, bad_days).await,
        Err(Error::Validation { field: "duration_days", .. })
    ));
    assert!(matches!(
        h.app.catalog().create(&user, NewProduct { platform_name: "P".into(), ..bad }).await,
        Err(Error::Forbidden)
    ));
    let p = h.product(&admin, 19900, 2, 0).await;
    let patch = ProductPatch {
        price: Some(money(24900)),
        plan_name: Some("Premium 4K".into()),
        ..Default::default()
    };
    let p2 = h.app.catalog().update(&admin, &p.id, patch).await.unwrap();
    assert_eq!((p2.price, p2.plan_name.as_str(), p2.stock), (money(24900), "Premium 4K", 2));
    h.app.catalog().deactivate(&admin, &p.id).await.unwrap();
    assert!(matches!(h.app.catalog().get(Some(&user), &p.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(h.app.catalog().get(None, &p.id).await, Err(Error::NotFound { .. })));
    assert!(!h.app.catalog().get(Some(&admin), &p.id).await.unwrap().is_active);
    assert!(h.app.catalog().list(None, false, &PageRequest::default()).await.unwrap().items.is_empty());
    assert_eq!(
        h.app.catalog().list(Some(&admin), true, &PageRequest::default()).await.unwrap().items.len(),
        1
    );
    assert!(matches!(
        h.app.catalog().list(Some(&user), true, &PageRequest::default()).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(h.app.orders().purchase(&user, &p.id, None).await, Err(Error::ProductInactive)));
}

pub async fn stock_never_negative_and_credentials_sealed(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let p = h.product(&admin, 100, 1, 0).await;
    assert!(matches!(
        h.app.catalog().adjust_stock(&admin, &p.id, -2, None).await,
        Err(Error::InvalidState(_))
    ));
    assert_eq!(h.app.catalog().adjust_stock(&admin, &p.id, 4, Some("restock")).await.unwrap().stock, 5);
    let p = h
        .app
        .catalog()
        .import_credentials(&admin, &p.id, vec![creds("a@x.io"), creds("b@x.io")])
        .await
        .unwrap();
    assert_eq!(p.stock, 7, "importing N adds N to stock");
    assert_eq!(h.app.catalog().available_credentials(&admin, &p.id).await.unwrap(), 2);
    let bad = vec![creds("ok@x.io"), crate::crypto::Credentials { password: " ".into(), ..creds("c@x.io") }];
    assert!(matches!(
        h.app.catalog().import_credentials(&admin, &p.id, bad).await,
        Err(Error::Validation { .. })
    ));
    assert_eq!(h.app.catalog().available_credentials(&admin, &p.id).await.unwrap(), 2, "all or nothing");
    // Sealed at rest: the stored bytes do not contain the password.
    let user = h.user_with_role("+919876543210", Role::User).await;
    h.fund(&admin, &user.user_id, 100).await;
    let bought = h.app.orders().purchase(&user, &p.id, None).await.unwrap();
    let cid = bought.subscription.credential_id.clone().expect("pool credential");
    let mut r = h.ts.store.reader().await.unwrap();
    let rec = r.get_credential(&cid).await.unwrap().unwrap();
    assert!(!rec.sealed.windows(8).any(|w| w == b"pw-a@x.i"), "password stored in clear");
    assert_eq!(rec.status, CredentialStatus::Assigned);
}

/// Stock, stock deltas and prices are bounded; an out-of-range value is a validation error (a 400
/// at the API), stock that would pass the top is `InvalidState` (409, like going below zero);
/// never an overflow, and nothing changes.
pub async fn stock_and_price_are_bounded(ts: TestStore) {
    use crate::catalog::{PRICE_MAX_PAISE, STOCK_DELTA_MAX, STOCK_MAX};
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let new = |price: i64, stock: i64| NewProduct {
        platform_name: "P".into(),
        plan_name: "x".into(),
        description: String::new(),
        price: money(price),
        duration_days: 30,
        stock,
        is_active: true,
    };
    let c = h.app.catalog();
    assert!(matches!(
        c.create(&admin, new(PRICE_MAX_PAISE + 1, 0)).await,
        Err(Error::Validation { field: "price_paise", .. })
    ));
    assert!(matches!(
        c.create(&admin, new(100, STOCK_MAX + 1)).await,
        Err(Error::Validation { field: "stock", .. })
    ));
    assert!(matches!(
        c.create(&admin, new(100, i64::MAX)).await,
        Err(Error::Validation { field: "stock", .. })
    ));
    let p = c.create(&admin, new(PRICE_MAX_PAISE, STOCK_MAX - 10)).await.unwrap();
    let too_dear = ProductPatch { price: Some(money(i64::MAX)), ..Default::default() };
    assert!(matches!(
        c.update(&admin, &p.id, too_dear).await,
        Err(Error::Validation { field: "price_paise", .. })
    ));
    assert!(
        matches!(c.adjust_stock(&admin, &p.id, 11, None).await, Err(Error::InvalidState(_))),
        "above the top"
    );
    for delta in [i64::MAX, i64::MIN, STOCK_DELTA_MAX + 1, -STOCK_DELTA_MAX - 1] {
        assert!(
            matches!(
                c.adjust_stock(&admin, &p.id, delta, None).await,
                Err(Error::Validation { field: "delta", .. })
            ),
            "{delta}"
        );
    }
    assert_eq!(
        c.adjust_stock(&admin, &p.id, 0, None).await.unwrap().stock,
        STOCK_MAX - 10,
        "zero is a no-op"
    );
    assert_eq!(c.adjust_stock(&admin, &p.id, 10, None).await.unwrap().stock, STOCK_MAX);
    assert!(matches!(
        c.import_credentials(&admin, &p.id, vec![creds("a@x.io")]).await,
        Err(Error::InvalidState(_))
    ));
    assert_eq!(
        c.adjust_stock(&admin, &p.id, -STOCK_DELTA_MAX, None).await.unwrap().stock,
        STOCK_MAX - STOCK_DELTA_MAX
    );
    assert_eq!(c.available_credentials(&admin, &p.id).await.unwrap(), 0);
}

/// A cursor that is not an id is refused on every list, never read as "the first page".
pub async fn malformed_cursors_are_refused(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    for bad in ["x", "page-2", "0196a000-0000-7000-8000-00000000000G", "0196A000-0000-7000-8000-000000000000"]
    {
        let page = PageRequest { limit: None, cursor: Some(bad.into()) };
        assert!(matches!(h.app.catalog().list(None, false, &page).await, Err(Error::InvalidCursor)), "{bad}");
        assert!(matches!(h.app.orders().mine(&admin, &page).await, Err(Error::InvalidCursor)), "{bad}");
        assert!(
            matches!(h.app.users().list(&admin, None, None, &page).await, Err(Error::InvalidCursor)),
            "{bad}"
        );
    }
    let ok = PageRequest { limit: None, cursor: Some("0196a000-0000-7000-8000-000000000000".into()) };
    assert!(h.app.catalog().list(None, false, &ok).await.unwrap().items.is_empty());
}

// ---------------------------------------------------------------- orders

pub async fn purchase_from_pool_is_active_with_credentials(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let support = h.user_with_role("+918888888888", Role::Support).await;
    let (_, user) = h.login("+919876543210").await;
    let p = h.product(&admin, 19900, 0, 1).await;
    h.fund(&admin, &user.user_id, 50000).await;
    let bought = h.app.orders().purchase(&user, &p.id, None).await.unwrap();
    assert_eq!(bought.order.status, OrderStatus::Completed);
    assert_eq!(bought.order.amount, money(19900));
    assert_eq!(bought.order.product_name, "Netflix Premium");
    let sub = &bought.subscription;
    assert_eq!(sub.status, SubscriptionStatus::Active);
    assert_eq!(sub.start_at, Some(h.app.now()));
    assert_eq!(sub.end_at, Some(h.app.now() + TimeDelta::days(30)));
    assert_eq!(h.balance(&user.user_id).await, 30100);
    let ledger = h.app.wallet().transactions(&user, &PageRequest::default()).await.unwrap();
    let debit = &ledger.items[0];
    assert_eq!(
        (debit.kind, debit.amount, debit.balance_after),
        (EntryKind::Debit, money(19900), money(30100))
    );
    assert_eq!(
        (debit.reference_type, debit.reference_id.as_str()),
        (ReferenceType::Order, bought.order.id.as_str())
    );
    let view = h.app.subscriptions().get(&user, &sub.id).await.unwrap();
    assert_eq!(view.credentials.as_ref().map(|c| c.username.as_str()), Some("acct0@example.com"));
    assert!(h.app.subscriptions().get(&admin, &sub.id).await.unwrap().credentials.is_some());
    assert!(
        h.app.subscriptions().get(&support, &sub.id).await.unwrap().credentials.is_none(),
        "support never sees secrets"
    );
    let other = h.user_with_role("+917777777777", Role::User).await;
    assert!(matches!(h.app.subscriptions().get(&other, &sub.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(h.app.orders().get(&other, &bought.order.id).await, Err(Error::NotFound { .. })));
    assert_eq!(h.app.orders().get(&support, &bought.order.id).await.unwrap().id, bought.order.id);
    let kinds = notification_kinds(&h, &user).await;
    assert!(
        kinds.contains(&NotificationKind::OrderConfirmed)
            && kinds.contains(&NotificationKind::CredentialsDelivered),
        "{kinds:?}"
    );
    let alerts = outbox_types(&h).await;
    assert!(
        alerts.contains(&"new_order".to_string()) && alerts.contains(&"low_stock".to_string()),
        "{alerts:?}"
    );
    assert_eq!(h.app.catalog().get(None, &p.id).await.unwrap().stock, 0);
    h.check_invariants().await;
}

pub async fn purchase_without_pool_waits_for_admin_credentials(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let user = h.user_with_role("+919876543210", Role::User).await;
    let p = h.product(&admin, 1000, 10, 0).await;
    h.fund(&admin, &user.user_id, 1000).await;
    let bought = h.app.orders().purchase(&user, &p.id, None).await.unwrap();
    let sub = bought.subscription;
    assert_eq!((sub.status, sub.start_at, sub.end_at), (SubscriptionStatus::PendingCredentials, None, None));
    assert!(outbox_types(&h).await.contains(&"awaiting_credentials".to_string()));
    assert!(h.app.subscriptions().get(&user, &sub.id).await.unwrap().credentials.is_none());
    assert!(matches!(
        h.app.subscriptions().assign_credentials(&user, &sub.id, creds("x@y.z")).await,
        Err(Error::Forbidden)
    ));
    h.clock.advance(TimeDelta::days(2));
    let v = h.app.subscriptions().assign_credentials(&admin, &sub.id, creds("late@x.io")).await.unwrap();
    assert_eq!(v.subscription.status, SubscriptionStatus::Active);
    assert_eq!(v.subscription.start_at, Some(h.app.now()), "the period starts at assignment");
    assert_eq!(v.subscription.end_at, Some(h.app.now() + TimeDelta::days(30)));
    let v = h.app.subscriptions().get(&user, &sub.id).await.unwrap();
    assert_eq!(v.credentials.unwrap().username, "late@x.io");
    // Replacing keeps the dates.
    h.clock.advance(TimeDelta::days(1));
    let r = h.app.subscriptions().assign_credentials(&admin, &sub.id, creds("new@x.io")).await.unwrap();
    assert_eq!(r.subscription.start_at, v.subscription.start_at);
    assert_eq!(
        h.app.subscriptions().get(&user, &sub.id).await.unwrap().credentials.unwrap().username,
        "new@x.io"
    );
}

pub async fn failed_purchases_leave_no_trace(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let user = h.user_with_role("+919876543210", Role::User).await;
    let support = h.user_with_role("+918888888888", Role::Support).await;
    let p = h.product(&admin, 1000, 1, 0).await;
    h.fund(&admin, &user.user_id, 999).await;
    let alerts_before = outbox_types(&h).await.len();
    assert!(matches!(h.app.orders().purchase(&user, &p.id, None).await, Err(Error::InsufficientBalance)));
    assert_eq!(h.app.catalog().get(None, &p.id).await.unwrap().stock, 1, "stock restored by rollback");
    assert_eq!(h.balance(&user.user_id).await, 999);
    assert_eq!(outbox_types(&h).await.len(), alerts_before, "no alert for a rolled-back purchase");
    assert!(matches!(h.app.orders().purchase(&support, &p.id, None).await, Err(Error::Forbidden)));
    let missing = crate::ids::ProductId::from_string("nope");
    assert!(matches!(h.app.orders().purchase(&user, &missing, None).await, Err(Error::NotFound { .. })));
    h.fund(&admin, &user.user_id, 1001).await;
    h.app.orders().purchase(&user, &p.id, None).await.unwrap();
    assert!(matches!(h.app.orders().purchase(&user, &p.id, None).await, Err(Error::OutOfStock)));
    assert_eq!(h.balance(&user.user_id).await, 1000);
    assert_eq!(h.all_orders().await.len(), 1);
    h.check_invariants().await;
}

pub async fn idempotent_purchase_replays_and_detects_reuse(ts: TestStore) {
    let h = Arc::new(Harness::new(ts));
    let admin = h.admin().await;
    let user = h.user_with_role("+919876543210", Role::User).await;
    let p = h.product(&admin, 100, 50, 0).await;
    let q = h.product(&admin, 100, 50, 0).await;
    h.fund(&admin, &user.user_id, 10_000).await;
    let first = h.app.orders().purchase(&user, &p.id, Some("k1")).await.unwrap();
    let again = h.app.orders().purchase(&user, &p.id, Some("k1")).await.unwrap();
    assert!(again.replayed && !first.replayed);
    assert_eq!(first.order.id, again.order.id);
    assert_eq!(first.subscription.id, again.subscription.id);
    assert!(matches!(
        h.app.orders().purchase(&user, &q.id, Some("k1")).await,
        Err(Error::IdempotencyKeyReused)
    ));
    assert!(matches!(
        h.app.orders().purchase(&user, &p.id, Some("bad key")).await,
        Err(Error::Validation { .. })
    ));
    // Ten concurrent retries with one key buy once.
    let tasks = (0..10).map(|_| {
        let (h, user, pid) = (h.clone(), user.clone(), p.id.clone());
        tokio::spawn(async move { h.app.orders().purchase(&user, &pid, Some("k2")).await })
    });
    let results: Vec<_> =
        join_all(tasks).await.into_iter().map(|r| r.expect("join").expect("purchase")).collect();
    assert_eq!(results.iter().filter(|r| !r.replayed).count(), 1);
    assert!(results.iter().all(|r| r.order.id == results[0].order.id));
    assert_eq!(h.balance(&user.user_id).await, 10_000 - 200);
    // The same key from another user is theirs alone.
    let other = h.user_with_role("+917777777777", Role::User).await;
    h.fund(&admin, &other.user_id, 100).await;
    assert!(!h.app.orders().purchase(&other, &p.id, Some("k1")).await.unwrap().replayed);
    h.check_invariants().await;
}

pub async fn refund_happens_once_and_can_restock(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let user = h.user_with_role("+919876543210", Role::User).await;
    let p = h.product(&admin, 5000, 0, 1).await;
    h.fund(&admin, &user.user_id, 5000).await;
    let bought = h.app.orders().purchase(&user, &p.id, None).await.unwrap();
    assert!(matches!(
        h.app.orders().refund(&user, &bought.order.id, "x", false).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        h.app.orders().refund(&admin, &bought.order.id, "  ", false).await,
        Err(Error::Validation { .. })
    ));
    let r = h.app.orders().refund(&admin, &bought.order.id, "account stopped working", true).await.unwrap();
    assert_eq!(r.order.status, OrderStatus::Refunded);
    assert_eq!(r.order.refund_reason.as_deref(), Some("account stopped working"));
    assert_eq!(r.order.refunded_by.as_ref(), Some(&admin.user_id));
    assert_eq!(h.app.orders().get(&admin, &bought.order.id).await.unwrap(), r.order, "returned as stored");
    assert_eq!(r.balance, money(5000));
    assert_eq!(r.subscription.unwrap().status, SubscriptionStatus::Refunded);
    assert_eq!(h.app.catalog().get(None, &p.id).await.unwrap().stock, 1, "restocked");
    assert!(matches!(
        h.app.orders().refund(&admin, &bought.order.id, "again", false).await,
        Err(Error::AlreadyRefunded)
    ));
    let entry = &h.app.wallet().transactions(&user, &PageRequest::default()).await.unwrap().items[0];
    assert_eq!(
        (entry.kind, entry.reference_type, entry.balance_after),
        (EntryKind::Credit, ReferenceType::Refund, money(5000))
    );
    assert_eq!(entry.actor_id.as_ref(), Some(&admin.user_id));
    assert!(outbox_types(&h).await.contains(&"refund".to_string()));
    h.check_invariants().await;
}

pub async fn concurrent_refunds_refund_once(ts: TestStore) {
    let h = Arc::new(Harness::new(ts));
    let admin = h.admin().await;
    let user = h.user_with_role("+919876543210", Role::User).await;
    let p = h.product(&admin, 10000, 5, 0).await;
    h.fund(&admin, &user.user_id, 10000).await;
    let order = h.app.orders().purchase(&user, &p.id, None).await.unwrap().order;
    let tasks = (0..20).map(|i| {
        let (h, admin, oid) = (h.clone(), admin.clone(), order.id.clone());
        tokio::spawn(async move { h.app.orders().refund(&admin, &oid, &format!("attempt {i}"), true).await })
    });
    let results: Vec<_> = join_all(tasks).await.into_iter().map(|r| r.expect("join")).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, Error::AlreadyRefunded)));
    assert_eq!(h.balance(&user.user_id).await, 10000);
    assert_eq!(h.app.catalog().get(None, &p.id).await.unwrap().stock, 5, "restocked once");
    h.check_invariants().await;
}

/// 20 concurrent adjustments with one request id but other users, directions and amounts:
/// exactly one applies; the others replay it (same values) or are refused as a reused id.
pub async fn concurrent_adjustments_with_one_request_id_apply_once(ts: TestStore) {
    let h = Arc::new(Harness::new(ts));
    let admin = h.admin().await;
    let a = h.user_with_role("+919876543210", Role::User).await;
    let b = h.user_with_role("+919822222222", Role::User).await;
    h.fund(&admin, &a.user_id, 10_000).await;
    h.fund(&admin, &b.user_id, 10_000).await;
    let tasks = (0..20).map(|i| {
        let (h, admin) = (h.clone(), admin.clone());
        let user = if i % 2 == 0 { a.user_id.clone() } else { b.user_id.clone() };
        let direction = if i % 3 == 0 { Direction::Debit } else { Direction::Credit };
        let adj = Adjustment {
            user_id: user,
            amount: money(100 + (i % 2) * 100),
            direction,
            reason: format!("race {i}"),
            request_id: Some("one-request".into()),
        };
        tokio::spawn(async move { h.app.wallet().adjust(&admin, adj).await })
    });
    let results: Vec<_> = join_all(tasks).await.into_iter().map(|r| r.expect("join")).collect();
    let applied: std::collections::HashSet<_> =
        results.iter().filter_map(|r| r.as_ref().ok()).map(|e| e.id.clone()).collect();
    assert_eq!(applied.len(), 1, "one adjustment, replayed at most: {results:?}");
    assert!(
        results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, Error::IdempotencyKeyReused)),
        "{results:?}"
    );
    let moved = (h.balance(&a.user_id).await - 10_000).abs() + (h.balance(&b.user_id).await - 10_000).abs();
    assert!(moved == 100 || moved == 200, "exactly one adjustment moved money: {moved}");
    h.check_invariants().await;
}

/// 20 concurrent top-up requests of one user against a limit of 10 open intents (and no
/// per-minute cap): exactly 10 are created, on every backend.
pub async fn concurrent_topups_respect_the_open_limit(ts: TestStore) {
    let h = Arc::new(Harness::with_config(ts, |c| {
        c.wallet.max_open_topups = 10;
        c.wallet.topups_per_minute = 0;
    }));
    let user = h.user_with_role("+919876543210", Role::User).await;
    let tasks = (0..20).map(|_| {
        let (h, user) = (h.clone(), user.clone());
        tokio::spawn(async move { h.app.wallet().create_topup(&user, money(1000)).await })
    });
    let results: Vec<_> = join_all(tasks).await.into_iter().map(|r| r.expect("join")).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 10, "{results:?}");
    assert!(
        results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, Error::TooManyOpenTopUps { .. })),
        "{results:?}"
    );
    let mut r = h.ts.store.reader().await.unwrap();
    let open = r.list_open_topups(h.app.now(), &Slice { before_id: None, limit: 100 }).await.unwrap();
    assert_eq!(open.len(), 10);
    drop(r);
    h.check_invariants().await;
}

/// The headline invariant test: 200 concurrent purchases by 20 users with mixed balances against
/// a product of stock 50 (30 of them pool credentials).
// Wall time is read only to report how long the burst took, never to decide anything.
#[allow(clippy::disallowed_methods)]
pub async fn concurrent_purchases_keep_every_invariant(ts: TestStore) {
    let h = Arc::new(Harness::new(ts));
    let admin = h.admin().await;
    let price = 1000i64;
    let p = h.product(&admin, price, 20, 30).await;
    assert_eq!(p.stock, 50);
    let mut users = Vec::new();
    let mut affordable = 0i64;
    for i in 0..20i64 {
        let u = h.user_with_role(&format!("+9190000{:05}", 10 + i), Role::User).await;
        // Balances from 0 to 9.5 purchases' worth: some users can buy nothing, most several.
        let funds = (i % 10) * price + if i % 3 == 0 { price / 2 } else { 0 };
        h.fund(&admin, &u.user_id, funds).await;
        affordable += funds / price;
        users.push(u);
    }
    let expected = affordable.min(50);
    let tasks = (0..200).map(|i| {
        let (h, user, pid) = (h.clone(), users[i % 20].clone(), p.id.clone());
        tokio::spawn(async move { h.app.orders().purchase(&user, &pid, None).await })
    });
    let started = std::time::Instant::now();
    let results: Vec<_> = join_all(tasks).await.into_iter().map(|r| r.expect("join")).collect();
    let elapsed = started.elapsed();
    let ok = results.iter().filter(|r| r.is_ok()).count() as i64;
    let out_of_stock = results.iter().filter(|r| matches!(r, Err(Error::OutOfStock))).count();
    let too_poor = results.iter().filter(|r| matches!(r, Err(Error::InsufficientBalance))).count();
    eprintln!(
        "200 concurrent purchases by 20 users on stock 50 ({}): {ok} succeeded (affordable {affordable}), \
         {out_of_stock} out_of_stock, {too_poor} insufficient_balance, in {elapsed:?}",
        h.ts.store.backend_name()
    );
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, Error::OutOfStock | Error::InsufficientBalance), "unexpected failure: {e:?}");
        }
    }
    assert_eq!(ok, expected, "exactly min(stock, affordable) purchases succeed");
    let product = h.app.catalog().get(None, &p.id).await.unwrap();
    assert_eq!(product.stock, 50 - expected);
    let active =
        results.iter().flatten().filter(|r| r.subscription.status == SubscriptionStatus::Active).count();
    assert_eq!(active as i64, expected.min(30), "each pool credential handed out once");
    assert_eq!(h.all_orders().await.len() as i64, expected);
    h.check_invariants().await;
}

pub async fn order_lists_paginate_newest_first(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let support = h.user_with_role("+918888888888", Role::Support).await;
    let user = h.user_with_role("+919876543210", Role::User).await;
    let p = h.product(&admin, 100, 100, 0).await;
    h.fund(&admin, &user.user_id, 700).await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(h.app.orders().purchase(&user, &p.id, None).await.unwrap().order.id);
        h.clock.advance(TimeDelta::milliseconds(1));
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..10 {
        let page = h
            .app
            .orders()
            .mine(&user, &PageRequest { limit: Some(3), cursor: cursor.clone() })
            .await
            .unwrap();
        seen.extend(page.items.into_iter().map(|o| o.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, ids);
    assert!(matches!(h.app.orders().mine(&support, &PageRequest::default()).await, Err(Error::Forbidden)));
    let filter = OrderFilter {
        user_id: Some(user.user_id.clone()),
        status: Some(OrderStatus::Refunded),
        ..Default::default()
    };
    assert!(h.app.orders().list(&support, &filter, &PageRequest::default()).await.unwrap().items.is_empty());
    assert!(matches!(
        h.app.orders().list(&user, &filter, &PageRequest::default()).await,
        Err(Error::Forbidden)
    ));
}

// ---------------------------------------------------------------- subscriptions over time

pub async fn subscriptions_expire_by_the_clock(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let user = h.user_with_role("+919876543210", Role::User).await;
    let p = h.product(&admin, 100, 0, 1).await;
    h.fund(&admin, &user.user_id, 100).await;
    let sub = h.app.orders().purchase(&user, &p.id, None).await.unwrap().subscription;
    h.clock.advance(TimeDelta::days(26));
    let report = h.app.subscriptions().run_maintenance().await.unwrap();
    assert_eq!((report.expired, report.reminded), (0, 0), "not yet within 3 days");
    h.clock.advance(TimeDelta::days(1) + TimeDelta::seconds(1));
    let report = h.app.subscriptions().run_maintenance().await.unwrap();
    assert_eq!((report.expired, report.reminded), (0, 1));
    assert_eq!(h.app.subscriptions().run_maintenance().await.unwrap().reminded, 0, "reminded once");
    h.clock.advance(TimeDelta::days(3));
    // Read before the sweep: already expired.
    assert_eq!(
        h.app.subscriptions().get(&user, &sub.id).await.unwrap().subscription.status,
        SubscriptionStatus::Expired
    );
    let mine = h.app.subscriptions().mine(&user, None, &PageRequest::default()).await.unwrap();
    assert_eq!(mine.items[0].status, SubscriptionStatus::Expired);
    assert_eq!(h.app.subscriptions().run_maintenance().await.unwrap().expired, 1);
    assert_eq!(h.app.subscriptions().run_maintenance().await.unwrap().expired, 0);
    let mut r = h.ts.store.reader().await.unwrap();
    assert_eq!(r.get_subscription(&sub.id).await.unwrap().unwrap().status, SubscriptionStatus::Expired);
    let kinds = notification_kinds(&h, &user).await;
    assert!(
        kinds.contains(&NotificationKind::Expired) && kinds.contains(&NotificationKind::ExpiringSoon),
        "{kinds:?}"
    );
    assert!(matches!(
        h.app.subscriptions().assign_credentials(&admin, &sub.id, creds("a@b.cd")).await,
        Err(Error::InvalidState(_))
    ));
}

pub async fn cancel_subscription(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let user = h.user_with_role("+919876543210", Role::User).await;
    let p = h.product(&admin, 100, 1, 0).await;
    h.fund(&admin, &user.user_id, 100).await;
    let sub = h.app.orders().purchase(&user, &p.id, None).await.unwrap().subscription;
    assert!(matches!(h.app.subscriptions().cancel(&user, &sub.id, None).await, Err(Error::Forbidden)));
    let c = h.app.subscriptions().cancel(&admin, &sub.id, Some("duplicate")).await.unwrap();
    assert_eq!(c.status, SubscriptionStatus::Cancelled);
    assert!(matches!(h.app.subscriptions().cancel(&admin, &sub.id, None).await, Err(Error::InvalidState(_))));
    let filter = SubscriptionFilter { status: Some(SubscriptionStatus::Cancelled), ..Default::default() };
    assert_eq!(
        h.app.subscriptions().list(&admin, &filter, &PageRequest::default()).await.unwrap().items.len(),
        1
    );
}

// ---------------------------------------------------------------- wallet

pub async fn admin_adjustments(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let user = h.user_with_role("+919876543210", Role::User).await;
    let adj = |dir, amount, req: Option<&str>| Adjustment {
        user_id: user.user_id.clone(),
        amount: money(amount),
        direction: dir,
        reason: "goodwill".into(),
        request_id: req.map(str::to_string),
    };
    let e = h.app.wallet().adjust(&admin, adj(Direction::Credit, 500, Some("r1"))).await.unwrap();
    assert_eq!((e.balance_after, e.actor_id.as_ref()), (money(500), Some(&admin.user_id)));
    let again = h.app.wallet().adjust(&admin, adj(Direction::Credit, 500, Some("r1"))).await.unwrap();
    assert_eq!(again.id, e.id, "a retried adjustment applies once");
    assert!(matches!(
        h.app.wallet().adjust(&admin, adj(Direction::Credit, 501, Some("r1"))).await,
        Err(Error::IdempotencyKeyReused)
    ));
    // Another direction or another user with the same request id is a conflict too, not a
    // second adjustment.
    assert!(matches!(
        h.app.wallet().adjust(&admin, adj(Direction::Debit, 500, Some("r1"))).await,
        Err(Error::IdempotencyKeyReused)
    ));
    let other = h.user_with_role("+919822222222", Role::User).await;
    let for_other = Adjustment { user_id: other.user_id.clone(), ..adj(Direction::Credit, 500, Some("r1")) };
    assert!(matches!(h.app.wallet().adjust(&admin, for_other).await, Err(Error::IdempotencyKeyReused)));
    assert_eq!(h.balance(&other.user_id).await, 0);
    assert_eq!(h.balance(&user.user_id).await, 500);
    assert!(matches!(
        h.app.wallet().adjust(&admin, adj(Direction::Debit, 501, None)).await,
        Err(Error::InsufficientBalance)
    ));
    assert_eq!(
        h.app.wallet().adjust(&admin, adj(Direction::Debit, 500, None)).await.unwrap().balance_after,
        Money::ZERO
    );
    assert!(matches!(
        h.app.wallet().adjust(&admin, adj(Direction::Credit, 0, None)).await,
        Err(Error::Validation { .. })
    ));
    assert!(matches!(
        h.app.wallet().adjust(&user, adj(Direction::Credit, 5, None)).await,
        Err(Error::Forbidden)
    ));
    let page =
        h.app.wallet().user_transactions(&admin, &user.user_id, &PageRequest::default()).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let mut r = h.ts.store.reader().await.unwrap();
    let audit = r
        .list_audit(
            &AuditFilter { actor_id: Some(admin.user_id.clone()), ..AuditFilter::default() },
            &Slice { before_id: None, limit: 50 },
        )
        .await
        .unwrap();
    assert!(audit.iter().filter(|a| a.action == "wallet.adjust").count() >= 2, "admin actions are audited");
    h.check_invariants().await;
}

pub async fn topup_verify_happy_path_and_replay(ts: TestStore) {
    let h = Harness::new(ts);
    let user = h.user_with_role("+919876543210", Role::User).await;
    let other = h.user_with_role("+917777777777", Role::User).await;
    assert!(matches!(h.app.wallet().create_topup(&user, money(99)).await, Err(Error::Validation { .. })));
    assert!(matches!(
        h.app.wallet().create_topup(&user, money(1_000_001)).await,
        Err(Error::Validation { .. })
    ));
    let intent = h.app.wallet().create_topup(&user, money(50000)).await.unwrap();
    assert_eq!(intent.key_id, GATEWAY_KEY_ID);
    let oid = intent.topup.gateway_order_id.clone();
    assert_eq!(h.gateway.order(&oid).unwrap().amount, money(50000));
    let pay = h.gateway.pay(&oid, 50000, PaymentStatus::Captured);
    let sig = h.gateway.sign(&oid, &pay);
    assert!(matches!(
        h.app.wallet().verify_payment(&user, &oid, &pay, "00ff").await,
        Err(Error::PaymentSignatureInvalid)
    ));
    let other_sig = h.gateway.sign("order_other", &pay);
    assert!(matches!(
        h.app.wallet().verify_payment(&user, &oid, &pay, &other_sig).await,
        Err(Error::PaymentSignatureInvalid)
    ));
    assert!(matches!(
        h.app.wallet().verify_payment(&other, &oid, &pay, &sig).await,
        Err(Error::NotFound { .. })
    ));
    let PaymentOutcome::Credited(c) = h.app.wallet().verify_payment(&user, &oid, &pay, &sig).await.unwrap()
    else {
        panic!("expected a credit")
    };
    assert_eq!((c.credited, c.balance), (money(50000), money(50000)));
    assert_eq!(c.topup.status, TopUpStatus::Paid);
    assert_eq!(c.topup.gateway_payment_id.as_deref(), Some(pay.as_str()));
    // The credit describes the top-up exactly as stored.
    let stored = h.ts.store.reader().await.unwrap().get_topup(&c.topup.id).await.unwrap().unwrap();
    assert_eq!(c.topup, stored);
    let again = h.app.wallet().verify_payment(&user, &oid, &pay, &sig).await.unwrap();
    assert_eq!(again, PaymentOutcome::AlreadyCredited(c.clone()));
    assert_eq!(h.balance(&user.user_id).await, 50000);
    // A webhook after verify credits nothing more.
    let p = crate::payments::GatewayPayment {
        id: pay.clone(),
        order_id: oid.clone(),
        amount_paise: 50000,
        currency: "INR".into(),
        status: PaymentStatus::Captured,
    };
    assert!(matches!(
        h.app.wallet().confirm_gateway_payment(&p, ConfirmedVia::Webhook).await.unwrap(),
        PaymentOutcome::AlreadyCredited(_)
    ));
    assert_eq!(h.balance(&user.user_id).await, 50000);
    assert!(outbox_types(&h).await.contains(&"wallet_credited".to_string()));
    h.check_invariants().await;
}

pub async fn checkout_links_are_bound_signed_and_expire(ts: TestStore) {
    let h = Harness::new(ts);
    let user = h.user_with_role("+919876543210", Role::User).await;
    let other = h.user_with_role("+917777777777", Role::User).await;
    let w = h.app.wallet();
    let intent = w.create_topup(&user, money(50000)).await.unwrap();
    let theirs = w.create_topup(&other, money(20000)).await.unwrap();
    let (id, token) = (&intent.topup.id, intent.checkout_token.as_str());
    let view = w.open_checkout(id, token).await.unwrap();
    assert_eq!(view.topup, intent.topup, "the page shows the stored top-up");
    assert_eq!((view.key_id.as_str(), view.contact.as_str()), (GATEWAY_KEY_ID, "+919876543210"));
    assert!(view.is_open());
    // Forged, truncated, another top-up's and an unknown top-up's tokens all look alike.
    let (exp, mac) = token.split_once('.').unwrap();
    let later = format!("{}.{mac}", exp.parse::<i64>().unwrap() + 3600);
    let flipped = format!("{exp}.{}{}", if mac.starts_with('0') { "1" } else { "0" }, &mac[1..]);
    for bad in ["", "x", "1.2", later.as_str(), flipped.as_str(), theirs.checkout_token.as_str()] {
        assert!(matches!(w.open_checkout(id, bad).await, Err(Error::InvalidToken)), "{bad:?}");
    }
    let unknown: crate::ids::TopUpId = crate::ids::TopUpId::from_string("no-such-topup");
    assert!(matches!(w.open_checkout(&unknown, token).await, Err(Error::InvalidToken)));
    // A payment through the link credits once, as verify does; only this top-up's order counts.
    let oid = intent.topup.gateway_order_id.clone();
    let pay = h.gateway.pay(&oid, 50000, PaymentStatus::Captured);
    let sig = h.gateway.sign(&oid, &pay);
    let their_oid = theirs.topup.gateway_order_id.clone();
    assert!(matches!(
        w.verify_checkout(id, token, &their_oid, &pay, &sig).await,
        Err(Error::NotFound { .. })
    ));
    let outcome = w.verify_checkout(id, token, &oid, &pay, &sig).await.unwrap();
    assert!(matches!(outcome, PaymentOutcome::Credited(_)), "{outcome:?}");
    assert!(matches!(
        w.verify_checkout(id, token, &oid, &pay, &sig).await.unwrap(),
        PaymentOutcome::AlreadyCredited(_)
    ));
    assert_eq!(h.balance(&user.user_id).await, 50000);
    assert!(!w.open_checkout(id, token).await.unwrap().is_open(), "a paid top-up is shown as paid");
    // A fresh token for the owner only; a blocked user's links stop; every link expires.
    assert!(matches!(w.checkout_token(&other, id).await, Err(Error::NotFound { .. })));
    let fresh = w.checkout_token(&other, &theirs.topup.id).await.unwrap();
    w.open_checkout(&theirs.topup.id, &fresh).await.unwrap();
    let admin = h.user_with_role("+918888888888", Role::Admin).await;
    h.app.users().block(&admin, &other.user_id, None).await.unwrap();
    assert!(matches!(w.open_checkout(&theirs.topup.id, &fresh).await, Err(Error::UserBlocked)));
    h.app.users().unblock(&admin, &other.user_id).await.unwrap();
    h.clock.advance(TimeDelta::from_std(h.app.config().wallet.checkout_link_ttl).unwrap());
    assert!(matches!(w.open_checkout(&theirs.topup.id, &fresh).await, Err(Error::TokenExpired)));
    h.check_invariants().await;
}

pub async fn topup_concurrent_confirmations_credit_once(ts: TestStore) {
    let h = Arc::new(Harness::new(ts));
    let user = h.user_with_role("+919876543210", Role::User).await;
    let intent = h.app.wallet().create_topup(&user, money(25000)).await.unwrap();
    let oid = intent.topup.gateway_order_id.clone();
    let pay = h.gateway.pay(&oid, 25000, PaymentStatus::Captured);
    let sig = h.gateway.sign(&oid, &pay);
    let tasks = (0..50).map(|i| {
        let (h, user, oid, pay, sig) = (h.clone(), user.clone(), oid.clone(), pay.clone(), sig.clone());
        tokio::spawn(async move {
            if i % 2 == 0 {
                h.app.wallet().verify_payment(&user, &oid, &pay, &sig).await
            } else {
                let p = crate::payments::GatewayPayment {
                    id: pay,
                    order_id: oid,
                    amount_paise: 25000,
                    currency: "INR".into(),
                    status: PaymentStatus::Captured,
                };
                h.app.wallet().confirm_gateway_payment(&p, ConfirmedVia::Webhook).await
            }
        })
    });
    let results: Vec<_> =
        join_all(tasks).await.into_iter().map(|r| r.expect("join").expect("confirm")).collect();
    assert_eq!(results.iter().filter(|c| matches!(c, PaymentOutcome::Credited(_))).count(), 1, "one credit");
    assert!(
        results.iter().all(|c| matches!(c, PaymentOutcome::Credited(_) | PaymentOutcome::AlreadyCredited(_)))
    );
    assert_eq!(h.balance(&user.user_id).await, 25000);
    h.check_invariants().await;
}

pub async fn topup_amount_mismatch_is_refused_and_alerted(ts: TestStore) {
    let h = Harness::new(ts);
    let user = h.user_with_role("+919876543210", Role::User).await;
    let intent = h.app.wallet().create_topup(&user, money(10000)).await.unwrap();
    let oid = intent.topup.gateway_order_id;
    let p = crate::payments::GatewayPayment {
        id: "pay_x".into(),
        order_id: oid.clone(),
        amount_paise: 100,
        currency: "INR".into(),
        status: PaymentStatus::Captured,
    };
    assert_eq!(
        h.app.wallet().confirm_gateway_payment(&p, ConfirmedVia::Webhook).await.unwrap(),
        PaymentOutcome::AmountMismatch { expected: money(10000), paid_paise: 100, currency: "INR".into() }
    );
    let usd = crate::payments::GatewayPayment { amount_paise: 10000, currency: "USD".into(), ..p.clone() };
    assert!(matches!(
        h.app.wallet().confirm_gateway_payment(&usd, ConfirmedVia::Webhook).await,
        Ok(PaymentOutcome::AmountMismatch { .. })
    ));
    let authorized = crate::payments::GatewayPayment {
        amount_paise: 10000,
        status: PaymentStatus::Authorized,
        ..p.clone()
    };
    assert_eq!(
        h.app.wallet().confirm_gateway_payment(&authorized, ConfirmedVia::Webhook).await.unwrap(),
        PaymentOutcome::NotCaptured
    );
    let unknown = crate::payments::GatewayPayment { order_id: "order_nope".into(), ..p };
    assert_eq!(
        h.app.wallet().confirm_gateway_payment(&unknown, ConfirmedVia::Webhook).await.unwrap(),
        PaymentOutcome::UnknownOrder
    );
    assert_eq!(h.balance(&user.user_id).await, 0);
    assert!(outbox_types(&h).await.contains(&"payment_mismatch".to_string()));
}

pub async fn topup_reconciliation_credits_and_expires(ts: TestStore) {
    let h = Harness::new(ts);
    let user = h.user_with_role("+919876543210", Role::User).await;
    let old = h.app.wallet().create_topup(&user, money(1000)).await.unwrap().topup;
    h.clock.advance(TimeDelta::days(2));
    let paid = h.app.wallet().create_topup(&user, money(2000)).await.unwrap().topup;
    let fresh_unpaid = h.app.wallet().create_topup(&user, money(3000)).await.unwrap().topup;
    h.gateway.pay(&paid.gateway_order_id, 2000, PaymentStatus::Captured);
    // Too recent for a background pass, but an operator's "check now" sees it.
    assert_eq!(h.app.wallet().reconcile(false, 100).await.unwrap().credited, 0);
    h.clock.advance(TimeDelta::days(1) + TimeDelta::hours(1));
    let report = h.app.wallet().reconcile(false, 100).await.unwrap();
    assert_eq!((report.credited, report.expired), (1, 1), "{report:?}");
    assert_eq!(h.balance(&user.user_id).await, 2000);
    let mut r = h.ts.store.reader().await.unwrap();
    assert_eq!(r.get_topup(&old.id).await.unwrap().unwrap().status, TopUpStatus::Expired);
    assert_eq!(r.get_topup(&fresh_unpaid.id).await.unwrap().unwrap().status, TopUpStatus::Created);
    h.gateway.set_failing(true);
    // The open one, and the expired one (late captures are looked for within a week).
    assert_eq!(h.app.wallet().reconcile(true, 100).await.unwrap().errors, 2);
    h.gateway.set_failing(false);
    assert!(h.app.wallet().create_topup(&user, money(1000)).await.is_ok());
    h.gateway.set_failing(true);
    assert!(matches!(
        h.app.wallet().create_topup(&user, money(1000)).await,
        Err(Error::PaymentGatewayUnavailable(_))
    ));
    h.check_invariants().await;
}

pub async fn gateway_events_credit_once_and_dedupe(ts: TestStore) {
    use crate::wallet::{EventOutcome, GatewayEvent};
    let h = Harness::new(ts);
    let user = h.user_with_role("+919876543210", Role::User).await;
    let captured = |oid: &str, pay: &str, amount| {
        GatewayEvent::PaymentCaptured(crate::payments::GatewayPayment {
            id: pay.into(),
            order_id: oid.into(),
            amount_paise: amount,
            currency: "INR".into(),
            status: PaymentStatus::Captured,
        })
    };
    // Webhook only (the user closed the browser): credited once, the redelivery is a duplicate.
    let a = h.app.wallet().create_topup(&user, money(1000)).await.unwrap().topup.gateway_order_id;
    h.gateway.pay_as("pay_a", &a, 1000, "INR", PaymentStatus::Captured);
    let first = h
        .app
        .wallet()
        .handle_gateway_event("gateway", Some("evt_1"), captured(&a, "pay_a", 1000))
        .await
        .unwrap();
    assert!(matches!(first, EventOutcome::Credited(_)), "{first:?}");
    let again = h
        .app
        .wallet()
        .handle_gateway_event("gateway", Some("evt_1"), captured(&a, "pay_a", 1000))
        .await
        .unwrap();
    assert_eq!(again, EventOutcome::Duplicate);
    // order.paid for the same payment under another event id: already credited.
    let other = h
        .app
        .wallet()
        .handle_gateway_event("gateway", Some("evt_2"), captured(&a, "pay_a", 1000))
        .await
        .unwrap();
    assert_eq!(other, EventOutcome::AlreadyCredited);
    // Then the late checkout verification replays.
    let sig = h.gateway.sign(&a, "pay_a");
    assert!(matches!(
        h.app.wallet().verify_payment(&user, &a, "pay_a", &sig).await.unwrap(),
        PaymentOutcome::AlreadyCredited(_)
    ));
    assert_eq!(h.balance(&user.user_id).await, 1000);
    // Verify first, then the webhook.
    let b = h.app.wallet().create_topup(&user, money(2000)).await.unwrap().topup.gateway_order_id;
    h.gateway.pay_as("pay_b", &b, 2000, "INR", PaymentStatus::Captured);
    let sig = h.gateway.sign(&b, "pay_b");
    assert!(matches!(
        h.app.wallet().verify_payment(&user, &b, "pay_b", &sig).await.unwrap(),
        PaymentOutcome::Credited(_)
    ));
    let late = h
        .app
        .wallet()
        .handle_gateway_event("gateway", Some("evt_3"), captured(&b, "pay_b", 2000))
        .await
        .unwrap();
    assert_eq!(late, EventOutcome::AlreadyCredited);
    assert_eq!(h.balance(&user.user_id).await, 3000);
    // A mismatch is acknowledged (so the gateway stops retrying) but never credited.
    let c = h.app.wallet().create_topup(&user, money(5000)).await.unwrap().topup.gateway_order_id;
    let m = h
        .app
        .wallet()
        .handle_gateway_event("gateway", Some("evt_4"), captured(&c, "pay_c", 50))
        .await
        .unwrap();
    assert_eq!(m, EventOutcome::Mismatch);
    assert_eq!(h.balance(&user.user_id).await, 3000);
    let unknown = h
        .app
        .wallet()
        .handle_gateway_event("gateway", Some("evt_5"), captured("order_nope", "pay_x", 1))
        .await
        .unwrap();
    assert_eq!(unknown, EventOutcome::UnknownOrder);
    let ignored = h
        .app
        .wallet()
        .handle_gateway_event("gateway", Some("evt_6"), GatewayEvent::Other("refund.created".into()))
        .await
        .unwrap();
    assert_eq!(ignored, EventOutcome::Ignored);
    h.check_invariants().await;
}

fn gw_payment(id: &str, order: &str, amount: i64, status: PaymentStatus) -> crate::payments::GatewayPayment {
    crate::payments::GatewayPayment {
        id: id.into(),
        order_id: order.into(),
        amount_paise: amount,
        currency: "INR".into(),
        status,
    }
}

async fn outbox_payloads(h: &Harness, kind: &str) -> Vec<serde_json::Value> {
    let page = h.app.outbox().list(None, &PageRequest::first(200)).await.expect("outbox");
    page.items
        .iter()
        .map(|i| serde_json::from_str::<serde_json::Value>(&i.payload).expect("json"))
        .filter(|v| v["type"] == kind)
        .collect()
}

async fn audit_actions(h: &Harness, target: &str) -> Vec<String> {
    let mut r = h.ts.store.reader().await.expect("reader");
    let filter = AuditFilter { target_id: Some(target.into()), ..AuditFilter::default() };
    let items = r.list_audit(&filter, &Slice { before_id: None, limit: 100 }).await.expect("audit");
    items.into_iter().map(|a| a.action).collect()
}

/// A capture that arrives after the intent expired (a late UPI capture, day 4) is credited by
/// checkout verification and by the webhook; a second captured payment on a paid top-up and an
/// amount mismatch are acknowledged (no retry), recorded and alerted once for a refund.
pub async fn topup_late_capture_is_credited(ts: TestStore) {
    use crate::wallet::{EventOutcome, GatewayEvent};
    let h = Harness::new(ts);
    let user = h.user_with_role("+919876543210", Role::User).await;
    let a = h.app.wallet().create_topup(&user, money(1000)).await.unwrap().topup;
    let b = h.app.wallet().create_topup(&user, money(2000)).await.unwrap().topup;
    h.clock.advance(TimeDelta::days(3) + TimeDelta::hours(1));
    let r = h.app.wallet().reconcile(false, 100).await.unwrap();
    assert_eq!(r.expired, 2, "{r:?}");
    h.clock.advance(TimeDelta::hours(20));
    // Day 4: the customer's UPI payment is captured after all.
    let pa = h.gateway.pay(&a.gateway_order_id, 1000, PaymentStatus::Captured);
    let sig = h.gateway.sign(&a.gateway_order_id, &pa);
    let PaymentOutcome::Credited(c) =
        h.app.wallet().verify_payment(&user, &a.gateway_order_id, &pa, &sig).await.unwrap()
    else {
        panic!("a late capture is credited")
    };
    assert_eq!((c.topup.status, c.balance), (TopUpStatus::Paid, money(1000)));
    let stored = h.ts.store.reader().await.unwrap().get_topup(&a.id).await.unwrap().unwrap();
    assert_eq!(stored, c.topup);
    assert!(matches!(
        h.app.wallet().verify_payment(&user, &a.gateway_order_id, &pa, &sig).await.unwrap(),
        PaymentOutcome::AlreadyCredited(_)
    ));
    // The webhook alone credits the other one.
    let pb = gw_payment("pay_late_b", &b.gateway_order_id, 2000, PaymentStatus::Captured);
    let out = h
        .app
        .wallet()
        .handle_gateway_event("gateway", Some("evt_late"), GatewayEvent::PaymentCaptured(pb))
        .await
        .unwrap();
    assert!(matches!(out, EventOutcome::Credited(_)), "{out:?}");
    assert_eq!(h.balance(&user.user_id).await, 3000);
    let credited = outbox_payloads(&h, "wallet_credited").await;
    assert!(credited.iter().all(|v| v["via"].as_str().unwrap().contains("late capture")), "{credited:?}");

    // A second captured payment on the paid top-up: answered (the gateway stops retrying),
    // recorded and alerted once, whichever path reports it again.
    let second = gw_payment("pay_second", &a.gateway_order_id, 1000, PaymentStatus::Captured);
    for evt in ["evt_s1", "evt_s2"] {
        let out = h
            .app
            .wallet()
            .handle_gateway_event("gateway", Some(evt), GatewayEvent::PaymentCaptured(second.clone()))
            .await
            .unwrap();
        assert_eq!(out, EventOutcome::HeldForRefund);
    }
    h.gateway.pay_as("pay_second", &a.gateway_order_id, 1000, "INR", PaymentStatus::Captured);
    let sig2 = h.gateway.sign(&a.gateway_order_id, "pay_second");
    let v = h.app.wallet().verify_payment(&user, &a.gateway_order_id, "pay_second", &sig2).await.unwrap();
    assert_eq!(v, PaymentOutcome::HeldForRefund { payment_id: "pay_second".into() });
    assert!(matches!(v.into_credit(), Err(Error::InvalidState(_))));
    let refund = outbox_payloads(&h, "payment_to_refund").await;
    assert_eq!(refund.len(), 1, "alerted once: {refund:?}");
    assert_eq!(refund[0]["payment_id"], "pay_second");
    assert_eq!(refund[0]["amount_paise"], 1000);
    assert_eq!(refund[0]["user_phone"], masked("+919876543210"));
    assert_eq!(audit_actions(&h, "pay_second").await, vec!["payment.held_for_refund".to_string()]);

    // A mismatch on an expired intent: not credited, recorded and alerted once with the user.
    let c = h.app.wallet().create_topup(&user, money(5000)).await.unwrap().topup;
    h.clock.advance(TimeDelta::days(3) + TimeDelta::hours(1));
    assert_eq!(h.app.wallet().reconcile(false, 100).await.unwrap().expired, 1);
    let short = gw_payment("pay_short", &c.gateway_order_id, 50, PaymentStatus::Captured);
    for evt in ["evt_m1", "evt_m2"] {
        let out = h
            .app
            .wallet()
            .handle_gateway_event("gateway", Some(evt), GatewayEvent::PaymentCaptured(short.clone()))
            .await
            .unwrap();
        assert_eq!(out, EventOutcome::Mismatch);
    }
    let mismatch = outbox_payloads(&h, "payment_mismatch").await;
    assert_eq!(mismatch.len(), 1, "{mismatch:?}");
    assert_eq!(mismatch[0]["user_phone"], masked("+919876543210"));
    assert_eq!(audit_actions(&h, "pay_short").await, vec!["payment.held_for_refund".to_string()]);
    assert_eq!(h.balance(&user.user_id).await, 3000);
    h.check_invariants().await;
}

/// The masked form of a phone, as alerts carry it.
fn masked(phone: &str) -> String {
    crate::phone::PhoneNumber::parse(phone, Some("IN")).expect("phone").masked()
}

/// Razorpay auto-refunds a payment not captured within its window; until then an intent whose
/// payment is `authorized` is never expired, and its capture (day 4) is credited.
pub async fn reconciliation_keeps_authorized_payments_open(ts: TestStore) {
    let h = Harness::new(ts);
    let user = h.user_with_role("+919876543210", Role::User).await;
    let held = h.app.wallet().create_topup(&user, money(1000)).await.unwrap().topup;
    let refunded = h.app.wallet().create_topup(&user, money(2000)).await.unwrap().topup;
    let pay = h.gateway.pay(&held.gateway_order_id, 1000, PaymentStatus::Authorized);
    let auto = h.gateway.pay(&refunded.gateway_order_id, 2000, PaymentStatus::Authorized);
    h.clock.advance(TimeDelta::days(3) + TimeDelta::hours(1));
    let r = h.app.wallet().reconcile(false, 100).await.unwrap();
    assert_eq!((r.checked, r.expired, r.pending, r.credited), (2, 0, 2, 0), "{r:?}");
    let mut rd = h.ts.store.reader().await.unwrap();
    assert_eq!(rd.get_topup(&held.id).await.unwrap().unwrap().status, TopUpStatus::Created);
    drop(rd);
    // Day 4: one is captured, the gateway auto-refunded the other.
    h.clock.advance(TimeDelta::hours(20));
    h.gateway.set_status(&pay, PaymentStatus::Captured);
    h.gateway.set_status(&auto, PaymentStatus::Refunded);
    let r = h.app.wallet().reconcile(false, 100).await.unwrap();
    assert_eq!((r.credited, r.expired, r.pending), (1, 1, 0), "{r:?}");
    assert_eq!(h.balance(&user.user_id).await, 1000);
    let mut rd = h.ts.store.reader().await.unwrap();
    assert_eq!(rd.get_topup(&held.id).await.unwrap().unwrap().status, TopUpStatus::Paid);
    assert_eq!(rd.get_topup(&refunded.id).await.unwrap().unwrap().status, TopUpStatus::Expired);
    drop(rd);
    h.check_invariants().await;
}

/// A capture that arrived after expiry with no webhook and no checkout callback (the customer
/// left) is found by reconciliation within `late_capture_window`, with what the open intents
/// leave of the pass's budget, and credited (or held for refund) once.
pub async fn reconciliation_finds_late_captures_of_expired_intents(ts: TestStore) {
    let h = Harness::new(ts);
    let user = h.user_with_role("+919876543210", Role::User).await;
    let ancient = h.app.wallet().create_topup(&user, money(500)).await.unwrap().topup;
    h.clock.advance(TimeDelta::days(5));
    let late = h.app.wallet().create_topup(&user, money(1000)).await.unwrap().topup;
    let short = h.app.wallet().create_topup(&user, money(2000)).await.unwrap().topup;
    h.clock.advance(TimeDelta::days(3) + TimeDelta::hours(1));
    assert_eq!(h.app.wallet().reconcile(false, 100).await.unwrap().expired, 3);
    // Day 4 of the recent ones, day 9 of the ancient one: captures no one reported.
    h.gateway.pay(&late.gateway_order_id, 1000, PaymentStatus::Captured);
    h.gateway.pay(&short.gateway_order_id, 20, PaymentStatus::Captured);
    h.gateway.pay(&ancient.gateway_order_id, 500, PaymentStatus::Captured);
    h.clock.advance(TimeDelta::hours(20));
    let r = h.app.wallet().reconcile(false, 100).await.unwrap();
    assert_eq!((r.checked, r.credited, r.held, r.expired), (2, 1, 1, 0), "{r:?}");
    assert_eq!(h.balance(&user.user_id).await, 1000);
    let mut rd = h.ts.store.reader().await.unwrap();
    assert_eq!(rd.get_topup(&late.id).await.unwrap().unwrap().status, TopUpStatus::Paid);
    assert_eq!(
        rd.get_topup(&ancient.id).await.unwrap().unwrap().status,
        TopUpStatus::Expired,
        "outside the window"
    );
    drop(rd);
    let r = h.app.wallet().reconcile(false, 100).await.unwrap();
    assert_eq!((r.checked, r.credited, r.held), (1, 0, 1), "only the held one is still expired: {r:?}");
    assert_eq!(outbox_payloads(&h, "payment_mismatch").await.len(), 1, "alerted once");
    // Open intents come first: with no budget left, expired ones wait for a later pass.
    h.app.wallet().create_topup(&user, money(3000)).await.unwrap();
    let r = h.app.wallet().reconcile(true, 1).await.unwrap();
    assert_eq!((r.checked, r.gateway_calls), (1, 1), "{r:?}");
    h.check_invariants().await;
}

/// Checkout verification credits only a payment the gateway reports captured: the signature
/// is issued at authorization. With manual capture, verification, the `payment.authorized`
/// webhook and reconciliation capture a matching payment through the gateway first.
pub async fn verify_credits_only_captured_payments(ts: TestStore) {
    let h = Harness::new(ts);
    let user = h.user_with_role("+919876543210", Role::User).await;
    let oid = h.app.wallet().create_topup(&user, money(1000)).await.unwrap().topup.gateway_order_id;
    let pay = h.gateway.pay(&oid, 1000, PaymentStatus::Authorized);
    let sig = h.gateway.sign(&oid, &pay);
    let out = h.app.wallet().verify_payment(&user, &oid, &pay, &sig).await.unwrap();
    assert_eq!(out, PaymentOutcome::NotCaptured);
    assert!(matches!(out.into_credit(), Err(Error::PaymentNotCaptured)));
    assert_eq!(h.balance(&user.user_id).await, 0);
    assert!(h.gateway.captures().is_empty(), "auto capture mode never captures");
    // A signed payment id the gateway does not know, and one of another order, credit nothing.
    let sig_x = h.gateway.sign(&oid, "pay_unknown");
    assert!(matches!(
        h.app.wallet().verify_payment(&user, &oid, "pay_unknown", &sig_x).await,
        Err(Error::PaymentGatewayUnavailable(_))
    ));
    let other = h.app.wallet().create_topup(&user, money(1000)).await.unwrap().topup.gateway_order_id;
    let foreign = h.gateway.pay(&other, 1000, PaymentStatus::Captured);
    let sig_f = h.gateway.sign(&oid, &foreign);
    assert!(matches!(
        h.app.wallet().verify_payment(&user, &oid, &foreign, &sig_f).await,
        Err(Error::InvalidState(_))
    ));
    h.gateway.set_status(&pay, PaymentStatus::Captured);
    assert!(matches!(
        h.app.wallet().verify_payment(&user, &oid, &pay, &sig).await.unwrap(),
        PaymentOutcome::Credited(_)
    ));
    assert_eq!(h.balance(&user.user_id).await, 1000);
    h.check_invariants().await;
}

pub async fn manual_capture_captures_then_credits(ts: TestStore) {
    use crate::wallet::{EventOutcome, GatewayEvent};
    let h = Harness::with_config(ts, |c| c.wallet.capture = crate::payments::CaptureMode::Manual);
    let user = h.user_with_role("+919876543210", Role::User).await;
    // Checkout verification captures, then credits.
    let o1 = h.app.wallet().create_topup(&user, money(1000)).await.unwrap().topup.gateway_order_id;
    let p1 = h.gateway.pay(&o1, 1000, PaymentStatus::Authorized);
    let sig = h.gateway.sign(&o1, &p1);
    assert!(matches!(
        h.app.wallet().verify_payment(&user, &o1, &p1, &sig).await.unwrap(),
        PaymentOutcome::Credited(_)
    ));
    assert_eq!(h.gateway.payment(&p1).unwrap().status, PaymentStatus::Captured);
    // The payment.authorized webhook captures and credits.
    let o2 = h.app.wallet().create_topup(&user, money(2000)).await.unwrap().topup.gateway_order_id;
    let p2 = h.gateway.pay(&o2, 2000, PaymentStatus::Authorized);
    let event = GatewayEvent::PaymentAuthorized(h.gateway.payment(&p2).unwrap());
    let out = h.app.wallet().handle_gateway_event("gateway", Some("evt_a"), event).await.unwrap();
    assert!(matches!(out, EventOutcome::Credited(_)), "{out:?}");
    // Reconciliation captures one it finds authorized.
    let o3 = h.app.wallet().create_topup(&user, money(3000)).await.unwrap().topup.gateway_order_id;
    let p3 = h.gateway.pay(&o3, 3000, PaymentStatus::Authorized);
    // An authorized payment for another amount is never captured (it is auto-refunded).
    let o4 = h.app.wallet().create_topup(&user, money(4000)).await.unwrap().topup.gateway_order_id;
    let p4 = h.gateway.pay(&o4, 400, PaymentStatus::Authorized);
    let r = h.app.wallet().reconcile(true, 100).await.unwrap();
    assert_eq!((r.credited, r.pending), (1, 1), "{r:?}");
    assert_eq!(h.gateway.captures(), vec![p1, p2, p3]);
    assert_eq!(h.gateway.payment(&p4).unwrap().status, PaymentStatus::Authorized);
    // A second authorized payment on a paid top-up is not captured either.
    let p5 = h.gateway.pay(&o1, 1000, PaymentStatus::Authorized);
    let sig5 = h.gateway.sign(&o1, &p5);
    assert_eq!(
        h.app.wallet().verify_payment(&user, &o1, &p5, &sig5).await.unwrap(),
        PaymentOutcome::NotCaptured
    );
    assert_eq!(h.gateway.captures().len(), 3);
    assert_eq!(h.balance(&user.user_id).await, 6000);
    h.check_invariants().await;
}

/// Gateway refunds and disputes are recorded and alerted with the user and the amount; the
/// wallet moves only by an admin's adjustment, which never takes it below zero.
pub async fn gateway_refunds_and_disputes_are_recorded_not_debited(ts: TestStore) {
    use crate::wallet::{EventOutcome, GatewayEvent, GatewayReversal};
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let user = h.user_with_role("+919876543210", Role::User).await;
    let t = h.app.wallet().create_topup(&user, money(1000)).await.unwrap().topup;
    let pay = h.gateway.pay(&t.gateway_order_id, 1000, PaymentStatus::Captured);
    let sig = h.gateway.sign(&t.gateway_order_id, &pay);
    h.app.wallet().verify_payment(&user, &t.gateway_order_id, &pay, &sig).await.unwrap();
    let product = h.product(&admin, 600, 5, 1).await;
    h.app.orders().purchase(&user, &product.id, None).await.unwrap();
    assert_eq!(h.balance(&user.user_id).await, 400);
    let rev = |id: &str| GatewayReversal {
        id: id.into(),
        payment_id: pay.clone(),
        order_id: t.gateway_order_id.clone(),
        amount_paise: 1000,
        currency: "INR".into(),
    };
    let wallet = h.app.wallet();
    assert_eq!(
        wallet
            .handle_gateway_event("gateway", Some("evt_r1"), GatewayEvent::Refunded(rev("rfnd_1")))
            .await
            .unwrap(),
        EventOutcome::Recorded
    );
    // The same refund under another event id is not alerted again.
    assert_eq!(
        wallet
            .handle_gateway_event("gateway", Some("evt_r2"), GatewayEvent::Refunded(rev("rfnd_1")))
            .await
            .unwrap(),
        EventOutcome::Recorded
    );
    assert_eq!(
        wallet
            .handle_gateway_event("gateway", Some("evt_d1"), GatewayEvent::Disputed(rev("disp_1")))
            .await
            .unwrap(),
        EventOutcome::Recorded
    );
    let unknown = GatewayReversal { order_id: "order_nope".into(), ..rev("rfnd_x") };
    assert_eq!(
        wallet
            .handle_gateway_event("gateway", Some("evt_r3"), GatewayEvent::Refunded(unknown))
            .await
            .unwrap(),
        EventOutcome::UnknownOrder
    );
    assert_eq!(h.balance(&user.user_id).await, 400, "the wallet is not debited by the gateway");
    let alerts = outbox_payloads(&h, "gateway_reversal").await;
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    for a in &alerts {
        assert_eq!(a["user_phone"], masked("+919876543210"));
        assert_eq!((a["amount_paise"].as_i64(), a["credited"].as_bool()), (Some(1000), Some(true)));
    }
    let text = crate::outbox::Outbox::decode(
        &h.app.outbox().list(None, &PageRequest::first(1)).await.unwrap().items[0],
    )
    .unwrap()
    .text();
    let phone = masked("+919876543210");
    assert!(text.contains("dispute disp_1") && text.contains("₹10.00") && text.contains(&phone), "{text}");
    let actions = audit_actions(&h, t.id.as_str()).await;
    assert!(
        actions.contains(&"payment.refunded".to_string())
            && actions.contains(&"payment.disputed".to_string())
    );
    // The admin debits by hand: never below zero.
    let debit = |paise| Adjustment {
        user_id: user.user_id.clone(),
        amount: money(paise),
        direction: Direction::Debit,
        reason: "gateway refund rfnd_1".into(),
        request_id: None,
    };
    assert!(matches!(wallet.adjust(&admin, debit(1000)).await, Err(Error::InsufficientBalance)));
    assert_eq!(h.balance(&user.user_id).await, 400);
    assert_eq!(wallet.adjust(&admin, debit(400)).await.unwrap().balance_after, Money::ZERO);
    assert!(matches!(wallet.adjust(&admin, debit(1)).await, Err(Error::InsufficientBalance)));
    assert_eq!(h.balance(&user.user_id).await, 0);
    h.check_invariants().await;
}

/// At most `max_open_topups` open intents per user and `topups_per_minute` new ones a minute;
/// a refused request never reaches the gateway.
pub async fn topup_creation_is_rate_limited(ts: TestStore) {
    let h = Harness::new(ts);
    let user = h.user_with_role("+919876543210", Role::User).await;
    let other = h.user_with_role("+917777777777", Role::User).await;
    let wallet = h.app.wallet();
    for _ in 0..5 {
        wallet.create_topup(&user, money(1000)).await.unwrap();
    }
    let calls = h.gateway.calls();
    let err = wallet.create_topup(&user, money(1000)).await.unwrap_err();
    assert!(matches!(err, Error::TopUpRateLimited { .. }), "{err:?}");
    assert_eq!((err.code(), err.kind()), ("topup_rate_limited", crate::error::ErrorKind::RateLimited));
    assert!(err.retry_after().is_some());
    assert_eq!(h.gateway.calls(), calls, "refused before any gateway call");
    wallet.create_topup(&other, money(1000)).await.expect("limits are per user");
    h.clock.advance(TimeDelta::seconds(61));
    for _ in 0..5 {
        wallet.create_topup(&user, money(1000)).await.unwrap();
    }
    h.clock.advance(TimeDelta::seconds(61));
    let err = wallet.create_topup(&user, money(1000)).await.unwrap_err();
    assert!(matches!(err, Error::TooManyOpenTopUps { limit: 10 }), "{err:?}");
    assert_eq!((err.code(), err.kind()), ("too_many_open_topups", crate::error::ErrorKind::RateLimited));
    // Paying one frees a slot.
    let mut r = h.ts.store.reader().await.unwrap();
    let open = r.list_open_topups(h.app.now(), &Slice { before_id: None, limit: 1 }).await.unwrap();
    drop(r);
    let oid = open[0].gateway_order_id.clone();
    let pay = h.gateway.pay(&oid, 1000, PaymentStatus::Captured);
    let sig = h.gateway.sign(&oid, &pay);
    wallet.verify_payment(&user, &oid, &pay, &sig).await.unwrap();
    wallet.create_topup(&user, money(1000)).await.expect("a slot was freed");
    assert!(matches!(wallet.create_topup(&user, money(1000)).await, Err(Error::TooManyOpenTopUps { .. })));
    // Intents past the horizon no longer count, even before reconciliation expires them.
    h.clock.advance(TimeDelta::days(3) + TimeDelta::minutes(1));
    wallet.create_topup(&user, money(1000)).await.expect("old intents expired");
}

/// Reconciliation visits open intents newest first with a cursor that rotates across passes,
/// at most `limit` per pass (one gateway call each): a new paid intent is not starved by many
/// abandoned ones, and every intent is visited within ceil(open / limit) passes.
pub async fn reconciliation_is_fair_and_bounded(ts: TestStore) {
    let h = Harness::with_config(ts, |c| {
        c.wallet.max_open_topups = 0;
        c.wallet.topups_per_minute = 0;
    });
    let user = h.user_with_role("+919876543210", Role::User).await;
    let oldest = h.app.wallet().create_topup(&user, money(1000)).await.unwrap().topup;
    for _ in 0..29 {
        h.app.wallet().create_topup(&user, money(1000)).await.unwrap();
    }
    h.clock.advance(TimeDelta::hours(12));
    let newest = h.app.wallet().create_topup(&user, money(2000)).await.unwrap().topup;
    h.gateway.pay(&newest.gateway_order_id, 2000, PaymentStatus::Captured);
    h.gateway.pay(&oldest.gateway_order_id, 1000, PaymentStatus::Captured);
    h.clock.advance(TimeDelta::minutes(16));
    let before = h.gateway.calls();
    let first = h.app.wallet().reconcile(false, 10).await.unwrap();
    assert_eq!((first.checked, first.gateway_calls), (10, 10), "{first:?}");
    assert_eq!(h.gateway.calls() - before, 10, "bounded gateway calls per pass");
    assert_eq!(first.credited, 1, "the newest paid intent is visited first: {first:?}");
    assert_eq!(h.balance(&user.user_id).await, 2000);
    let mut passes = 1;
    while h.balance(&user.user_id).await < 3000 {
        passes += 1;
        assert!(passes <= 4, "every intent is visited within ceil(31 / 10) passes");
        let r = h.app.wallet().reconcile(false, 10).await.unwrap();
        assert!(r.gateway_calls <= 10, "{r:?}");
    }
    // The walk wraps around to the newest again.
    let mut seen = 0;
    for _ in 0..3 {
        seen += h.app.wallet().reconcile(false, 10).await.unwrap().checked;
    }
    assert_eq!(seen, 29 + 1, "all 29 still open (and one wrap) are visited in three passes");
    h.check_invariants().await;
}

/// Webhook, checkout verification and reconciliation race for late captures (of an expired
/// intent, and of one kept open by an authorized payment): each credits exactly once.
pub async fn late_capture_races_credit_once(ts: TestStore) {
    use crate::wallet::GatewayEvent;
    let h = Arc::new(Harness::new(ts));
    let user = h.user_with_role("+919876543210", Role::User).await;
    let expired = h.app.wallet().create_topup(&user, money(1000)).await.unwrap().topup;
    let held = h.app.wallet().create_topup(&user, money(2000)).await.unwrap().topup;
    let p_held = h.gateway.pay(&held.gateway_order_id, 2000, PaymentStatus::Authorized);
    h.clock.advance(TimeDelta::days(3) + TimeDelta::hours(1));
    let r = h.app.wallet().reconcile(false, 100).await.unwrap();
    assert_eq!((r.expired, r.pending), (1, 1), "{r:?}");
    h.clock.advance(TimeDelta::hours(20));
    let p_exp = h.gateway.pay(&expired.gateway_order_id, 1000, PaymentStatus::Captured);
    h.gateway.set_status(&p_held, PaymentStatus::Captured);
    let targets = [(expired.gateway_order_id.clone(), p_exp), (held.gateway_order_id.clone(), p_held)];
    let tasks = (0..48).map(|i| {
        let (h, user) = (h.clone(), user.clone());
        let (oid, pay) = targets[i % 2].clone();
        tokio::spawn(async move {
            match i % 3 {
                0 => {
                    let sig = h.gateway.sign(&oid, &pay);
                    h.app
                        .wallet()
                        .verify_payment(&user, &oid, &pay, &sig)
                        .await
                        .map(|o| usize::from(matches!(o, PaymentOutcome::Credited(_))))
                }
                1 => {
                    let p = h.gateway.payment(&pay).expect("payment");
                    let evt = format!("evt_{}", i % 5);
                    h.app
                        .wallet()
                        .handle_gateway_event("gateway", Some(&evt), GatewayEvent::PaymentCaptured(p))
                        .await
                        .map(|o| usize::from(matches!(o, crate::wallet::EventOutcome::Credited(_))))
                }
                _ => h.app.wallet().reconcile(true, 100).await.map(|r| r.credited as usize),
            }
        })
    });
    let results: Vec<_> =
        join_all(tasks).await.into_iter().map(|r| r.expect("join").expect("no error")).collect();
    assert_eq!(results.iter().sum::<usize>(), 2, "each late capture credited exactly once");
    assert_eq!(h.balance(&user.user_id).await, 3000);
    assert_eq!(h.all_ledger(&user.user_id).await.len(), 2);
    h.check_invariants().await;
}

pub async fn payments_not_configured(ts: TestStore) {
    let store = ts.store.clone();
    let app = crate::Ottsonly::builder(store, crate::CoreConfig::new(JWT_SECRET).unwrap())
        .credential_cipher(crate::CredentialCipher::new(&[1u8; 32]))
        .build()
        .unwrap();
    let system = Actor::system(app.now());
    let u = app.users().set_role_by_phone(&system, "+919876543210", Role::User).await.unwrap();
    let actor = Actor::of(&u);
    assert!(matches!(
        app.wallet().create_topup(&actor, money(1000)).await,
        Err(Error::PaymentsNotConfigured)
    ));
    assert!(matches!(
        app.wallet().verify_payment(&actor, "o", "p", "s").await,
        Err(Error::PaymentsNotConfigured)
    ));
    drop(ts);
}

// ---------------------------------------------------------------- notifications

pub async fn broadcasts_are_stored_once_with_per_user_state(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let a = h.user_with_role("+919876543210", Role::User).await;
    let b = h.user_with_role("+917777777777", Role::User).await;
    let s = h.user_with_role("+918888888888", Role::Support).await;
    assert!(matches!(
        h.app.notifications().broadcast(&a, Audience::All, "t", "m").await,
        Err(Error::Forbidden)
    ));
    let all =
        h.app.notifications().broadcast(&admin, Audience::All, "Maintenance", "Tonight 2am").await.unwrap();
    h.app.notifications().broadcast(&admin, Audience::Role(Role::Support), "Staff", "Meeting").await.unwrap();
    assert_eq!(h.app.notifications().unread_count(&a).await.unwrap(), 1);
    assert_eq!(h.app.notifications().unread_count(&s).await.unwrap(), 2);
    h.app.notifications().mark_read(&a, &all.id).await.unwrap();
    assert_eq!(h.app.notifications().unread_count(&a).await.unwrap(), 0);
    assert_eq!(h.app.notifications().unread_count(&b).await.unwrap(), 1, "read state is per user");
    h.app.notifications().delete(&b, &all.id).await.unwrap();
    assert!(h.app.notifications().list(&b, false, &PageRequest::default()).await.unwrap().items.is_empty());
    assert_eq!(h.app.notifications().list(&a, false, &PageRequest::default()).await.unwrap().items.len(), 1);
    // Someone who joins later does not get old broadcasts.
    h.clock.advance(TimeDelta::seconds(1));
    let late = h.user_with_role("+916666666666", Role::User).await;
    assert_eq!(h.app.notifications().unread_count(&late).await.unwrap(), 0);
    // Personal notifications and broadcasts merge newest first.
    h.fund(&admin, &a.user_id, 100).await;
    let list = h.app.notifications().list(&a, false, &PageRequest::default()).await.unwrap().items;
    assert_eq!(list.len(), 2);
    assert!(!list[0].is_broadcast && list[1].is_broadcast);
    assert_eq!(h.app.notifications().list(&a, true, &PageRequest::default()).await.unwrap().items.len(), 1);
    assert!(
        matches!(h.app.notifications().mark_read(&b, &list[0].id).await, Err(Error::NotFound { .. })),
        "not b's"
    );
    assert!(matches!(h.app.notifications().delete(&b, &list[0].id).await, Err(Error::NotFound { .. })));
    assert_eq!(h.app.notifications().mark_all_read(&s).await.unwrap(), 2);
    assert_eq!(h.app.notifications().unread_count(&s).await.unwrap(), 0);
    h.app.notifications().delete(&a, &list[0].id).await.unwrap();
    assert_eq!(h.app.notifications().list(&a, false, &PageRequest::default()).await.unwrap().items.len(), 1);
}

// ---------------------------------------------------------------- outbox

pub async fn outbox_leases_retries_and_parks(ts: TestStore) {
    let h = Harness::with_config(ts, |c| c.outbox.max_attempts = 3);
    let admin = h.admin().await;
    let user = h.user_with_role("+919876543210", Role::User).await;
    h.fund(&admin, &user.user_id, 100).await; // one wallet_credited alert
    let claimed = h.app.outbox().claim("a", 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(matches!(claimed[0].alert, Some(crate::outbox::AdminAlert::WalletCredited { .. })));
    assert!(claimed[0].alert.as_ref().unwrap().text().contains("₹1.00"));
    assert!(h.app.outbox().claim("b", 10).await.unwrap().is_empty(), "leased to a");
    // a crashes; after the lease b gets it.
    h.clock.advance(TimeDelta::seconds(61));
    let c = h.app.outbox().claim("b", 10).await.unwrap();
    assert_eq!((c.len(), c[0].attempts), (1, 2));
    assert!(!h.app.outbox().delivered("a", &c[0].id).await.unwrap(), "a lost the lease");
    assert_eq!(h.app.outbox().failed("b", &c[0], "HTTP 500", None).await.unwrap(), OutboxStatus::Pending);
    assert!(h.app.outbox().claim("b", 10).await.unwrap().is_empty(), "backing off");
    h.clock.advance(TimeDelta::seconds(30));
    let c = h.app.outbox().claim("b", 10).await.unwrap();
    assert_eq!(c[0].attempts, 3);
    assert_eq!(h.app.outbox().failed("b", &c[0], "HTTP 500", None).await.unwrap(), OutboxStatus::Failed);
    h.clock.advance(TimeDelta::hours(2));
    assert!(h.app.outbox().claim("b", 10).await.unwrap().is_empty(), "parked");
    let failed = h.app.outbox().list(Some(OutboxStatus::Failed), &PageRequest::default()).await.unwrap();
    assert_eq!(failed.items.len(), 1);
    assert_eq!(failed.items[0].last_error.as_deref(), Some("HTTP 500"));
    // A delivered alert is not sent again; a retry_after hint is honoured.
    h.fund(&admin, &user.user_id, 100).await;
    let c = h.app.outbox().claim("a", 10).await.unwrap();
    h.app.outbox().failed("a", &c[0], "429", Some(std::time::Duration::from_secs(7))).await.unwrap();
    h.clock.advance(TimeDelta::seconds(6));
    assert!(h.app.outbox().claim("a", 10).await.unwrap().is_empty());
    h.clock.advance(TimeDelta::seconds(1));
    let c = h.app.outbox().claim("a", 10).await.unwrap();
    assert!(h.app.outbox().delivered("a", &c[0].id).await.unwrap());
    h.clock.advance(TimeDelta::hours(2));
    assert!(h.app.outbox().claim("a", 10).await.unwrap().is_empty());
}

// ---------------------------------------------------------------- units of work

/// `Ctx::unit` commits on `Ok`, keeps nothing on `Err`, runs the unit again on a transient store
/// error or core's own "run again", waits through the injected sleeper with bounded jittered
/// backoff, and gives up after `TX_ATTEMPTS_MAX` runs. No wall-clock time passes.
pub async fn units_commit_roll_back_and_run_again(ts: TestStore) {
    use crate::ctx::{TX_ATTEMPTS_MAX, UnitError};
    use crate::error::StoreError;
    use std::sync::atomic::{AtomicU32, Ordering};
    let sleeper = Arc::new(RecordingSleeper::default());
    let h = Harness::with_sleeper(ts, sleeper.clone());
    let ctx = &h.app.ctx;
    let setting = |key: &'static str| {
        let store = h.ts.store.clone();
        async move { store.reader().await.unwrap().get_setting(key).await.unwrap() }
    };

    // Two lost races, then success: only the last run's writes are kept.
    let runs = &AtomicU32::new(0);
    let v = ctx
        .unit(|tx| {
            Box::pin(async move {
                let run = runs.fetch_add(1, Ordering::SeqCst);
                assert_eq!(tx.get_setting("unit.a").await?, None, "an earlier run left a write");
                tx.put_setting_if_absent("unit.a", &format!("run {run}")).await?;
                match run {
                    0 => Err(StoreError::Transient("lost to another writer".into()).into()),
                    1 => Err(UnitError::RunAgain("a row changed meanwhile")),
                    _ => Ok(run),
                }
            })
        })
        .await
        .unwrap();
    assert_eq!((v, runs.load(Ordering::SeqCst)), (2, 3));
    assert_eq!(setting("unit.a").await.as_deref(), Some("run 2"));
    let slept = sleeper.slept();
    assert_eq!(slept.len(), 2, "{slept:?}");
    assert!(slept[0] >= Duration::from_millis(1) && slept[0] <= Duration::from_millis(2), "{slept:?}");
    assert!(slept[1] >= Duration::from_millis(1) && slept[1] <= Duration::from_millis(4), "{slept:?}");

    // A failure is the answer: not run again, nothing kept.
    let runs = &AtomicU32::new(0);
    let r: crate::Result<()> = ctx
        .unit(|tx| {
            Box::pin(async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tx.put_setting_if_absent("unit.b", "x").await?;
                Err(Error::InsufficientBalance.into())
            })
        })
        .await;
    assert!(matches!(r, Err(Error::InsufficientBalance)), "{r:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(setting("unit.b").await, None);
    assert_eq!(sleeper.slept().len(), 2);

    // An outcome that is a refusal but must keep its writes is `Ok(Err(..))`.
    let r: crate::Result<crate::Result<()>> = ctx
        .unit(|tx| {
            Box::pin(async move {
                tx.put_setting_if_absent("unit.c", "kept").await?;
                Ok(Err(Error::OtpExpired))
            })
        })
        .await;
    assert!(matches!(r, Ok(Err(Error::OtpExpired))), "{r:?}");
    assert_eq!(setting("unit.c").await.as_deref(), Some("kept"));

    // Bounded: a unit that always loses gives up after TX_ATTEMPTS_MAX runs, as `Busy` (never as
    // a store error) for core's own signal and as the store's error for a transient one.
    let before = sleeper.slept().len();
    let runs = &AtomicU32::new(0);
    let r: crate::Result<()> = ctx
        .unit(|_tx| {
            Box::pin(async move {
                runs.fetch_add(1, Ordering::SeqCst);
                Err(UnitError::RunAgain("always loses"))
            })
        })
        .await;
    assert!(matches!(r, Err(Error::Busy("always loses"))), "{r:?}");
    assert_eq!(r.unwrap_err().code(), "busy");
    assert_eq!(runs.load(Ordering::SeqCst), TX_ATTEMPTS_MAX);
    let slept = &sleeper.slept()[before..];
    assert_eq!(slept.len() as u32, TX_ATTEMPTS_MAX - 1);
    assert!(slept.iter().all(|d| *d >= Duration::from_millis(1) && *d <= Duration::from_millis(128)));
    let runs = &AtomicU32::new(0);
    let r: crate::Result<()> = ctx
        .unit(|_tx| {
            Box::pin(async move {
                runs.fetch_add(1, Ordering::SeqCst);
                Err(StoreError::Transient("always busy".into()).into())
            })
        })
        .await;
    assert!(matches!(r, Err(Error::Store(StoreError::Transient(_)))), "{r:?}");
    assert_eq!(runs.load(Ordering::SeqCst), TX_ATTEMPTS_MAX);
}

// ---------------------------------------------------------------- audit

/// Admins read the audit log of a refund and a role change, filtered by actor, target and action
/// and paged; users and support are refused; bad filters and pages are validation errors.
pub async fn admin_reads_the_audit_log(ts: TestStore) {
    let h = Harness::new(ts);
    let admin = h.admin().await;
    let user = h.user_with_role("+919876543210", Role::User).await;
    let staff = h.user_with_role("+919876500009", Role::User).await;
    let p = h.product(&admin, 5000, 0, 1).await;
    h.fund(&admin, &user.user_id, 5000).await;
    let bought = h.app.orders().purchase(&user, &p.id, None).await.unwrap();
    h.app.orders().refund(&admin, &bought.order.id, "account stopped working", false).await.unwrap();
    h.app.users().set_role(&admin, &staff.user_id, Role::Support).await.unwrap();
    let support = Actor { role: Role::Support, ..staff.clone() };

    let audit = h.app.audit();
    let all = AuditFilter::default();
    let first_page = PageRequest::default();
    for refused in [&user, &support] {
        assert!(matches!(audit.list(refused, &all, &first_page).await, Err(Error::Forbidden)), "{refused:?}");
    }

    let by_action = AuditFilter { action: Some("order.refund".into()), ..AuditFilter::default() };
    let refunds = audit.list(&admin, &by_action, &first_page).await.unwrap();
    assert_eq!(refunds.items.len(), 1);
    assert_eq!(refunds.next_cursor, None);
    let refund = &refunds.items[0];
    assert_eq!(refund.actor_id, admin.user_id);
    assert_eq!((refund.target_type.as_str(), refund.target_id.as_str()), ("order", bought.order.id.as_str()));
    assert_eq!(refund.details["reason"], "account stopped working");

    // The role change, by target: the admin's change is the newest of the user's entries (the
    // harness created the user as the system operator before).
    let by_target = AuditFilter {
        target_type: Some("user".into()),
        target_id: Some(staff.user_id.as_str().into()),
        ..AuditFilter::default()
    };
    let changes = audit.list(&admin, &by_target, &first_page).await.unwrap().items;
    assert_eq!(changes[0].action, "user.set_role");
    assert_eq!(changes[0].actor_id, admin.user_id);
    assert_eq!(changes[0].details["to"], serde_json::json!(Role::Support));
    assert!(changes.iter().all(|e| e.target_id == staff.user_id.as_str() && e.target_type == "user"));

    // By actor, newest first: the role change, then the refund, then the funding and the product.
    let by_admin = AuditFilter { actor_id: Some(admin.user_id.clone()), ..AuditFilter::default() };
    let mine = audit.list(&admin, &by_admin, &first_page).await.unwrap().items;
    let actions: Vec<&str> = mine.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions[..2], ["user.set_role", "order.refund"]);
    assert!(actions.contains(&"wallet.adjust") && actions.contains(&"product.create"), "{actions:?}");
    assert!(mine.iter().all(|e| e.actor_id == admin.user_id));
    // Blank filters are no filters.
    let blank =
        AuditFilter { action: Some("  ".into()), target_type: Some(String::new()), ..by_admin.clone() };
    assert_eq!(audit.list(&admin, &blank, &first_page).await.unwrap().items, mine);

    // Cursor pagination walks the same entries one page at a time.
    let mut paged = Vec::new();
    let mut cursor = None;
    for _ in 0..100 {
        let page = audit.list(&admin, &by_admin, &PageRequest { limit: Some(1), cursor }).await.unwrap();
        paged.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(paged, mine);

    assert!(matches!(
        audit.list(&admin, &all, &PageRequest { limit: Some(0), cursor: None }).await,
        Err(Error::Validation { .. })
    ));
    let too_long = AuditFilter { action: Some("x".repeat(500)), ..AuditFilter::default() };
    assert!(matches!(audit.list(&admin, &too_long, &first_page).await, Err(Error::Validation { .. })));
    h.check_invariants().await;
}

/// Expands one `#[tokio::test]` per scenario for a backend. `$new_store` is
/// `async fn() -> TestStore`.
#[macro_export]
macro_rules! service_scenario_tests {
    ($new_store:path) => {
        $crate::__scenario_tests!($new_store;
            otp_login_creates_user_once,
            otp_is_stored_hashed,
            otp_wrong_codes_then_dead,
            otp_expires_and_is_single_use,
            otp_cooldown_and_daily_cap,
            otp_guesses_are_bounded_per_day_across_resends,
            otp_only_to_mobiles_of_allowed_countries,
            otp_delivery_failure_keeps_cooldown,
            test_phone_uses_fixed_code_without_limits,
            concurrent_otp_verification_succeeds_once,
            refresh_rotates_and_reuse_revokes_family,
            logout_and_logout_everywhere,
            access_tokens_expire_and_resist_tampering,
            blocked_users_cannot_log_in_and_tokens_stop,
            role_changes_apply_on_next_request,
            profile_update_validates,
            staff_user_search,
            product_admin_and_visibility,
            product_list_cache_follows_writes,
            stock_never_negative_and_credentials_sealed,
            stock_and_price_are_bounded,
            malformed_cursors_are_refused,
            purchase_from_pool_is_active_with_credentials,
            purchase_without_pool_waits_for_admin_credentials,
            failed_purchases_leave_no_trace,
            idempotent_purchase_replays_and_detects_reuse,
            refund_happens_once_and_can_restock,
            concurrent_refunds_refund_once,
            concurrent_adjustments_with_one_request_id_apply_once,
            concurrent_topups_respect_the_open_limit,
            concurrent_purchases_keep_every_invariant,
            order_lists_paginate_newest_first,
            subscriptions_expire_by_the_clock,
            cancel_subscription,
            admin_adjustments,
            topup_verify_happy_path_and_replay,
            checkout_links_are_bound_signed_and_expire,
            topup_concurrent_confirmations_credit_once,
            topup_amount_mismatch_is_refused_and_alerted,
            topup_reconciliation_credits_and_expires,
            gateway_events_credit_once_and_dedupe,
            payments_not_configured,
            topup_late_capture_is_credited,
            reconciliation_keeps_authorized_payments_open,
            reconciliation_finds_late_captures_of_expired_intents,
            verify_credits_only_captured_payments,
            manual_capture_captures_then_credits,
            gateway_refunds_and_disputes_are_recorded_not_debited,
            topup_creation_is_rate_limited,
            reconciliation_is_fair_and_bounded,
            late_capture_races_credit_once,
            broadcasts_are_stored_once_with_per_user_state,
            outbox_leases_retries_and_parks,
            units_commit_roll_back_and_run_again,
            admin_reads_the_audit_log,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __scenario_tests {
    ($new_store:path; $($name:ident),+ $(,)?) => {
        mod service_scenarios {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(ts) = $crate::testing::IntoTestStore::into_test_store($new_store().await) else { return };
                    $crate::testing::scenarios::$name(ts).await;
                }
            )+
        }
    };
}
