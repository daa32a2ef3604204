//! What the customer reads: plain text (no parse mode, so nothing typed by anyone is markup) and
//! the keyboards under it.

use super::callback::Callback;
use ottsonly_core::Money;
use ottsonly_core::model::{
    LedgerEntry, NotificationView, Product, Subscription, SubscriptionStatus, Timestamp,
};
use teloxide::types::{
    ButtonRequest, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, KeyboardMarkup,
};

/// Products per page of `/shop`.
pub const PAGE_SIZE: usize = 10;

/// `₹499` for whole rupees, `₹499.50` otherwise.
pub fn rupees(m: Money) -> String {
    let p = m.paise();
    if p % 100 == 0 { format!("₹{}", p / 100) } else { format!("₹{}.{:02}", p / 100, p % 100) }
}

pub fn date(t: Timestamp) -> String {
    t.format("%d %b %Y").to_string()
}

pub fn button(text: impl Into<String>, cb: &Callback) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(text, cb.encode())
}

pub fn keyboard(rows: Vec<Vec<InlineKeyboardButton>>) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(rows)
}

/// The reply keyboard of `/start`: one button that shares the user's own verified number.
pub fn share_contact() -> KeyboardMarkup {
    KeyboardMarkup::new(vec![vec![
        KeyboardButton::new("Share my phone number").request(ButtonRequest::Contact),
    ]])
    .resize_keyboard()
    .one_time_keyboard()
}

pub const HELP: &str = "Commands:\n\
/start – log in by sharing your phone number\n\
/shop – browse and buy plans\n\
/wallet – balance, recent transactions and top-ups\n\
/topup AMOUNT – top up another amount, e.g. /topup 250\n\
/subscriptions – your subscriptions and logins\n\
/notifications – unread notifications\n\
/logout – unlink this Telegram account\n\
/help – this list\n\
Admins: /pending – subscriptions waiting for a login, /stats – today's figures";

/// The command menu (`setMyCommands`).
pub const COMMANDS: &[(&str, &str)] = &[
    ("start", "Log in with your phone number"),
    ("shop", "Browse and buy plans"),
    ("wallet", "Balance and recent transactions"),
    ("subscriptions", "Your subscriptions"),
    ("notifications", "Unread notifications"),
    ("pending", "Admins: subscriptions waiting for a login"),
    ("stats", "Admins: today's orders, revenue, refunds, top-ups"),
    ("logout", "Unlink this Telegram account"),
    ("help", "What this bot does"),
];

/// `/stats`: today's figures; with `amounts` false (support) only the counts.
pub fn stats(s: &ottsonly_core::ShopStats, amounts: bool) -> String {
    let paise = |p: i64| rupees(Money::from_paise(p.max(0)).unwrap_or(Money::ZERO));
    let with = |n: u64, p: i64| if amounts { format!("{n} · {}", paise(p)) } else { n.to_string() };
    let mut out = format!("Today (since 00:00 UTC):\nOrders: {}", with(s.orders, s.revenue_paise));
    out.push_str(&format!("\nRefunds: {}", with(s.refunds, s.refunded_paise)));
    out.push_str(&format!("\nTop-ups: {}", with(s.topups, s.topup_paise)));
    out.push_str(&format!("\nNew users: {}\nWaiting for a login: {}", s.new_users, s.waiting_for_login));
    for l in &s.low_stock {
        out.push_str(&format!("\nLow stock: {} ({})", l.name, l.stock));
    }
    out
}

pub fn product_label(p: &Product) -> String {
    if p.stock <= 0 {
        format!("{} · sold out", p.display_name())
    } else {
        format!("{} · {}", p.display_name(), rupees(p.price))
    }
}

/// One page of the shop: a button per product, previous/next when there are more.
pub fn shop_page(products: &[Product], page: u32, has_next: bool) -> (String, InlineKeyboardMarkup) {
    if products.is_empty() {
        return ("Nothing is on sale right now.".into(), keyboard(vec![]));
    }
    let mut rows: Vec<Vec<InlineKeyboardButton>> =
        products.iter().map(|p| vec![button(product_label(p), &Callback::View(p.id.clone()))]).collect();
    let mut nav = Vec::new();
    if page > 0 {
        nav.push(button("« Previous", &Callback::Shop(page - 1)));
    }
    if has_next {
        nav.push(button("Next »", &Callback::Shop(page + 1)));
    }
    if !nav.is_empty() {
        rows.push(nav);
    }
    (format!("Shop – page {}. Pick a plan:", page + 1), keyboard(rows))
}

pub fn product_details(p: &Product) -> (String, InlineKeyboardMarkup) {
    let availability = if p.stock > 0 { format!("In stock: {}", p.stock) } else { "Sold out".to_string() };
    let text = format!(
        "{}\n{}\n{} days\nPrice: {}\n{}",
        p.display_name(),
        p.description,
        p.duration_days,
        rupees(p.price),
        availability
    );
    let mut rows = Vec::new();
    if p.stock > 0 && p.is_active {
        rows.push(vec![button(
            format!("Buy for {}", rupees(p.price)),
            &Callback::Buy(p.id.clone(), p.price),
        )]);
    }
    rows.push(vec![button("« Back to the shop", &Callback::Shop(0))]);
    (text, keyboard(rows))
}

pub fn confirmation(p: &Product, balance: Money) -> (String, InlineKeyboardMarkup) {
    let text = format!(
        "Buy {} for {} from your wallet (balance {})?",
        p.display_name(),
        rupees(p.price),
        rupees(balance)
    );
    let rows = vec![vec![
        button("Confirm", &Callback::Confirm(p.id.clone(), p.price)),
        button("Cancel", &Callback::Cancel),
    ]];
    (text, keyboard(rows))
}

pub fn status(s: &Subscription) -> String {
    match s.status {
        SubscriptionStatus::Active => match s.end_at {
            Some(end) => format!("active until {}", date(end)),
            None => "active".into(),
        },
        SubscriptionStatus::PendingCredentials => {
            "waiting for the login (you will be told when it is ready)".into()
        }
        SubscriptionStatus::Expired => "expired".into(),
        SubscriptionStatus::Cancelled => "cancelled".into(),
        SubscriptionStatus::Refunded => "refunded".into(),
    }
}

pub fn subscriptions(subs: &[Subscription]) -> (String, InlineKeyboardMarkup) {
    if subs.is_empty() {
        return ("You have no subscriptions yet. /shop".into(), keyboard(vec![]));
    }
    let mut text = String::from("Your subscriptions:");
    let mut rows = Vec::new();
    for s in subs {
        text.push_str(&format!("\n• {} {} – {}", s.platform_name, s.plan_name, status(s)));
        if s.status == SubscriptionStatus::Active && s.credential_id.is_some() {
            rows.push(vec![button(
                format!("Show login: {} {}", s.platform_name, s.plan_name),
                &Callback::ShowLogin(s.id.clone()),
            )]);
        }
    }
    (text, keyboard(rows))
}

/// The top-up choices under the wallet.
pub fn topup_buttons() -> InlineKeyboardMarkup {
    let amount = |rupees_: i64| {
        let m = Money::from_paise(rupees_ * 100).expect("positive");
        button(format!("Top up {}", rupees(m)), &Callback::TopUp(m))
    };
    keyboard(vec![
        vec![amount(100), amount(500), amount(1000)],
        vec![button("Other amount", &Callback::TopUpOther)],
    ])
}

/// Rupees as a customer types them: `250`, `250.5`, `₹1,000.50`.
pub fn parse_rupees(raw: &str) -> Option<Money> {
    let t: String = raw.trim().trim_start_matches('₹').chars().filter(|c| *c != ',').collect();
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 9 {
        return None;
    }
    if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let paise = format!("{frac:0<2}").parse::<i64>().ok()?;
    Money::from_paise(whole.parse::<i64>().ok()? * 100 + paise).ok()
}

pub fn wallet(balance: Money, entries: &[LedgerEntry]) -> String {
    let mut text = format!("Balance: {}", rupees(balance));
    if entries.is_empty() {
        text.push_str("\nNo transactions yet.");
    } else {
        text.push_str("\nLast transactions:");
        for e in entries {
            let sign = if e.signed_paise() < 0 { "−" } else { "+" };
            text.push_str(&format!(
                "\n{} {}{} · {} · balance {}",
                date(e.created_at),
                sign,
                rupees(e.amount),
                e.description,
                rupees(e.balance_after)
            ));
        }
    }
    text
}

pub fn notifications(items: &[NotificationView]) -> (String, InlineKeyboardMarkup) {
    if items.is_empty() {
        return ("No unread notifications.".into(), keyboard(vec![]));
    }
    let mut text = String::from("Unread notifications:");
    for n in items {
        text.push_str(&format!("\n• {} – {}", n.title, n.message));
    }
    (text, keyboard(vec![vec![button("Mark all read", &Callback::ReadAll)]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rupees_show_paise_only_when_not_whole() {
        let r = |p| rupees(Money::from_paise(p).unwrap());
        assert_eq!(r(49_900), "₹499");
        assert_eq!(r(49_950), "₹499.50");
        assert_eq!(r(5), "₹0.05");
        assert_eq!(r(0), "₹0");
    }

    #[test]
    fn typed_amounts() {
        let p = |s| parse_rupees(s).map(|m| m.paise());
        assert_eq!(p("250"), Some(25_000));
        assert_eq!(p("₹1,000.5"), Some(100_050));
        assert_eq!(p(" 0.05 "), Some(5));
        for bad in ["", "-5", "1.234", "abc", "1e3", ".5", "9999999999"] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }
}
