//! The dashboard's figures (`shop_stats`).

use super::*;

/// Counts and sums cover `[from, to)` exactly: an order placed at `from` counts, one at `to`
/// does not; refunds count by refund time and top-ups by payment time (paid only); best sellers
/// are ordered by orders; low stock lists active products at or below the threshold, lowest
/// first; waiting subscriptions and the alert backlog are counted now, whatever the period.
pub async fn shop_stats_counts_the_period(ts: TestStore) {
    let c = Ctx::new(ts);
    let a = c.seed_user("+919811111111", Role::User).await;
    let admin = c.seed_user("+919833333333", Role::Admin).await;
    let low = c.seed_product("Basic", 2, true).await;
    let plenty = c.seed_product("Premium", 10, true).await;
    let _gone = c.seed_product("Old", 0, false).await;
    let empty = c.seed_product("Mobile", 0, true).await;
    // Before the period: an order (refunded inside it) and a paid top-up.
    let before = c.order(&a, &plenty, None);
    let t_before = c.topup(&a, "order_before");
    in_tx!(c, |tx| {
        tx.insert_order(&before).await.unwrap();
        tx.insert_topup(&t_before).await.unwrap();
        assert!(tx.mark_topup_paid(&t_before.id, "pay_before", c.now()).await.unwrap());
    });

    c.advance(TimeDelta::hours(1));
    let from = c.now();
    let to = from + TimeDelta::hours(1);
    let o1 = c.order(&a, &low, None);
    let s1 = c.subscription(&o1, &low);
    c.advance(TimeDelta::minutes(1));
    let o2 = c.order(&a, &low, None);
    let o3 = c.order(&a, &plenty, None);
    let open = c.topup(&a, "order_open");
    let paid = c.topup(&a, "order_paid");
    in_tx!(c, |tx| {
        for o in [&o1, &o2, &o3] {
            tx.insert_order(o).await.unwrap();
        }
        tx.insert_subscription(&s1).await.unwrap();
        tx.insert_topup(&open).await.unwrap();
        tx.insert_topup(&paid).await.unwrap();
        tx.insert_outbox(&c.outbox("{}", c.now())).await.unwrap();
    });
    c.advance(TimeDelta::minutes(1));
    let newcomer = c.seed_user("+919844444444", Role::User).await;
    in_tx!(c, |tx| {
        assert!(tx.mark_order_refunded(&before.id, "late", &admin.id, c.now()).await.unwrap());
        assert!(tx.mark_order_refunded(&o3.id, "dup", &admin.id, c.now()).await.unwrap());
        assert!(tx.mark_topup_paid(&paid.id, "pay_in", c.now()).await.unwrap());
    });
    // At `to`: outside the period.
    c.set_time(to);
    let at_end = c.order(&newcomer, &plenty, None);
    in_tx!(c, |tx| tx.insert_order(&at_end).await.unwrap());

    let s = c.read().await.shop_stats(from, to, 3).await.unwrap();
    assert_eq!((s.from, s.to), (from, to));
    assert_eq!((s.orders, s.revenue_paise), (3, 3 * 64_900));
    assert_eq!((s.refunds, s.refunded_paise), (2, 2 * 64_900));
    assert_eq!((s.topups, s.topup_paise), (1, 50_000));
    assert_eq!(s.new_users, 1);
    let top: Vec<_> =
        s.top_products.iter().map(|p| (p.product_id.clone(), p.orders, p.revenue_paise)).collect();
    assert_eq!(top, vec![(low.id.clone(), 2, 2 * 64_900), (plenty.id.clone(), 1, 64_900)]);
    assert_eq!(s.top_products[0].product_name, low.display_name());
    let lows: Vec<_> = s.low_stock.iter().map(|l| (l.product_id.clone(), l.stock)).collect();
    assert_eq!(lows, vec![(empty.id.clone(), 0), (low.id.clone(), 2)]);
    assert_eq!(s.low_stock[1].name, low.display_name());
    assert_eq!(s.waiting_for_login, 1);
    assert_eq!((s.alerts_pending, s.alerts_parked), (1, 0));

    // An empty period is all zeros, with the "now" figures unchanged.
    let later = c.read().await.shop_stats(to + TimeDelta::days(1), to + TimeDelta::days(2), 3).await.unwrap();
    assert_eq!((later.orders, later.refunds, later.topups, later.new_users), (0, 0, 0, 0));
    assert_eq!((later.revenue_paise, later.refunded_paise, later.topup_paise), (0, 0, 0));
    assert!(later.top_products.is_empty());
    assert_eq!(later.waiting_for_login, 1);
}
