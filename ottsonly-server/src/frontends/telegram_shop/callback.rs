//! The data behind inline buttons (at most 64 bytes, Telegram's limit). A button that buys names
//! the price it showed, so a confirmation drawn before a price change is refused by core
//! instead of charging the new price.

use ottsonly_core::Money;
use ottsonly_core::ids::{ProductId, SubscriptionId};

/// Telegram's limit on `callback_data`.
pub const MAX_DATA: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// A page of the shop (0-based).
    Shop(u32),
    /// A product's details.
    View(ProductId),
    /// "Buy for ₹X": asks for a confirmation at that price.
    Buy(ProductId, Money),
    /// "Confirm": buys at that price.
    Confirm(ProductId, Money),
    /// "Cancel" on a confirmation.
    Cancel,
    /// The wallet view (from "Top up" after a refused purchase).
    Wallet,
    /// "Show login" of a subscription.
    ShowLogin(SubscriptionId),
    /// "Mark all read".
    ReadAll,
    /// Admin: give a waiting subscription the next pooled login.
    Assign(SubscriptionId),
    /// Top up this amount (a checkout link).
    TopUp(Money),
    /// "Other amount": how to ask for one.
    TopUpOther,
}

impl Callback {
    pub fn encode(&self) -> String {
        let s = match self {
            Callback::Shop(page) => format!("s:{page}"),
            Callback::View(p) => format!("v:{p}"),
            Callback::Buy(p, price) => format!("b:{p}:{}", price.paise()),
            Callback::Confirm(p, price) => format!("k:{p}:{}", price.paise()),
            Callback::Cancel => "x".into(),
            Callback::Wallet => "w".into(),
            Callback::ShowLogin(s) => format!("l:{s}"),
            Callback::ReadAll => "n".into(),
            Callback::Assign(s) => format!("a:{s}"),
            Callback::TopUp(m) => format!("t:{}", m.paise()),
            Callback::TopUpOther => "t".into(),
        };
        debug_assert!(s.len() <= MAX_DATA, "callback data too long: {s}");
        s
    }

    /// `None` for anything this bot did not write (or wrote in an older form).
    pub fn parse(data: &str) -> Option<Callback> {
        if data.len() > MAX_DATA {
            return None;
        }
        fn id(s: &str) -> Option<&str> {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')).then_some(s)
        }
        let priced = |rest: &str| -> Option<(ProductId, Money)> {
            let (p, price) = rest.rsplit_once(':')?;
            let paise: i64 = price.parse().ok()?;
            Some((ProductId::from_string(id(p)?), Money::from_paise(paise).ok()?))
        };
        let (tag, rest) = data.split_once(':').unwrap_or((data, ""));
        Some(match (tag, rest) {
            ("s", n) => Callback::Shop(n.parse().ok().filter(|&n: &u32| n < 10_000)?),
            ("v", p) => Callback::View(ProductId::from_string(id(p)?)),
            ("b", rest) => {
                let (p, m) = priced(rest)?;
                Callback::Buy(p, m)
            }
            ("k", rest) => {
                let (p, m) = priced(rest)?;
                Callback::Confirm(p, m)
            }
            ("x", "") => Callback::Cancel,
            ("w", "") => Callback::Wallet,
            ("l", s) => Callback::ShowLogin(SubscriptionId::from_string(id(s)?)),
            ("n", "") => Callback::ReadAll,
            ("a", s) => Callback::Assign(SubscriptionId::from_string(id(s)?)),
            ("t", "") => Callback::TopUpOther,
            ("t", m) => Callback::TopUp(Money::from_paise(m.parse().ok()?).ok()?),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let p = ProductId::from_string("0190f5a2-7b1c-7def-8123-456789abcdef");
        let s = SubscriptionId::from_string("0190f5a2-7b1c-7def-8123-456789abcdee");
        let m = Money::from_paise(49_950).unwrap();
        for c in [
            Callback::Shop(0),
            Callback::Shop(12),
            Callback::View(p.clone()),
            Callback::Buy(p.clone(), m),
            Callback::Confirm(p.clone(), m),
            Callback::Cancel,
            Callback::Wallet,
            Callback::ShowLogin(s.clone()),
            Callback::ReadAll,
            Callback::Assign(s.clone()),
            Callback::TopUp(m),
            Callback::TopUpOther,
        ] {
            let data = c.encode();
            assert!(data.len() <= MAX_DATA, "{data}");
            assert_eq!(Callback::parse(&data), Some(c), "{data}");
        }
        for bad in [
            "", "?", "s:", "s:-1", "s:x", "k:abc", "k:abc:-5", "k::5", "b:a b:5", "x:1", "v:", "zz:1",
            "v:../x",
        ] {
            assert_eq!(Callback::parse(bad), None, "{bad}");
        }
        assert_eq!(Callback::parse(&"v:".repeat(40)), None);
    }
}
