//! The Telegram shop: account links and the bot's polling lease with its update offset.

use super::*;
use crate::telegram_shop::TelegramLink;

fn link(c: &Ctx, telegram_user_id: i64, user: &User) -> TelegramLink {
    TelegramLink { telegram_user_id, user_id: user.id.clone(), chat_id: telegram_user_id, linked_at: c.now() }
}

/// A link reads back both ways; one account per user and one user per account: linking again
/// moves the link (from the old account, or to the new user), and unlinking removes it once.
pub async fn telegram_links_are_one_to_one_and_move(ts: TestStore) {
    let c = Ctx::new(ts);
    let a = c.seed_user("+919811111111", Role::User).await;
    let b = c.seed_user("+919822222222", Role::User).await;
    let mut r = c.read().await;
    assert_eq!(r.get_telegram_link(7).await.unwrap(), None);
    assert_eq!(r.get_telegram_link_by_user(&a.id).await.unwrap(), None);
    drop(r);
    let l = link(&c, 7, &a);
    in_tx!(c, |tx| {
        tx.link_telegram(&l).await.unwrap();
        assert_eq!(tx.get_telegram_link(7).await.unwrap(), Some(l.clone()), "reads own write");
    });
    let mut r = c.read().await;
    assert_eq!(r.get_telegram_link(7).await.unwrap(), Some(l.clone()));
    assert_eq!(r.get_telegram_link_by_user(&a.id).await.unwrap(), Some(l.clone()));
    drop(r);

    // The same user from another account: the first account loses the link.
    c.advance(TimeDelta::seconds(1));
    let moved = link(&c, 8, &a);
    in_tx!(c, |tx| tx.link_telegram(&moved).await.unwrap());
    let mut r = c.read().await;
    assert_eq!(r.get_telegram_link(7).await.unwrap(), None);
    assert_eq!(r.get_telegram_link(8).await.unwrap(), Some(moved.clone()));
    assert_eq!(r.get_telegram_link_by_user(&a.id).await.unwrap(), Some(moved.clone()));
    drop(r);

    // The same account for another user: the first user loses it.
    let to_b = link(&c, 8, &b);
    in_tx!(c, |tx| tx.link_telegram(&to_b).await.unwrap());
    let mut r = c.read().await;
    assert_eq!(r.get_telegram_link(8).await.unwrap(), Some(to_b.clone()));
    assert_eq!(r.get_telegram_link_by_user(&a.id).await.unwrap(), None);
    assert_eq!(r.get_telegram_link_by_user(&b.id).await.unwrap(), Some(to_b.clone()));
    drop(r);

    // A dropped unit links nothing.
    {
        let mut tx = c.tx().await;
        tx.link_telegram(&link(&c, 9, &a)).await.unwrap();
        drop(tx);
    }
    assert_eq!(c.read().await.get_telegram_link(9).await.unwrap(), None);

    assert!(in_tx!(c, |tx| tx.unlink_telegram(8).await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.unlink_telegram(8).await.unwrap()), "second unlink");
    let mut r = c.read().await;
    assert_eq!(r.get_telegram_link(8).await.unwrap(), None);
    assert_eq!(r.get_telegram_link_by_user(&b.id).await.unwrap(), None);
}

/// The lease has one holder: another owner is refused while it lives, the holder renews, the
/// offset only moves forward and only for the holder, a lapsed lease passes to the next owner
/// (the crashed holder can no longer store an offset), and a released one is free at once.
pub async fn telegram_bot_lease_has_one_holder_and_keeps_the_offset(ts: TestStore) {
    let c = Ctx::new(ts);
    let ttl = TimeDelta::seconds(30);
    assert_eq!(c.read().await.get_bot_lease("shop").await.unwrap(), None);
    let now = c.now();
    assert!(in_tx!(c, |tx| tx.acquire_bot_lease("shop", "a", now, now + ttl).await.unwrap()));
    let l = c.read().await.get_bot_lease("shop").await.unwrap().unwrap();
    assert_eq!(
        (l.name.as_str(), l.owner.as_deref(), l.lease_until, l.offset),
        ("shop", Some("a"), now + ttl, 0)
    );
    assert!(!in_tx!(c, |tx| tx.acquire_bot_lease("shop", "b", now, now + ttl).await.unwrap()), "held by a");
    assert!(in_tx!(c, |tx| tx.acquire_bot_lease("other", "b", now, now + ttl).await.unwrap()), "per name");

    assert!(in_tx!(c, |tx| tx.set_bot_offset("shop", "a", 41, now).await.unwrap()));
    assert!(in_tx!(c, |tx| tx.set_bot_offset("shop", "a", 40, now).await.unwrap()));
    assert_eq!(c.read().await.get_bot_lease("shop").await.unwrap().unwrap().offset, 41, "never back");
    assert!(!in_tx!(c, |tx| tx.set_bot_offset("shop", "b", 99, now).await.unwrap()), "not the holder");

    // Renewal by the holder.
    c.advance(TimeDelta::seconds(20));
    let now = c.now();
    assert!(in_tx!(c, |tx| tx.acquire_bot_lease("shop", "a", now, now + ttl).await.unwrap()));
    c.advance(TimeDelta::seconds(20));
    let now = c.now();
    assert!(!in_tx!(c, |tx| tx.acquire_bot_lease("shop", "b", now, now + ttl).await.unwrap()), "renewed");

    // a crashes: at the end of its lease b takes over and keeps a's offset.
    c.advance(TimeDelta::seconds(10));
    let now = c.now();
    assert!(!in_tx!(c, |tx| tx.set_bot_offset("shop", "a", 50, now).await.unwrap()), "a's lease lapsed");
    assert!(in_tx!(c, |tx| tx.acquire_bot_lease("shop", "b", now, now + ttl).await.unwrap()));
    let l = c.read().await.get_bot_lease("shop").await.unwrap().unwrap();
    assert_eq!((l.owner.as_deref(), l.offset), (Some("b"), 41));
    assert!(!in_tx!(c, |tx| tx.set_bot_offset("shop", "a", 50, now).await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.release_bot_lease("shop", "a").await.unwrap()), "not a's to release");

    // Released: free for anyone at once, the offset kept.
    assert!(in_tx!(c, |tx| tx.set_bot_offset("shop", "b", 42, now).await.unwrap()));
    assert!(in_tx!(c, |tx| tx.release_bot_lease("shop", "b").await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.set_bot_offset("shop", "b", 43, now).await.unwrap()), "released");
    assert!(in_tx!(c, |tx| tx.acquire_bot_lease("shop", "a", now, now + ttl).await.unwrap()));
    let l = c.read().await.get_bot_lease("shop").await.unwrap().unwrap();
    assert_eq!((l.owner.as_deref(), l.offset), (Some("a"), 42));
}

/// The push: personal notifications after a cursor, oldest first (broadcasts are not listed);
/// the cursor moves only forward and only for the lease holder; a delivery is recorded once per
/// notification and chat.
pub async fn telegram_push_lists_after_the_cursor_and_records_once(ts: TestStore) {
    let c = Ctx::new(ts);
    let u = c.seed_user("+919811111111", Role::User).await;
    let v = c.seed_user("+919822222222", Role::User).await;
    let n1 = c.notification(&u, "one");
    let n2 = c.notification(&v, "two");
    let b = c.broadcast(Audience::All, &v, "everyone");
    let n3 = c.notification(&u, "three");
    in_tx!(c, |tx| {
        tx.insert_notification(&n1).await.unwrap();
        tx.insert_notification(&n2).await.unwrap();
        tx.insert_broadcast(&b).await.unwrap();
        tx.insert_notification(&n3).await.unwrap();
    });
    let mut r = c.read().await;
    assert_eq!(r.list_notifications_after(None, 10).await.unwrap(), cloned![n1, n2, n3]);
    assert_eq!(r.list_notifications_after(Some(&n1.id), 10).await.unwrap(), cloned![n2, n3]);
    assert_eq!(r.list_notifications_after(Some(&n1.id), 1).await.unwrap(), cloned![n2]);
    assert!(r.list_notifications_after(Some(&n3.id), 10).await.unwrap().is_empty());
    drop(r);

    let now = c.now();
    assert!(in_tx!(c, |tx| tx
        .acquire_bot_lease("shop", "a", now, now + TimeDelta::seconds(30))
        .await
        .unwrap()));
    assert!(in_tx!(c, |tx| tx.set_bot_push_cursor("shop", "a", &n2.id, now).await.unwrap()));
    assert!(in_tx!(c, |tx| tx.set_bot_push_cursor("shop", "a", &n1.id, now).await.unwrap()));
    assert!(
        !in_tx!(c, |tx| tx.set_bot_push_cursor("shop", "b", &n3.id, now).await.unwrap()),
        "not the holder"
    );
    let l = c.read().await.get_bot_lease("shop").await.unwrap().unwrap();
    assert_eq!(l.push_cursor, Some(n2.id.clone()), "never back");

    assert!(in_tx!(c, |tx| tx.record_telegram_delivery(&n1.id, 7, now).await.unwrap()));
    assert!(!in_tx!(c, |tx| tx.record_telegram_delivery(&n1.id, 7, now).await.unwrap()), "once per chat");
    assert!(in_tx!(c, |tx| tx.record_telegram_delivery(&n1.id, 8, now).await.unwrap()), "per chat");
    {
        let mut tx = c.tx().await;
        assert!(tx.record_telegram_delivery(&n2.id, 7, now).await.unwrap());
        drop(tx);
    }
    assert!(
        in_tx!(c, |tx| tx.record_telegram_delivery(&n2.id, 7, now).await.unwrap()),
        "a dropped unit recorded nothing"
    );
}

/// Eight instances racing for one free lease: exactly one gets it.
pub async fn concurrent_bot_lease_acquisitions_have_one_winner(ts: TestStore) {
    let c = Arc::new(Ctx::new(ts));
    let won = {
        let c = c.clone();
        spawn_units(8, move |i| {
            let c = c.clone();
            async move {
                let now = c.now();
                let mut tx = c.store().begin().await?;
                let got = tx
                    .acquire_bot_lease("shop", &format!("owner-{i}"), now, now + TimeDelta::seconds(30))
                    .await?;
                tx.commit().await?;
                Ok(usize::from(got))
            }
        })
        .await
        .into_iter()
        .sum::<usize>()
    };
    assert_eq!(won, 1, "the lease had {won} holders");
    assert!(c.read().await.get_bot_lease("shop").await.unwrap().unwrap().owner.is_some());
}
