//! `shop_stats`: the dashboard's figures, each an aggregate over an index range
//! (migration 0007).

use crate::map_err;
use crate::row::ms;
use ottsonly_core::model::*;
use ottsonly_core::{ProductId, StoreResult};
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

fn n(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// `(count, sum)` of one aggregate statement over `[from, to)`.
async fn count_sum(
    c: &mut SqliteConnection,
    sql: &'static str,
    from: i64,
    to: i64,
) -> StoreResult<(u64, i64)> {
    let row = sqlx::query(sql).bind(from).bind(to).fetch_one(&mut *c).await.map_err(map_err)?;
    Ok((n(row.try_get(0).map_err(map_err)?), row.try_get(1).map_err(map_err)?))
}

pub(crate) async fn shop_stats(
    c: &mut SqliteConnection,
    from: Timestamp,
    to: Timestamp,
    low_stock_at: i64,
) -> StoreResult<ShopStats> {
    let (f, t) = (ms(from), ms(to));
    // Index `orders_created`.
    let (orders, revenue_paise) = count_sum(
        c,
        "SELECT COUNT(*), COALESCE(SUM(amount_paise), 0) FROM orders WHERE created_at >= ?1 AND created_at < ?2",
        f,
        t,
    )
    .await?;
    // Index `orders_refunded`.
    let (refunds, refunded_paise) = count_sum(
        c,
        "SELECT COUNT(*), COALESCE(SUM(amount_paise), 0) FROM orders \
         WHERE refunded_at IS NOT NULL AND refunded_at >= ?1 AND refunded_at < ?2",
        f,
        t,
    )
    .await?;
    // Index `topups_paid`.
    let (topups, topup_paise) = count_sum(
        c,
        "SELECT COUNT(*), COALESCE(SUM(amount_paise), 0) FROM topups \
         WHERE paid_at IS NOT NULL AND paid_at >= ?1 AND paid_at < ?2 AND status = 'paid'",
        f,
        t,
    )
    .await?;
    // Index `users_created`.
    let (new_users, _) =
        count_sum(c, "SELECT COUNT(*), 0 FROM users WHERE created_at >= ?1 AND created_at < ?2", f, t)
            .await?;
    // Index `orders_created` covers the range; the grouping is over the period's orders only.
    let rows = sqlx::query(
        "SELECT product_id, MAX(product_name), COUNT(*) AS n, SUM(amount_paise) FROM orders \
         WHERE created_at >= ?1 AND created_at < ?2 GROUP BY product_id ORDER BY n DESC, product_id LIMIT ?3",
    )
    .bind(f)
    .bind(t)
    .bind(i64::from(STATS_TOP_PRODUCTS))
    .fetch_all(&mut *c)
    .await
    .map_err(map_err)?;
    let mut top_products = Vec::with_capacity(rows.len());
    for r in rows {
        top_products.push(ProductSales {
            product_id: ProductId::from_string(r.try_get::<String, _>(0).map_err(map_err)?),
            product_name: r.try_get(1).map_err(map_err)?,
            orders: n(r.try_get(2).map_err(map_err)?),
            revenue_paise: r.try_get(3).map_err(map_err)?,
        });
    }
    // Index `products_active_stock`.
    let rows = sqlx::query(
        "SELECT id, platform_name || ' ' || plan_name, stock FROM products \
         WHERE is_active = 1 AND stock <= ?1 ORDER BY stock, id LIMIT ?2",
    )
    .bind(low_stock_at)
    .bind(i64::from(STATS_LOW_STOCK))
    .fetch_all(&mut *c)
    .await
    .map_err(map_err)?;
    let mut low_stock = Vec::with_capacity(rows.len());
    for r in rows {
        low_stock.push(StockLevel {
            product_id: ProductId::from_string(r.try_get::<String, _>(0).map_err(map_err)?),
            name: r.try_get(1).map_err(map_err)?,
            stock: r.try_get(2).map_err(map_err)?,
        });
    }
    let count = |sql: &'static str| sqlx::query(sql);
    // Index `subscriptions_status_end` (status first).
    let waiting: i64 = count("SELECT COUNT(*) FROM subscriptions WHERE status = 'pending_credentials'")
        .fetch_one(&mut *c)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(map_err)?;
    // Index `outbox_status`.
    let pending: i64 = count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
        .fetch_one(&mut *c)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(map_err)?;
    let parked: i64 = count("SELECT COUNT(*) FROM outbox WHERE status = 'failed'")
        .fetch_one(&mut *c)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(map_err)?;
    Ok(ShopStats {
        from,
        to,
        orders,
        revenue_paise,
        refunds,
        refunded_paise,
        topups,
        topup_paise,
        new_users,
        top_products,
        low_stock,
        waiting_for_login: n(waiting),
        alerts_pending: n(pending),
        alerts_parked: n(parked),
    })
}
