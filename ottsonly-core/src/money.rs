//! Money as integer paise. Floats never touch an amount.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A non-negative amount of Indian rupees in paise (1 INR = 100 paise).
///
/// Balances, prices and ledger amounts are all `Money`; a movement's direction lives in its
/// kind (credit / debit), never in a sign, so a negative amount cannot be represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(try_from = "i64", into = "i64")]
pub struct Money(i64);

/// Returned when an integer cannot be a [`Money`] (it is negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("amount must be zero or more paise, got {0}")]
pub struct NegativeAmount(pub i64);

impl Money {
    pub const ZERO: Money = Money(0);

    /// Parses paise; rejects negative values.
    pub fn from_paise(paise: i64) -> Result<Self, NegativeAmount> {
        if paise < 0 { Err(NegativeAmount(paise)) } else { Ok(Money(paise)) }
    }

    pub fn paise(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `None` when the result would be negative.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).filter(|v| *v >= 0).map(Money)
    }
}

impl TryFrom<i64> for Money {
    type Error = NegativeAmount;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Money::from_paise(value)
    }
}

impl From<Money> for i64 {
    fn from(value: Money) -> Self {
        value.0
    }
}

impl fmt::Display for Money {
    /// Renders as rupees for humans, e.g. `₹1,234.50` is written `₹1234.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "₹{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_negative_and_formats_rupees() {
        assert!(Money::from_paise(-1).is_err());
        assert_eq!(Money::from_paise(12345).unwrap().to_string(), "₹123.45");
        assert_eq!(Money::from_paise(5).unwrap().to_string(), "₹0.05");
    }

    #[test]
    fn subtraction_never_goes_negative() {
        let a = Money::from_paise(100).unwrap();
        let b = Money::from_paise(101).unwrap();
        assert_eq!(a.checked_sub(b), None);
        assert_eq!(b.checked_sub(a), Some(Money::from_paise(1).unwrap()));
        assert_eq!(Money::from_paise(i64::MAX).unwrap().checked_add(a), None);
    }

    #[test]
    fn serde_refuses_negative() {
        assert!(serde_json::from_str::<Money>("-5").is_err());
        assert_eq!(serde_json::from_str::<Money>("5").unwrap().paise(), 5);
    }
}
