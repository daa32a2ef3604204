//! Personal notifications and broadcasts, with per-recipient read and delete state.

use super::*;

/// Users and messages on one timeline (`T0` = when `u`, `v` and `s` joined):
///
/// | id   | at        | what                       |
/// |------|-----------|----------------------------|
/// | a    | T0 - 2h   | admin joins                |
/// | b0   | T0 - 1h   | broadcast to all           |
/// | u, v, s | T0     | users join (s is support)  |
/// | beq  | T0        | broadcast to all           |
/// | n1   | T0 + 1m   | personal to u              |
/// | b1   | T0 + 2m   | broadcast to all           |
/// | b2   | T0 + 3m   | broadcast to admins        |
/// | n2   | T0 + 4m   | personal to v              |
/// | n3   | T0 + 5m   | personal to u              |
/// | b3   | T0 + 6m   | broadcast to users         |
struct Inbox {
    u: Recipient,
    v: Recipient,
    s: Recipient,
    a: Recipient,
    n1: Notification,
    n2: Notification,
    n3: Notification,
    b0: Broadcast,
    beq: Broadcast,
    b1: Broadcast,
    b2: Broadcast,
    b3: Broadcast,
}

async fn seed_inbox(c: &Ctx) -> Inbox {
    let t0 = c.now() + TimeDelta::days(1);
    let at = |minutes: i64| c.set_time(t0 + TimeDelta::minutes(minutes));
    at(-120);
    let admin = c.user("+919800000009", Role::Admin);
    at(-60);
    let b0 = c.broadcast(Audience::All, &admin, "b0");
    at(0);
    let u = c.user("+919800000001", Role::User);
    let v = c.user("+919800000002", Role::User);
    let s = c.user("+919800000003", Role::Support);
    let beq = c.broadcast(Audience::All, &admin, "beq");
    at(1);
    let n1 = c.notification(&u, "n1");
    at(2);
    let b1 = c.broadcast(Audience::All, &admin, "b1");
    at(3);
    let b2 = c.broadcast(Audience::Role(Role::Admin), &admin, "b2");
    at(4);
    let n2 = Notification { kind: NotificationKind::WalletCredited, ..c.notification(&v, "n2") };
    at(5);
    let n3 = Notification { kind: NotificationKind::ExpiringSoon, ..c.notification(&u, "n3") };
    at(6);
    let b3 = c.broadcast(Audience::Role(Role::User), &admin, "b3");
    at(10);
    in_tx!(c, |tx| {
        for user in [&admin, &u, &v, &s] {
            tx.insert_user(user).await.unwrap();
        }
        for n in [&n3, &n1, &n2] {
            tx.insert_notification(n).await.unwrap();
        }
        for b in [&b2, &b0, &b3, &beq, &b1] {
            tx.insert_broadcast(b).await.unwrap();
        }
    });
    Inbox {
        u: recipient(&u),
        v: recipient(&v),
        s: recipient(&s),
        a: recipient(&admin),
        n1,
        n2,
        n3,
        b0,
        beq,
        b1,
        b2,
        b3,
    }
}

/// A recipient sees their personal notifications merged with the broadcasts for everyone or
/// their role sent at or after they joined, newest first, paginated across both kinds.
pub async fn notifications_merge_personal_and_broadcasts(ts: TestStore) {
    let c = Ctx::new(ts);
    let x = seed_inbox(&c).await;
    let (pv, bv) = (personal_view, broadcast_view);
    let mut r = c.read().await;
    let page = first(50);
    assert_eq!(
        r.list_notifications(&x.u, false, &page).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n3, false), bv(&x.b1, false), pv(&x.n1, false), bv(&x.beq, false)]
    );
    assert_eq!(
        r.list_notifications(&x.v, false, &page).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n2, false), bv(&x.b1, false), bv(&x.beq, false)]
    );
    assert_eq!(
        r.list_notifications(&x.a, false, &page).await.unwrap(),
        vec![bv(&x.b2, false), bv(&x.b1, false), bv(&x.beq, false), bv(&x.b0, false)]
    );
    assert_eq!(
        r.list_notifications(&x.s, false, &page).await.unwrap(),
        vec![bv(&x.b1, false), bv(&x.beq, false)]
    );

    // Pages across the merge.
    assert_eq!(
        r.list_notifications(&x.u, false, &first(2)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n3, false)]
    );
    assert_eq!(
        r.list_notifications(&x.u, false, &before(x.n3.id.as_str(), 2)).await.unwrap(),
        vec![bv(&x.b1, false), pv(&x.n1, false)]
    );
    assert_eq!(
        r.list_notifications(&x.u, false, &before(x.n1.id.as_str(), 2)).await.unwrap(),
        vec![bv(&x.beq, false)]
    );
    assert_eq!(r.list_notifications(&x.u, false, &before(x.beq.id.as_str(), 2)).await.unwrap(), vec![]);

    // Joining later hides what was sent before.
    let late = Recipient { joined_at: x.b1.created_at + TimeDelta::milliseconds(1), ..x.u.clone() };
    assert_eq!(
        r.list_notifications(&late, false, &page).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n3, false), pv(&x.n1, false)]
    );

    for (who, n) in [(&x.u, 5), (&x.v, 4), (&x.a, 4), (&x.s, 2)] {
        assert_eq!(r.count_unread_notifications(who).await.unwrap(), n, "{:?}", who.role);
    }
}

/// Read state is per recipient, for personal notifications and broadcasts alike: unread_only,
/// count_unread and mark_all (which returns how many changed) see only the reader's state.
pub async fn notifications_read_state_is_per_user(ts: TestStore) {
    let c = Ctx::new(ts);
    let x = seed_inbox(&c).await;
    let (pv, bv) = (personal_view, broadcast_view);
    let now = c.now();

    assert!(in_tx!(c, |tx| tx.mark_notification_read(&x.u, &x.n3.id, now).await.unwrap()));
    assert!(in_tx!(c, |tx| tx.mark_notification_read(&x.u, &x.b1.id, now).await.unwrap()));
    let mut r = c.read().await;
    assert_eq!(
        r.list_notifications(&x.u, false, &first(50)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n3, true), bv(&x.b1, true), pv(&x.n1, false), bv(&x.beq, false)]
    );
    assert_eq!(
        r.list_notifications(&x.u, true, &first(50)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n1, false), bv(&x.beq, false)]
    );
    assert_eq!(
        r.list_notifications(&x.u, true, &first(2)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n1, false)]
    );
    assert_eq!(
        r.list_notifications(&x.u, true, &before(x.n1.id.as_str(), 2)).await.unwrap(),
        vec![bv(&x.beq, false)]
    );
    assert_eq!(r.count_unread_notifications(&x.u).await.unwrap(), 3);
    // Another reader of the same broadcast still has it unread.
    assert_eq!(r.count_unread_notifications(&x.v).await.unwrap(), 4);
    assert_eq!(
        r.list_notifications(&x.v, true, &first(50)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n2, false), bv(&x.b1, false), bv(&x.beq, false)]
    );
    drop(r);

    assert_eq!(in_tx!(c, |tx| tx.mark_all_notifications_read(&x.u, now).await.unwrap()), 3);
    let mut r = c.read().await;
    assert_eq!(r.count_unread_notifications(&x.u).await.unwrap(), 0);
    assert_eq!(r.list_notifications(&x.u, true, &first(50)).await.unwrap(), vec![]);
    assert!(r.list_notifications(&x.u, false, &first(50)).await.unwrap().iter().all(|n| n.is_read));
    assert_eq!(r.count_unread_notifications(&x.v).await.unwrap(), 4);
    assert_eq!(r.count_unread_notifications(&x.a).await.unwrap(), 4);
    assert_eq!(r.count_unread_notifications(&x.s).await.unwrap(), 2);
    drop(r);
    assert_eq!(in_tx!(c, |tx| tx.mark_all_notifications_read(&x.u, now).await.unwrap()), 0);

    // mark_all for a support user touches only what a support user sees.
    assert_eq!(in_tx!(c, |tx| tx.mark_all_notifications_read(&x.s, now).await.unwrap()), 2);
    let mut r = c.read().await;
    assert_eq!(r.count_unread_notifications(&x.v).await.unwrap(), 4);
    assert_eq!(r.count_unread_notifications(&x.a).await.unwrap(), 4);
    assert_eq!(r.list_notifications(&x.a, false, &first(1)).await.unwrap(), vec![bv(&x.b2, false)]);
}

/// delete_notification deletes a personal notification or hides a broadcast for this reader
/// only; afterwards it is invisible to them (lists, counts, read, delete, mark_all).
pub async fn notifications_delete_and_hide(ts: TestStore) {
    let c = Ctx::new(ts);
    let x = seed_inbox(&c).await;
    let (pv, bv) = (personal_view, broadcast_view);
    let now = c.now();

    assert!(in_tx!(c, |tx| tx.delete_notification(&x.u, &x.n1.id, now).await.unwrap()));
    assert!(in_tx!(c, |tx| tx.mark_notification_read(&x.u, &x.beq.id, now).await.unwrap()));
    assert!(
        in_tx!(c, |tx| tx.delete_notification(&x.u, &x.beq.id, now).await.unwrap()),
        "hide a read broadcast"
    );
    assert!(
        in_tx!(c, |tx| tx.delete_notification(&x.u, &x.b1.id, now).await.unwrap()),
        "hide an unread broadcast"
    );
    let mut r = c.read().await;
    assert_eq!(
        r.list_notifications(&x.u, false, &first(50)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n3, false)]
    );
    assert_eq!(r.count_unread_notifications(&x.u).await.unwrap(), 2);
    drop(r);

    for id in [&x.n1.id, &x.b1.id, &x.beq.id] {
        assert!(!in_tx!(c, |tx| tx.delete_notification(&x.u, id, now).await.unwrap()), "delete twice");
        assert!(
            !in_tx!(c, |tx| tx.mark_notification_read(&x.u, id, now).await.unwrap()),
            "read a hidden one"
        );
    }
    assert_eq!(in_tx!(c, |tx| tx.mark_all_notifications_read(&x.u, now).await.unwrap()), 2);
    let mut r = c.read().await;
    assert_eq!(
        r.list_notifications(&x.u, false, &first(50)).await.unwrap(),
        vec![bv(&x.b3, true), pv(&x.n3, true)]
    );

    // Others still see the broadcasts, unread.
    assert_eq!(
        r.list_notifications(&x.v, false, &first(50)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n2, false), bv(&x.b1, false), bv(&x.beq, false)]
    );
    assert_eq!(r.count_unread_notifications(&x.a).await.unwrap(), 4);
}

/// A reader cannot read or delete what they cannot see: another user's notification, a
/// broadcast for another role, one sent before they joined, or an unknown id; nothing changes.
pub async fn notifications_of_others_are_refused(ts: TestStore) {
    let c = Ctx::new(ts);
    let x = seed_inbox(&c).await;
    let (pv, bv) = (personal_view, broadcast_view);
    let now = c.now();
    let unknown: NotificationId = c.id();
    for id in [&x.n2.id, &x.b2.id, &x.b0.id, &unknown] {
        assert!(!in_tx!(c, |tx| tx.mark_notification_read(&x.u, id, now).await.unwrap()), "read {id}");
        assert!(!in_tx!(c, |tx| tx.delete_notification(&x.u, id, now).await.unwrap()), "delete {id}");
    }
    // A support user may not touch a broadcast for users, nor an admin one for admins.
    assert!(!in_tx!(c, |tx| tx.mark_notification_read(&x.s, &x.b3.id, now).await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.delete_notification(&x.s, &x.b2.id, now).await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.delete_notification(&x.a, &x.n1.id, now).await.unwrap()));

    let mut r = c.read().await;
    assert_eq!(r.count_unread_notifications(&x.u).await.unwrap(), 5);
    assert_eq!(
        r.list_notifications(&x.v, false, &first(50)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n2, false), bv(&x.b1, false), bv(&x.beq, false)]
    );
    assert_eq!(
        r.list_notifications(&x.a, false, &first(50)).await.unwrap(),
        vec![bv(&x.b2, false), bv(&x.b1, false), bv(&x.beq, false), bv(&x.b0, false)]
    );
    assert_eq!(r.count_unread_notifications(&x.s).await.unwrap(), 2);
    assert_eq!(
        r.list_notifications(&x.u, false, &first(50)).await.unwrap(),
        vec![bv(&x.b3, false), pv(&x.n3, false), bv(&x.b1, false), pv(&x.n1, false), bv(&x.beq, false)]
    );
}

/// `insert_notifications` and `insert_outbox_items` store every row as the one-row inserts
/// would (more rows than one statement of a backend may carry, too); empty slices do nothing;
/// a batch with a duplicate id fails and, with its unit dropped, leaves nothing behind.
pub async fn batch_inserts_store_every_row(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.user("+919800000011", Role::User);
    let notes: Vec<Notification> = (0..70).map(|i| c.notification(&u, &format!("n{i}"))).collect();
    let items: Vec<OutboxItem> = (0..70).map(|i| c.outbox(&format!("{{\"i\":{i}}}"), c.now())).collect();
    in_tx!(c, |tx| {
        tx.insert_user(&u).await.unwrap();
        tx.insert_notifications(&[]).await.unwrap();
        tx.insert_outbox_items(&[]).await.unwrap();
        tx.insert_notifications(&notes).await.unwrap();
        tx.insert_outbox_items(&items).await.unwrap();
    });
    let mut r = c.read().await;
    let want: Vec<NotificationView> = notes.iter().rev().map(|n| personal_view(n, false)).collect();
    assert_eq!(r.list_notifications(&recipient(&u), false, &first(100)).await.unwrap(), want);
    let want: Vec<OutboxItem> = items.iter().rev().cloned().collect();
    assert_eq!(r.list_outbox(None, &first(100)).await.unwrap(), want);

    let fresh = c.notification(&u, "fresh");
    let mut tx = c.tx().await;
    assert!(tx.insert_notifications(&[fresh.clone(), notes[0].clone()]).await.is_err());
    drop(tx);
    let fresh_item = c.outbox("fresh", c.now());
    let mut tx = c.tx().await;
    assert!(tx.insert_outbox_items(&[fresh_item, items[0].clone()]).await.is_err());
    drop(tx);
    let mut r = c.read().await;
    assert_eq!(r.list_notifications(&recipient(&u), false, &first(100)).await.unwrap().len(), 70);
    assert_eq!(r.list_outbox(None, &first(100)).await.unwrap().len(), 70);
}
