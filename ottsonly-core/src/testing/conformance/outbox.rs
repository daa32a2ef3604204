//! The admin-alert outbox: listing, leases, completion and retries.

use super::*;

/// Outbox items round-trip (every field) and list newest first, by status, paginated.
pub async fn outbox_round_trip_and_list_by_status(ts: TestStore) {
    let c = Ctx::new(ts);
    let now = c.now();
    let i1 = c.outbox(r#"{"kind":"a"}"#, now);
    let i2 = OutboxItem {
        status: OutboxStatus::Delivered,
        attempts: 1,
        delivered_at: Some(now + TimeDelta::seconds(1)),
        ..c.outbox(r#"{"kind":"b"}"#, now)
    };
    let i3 = OutboxItem {
        status: OutboxStatus::Failed,
        attempts: 7,
        last_error: Some("telegram said no".into()),
        ..c.outbox(r#"{"kind":"c"}"#, now)
    };
    let i4 = OutboxItem {
        attempts: 2,
        lease_owner: Some("worker-1".into()),
        lease_until: Some(now + TimeDelta::seconds(30)),
        last_error: Some("timeout".into()),
        ..c.outbox("{\"kind\":\"d\",\"text\":\"ünïcode ₹\"}", now + TimeDelta::minutes(1))
    };
    in_tx!(c, |tx| {
        for i in [&i3, &i1, &i4, &i2] {
            tx.insert_outbox(i).await.unwrap();
        }
    });
    let mut r = c.read().await;
    assert_eq!(r.list_outbox(None, &first(10)).await.unwrap(), cloned![i4, i3, i2, i1]);
    assert_eq!(r.list_outbox(Some(OutboxStatus::Pending), &first(10)).await.unwrap(), cloned![i4, i1]);
    assert_eq!(r.list_outbox(Some(OutboxStatus::Delivered), &first(10)).await.unwrap(), cloned![i2]);
    assert_eq!(r.list_outbox(Some(OutboxStatus::Failed), &first(10)).await.unwrap(), cloned![i3]);
    assert_eq!(r.list_outbox(None, &first(2)).await.unwrap(), cloned![i4, i3]);
    assert_eq!(r.list_outbox(None, &before(i3.id.as_str(), 2)).await.unwrap(), cloned![i2, i1]);
    assert_eq!(
        r.list_outbox(Some(OutboxStatus::Pending), &before(i4.id.as_str(), 2)).await.unwrap(),
        cloned![i1]
    );
}

/// claim_outbox leases `Pending` items due at `now` (due_at <= now) whose lease is absent or
/// expired, oldest due first, at most `limit`, counting an attempt; a second claimer gets
/// nothing while the lease holds and everything after it expires; complete is guarded on the
/// current owner.
pub async fn outbox_claim_leases_due_items(ts: TestStore) {
    let c = Ctx::new(ts);
    let t = c.now() + TimeDelta::hours(1);
    let s = TimeDelta::seconds;
    let i2 = c.outbox("i2", t - TimeDelta::minutes(1)); // older id, later due
    let i1 = c.outbox("i1", t - TimeDelta::minutes(2));
    let i3 = c.outbox("i3", t + TimeDelta::hours(1)); // not due yet
    let ieq = c.outbox("ieq", t); // due exactly now
    let done = OutboxItem { status: OutboxStatus::Delivered, ..c.outbox("done", t - TimeDelta::hours(1)) };
    let failed = OutboxItem { status: OutboxStatus::Failed, ..c.outbox("failed", t - TimeDelta::hours(1)) };
    in_tx!(c, |tx| {
        for i in [&ieq, &done, &i3, &i1, &failed, &i2] {
            tx.insert_outbox(i).await.unwrap();
        }
    });
    let leased = |i: &OutboxItem, owner: &str, until, attempts| OutboxItem {
        lease_owner: Some(owner.to_string()),
        lease_until: Some(until),
        attempts,
        ..i.clone()
    };

    let got = in_tx!(c, |tx| tx.claim_outbox("w1", t, t + s(30), 10).await.unwrap());
    assert_eq!(
        got,
        vec![
            leased(&i1, "w1", t + s(30), 1),
            leased(&i2, "w1", t + s(30), 1),
            leased(&ieq, "w1", t + s(30), 1)
        ]
    );
    let all = all_outbox(&c).await;
    assert_eq!(find_outbox(&all, &i1.id), leased(&i1, "w1", t + s(30), 1));
    assert_eq!(find_outbox(&all, &i3.id), i3, "an item not due was touched");
    assert_eq!(find_outbox(&all, &done.id), done);
    assert_eq!(find_outbox(&all, &failed.id), failed);

    assert_eq!(in_tx!(c, |tx| tx.claim_outbox("w2", t + s(10), t + s(40), 10).await.unwrap()), vec![]);

    let got = in_tx!(c, |tx| tx.claim_outbox("w2", t + s(31), t + s(61), 1).await.unwrap());
    assert_eq!(got, vec![leased(&i1, "w2", t + s(61), 2)]);

    assert!(!in_tx!(c, |tx| tx.complete_outbox(&i1.id, "w1", t + s(32)).await.unwrap()), "lost lease");
    assert!(in_tx!(c, |tx| tx.complete_outbox(&i1.id, "w2", t + s(32)).await.unwrap()));
    let got = find_outbox(&all_outbox(&c).await, &i1.id);
    assert_eq!((got.status, got.delivered_at, got.attempts), (OutboxStatus::Delivered, Some(t + s(32)), 2));
    assert!(!in_tx!(c, |tx| tx.complete_outbox(&i1.id, "w2", t + s(33)).await.unwrap()), "twice");
    assert!(!in_tx!(c, |tx| tx.complete_outbox(&c.id(), "w2", t + s(33)).await.unwrap()), "missing");

    // Much later: expired leases and the newly due item, never the delivered one.
    let later = t + TimeDelta::hours(2);
    let got = in_tx!(c, |tx| tx.claim_outbox("w3", later, later + s(30), 10).await.unwrap());
    assert_eq!(
        got,
        vec![
            leased(&i2, "w3", later + s(30), 2),
            leased(&ieq, "w3", later + s(30), 2),
            leased(&i3, "w3", later + s(30), 1),
        ]
    );
    assert_eq!(in_tx!(c, |tx| tx.claim_outbox("w4", later, later + s(30), 10).await.unwrap()), vec![]);
}

/// fail_outbox is guarded on the lease owner; with `retry_at` it releases the lease and keeps
/// the item `Pending` due then, with `None` it parks it as `Failed` for good.
pub async fn outbox_fail_retries_or_parks(ts: TestStore) {
    let c = Ctx::new(ts);
    let t = c.now() + TimeDelta::hours(1);
    let s = TimeDelta::seconds;
    let item = c.outbox("alert", t);
    in_tx!(c, |tx| tx.insert_outbox(&item).await.unwrap());
    assert_eq!(in_tx!(c, |tx| tx.claim_outbox("w1", t, t + s(30), 10).await.unwrap()).len(), 1);

    let retry = t + TimeDelta::minutes(5);
    assert!(!in_tx!(c, |tx| tx.fail_outbox(&item.id, "w2", "not mine", Some(retry)).await.unwrap()));
    assert!(in_tx!(c, |tx| tx.fail_outbox(&item.id, "w1", "smtp down", Some(retry)).await.unwrap()));
    let want =
        OutboxItem { attempts: 1, due_at: retry, last_error: Some("smtp down".into()), ..item.clone() };
    assert_eq!(all_outbox(&c).await, vec![want], "pending, due at retry_at, lease released");
    assert!(
        !in_tx!(c, |tx| tx.fail_outbox(&item.id, "w1", "again", Some(retry)).await.unwrap()),
        "lease gone"
    );

    assert_eq!(
        in_tx!(c, |tx| tx.claim_outbox("w1", t + TimeDelta::minutes(1), t + s(90), 10).await.unwrap()),
        vec![]
    );
    let got = in_tx!(c, |tx| tx.claim_outbox("w2", retry, retry + s(30), 10).await.unwrap());
    assert_eq!(
        got.iter().map(|i| (i.id.clone(), i.attempts)).collect::<Vec<_>>(),
        vec![(item.id.clone(), 2)]
    );

    assert!(in_tx!(c, |tx| tx.fail_outbox(&item.id, "w2", "gave up", None).await.unwrap()));
    let got = find_outbox(&all_outbox(&c).await, &item.id);
    assert_eq!(
        (got.status, got.attempts, got.last_error.as_deref(), got.lease_owner.as_deref()),
        (OutboxStatus::Failed, 2, Some("gave up"), None)
    );
    let mut r = c.read().await;
    assert_eq!(r.list_outbox(Some(OutboxStatus::Failed), &first(10)).await.unwrap(), vec![got.clone()]);
    assert_eq!(r.list_outbox(Some(OutboxStatus::Pending), &first(10)).await.unwrap(), vec![]);
    drop(r);
    let much_later = t + TimeDelta::days(7);
    assert_eq!(
        in_tx!(c, |tx| tx.claim_outbox("w3", much_later, much_later + s(30), 10).await.unwrap()),
        vec![]
    );
    assert!(!in_tx!(c, |tx| tx.complete_outbox(&item.id, "w2", much_later).await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.fail_outbox(&item.id, "w2", "x", Some(much_later)).await.unwrap()));
    assert_eq!(find_outbox(&all_outbox(&c).await, &item.id), got);
}

/// `requeue_outbox` moves only a parked item: back to pending, due now, attempts reset, the last
/// error kept; a pending or delivered item, or an unknown id, is left alone.
pub async fn outbox_requeue_only_parked(ts: TestStore) {
    let c = Ctx::new(ts);
    let t = c.now();
    let s = TimeDelta::seconds;
    let parked = c.outbox("parked", t);
    let pending = c.outbox("pending", t + TimeDelta::hours(1));
    in_tx!(c, |tx| {
        tx.insert_outbox(&parked).await.unwrap();
        tx.insert_outbox(&pending).await.unwrap();
    });
    assert_eq!(in_tx!(c, |tx| tx.claim_outbox("w1", t, t + s(30), 1).await.unwrap()).len(), 1);
    assert!(in_tx!(c, |tx| tx.fail_outbox(&parked.id, "w1", "gave up", None).await.unwrap()));
    let later = t + TimeDelta::minutes(10);
    assert!(!in_tx!(c, |tx| tx.requeue_outbox(&pending.id, later).await.unwrap()), "not parked");
    assert!(!in_tx!(c, |tx| tx.requeue_outbox(&c.id(), later).await.unwrap()), "unknown");
    assert!(in_tx!(c, |tx| tx.requeue_outbox(&parked.id, later).await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.requeue_outbox(&parked.id, later).await.unwrap()), "once");
    let got = find_outbox(&all_outbox(&c).await, &parked.id);
    assert_eq!(
        (got.status, got.attempts, got.due_at, got.last_error.as_deref(), got.lease_owner.as_deref()),
        (OutboxStatus::Pending, 0, later, Some("gave up"), None)
    );
    assert_eq!(find_outbox(&all_outbox(&c).await, &pending.id), pending);
    let claimed = in_tx!(c, |tx| tx.claim_outbox("w2", later, later + s(30), 10).await.unwrap());
    assert_eq!(
        claimed.iter().map(|i| (i.id.clone(), i.attempts)).collect::<Vec<_>>(),
        vec![(parked.id.clone(), 1)]
    );
}
