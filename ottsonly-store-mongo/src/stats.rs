//! `shop_stats`: the dashboard's figures, each a `$match` on an indexed range (indexes in
//! `schema.rs`) followed by a `$group`, or a count.

use crate::doc::{dt, int};
use crate::read::Conn;
use crate::schema::f;
use mongodb::bson::{Bson, Document, doc};
use ottsonly_core::model::*;
use ottsonly_core::{ProductId, StoreError, StoreResult};

fn n(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn field_i64(d: &Document, key: &str) -> StoreResult<i64> {
    int(key, d.get(key).unwrap_or(&Bson::Int64(0)))
}

fn field_str(d: &Document, key: &str) -> StoreResult<String> {
    match d.get(key) {
        Some(Bson::String(s)) => Ok(s.clone()),
        _ => Err(StoreError::Corrupt(format!("shop_stats: `{key}` is not a string"))),
    }
}

/// `(count, sum of amount_paise)` of the documents matching `filter`.
async fn count_sum(
    c: &mut Conn<'_>,
    coll: &mongodb::Collection<Document>,
    filter: Document,
) -> StoreResult<(u64, i64)> {
    let pipeline = vec![
        doc! { "$match": filter },
        doc! { "$group": { (f::ID): Bson::Null, "n": { "$sum": 1i64 }, "total": { "$sum": "$amount_paise" } } },
    ];
    match c.aggregate(coll, pipeline).await?.first() {
        None => Ok((0, 0)),
        Some(d) => Ok((n(field_i64(d, "n")?), field_i64(d, "total")?)),
    }
}

pub(crate) async fn shop_stats(
    c: &mut Conn<'_>,
    from: Timestamp,
    to: Timestamp,
    low_stock_at: i64,
) -> StoreResult<ShopStats> {
    let range = doc! { "$gte": dt(from), "$lt": dt(to) };
    let colls = c.colls;
    // Index `orders_created`.
    let (orders, revenue_paise) = count_sum(c, &colls.orders, doc! { "created_at": range.clone() }).await?;
    // Index `orders_refunded` (sparse on a date).
    let (refunds, refunded_paise) =
        count_sum(c, &colls.orders, doc! { "refunded_at": range.clone() }).await?;
    // Index `topups_paid`.
    let (topups, topup_paise) =
        count_sum(c, &colls.topups, doc! { "paid_at": range.clone(), "status": TopUpStatus::Paid.as_str() })
            .await?;
    // Index `users_created`.
    let new_users = c.count(&colls.users, doc! { "created_at": range.clone() }).await?;
    let pipeline = vec![
        doc! { "$match": { "created_at": range } },
        doc! { "$group": {
            (f::ID): "$product_id",
            "name": { "$max": "$product_name" },
            "n": { "$sum": 1i64 },
            "total": { "$sum": "$amount_paise" },
        } },
        doc! { "$sort": { "n": -1, (f::ID): 1 } },
        doc! { "$limit": i64::from(STATS_TOP_PRODUCTS) },
    ];
    let mut top_products = Vec::new();
    for d in c.aggregate(&colls.orders, pipeline).await? {
        top_products.push(ProductSales {
            product_id: ProductId::from_string(field_str(&d, f::ID)?),
            product_name: field_str(&d, "name")?,
            orders: n(field_i64(&d, "n")?),
            revenue_paise: field_i64(&d, "total")?,
        });
    }
    // Index `products_active_stock`.
    let docs = c
        .find(
            &colls.products,
            doc! { "is_active": true, (f::STOCK): { "$lte": low_stock_at } },
            doc! { (f::STOCK): 1, (f::ID): 1 },
            STATS_LOW_STOCK,
        )
        .await?;
    let mut low_stock = Vec::with_capacity(docs.len());
    for d in docs {
        low_stock.push(StockLevel {
            product_id: ProductId::from_string(field_str(&d, f::ID)?),
            name: format!("{} {}", field_str(&d, "platform_name")?, field_str(&d, "plan_name")?),
            stock: field_i64(&d, f::STOCK)?,
        });
    }
    // Indexes `subscriptions_status` and `outbox_status`.
    let waiting_for_login = c
        .count(&colls.subscriptions, doc! { "status": SubscriptionStatus::PendingCredentials.as_str() })
        .await?;
    let alerts_pending = c.count(&colls.outbox, doc! { "status": OutboxStatus::Pending.as_str() }).await?;
    let alerts_parked = c.count(&colls.outbox, doc! { "status": OutboxStatus::Failed.as_str() }).await?;
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
        waiting_for_login,
        alerts_pending,
        alerts_parked,
    })
}
