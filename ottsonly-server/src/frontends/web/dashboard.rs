//! The admin dashboard: core's `shop_stats` for today, 7 and 30 days.

use super::Web;
use super::layout::money;
use super::session::Visitor;
use maud::{Markup, html};
use ottsonly_core::{Actor, Money, Result, ShopStats};

fn rupees(paise: i64) -> String {
    money(Money::from_paise(paise.max(0)).unwrap_or(Money::ZERO))
}

pub(crate) async fn render(web: &Web, _v: &Visitor, actor: &Actor) -> Result<Markup> {
    let now = web.app.now();
    let midnight = now.date_naive().and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc());
    let end = now + chrono::TimeDelta::seconds(1);
    let stats = web.app.stats();
    let today = stats.shop(actor, midnight, end).await?;
    let week = stats.shop(actor, now - chrono::TimeDelta::days(7), end).await?;
    let month = stats.shop(actor, now - chrono::TimeDelta::days(30), end).await?;
    let periods: [(&str, &ShopStats); 3] = [("Today", &today), ("7 days", &week), ("30 days", &month)];
    Ok(html! {
        h1 { "Dashboard" }
        div.scroll { table {
            thead { tr { th { "" } @for (name, _) in &periods { th.num { (name) } } } }
            tbody {
                tr { th { "Orders" } @for (_, s) in &periods { td.num { (s.orders) } } }
                tr { th { "Revenue" } @for (_, s) in &periods { td.num { (rupees(s.revenue_paise)) } } }
                tr { th { "Refunds" } @for (_, s) in &periods { td.num { (s.refunds) " · " (rupees(s.refunded_paise)) } } }
                tr { th { "Top-ups" } @for (_, s) in &periods { td.num { (s.topups) " · " (rupees(s.topup_paise)) } } }
                tr { th { "New users" } @for (_, s) in &periods { td.num { (s.new_users) } } }
            }
        } }
        div.stats style="margin-top:1rem" {
            div.stat { "Waiting for a login" b { a href="/admin/waiting" { (today.waiting_for_login) } } }
            div.stat { "Alerts to deliver" b { a href="/admin/alerts?status=pending" { (today.alerts_pending) } } }
            div.stat { "Alerts parked" b { a href="/admin/alerts?status=failed" { (today.alerts_parked) } } }
        }
        h2 { "Top products (30 days)" }
        @if month.top_products.is_empty() { p { "No orders yet." } } @else {
            div.scroll { table {
                thead { tr { th { "Product" } th.num { "Orders" } th.num { "Revenue" } } }
                tbody { @for p in &month.top_products { tr { td { (p.product_name) } td.num { (p.orders) } td.num { (rupees(p.revenue_paise)) } } } }
            } }
        }
        h2 { "Low stock" }
        @if today.low_stock.is_empty() { p { "Every product on sale has stock." } } @else {
            div.scroll { table {
                thead { tr { th { "Product" } th.num { "Stock" } } }
                tbody { @for l in &today.low_stock { tr { td { (l.name) } td.num { (l.stock) } } } }
            } }
        }
    })
}
