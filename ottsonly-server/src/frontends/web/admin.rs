//! The admin console: what each role may see and do is core's matrix (`Actor::require` and the
//! services' own checks); support staff see orders, users and subscriptions, never credentials,
//! balances or the product editor.

use super::Web;
use super::layout::{self, Area, csrf, day, money, notice, page, pager, redirect, urlencode, when};
use super::session::Visitor;
use super::shop::parse_rupees;
use maud::{Markup, html};
use ottsonly_core::access::Action;
use ottsonly_core::catalog::{NewProduct, ProductPatch};
use ottsonly_core::crypto::Credentials;
use ottsonly_core::wallet::{Adjustment, Direction};
use ottsonly_core::{
    Actor, Audience, AuditFilter, Error, OrderFilter, OrderId, OrderStatus, OutboxStatus, PageRequest,
    ProductId, Role, SubscriptionFilter, SubscriptionId, SubscriptionStatus, UserId,
};
use poem::web::{Data, Form, Path, Query};
use poem::{Request, Response, Route, get, handler, post};
use serde::Deserialize;
use std::sync::Arc;

type W<'a> = Data<&'a Arc<Web>>;
type V<'a> = Data<&'a Arc<Visitor>>;

const PAGE: u32 = 50;

pub(crate) fn routes() -> Route {
    Route::new()
        .at("/", get(dashboard))
        .at("/products", get(products).post(create_product))
        .at("/products/:id", get(product).post(update_product))
        .at("/products/:id/deactivate", post(deactivate))
        .at("/products/:id/stock", post(stock))
        .at("/products/:id/import", post(import))
        .at("/orders", get(orders))
        .at("/orders/:id", get(order))
        .at("/orders/:id/refund", post(refund))
        .at("/waiting", get(waiting))
        .at("/waiting/:id/assign", post(assign))
        .at("/waiting/:id/assign-pooled", post(assign_pooled))
        .at("/users", get(users))
        .at("/users/:id", get(user))
        .at("/users/:id/role", post(set_role))
        .at("/users/:id/block", post(block))
        .at("/users/:id/unblock", post(unblock))
        .at("/users/:id/adjust", post(adjust))
        .at("/notify", get(notify_form).post(notify))
        .at("/alerts", get(alerts))
        .at("/alerts/:id/retry", post(retry_alert))
        .at("/audit-log", get(audit))
}

/// Staff only: anyone else is sent to log in (or told their role may not).
fn staff<'a>(v: &'a Visitor, req: &Request) -> Result<&'a Actor, Box<Response>> {
    match &v.actor {
        None => {
            let here = req.uri().path_and_query().map_or("/admin", |p| p.as_str());
            Err(Box::new(redirect(&format!("/shop/login?next={}", urlencode(here)))))
        }
        Some(a) if a.role.is_staff() => Ok(a),
        Some(_) => Err(Box::new(layout::error_page(v, Area::Admin, &Error::Forbidden))),
    }
}

macro_rules! staff {
    ($v:expr, $req:expr) => {
        match staff($v, $req) {
            Ok(a) => a,
            Err(r) => return *r,
        }
    };
}

macro_rules! tryp {
    ($v:expr, $e:expr) => {
        match $e {
            Ok(x) => x,
            Err(e) => return layout::error_page($v, Area::Admin, &e),
        }
    };
}

/// Core's access check before a page is even rendered (a form a role may not use is not shown).
macro_rules! may {
    ($v:expr, $actor:expr, $action:expr) => {
        if let Err(e) = $actor.require($action) {
            return layout::error_page($v, Area::Admin, &e);
        }
    };
}

#[derive(Deserialize, Default)]
struct Msg {
    ok: Option<String>,
    cursor: Option<String>,
}

fn page_req(cursor: &Option<String>) -> PageRequest {
    PageRequest { limit: Some(PAGE), cursor: cursor.clone().filter(|c| !c.is_empty()) }
}

fn blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[handler]
async fn dashboard(web: W<'_>, v: V<'_>, req: &Request) -> Response {
    let actor = staff!(&v, req);
    let body = super::dashboard::render(&web, &v, actor).await;
    let body = tryp!(&v, body);
    page(&v, Area::Admin, "Dashboard", body)
}

// ---- products ----

fn product_fields(p: Option<&ottsonly_core::Product>) -> Markup {
    html! {
        div { label for="platform" { "Platform" } input #platform name="platform_name" required maxlength="100" value=(p.map(|p| p.platform_name.clone()).unwrap_or_default()); }
        div { label for="plan" { "Plan" } input #plan name="plan_name" required maxlength="100" value=(p.map(|p| p.plan_name.clone()).unwrap_or_default()); }
        div { label for="description" { "Description" } textarea #description name="description" maxlength="2000" { (p.map(|p| p.description.clone()).unwrap_or_default()) } }
        div { label for="price" { "Price (₹)" } input #price name="price_rupees" required inputmode="decimal" value=(p.map(|p| format!("{}.{:02}", p.price.paise() / 100, p.price.paise() % 100)).unwrap_or_default()); }
        div { label for="duration" { "Duration (days)" } input #duration type="number" min="1" name="duration_days" required value=(p.map(|p| p.duration_days.to_string()).unwrap_or_else(|| "30".into())); }
    }
}

#[handler]
async fn products(web: W<'_>, v: V<'_>, req: &Request, Query(q): Query<Msg>) -> Response {
    let actor = staff!(&v, req);
    may!(&v, actor, Action::ManageProducts);
    let list = tryp!(&v, web.app.catalog().list(Some(actor), true, &page_req(&q.cursor)).await);
    let body = html! {
        h1 { "Products" }
        (notice(q.ok.as_deref()))
        div.scroll { table {
            thead { tr { th { "Product" } th.num { "Price" } th.num { "Days" } th.num { "Stock" } th { "State" } } }
            tbody { @for p in &list.items { tr {
                td { a href=(format!("/admin/products/{}", p.id)) { (p.platform_name) " " (p.plan_name) } }
                td.num { (money(p.price)) } td.num { (p.duration_days) } td.num { (p.stock) }
                td { @if p.is_active { span.tag.ok { "Active" } } @else { span.tag { "Inactive" } } }
            } } }
        } }
        (pager("/admin/products", list.next_cursor.as_deref()))
        h2 { "New product" }
        form.stack method="post" action="/admin/products" {
            (csrf(&v))
            (product_fields(None))
            div { label for="stock" { "Stock without a pool " span.hint { "(credentials you import add stock)" } } input #stock type="number" min="0" name="stock" value="0"; }
            button type="submit" { "Create product" }
        }
    };
    page(&v, Area::Admin, "Products", body)
}

#[derive(Deserialize)]
struct ProductIn {
    platform_name: String,
    plan_name: String,
    #[serde(default)]
    description: String,
    price_rupees: String,
    duration_days: String,
    stock: Option<String>,
}

fn parse_int<T: std::str::FromStr>(field: &'static str, s: &str) -> Result<T, Error> {
    s.trim().parse().map_err(|_| Error::validation(field, "must be a whole number"))
}

fn price(s: &str) -> Result<ottsonly_core::Money, Error> {
    parse_rupees(s).ok_or_else(|| Error::validation("price", "type a price in rupees, like 199 or 199.50"))
}

#[handler]
async fn create_product(web: W<'_>, v: V<'_>, req: &Request, Form(f): Form<ProductIn>) -> Response {
    let actor = staff!(&v, req);
    let new = (|| {
        Ok::<_, Error>(NewProduct {
            platform_name: f.platform_name,
            plan_name: f.plan_name,
            description: f.description,
            price: price(&f.price_rupees)?,
            duration_days: parse_int("duration_days", &f.duration_days)?,
            stock: parse_int("stock", f.stock.as_deref().filter(|s| !s.trim().is_empty()).unwrap_or("0"))?,
            is_active: true,
        })
    })();
    let new = tryp!(&v, new);
    let p = tryp!(&v, web.app.catalog().create(actor, new).await);
    redirect(&format!("/admin/products/{}?ok=created", p.id))
}

#[handler]
async fn product(
    web: W<'_>,
    v: V<'_>,
    req: &Request,
    Path(id): Path<String>,
    Query(q): Query<Msg>,
) -> Response {
    let actor = staff!(&v, req);
    may!(&v, actor, Action::ManageProducts);
    let id = ProductId::from_string(id);
    let p = tryp!(&v, web.app.catalog().get(Some(actor), &id).await);
    let pool = tryp!(&v, web.app.catalog().available_credentials(actor, &id).await);
    let import_action = format!("/admin/products/{}/import?csrf={}", p.id, urlencode(&v.csrf));
    let body = html! {
        h1 { (p.platform_name) " " (p.plan_name) }
        (notice(q.ok.as_deref()))
        p { (money(p.price)) " · " (p.duration_days) " days · Stock " strong { (p.stock) } ", " (pool) " logins in the pool. " @if p.is_active { span.tag.ok { "Active" } } @else { span.tag { "Inactive" } } }
        h2 { "Edit" }
        form.stack method="post" action=(format!("/admin/products/{}", p.id)) {
            (csrf(&v))
            (product_fields(Some(&p)))
            div { label for="active" { "On sale" } select #active name="is_active" {
                option value="true" selected[p.is_active] { "Yes" } option value="false" selected[!p.is_active] { "No" }
            } }
            button type="submit" { "Save" }
        }
        @if p.is_active {
            form method="post" action=(format!("/admin/products/{}/deactivate", p.id)) style="margin-top:.8rem" {
                (csrf(&v)) button.danger type="submit" { "Deactivate" }
            }
        }
        h2 { "Stock" }
        form.row method="post" action=(format!("/admin/products/{}/stock", p.id)) {
            (csrf(&v))
            div { label for="delta" { "Change by" } input #delta type="number" name="delta" required; }
            div { label for="reason" { "Reason" } input #reason name="reason" maxlength="500"; }
            button type="submit" { "Adjust stock" }
        }
        h2 { "Import logins" }
        p.muted { "One per line: " code { "username,password,profile,pin" } " (profile and pin optional), or upload a CSV file with those columns (a header row is skipped). Nothing is imported if any line is bad." }
        form.stack method="post" action=(import_action) enctype="multipart/form-data" {
            div { label for="lines" { "Paste lines" } textarea #lines name="lines" {} }
            div { label for="file" { "or CSV file" } input #file type="file" name="file" accept=".csv,text/csv"; }
            button type="submit" { "Import" }
        }
    };
    page(&v, Area::Admin, "Product", body)
}

#[derive(Deserialize)]
struct UpdateIn {
    #[serde(flatten)]
    p: ProductIn,
    is_active: Option<String>,
}

#[handler]
async fn update_product(
    web: W<'_>,
    v: V<'_>,
    req: &Request,
    Path(id): Path<String>,
    Form(f): Form<UpdateIn>,
) -> Response {
    let actor = staff!(&v, req);
    let patch = (|| {
        Ok::<_, Error>(ProductPatch {
            platform_name: Some(f.p.platform_name),
            plan_name: Some(f.p.plan_name),
            description: Some(f.p.description),
            price: Some(price(&f.p.price_rupees)?),
            duration_days: Some(parse_int("duration_days", &f.p.duration_days)?),
            is_active: f.is_active.as_deref().map(|s| s == "true"),
        })
    })();
    let patch = tryp!(&v, patch);
    let p = tryp!(&v, web.app.catalog().update(actor, &ProductId::from_string(id), patch).await);
    redirect(&format!("/admin/products/{}?ok=saved", p.id))
}

#[handler]
async fn deactivate(web: W<'_>, v: V<'_>, req: &Request, Path(id): Path<String>) -> Response {
    let actor = staff!(&v, req);
    let p = tryp!(&v, web.app.catalog().deactivate(actor, &ProductId::from_string(id)).await);
    redirect(&format!("/admin/products/{}?ok=saved", p.id))
}

#[derive(Deserialize)]
struct StockIn {
    delta: String,
    reason: Option<String>,
}

#[handler]
async fn stock(
    web: W<'_>,
    v: V<'_>,
    req: &Request,
    Path(id): Path<String>,
    Form(f): Form<StockIn>,
) -> Response {
    let actor = staff!(&v, req);
    let delta = tryp!(&v, parse_int::<i64>("delta", &f.delta));
    let p = tryp!(
        &v,
        web.app.catalog().adjust_stock(actor, &ProductId::from_string(id), delta, blank(&f.reason)).await
    );
    redirect(&format!("/admin/products/{}?ok=saved", p.id))
}

/// One pasted or CSV line as a credential, or why not.
fn parse_line(line: &str) -> Result<Credentials, String> {
    let mut r =
        csv::ReaderBuilder::new().has_headers(false).trim(csv::Trim::All).from_reader(line.as_bytes());
    let rec = match r.records().next() {
        Some(Ok(rec)) => rec,
        Some(Err(e)) => return Err(format!("not a CSV line: {e}")),
        None => return Err("empty line".into()),
    };
    let field = |i: usize| rec.get(i).map(str::to_string).filter(|s| !s.is_empty());
    if rec.len() > 5 {
        return Err(format!("{} fields; expected username,password[,profile[,pin[,notes]]]", rec.len()));
    }
    let username = field(0).ok_or("the username is missing")?;
    let password = field(1).ok_or("the password is missing")?;
    if username.len() > 256 || password.len() > 256 {
        return Err("username and password must be at most 256 bytes".into());
    }
    Ok(Credentials { username, password, profile: field(2), pin: field(3), notes: field(4) })
}

/// Every line checked; `Err` lists each bad line (1-based) so the admin fixes them all at once.
pub(crate) fn parse_import(text: &str) -> Result<Vec<Credentials>, Vec<(usize, String)>> {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || (i == 0 && t.to_ascii_lowercase().starts_with("username")) {
            continue;
        }
        match parse_line(t) {
            Ok(c) => good.push(c),
            Err(e) => bad.push((i + 1, e)),
        }
    }
    if good.is_empty() && bad.is_empty() {
        bad.push((0, "no lines to import".into()));
    }
    if bad.is_empty() { Ok(good) } else { Err(bad) }
}

#[handler]
async fn import(
    web: W<'_>,
    v: V<'_>,
    req: &Request,
    Path(id): Path<String>,
    mut form: poem::web::Multipart,
) -> Response {
    let actor = staff!(&v, req);
    may!(&v, actor, Action::ManageProducts);
    let mut text = String::new();
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or("").to_string();
        if name == "lines" || name == "file" {
            match field.text().await {
                Ok(t) => {
                    text.push_str(&t);
                    text.push('\n');
                }
                Err(_) => {
                    return layout::error_page(
                        &v,
                        Area::Admin,
                        &Error::validation("file", "not a text file"),
                    );
                }
            }
        }
    }
    let id = ProductId::from_string(id);
    let creds = match parse_import(&text) {
        Ok(c) => c,
        Err(bad) => {
            let body = html! {
                h1 { "Nothing was imported" }
                p.msg.bad role="alert" { (bad.len()) " bad line(s). Fix them and import again." }
                table { thead { tr { th.num { "Line" } th { "Problem" } } } tbody {
                    @for (n, e) in &bad { tr { td.num { (n) } td { (e) } } }
                } }
                p { a href=(format!("/admin/products/{id}")) { "Back to the product" } }
            };
            return layout::page_with_status(
                &v,
                Area::Admin,
                "Import",
                poem::http::StatusCode::BAD_REQUEST,
                body,
            );
        }
    };
    tryp!(&v, web.app.catalog().import_credentials(actor, &id, creds).await);
    redirect(&format!("/admin/products/{id}?ok=imported"))
}

// ---- orders ----

#[derive(Deserialize, Default)]
struct OrdersQ {
    status: Option<String>,
    phone: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
}

fn parse_day(s: Option<&str>, end: bool) -> Result<Option<ottsonly_core::Timestamp>, Error> {
    let Some(s) = s else { return Ok(None) };
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| Error::validation("date", "use YYYY-MM-DD"))?;
    let t = if end { d.and_hms_opt(23, 59, 59) } else { d.and_hms_opt(0, 0, 0) };
    Ok(t.map(|t| t.and_utc()))
}

/// The user a phone number names, through core's staff search.
async fn user_by_phone(web: &Web, actor: &Actor, phone: &str) -> Result<Option<UserId>, Error> {
    let found = web.app.users().list(actor, Some(phone), None, &PageRequest::first(2)).await?;
    Ok(found.items.into_iter().next().map(|u| u.id))
}

#[handler]
async fn orders(web: W<'_>, v: V<'_>, req: &Request, Query(q): Query<OrdersQ>) -> Response {
    let actor = staff!(&v, req);
    let status = blank(&q.status).and_then(OrderStatus::parse);
    let from = tryp!(&v, parse_day(blank(&q.from), false));
    let to = tryp!(&v, parse_day(blank(&q.to), true));
    let user_id = match blank(&q.phone) {
        Some(p) => match tryp!(&v, user_by_phone(&web, actor, p).await) {
            Some(u) => Some(u),
            None => {
                return page(
                    &v,
                    Area::Admin,
                    "Orders",
                    html! { h1 { "Orders" } p { "No user with that phone number." } p { a href="/admin/orders" { "All orders" } } },
                );
            }
        },
        None => None,
    };
    let filter = OrderFilter { user_id, status, placed_from: from, placed_to: to };
    let list = tryp!(&v, web.app.orders().list(actor, &filter, &page_req(&q.cursor)).await);
    let base = format!(
        "/admin/orders?status={}&phone={}&from={}&to={}",
        urlencode(blank(&q.status).unwrap_or("")),
        urlencode(blank(&q.phone).unwrap_or("")),
        urlencode(blank(&q.from).unwrap_or("")),
        urlencode(blank(&q.to).unwrap_or(""))
    );
    let body = html! {
        h1 { "Orders" }
        form.row method="get" action="/admin/orders" {
            div { label for="status" { "Status" } select #status name="status" {
                option value="" { "Any" }
                @for s in OrderStatus::ALL { option value=(s.as_str()) selected[status == Some(*s)] { (s.as_str()) } }
            } }
            div { label for="phone" { "User phone" } input #phone type="tel" name="phone" value=(blank(&q.phone).unwrap_or("")); }
            div { label for="from" { "From" } input #from type="date" name="from" value=(blank(&q.from).unwrap_or("")); }
            div { label for="to" { "To" } input #to type="date" name="to" value=(blank(&q.to).unwrap_or("")); }
            button type="submit" { "Filter" }
        }
        div.scroll { table {
            thead { tr { th { "When" } th { "Product" } th.num { "Amount" } th { "Status" } } }
            tbody { @for o in &list.items { tr {
                td { a href=(format!("/admin/orders/{}", o.id)) { (when(o.created_at)) } }
                td { (o.product_name) } td.num { (money(o.amount)) }
                td { @if o.status == OrderStatus::Refunded { span.tag.bad { "refunded" } } @else { span.tag.ok { "completed" } } }
            } } }
        } }
        @if list.items.is_empty() { p { "No orders match." } }
        (pager(&base, list.next_cursor.as_deref()))
    };
    page(&v, Area::Admin, "Orders", body)
}

#[handler]
async fn order(
    web: W<'_>,
    v: V<'_>,
    req: &Request,
    Path(id): Path<String>,
    Query(q): Query<Msg>,
) -> Response {
    let actor = staff!(&v, req);
    let o = tryp!(&v, web.app.orders().get(actor, &OrderId::from_string(id)).await);
    let buyer = web.app.users().get(actor, &o.user_id).await.ok();
    let body = html! {
        h1 { "Order" }
        (notice(q.ok.as_deref()))
        dl.kv {
            dt { "Id" } dd { (o.id) }
            dt { "Product" } dd { (o.product_name) }
            dt { "Amount" } dd { (money(o.amount)) }
            dt { "Buyer" } dd { a href=(format!("/admin/users/{}", o.user_id)) { (buyer.as_ref().map_or_else(|| o.user_id.to_string(), |u| u.phone.as_str().to_string())) } }
            dt { "Placed" } dd { (when(o.created_at)) }
            dt { "Status" } dd { (o.status.as_str()) }
            @if let Some(r) = &o.refund_reason { dt { "Refund reason" } dd { (r) } }
        }
        @if o.status == OrderStatus::Completed && actor.require(Action::RefundOrders).is_ok() {
            h2 { "Refund" }
            form.stack method="post" action=(format!("/admin/orders/{}/refund", o.id)) {
                (csrf(&v))
                div { label for="reason" { "Reason" } input #reason name="reason" required maxlength="500"; }
                div { label for="restock" { "Stock" } select #restock name="restock" {
                    option value="true" { "Put the unit back in stock" } option value="false" { "Do not restock" }
                } }
                button.danger type="submit" { "Refund" }
            }
        }
    };
    page(&v, Area::Admin, "Order", body)
}

#[derive(Deserialize)]
struct RefundIn {
    reason: String,
    restock: Option<String>,
}

#[handler]
async fn refund(
    web: W<'_>,
    v: V<'_>,
    req: &Request,
    Path(id): Path<String>,
    Form(f): Form<RefundIn>,
) -> Response {
    let actor = staff!(&v, req);
    let restock = f.restock.as_deref() == Some("true");
    let r = tryp!(&v, web.app.orders().refund(actor, &OrderId::from_string(id), &f.reason, restock).await);
    redirect(&format!("/admin/orders/{}?ok=refunded", r.order.id))
}

// ---- subscriptions waiting for a login ----

#[handler]
async fn waiting(web: W<'_>, v: V<'_>, req: &Request, Query(q): Query<Msg>) -> Response {
    let actor = staff!(&v, req);
    let filter =
        SubscriptionFilter { status: Some(SubscriptionStatus::PendingCredentials), ..Default::default() };
    let list = tryp!(&v, web.app.subscriptions().list(actor, &filter, &page_req(&q.cursor)).await);
    let can_assign = actor.require(Action::AssignCredentials).is_ok();
    let body = html! {
        h1 { "Waiting for a login" }
        (notice(q.ok.as_deref()))
        @if list.items.is_empty() { p { "No subscription is waiting." } }
        @for s in &list.items {
            article.card style="margin-bottom:.8rem" {
                h2 { (s.platform_name) " " (s.plan_name) }
                p.muted { "Bought " (when(s.created_at)) " · " a href=(format!("/admin/users/{}", s.user_id)) { "buyer" } }
                @if can_assign {
                    form method="post" action=(format!("/admin/waiting/{}/assign-pooled", s.id)) {
                        (csrf(&v))
                        button type="submit" { "Assign the next pooled login" }
                    }
                    form.row method="post" action=(format!("/admin/waiting/{}/assign", s.id)) {
                        (csrf(&v))
                        div { label for=(format!("u-{}", s.id)) { "Username" } input id=(format!("u-{}", s.id)) name="username" required; }
                        div { label for=(format!("p-{}", s.id)) { "Password" } input id=(format!("p-{}", s.id)) name="password" required; }
                        div { label for=(format!("pr-{}", s.id)) { "Profile" } input id=(format!("pr-{}", s.id)) name="profile"; }
                        div { label for=(format!("pin-{}", s.id)) { "PIN" } input id=(format!("pin-{}", s.id)) name="pin"; }
                        button type="submit" { "Assign" }
                    }
                }
            }
        }
        (pager("/admin/waiting", list.next_cursor.as_deref()))
    };
    page(&v, Area::Admin, "Waiting", body)
}

#[derive(Deserialize)]
struct AssignIn {
    username: String,
    password: String,
    profile: Option<String>,
    pin: Option<String>,
}

#[handler]
async fn assign(
    web: W<'_>,
    v: V<'_>,
    req: &Request,
    Path(id): Path<String>,
    Form(f): Form<AssignIn>,
) -> Response {
    let actor = staff!(&v, req);
    let creds = Credentials {
        username: f.username,
        password: f.password,
        profile: blank(&f.profile).map(String::from),
        pin: blank(&f.pin).map(String::from),
        notes: None,
    };
    tryp!(
        &v,
        web.app.subscriptions().assign_credentials(actor, &SubscriptionId::from_string(id), creds).await
    );
    redirect("/admin/waiting?ok=assigned")
}

/// The product's next pooled login (core takes the oldest available); says so when the pool is
/// empty. No pool count per row on the list: the answer here is the check.
#[handler]
async fn assign_pooled(web: W<'_>, v: V<'_>, req: &Request, Path(id): Path<String>) -> Response {
    let actor = staff!(&v, req);
    let assigned =
        tryp!(&v, web.app.subscriptions().assign_from_pool(actor, &SubscriptionId::from_string(id)).await);
    redirect(if assigned.is_some() { "/admin/waiting?ok=assigned" } else { "/admin/waiting?ok=pool_empty" })
}

// ---- users ----

#[derive(Deserialize, Default)]
struct UsersQ {
    phone: Option<String>,
    cursor: Option<String>,
}

#[handler]
async fn users(web: W<'_>, v: V<'_>, req: &Request, Query(q): Query<UsersQ>) -> Response {
    let actor = staff!(&v, req);
    let list = tryp!(&v, web.app.users().list(actor, blank(&q.phone), None, &page_req(&q.cursor)).await);
    let body = html! {
        h1 { "Users" }
        form.row method="get" action="/admin/users" {
            div { label for="phone" { "Phone number" } input #phone type="tel" name="phone" value=(blank(&q.phone).unwrap_or("")); }
            button type="submit" { "Search" }
        }
        div.scroll { table {
            thead { tr { th { "Phone" } th { "Name" } th { "Role" } th { "State" } th { "Joined" } } }
            tbody { @for u in &list.items { tr {
                td { a href=(format!("/admin/users/{}", u.id)) { (u.phone.as_str()) } }
                td { (u.name.clone().unwrap_or_default()) } td { (u.role.as_str()) }
                td { @if u.is_blocked { span.tag.bad { "Blocked" } } @else { span.tag.ok { "Active" } } }
                td { (day(Some(u.created_at))) }
            } } }
        } }
        (pager(&format!("/admin/users?phone={}", urlencode(blank(&q.phone).unwrap_or(""))), list.next_cursor.as_deref()))
    };
    page(&v, Area::Admin, "Users", body)
}

#[handler]
async fn user(web: W<'_>, v: V<'_>, req: &Request, Path(id): Path<String>, Query(q): Query<Msg>) -> Response {
    let actor = staff!(&v, req);
    let id = UserId::from_string(id);
    let u = tryp!(&v, web.app.users().get(actor, &id).await);
    let admin = actor.require(Action::ManageUsers).is_ok();
    // Balances and the ledger are the wallet admin's (support never sees them).
    let ledger = if actor.require(Action::WalletAdmin).is_ok() {
        Some(tryp!(
            &v,
            web.app
                .wallet()
                .user_transactions(actor, &id, &PageRequest { limit: Some(20), cursor: q.cursor.clone() })
                .await
        ))
    } else {
        None
    };
    let body = html! {
        h1 { (u.phone.as_str()) }
        (notice(q.ok.as_deref()))
        dl.kv {
            dt { "Name" } dd { (u.name.clone().unwrap_or_default()) }
            dt { "Email" } dd { (u.email.clone().unwrap_or_default()) }
            dt { "Role" } dd { (u.role.as_str()) }
            dt { "State" } dd { @if u.is_blocked { "Blocked" } @else { "Active" } }
            dt { "Joined" } dd { (when(u.created_at)) }
            @if ledger.is_some() { dt { "Balance" } dd { (money(u.wallet_balance)) } }
        }
        p { a href=(format!("/admin/orders?phone={}", urlencode(u.phone.as_str()))) { "Orders of this user" } }
        @if admin {
            h2 { "Role" }
            form.row method="post" action=(format!("/admin/users/{}/role", u.id)) {
                (csrf(&v))
                div { label for="role" { "Role" } select #role name="role" {
                    @for r in Role::ALL { option value=(r.as_str()) selected[u.role == *r] { (r.as_str()) } }
                } }
                button type="submit" { "Change role" }
            }
            h2 { "Access" }
            @if u.is_blocked {
                form method="post" action=(format!("/admin/users/{}/unblock", u.id)) { (csrf(&v)) button type="submit" { "Unblock" } }
            } @else {
                form.row method="post" action=(format!("/admin/users/{}/block", u.id)) {
                    (csrf(&v))
                    div { label for="why" { "Reason" } input #why name="reason" maxlength="500"; }
                    button.danger type="submit" { "Block" }
                }
            }
        }
        @if let Some(ledger) = &ledger {
            h2 { "Wallet adjustment" }
            form.row method="post" action=(format!("/admin/users/{}/adjust", u.id)) {
                (csrf(&v))
                input type="hidden" name="request_id" value=(uuid::Uuid::new_v4().to_string());
                div { label for="dir" { "Direction" } select #dir name="direction" { option value="credit" { "Credit" } option value="debit" { "Debit" } } }
                div { label for="amt" { "Amount (₹)" } input #amt name="amount_rupees" required inputmode="decimal"; }
                div { label for="areason" { "Reason" } input #areason name="reason" required maxlength="500"; }
                button type="submit" { "Adjust" }
            }
            h2 { "Ledger" }
            div.scroll { table {
                thead { tr { th { "When" } th { "What" } th.num { "Amount" } th.num { "Balance after" } } }
                tbody { @for e in &ledger.items { tr {
                    td { (when(e.created_at)) } td { (e.description) }
                    td.num { @if e.signed_paise() < 0 { "−" } @else { "+" } (money(e.amount)) }
                    td.num { (money(e.balance_after)) }
                } } }
            } }
            (pager(&format!("/admin/users/{}", u.id), ledger.next_cursor.as_deref()))
        }
    };
    page(&v, Area::Admin, "User", body)
}

#[derive(Deserialize)]
struct RoleIn {
    role: String,
}

#[handler]
async fn set_role(
    web: W<'_>,
    v: V<'_>,
    req: &Request,
    Path(id): Path<String>,
    Form(f): Form<RoleIn>,
) -> Response {
    let actor = staff!(&v, req);
    let Some(role) = Role::parse(&f.role) else {
        return layout::error_page(&v, Area::Admin, &Error::validation("role", "unknown role"));
    };
    let u = tryp!(&v, web.app.users().set_role(actor, &UserId::from_string(id), role).await);
    redirect(&format!("/admin/users/{}?ok=saved", u.id))
}

#[derive(Deserialize)]
struct BlockIn {
    reason: Option<String>,
}

#[handler]
async fn block(
    web: W<'_>,
    v: V<'_>,
    req: &Request,
    Path(id): Path<String>,
    Form(f): Form<BlockIn>,
) -> Response {
    let actor = staff!(&v, req);
    let u = tryp!(&v, web.app.users().block(actor, &UserId::from_string(id), blank(&f.reason)).await);
    redirect(&format!("/admin/users/{}?ok=saved", u.id))
}

#[handler]
async fn unblock(web: W<'_>, v: V<'_>, req: &Request, Path(id): Path<String>) -> Response {
    let actor = staff!(&v, req);
    let u = tryp!(&v, web.app.users().unblock(actor, &UserId::from_string(id)).await);
    redirect(&format!("/admin/users/{}?ok=saved", u.id))
}

#[derive(Deserialize)]
struct AdjustIn {
    direction: String,
    amount_rupees: String,
    reason: String,
    request_id: Option<String>,
}

#[handler]
async fn adjust(
    web: W<'_>,
    v: V<'_>,
    req: &Request,
    Path(id): Path<String>,
    Form(f): Form<AdjustIn>,
) -> Response {
    let actor = staff!(&v, req);
    let Some(amount) = parse_rupees(&f.amount_rupees) else {
        return layout::error_page(&v, Area::Admin, &Error::validation("amount", "type an amount in rupees"));
    };
    let direction = if f.direction == "debit" { Direction::Debit } else { Direction::Credit };
    let user_id = UserId::from_string(id);
    let adj = Adjustment {
        user_id: user_id.clone(),
        amount,
        direction,
        reason: f.reason,
        request_id: f.request_id,
    };
    tryp!(&v, web.app.wallet().adjust(actor, adj).await);
    redirect(&format!("/admin/users/{user_id}?ok=saved"))
}

// ---- bulk notification ----

#[handler]
async fn notify_form(v: V<'_>, req: &Request, Query(q): Query<Msg>) -> Response {
    let actor = staff!(&v, req);
    may!(&v, actor, Action::BulkNotify);
    page(&v, Area::Admin, "Notify", notify_markup(&v, q.ok.as_deref(), None))
}

fn audience_select(selected: &str) -> Markup {
    html! {
        select #audience name="audience" {
            @for (value, label) in [("all", "Everyone"), ("user", "Customers"), ("support", "Support"), ("admin", "Admins")] {
                option value=(value) selected[selected == value] { (label) }
            }
        }
    }
}

fn notify_markup(v: &Visitor, ok: Option<&str>, preview: Option<&NotifyIn>) -> Markup {
    html! {
        h1 { "Notify users" }
        (notice(ok))
        @if let Some(p) = preview {
            h2 { "Preview" }
            article.card { h3 { (p.title) } p { (p.message) } p.muted { "To: " (p.audience) } }
        }
        form.stack method="post" action="/admin/notify" {
            (csrf(v))
            div { label for="audience" { "Send to" } (audience_select(preview.map_or("all", |p| p.audience.as_str()))) }
            div { label for="title" { "Title" } input #title name="title" required maxlength="200" value=(preview.map_or("", |p| p.title.as_str())); }
            div { label for="message" { "Message" } textarea #message name="message" required maxlength="4000" { (preview.map_or("", |p| p.message.as_str())) } }
            div.row {
                button.secondary type="submit" name="step" value="preview" { "Preview" }
                @if preview.is_some() { " " button type="submit" name="step" value="send" { "Send" } }
            }
        }
    }
}

#[derive(Deserialize)]
struct NotifyIn {
    audience: String,
    title: String,
    message: String,
    step: Option<String>,
}

#[handler]
async fn notify(web: W<'_>, v: V<'_>, req: &Request, Form(f): Form<NotifyIn>) -> Response {
    let actor = staff!(&v, req);
    may!(&v, actor, Action::BulkNotify);
    if f.step.as_deref() != Some("send") {
        return page(&v, Area::Admin, "Notify", notify_markup(&v, None, Some(&f)));
    }
    let Some(audience) = Audience::parse(&f.audience) else {
        return layout::error_page(&v, Area::Admin, &Error::validation("audience", "unknown audience"));
    };
    tryp!(&v, web.app.notifications().broadcast(actor, audience, &f.title, &f.message).await);
    redirect("/admin/notify?ok=sent")
}

// ---- alert outbox ----

#[derive(Deserialize, Default)]
struct AlertsQ {
    status: Option<String>,
    ok: Option<String>,
    cursor: Option<String>,
}

#[handler]
async fn alerts(web: W<'_>, v: V<'_>, req: &Request, Query(q): Query<AlertsQ>) -> Response {
    let actor = staff!(&v, req);
    // Core's outbox listing belongs to the dispatcher and takes no actor: checked here, by the
    // matrix (retrying is core's `Outbox::retry`, which checks it itself).
    may!(&v, actor, Action::ManageAlerts);
    let status = blank(&q.status).and_then(OutboxStatus::parse);
    let list = tryp!(&v, web.app.outbox().list(status, &page_req(&q.cursor)).await);
    let body = html! {
        h1 { "Alert outbox" }
        (notice(q.ok.as_deref()))
        form.row method="get" action="/admin/alerts" {
            div { label for="st" { "Status" } select #st name="status" {
                option value="" { "Any" }
                option value="pending" selected[status == Some(OutboxStatus::Pending)] { "Pending" }
                option value="failed" selected[status == Some(OutboxStatus::Failed)] { "Parked (failed)" }
                option value="delivered" selected[status == Some(OutboxStatus::Delivered)] { "Delivered" }
            } }
            button type="submit" { "Filter" }
        }
        div.scroll { table {
            thead { tr { th { "Created" } th { "Alert" } th { "Status" } th.num { "Attempts" } th { "Last error" } th { "" } } }
            tbody { @for a in &list.items { tr {
                td { (when(a.created_at)) }
                td { (ottsonly_core::outbox::Outbox::decode(a).map(|d| d.text()).unwrap_or_else(|_| a.payload.clone())) }
                td { (a.status.as_str()) } td.num { (a.attempts) }
                td { (a.last_error.clone().unwrap_or_default()) }
                td { @if a.status == OutboxStatus::Failed {
                    form method="post" action=(format!("/admin/alerts/{}/retry", a.id)) {
                        (csrf(&v)) button.secondary type="submit" { "Retry" }
                    }
                } }
            } } }
        } }
        @if list.items.is_empty() { p { "No alerts." } }
        (pager(&format!("/admin/alerts?status={}", urlencode(blank(&q.status).unwrap_or(""))), list.next_cursor.as_deref()))
    };
    page(&v, Area::Admin, "Alerts", body)
}

#[handler]
async fn retry_alert(web: W<'_>, v: V<'_>, req: &Request, Path(id): Path<String>) -> Response {
    let actor = staff!(&v, req);
    tryp!(&v, web.app.outbox().retry(actor, &ottsonly_core::OutboxId::from_string(id)).await);
    redirect("/admin/alerts?status=pending&ok=retried")
}

// ---- audit log ----

#[derive(Deserialize, Default)]
struct AuditQ {
    actor: Option<String>,
    action: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    cursor: Option<String>,
}

#[handler]
async fn audit(web: W<'_>, v: V<'_>, req: &Request, Query(q): Query<AuditQ>) -> Response {
    let actor = staff!(&v, req);
    may!(&v, actor, Action::ViewAuditLog);
    let filter = AuditFilter {
        actor_id: blank(&q.actor).map(UserId::from_string),
        target_type: blank(&q.target_type).map(String::from),
        target_id: blank(&q.target_id).map(String::from),
        action: blank(&q.action).map(String::from),
    };
    let list = tryp!(&v, web.app.audit().list(actor, &filter, &page_req(&q.cursor)).await);
    let f = |s: &Option<String>| blank(s).unwrap_or("").to_string();
    let base = format!(
        "/admin/audit-log?actor={}&action={}&target_type={}&target_id={}",
        urlencode(&f(&q.actor)),
        urlencode(&f(&q.action)),
        urlencode(&f(&q.target_type)),
        urlencode(&f(&q.target_id))
    );
    let body = html! {
        h1 { "Audit log" }
        form.row method="get" action="/admin/audit-log" {
            div { label for="aa" { "Action" } input #aa name="action" placeholder="order.refund" value=(f(&q.action)); }
            div { label for="tt" { "Target type" } input #tt name="target_type" placeholder="order" value=(f(&q.target_type)); }
            div { label for="ti" { "Target id" } input #ti name="target_id" value=(f(&q.target_id)); }
            div { label for="ac" { "Actor id" } input #ac name="actor" value=(f(&q.actor)); }
            button type="submit" { "Filter" }
        }
        div.scroll { table {
            thead { tr { th { "When" } th { "Action" } th { "Target" } th { "Actor" } th { "Details" } } }
            tbody { @for e in &list.items { tr {
                td { (when(e.created_at)) } td { (e.action) }
                td { (e.target_type) " " (e.target_id) }
                td { (e.actor_id) } td { code { (e.details.to_string()) } }
            } } }
        } }
        @if list.items.is_empty() { p { "No entries match." } }
        (pager(&base, list.next_cursor.as_deref()))
    };
    page(&v, Area::Admin, "Audit log", body)
}
