//! One-time codes and refresh tokens.

use super::*;

/// put_otp inserts or fully replaces the phone's record; get_otp returns it as written.
pub async fn otp_put_get_replace(ts: TestStore) {
    let c = Ctx::new(ts);
    let r1 = c.otp("+919811111111", "mac-1");
    in_tx!(c, |tx| tx.put_otp(&r1).await.unwrap());
    assert_eq!(c.read().await.get_otp(&r1.phone).await.unwrap(), Some(r1.clone()));

    c.advance(TimeDelta::seconds(61));
    let mut r2 = c.otp("+919811111111", "mac-2");
    r2.attempts = 2;
    r2.consumed_at = Some(c.now());
    r2.sends_in_window = 3;
    r2.window_start = r1.window_start;
    in_tx!(c, |tx| tx.put_otp(&r2).await.unwrap());
    assert_eq!(c.read().await.get_otp(&r2.phone).await.unwrap(), Some(r2.clone()));

    // Replacing clears what the new record does not have.
    c.advance(TimeDelta::seconds(61));
    let r3 = c.otp("+919811111111", "mac-3");
    let other = c.otp("+14155550100", "mac-x");
    let mut r = write_and_read_back!(c, put_otp, get_otp by phone, r3, other);
    assert_eq!(r.get_otp(&phone("+919899999999")).await.unwrap(), None);
}

/// record_otp_attempt increments while `attempts < max_attempts` and then returns `None`
/// without counting; `max_attempts` is the caller's, not stored; `None` for an unknown phone.
pub async fn otp_attempts_stop_at_max(ts: TestStore) {
    let c = Ctx::new(ts);
    let rec = c.otp("+919811111111", "mac-1");
    in_tx!(c, |tx| tx.put_otp(&rec).await.unwrap());

    for n in 1..=3u32 {
        let got = in_tx!(c, |tx| tx.record_otp_attempt(&rec.phone, 3, u32::MAX).await.unwrap());
        assert_eq!(
            got,
            Some(OtpRecord { attempts: n, guesses_in_window: rec.guesses_in_window + n, ..rec.clone() }),
            "attempt {n}"
        );
    }
    assert_eq!(in_tx!(c, |tx| tx.record_otp_attempt(&rec.phone, 3, u32::MAX).await.unwrap()), None);
    assert_eq!(c.read().await.get_otp(&rec.phone).await.unwrap().unwrap().attempts, 3);

    let got = in_tx!(c, |tx| tx.record_otp_attempt(&rec.phone, 5, u32::MAX).await.unwrap());
    assert_eq!(got.map(|r| r.attempts), Some(4));
    assert_eq!(
        in_tx!(c, |tx| tx.record_otp_attempt(&phone("+919899999999"), 5, u32::MAX).await.unwrap()),
        None
    );
}

/// record_otp_attempt also counts `guesses_in_window`, which survives a new code (put_otp carries
/// it), and refuses once it reaches `max_guesses` even when the code has attempts left.
pub async fn otp_guesses_stop_at_the_window_budget(ts: TestStore) {
    let c = Ctx::new(ts);
    let rec = c.otp("+919811111111", "mac-1");
    assert_eq!(rec.guesses_in_window, 4);
    in_tx!(c, |tx| tx.put_otp(&rec).await.unwrap());
    let got = in_tx!(c, |tx| tx.record_otp_attempt(&rec.phone, 5, 6).await.unwrap());
    assert_eq!(got, Some(OtpRecord { attempts: 1, guesses_in_window: 5, ..rec.clone() }));
    // A resend: a new code with fresh attempts, the same guess count.
    let resent = OtpRecord { code_mac: "mac-2".into(), attempts: 0, guesses_in_window: 5, ..rec.clone() };
    in_tx!(c, |tx| tx.put_otp(&resent).await.unwrap());
    assert_eq!(c.read().await.get_otp(&rec.phone).await.unwrap(), Some(resent.clone()));
    let got = in_tx!(c, |tx| tx.record_otp_attempt(&rec.phone, 5, 6).await.unwrap());
    assert_eq!(got.map(|r| (r.attempts, r.guesses_in_window)), Some((1, 6)));
    assert_eq!(in_tx!(c, |tx| tx.record_otp_attempt(&rec.phone, 5, 6).await.unwrap()), None);
    let stored = c.read().await.get_otp(&rec.phone).await.unwrap().unwrap();
    assert_eq!((stored.attempts, stored.guesses_in_window), (1, 6), "a refused guess is not counted");
}

/// consume_otp is true once, only for the code created at `created_at`; a consumed code takes no
/// more attempts; a new code (put_otp) can be consumed again.
pub async fn otp_consume_once(ts: TestStore) {
    let c = Ctx::new(ts);
    let rec = c.otp("+919811111111", "mac-1");
    in_tx!(c, |tx| tx.put_otp(&rec).await.unwrap());
    c.advance(TimeDelta::seconds(20));
    let now = c.now();

    let wrong = rec.created_at + TimeDelta::milliseconds(1);
    assert!(!in_tx!(c, |tx| tx.consume_otp(&rec.phone, wrong, now).await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.consume_otp(&phone("+919899999999"), rec.created_at, now).await.unwrap()));
    assert_eq!(c.read().await.get_otp(&rec.phone).await.unwrap(), Some(rec.clone()));

    assert!(in_tx!(c, |tx| tx.consume_otp(&rec.phone, rec.created_at, now).await.unwrap()));
    let consumed = OtpRecord { consumed_at: Some(now), ..rec.clone() };
    assert_eq!(c.read().await.get_otp(&rec.phone).await.unwrap(), Some(consumed.clone()));
    assert!(!in_tx!(c, |tx| tx.consume_otp(&rec.phone, rec.created_at, now).await.unwrap()), "twice");
    assert_eq!(in_tx!(c, |tx| tx.record_otp_attempt(&rec.phone, 10, u32::MAX).await.unwrap()), None);
    assert_eq!(c.read().await.get_otp(&rec.phone).await.unwrap(), Some(consumed));

    c.advance(TimeDelta::seconds(40));
    let next = c.otp("+919811111111", "mac-2");
    in_tx!(c, |tx| tx.put_otp(&next).await.unwrap());
    let now = c.now();
    assert!(!in_tx!(c, |tx| tx.consume_otp(&rec.phone, rec.created_at, now).await.unwrap()), "old code");
    assert!(in_tx!(c, |tx| tx.consume_otp(&rec.phone, next.created_at, now).await.unwrap()), "new code");
}

/// Refresh tokens round-trip by hash; a duplicate hash is `Conflict(refresh_tokens.token_hash)`;
/// mark_refresh_token_used is true once.
pub async fn refresh_token_round_trip_and_single_use(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let t = c.token(&u, "fam-1", "hash-1");
    in_tx!(c, |tx| tx.insert_refresh_token(&t).await.unwrap());
    assert_eq!(c.read().await.get_refresh_token_by_hash("hash-1").await.unwrap(), Some(t.clone()));
    assert_eq!(c.read().await.get_refresh_token_by_hash("hash-2").await.unwrap(), None);

    let dup = c.token(&u, "fam-2", "hash-1");
    let mut tx = c.tx().await;
    assert_conflict(tx.insert_refresh_token(&dup).await, constraint::REFRESH_TOKEN_HASH);
    drop(tx);

    c.advance(TimeDelta::minutes(10));
    let now = c.now();
    assert!(in_tx!(c, |tx| tx.mark_refresh_token_used(&t.id, now).await.unwrap()));
    let used = RefreshToken { used_at: Some(now), ..t.clone() };
    assert_eq!(c.read().await.get_refresh_token_by_hash("hash-1").await.unwrap(), Some(used.clone()));
    c.advance(TimeDelta::minutes(1));
    assert!(!in_tx!(c, |tx| tx.mark_refresh_token_used(&t.id, c.now()).await.unwrap()), "twice");
    assert_eq!(c.read().await.get_refresh_token_by_hash("hash-1").await.unwrap(), Some(used));
    assert!(!in_tx!(c, |tx| tx.mark_refresh_token_used(&c.id(), c.now()).await.unwrap()), "missing");
}

/// revoke_refresh_family / revoke_user_refresh_tokens revoke only that family / user, count only
/// tokens not yet revoked, keep earlier revocation times; revoked tokens cannot be used.
pub async fn refresh_token_revocation(ts: TestStore) {
    let c = &Ctx::new(ts);
    let a = c.seed_user("+919811111111", Role::User).await;
    let b = c.seed_user("+919822222222", Role::User).await;
    let earlier = c.now() - TimeDelta::hours(1);
    let mut t1 = c.token(&a, "F1", "h1");
    t1.used_at = Some(earlier);
    let t2 = c.token(&a, "F1", "h2");
    let mut t3 = c.token(&a, "F1", "h3");
    t3.revoked_at = Some(earlier);
    let t4 = c.token(&a, "F2", "h4");
    let t5 = c.token(&b, "F3", "h5");
    in_tx!(c, |tx| {
        for t in [&t1, &t2, &t3, &t4, &t5] {
            tx.insert_refresh_token(t).await.unwrap();
        }
    });
    assert_eq!(c.read().await.get_refresh_token_by_hash("h1").await.unwrap(), Some(t1.clone()));
    assert_eq!(c.read().await.get_refresh_token_by_hash("h3").await.unwrap(), Some(t3.clone()));

    c.advance(TimeDelta::minutes(5));
    let now = c.now();
    assert_eq!(in_tx!(c, |tx| tx.revoke_refresh_family("F1", now).await.unwrap()), 2);
    let get =
        |h: &'static str| async move { c.read().await.get_refresh_token_by_hash(h).await.unwrap().unwrap() };
    assert_eq!(get("h1").await, RefreshToken { revoked_at: Some(now), ..t1.clone() });
    assert_eq!(get("h2").await, RefreshToken { revoked_at: Some(now), ..t2.clone() });
    assert_eq!(get("h3").await, t3, "an earlier revocation time was overwritten");
    assert_eq!(get("h4").await, t4, "another family was revoked");
    assert!(!in_tx!(c, |tx| tx.mark_refresh_token_used(&t2.id, now).await.unwrap()), "revoked token used");
    assert_eq!(in_tx!(c, |tx| tx.revoke_refresh_family("F1", now).await.unwrap()), 0);
    assert_eq!(in_tx!(c, |tx| tx.revoke_refresh_family("F-none", now).await.unwrap()), 0);

    c.advance(TimeDelta::minutes(5));
    let later = c.now();
    assert_eq!(in_tx!(c, |tx| tx.revoke_user_refresh_tokens(&a.id, later).await.unwrap()), 1);
    assert_eq!(get("h4").await, RefreshToken { revoked_at: Some(later), ..t4.clone() });
    assert_eq!(get("h2").await.revoked_at, Some(now));
    assert_eq!(in_tx!(c, |tx| tx.revoke_user_refresh_tokens(&a.id, later).await.unwrap()), 0);

    assert_eq!(get("h5").await, t5, "another user's token was revoked");
    assert!(in_tx!(c, |tx| tx.mark_refresh_token_used(&t5.id, later).await.unwrap()));
}
