//! Phone numbers, normalised to E.164 so that one person is one user.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A phone number in E.164 form (`+` then 8 to 15 digits, no leading zero in the country code).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("phone number may contain only digits, spaces, dashes, dots, parentheses and a leading +")]
    BadCharacter,
    #[error("phone number must have 8 to 15 digits including the country code")]
    BadLength,
    #[error("a number without a country code needs a default country code")]
    MissingCountryCode,
    #[error("not a valid Indian mobile number (10 digits starting 6-9)")]
    InvalidIndianMobile,
}

/// Digits of a country calling code, e.g. `"91"` for India.
pub const INDIA: &str = "91";

impl PhoneNumber {
    /// Parses a number as a person types it. `"+91 98765 43210"`, `"+919876543210"` and (with
    /// `default_country = Some("91")`) `"98765 43210"` or `"098765 43210"` are all `+919876543210`.
    pub fn parse(raw: &str, default_country: Option<&str>) -> Result<Self, PhoneError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let (has_plus, rest) = match trimmed.strip_prefix('+') {
            Some(r) => (true, r),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(16);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(PhoneError::BadCharacter),
            }
        }
        let full = if has_plus {
            digits
        } else if let Some(without_00) = digits.strip_prefix("00") {
            // International dialling prefix used in much of the world.
            without_00.to_string()
        } else {
            let national = digits.strip_prefix('0').unwrap_or(&digits);
            let cc = default_country.ok_or(PhoneError::MissingCountryCode)?;
            format!("{cc}{national}")
        };
        if !(8..=15).contains(&full.len()) || full.starts_with('0') {
            return Err(PhoneError::BadLength);
        }
        if let Some(national) = full.strip_prefix(INDIA) {
            // Indian mobiles are ten digits starting 6-9; OTPs go only to mobiles.
            let ok = national.len() == 10 && matches!(national.as_bytes()[0], b'6'..=b'9');
            if !ok {
                return Err(PhoneError::InvalidIndianMobile);
            }
        }
        Ok(PhoneNumber(format!("+{full}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with all but the last four digits hidden, for alerts and logs.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        let visible = 4.min(n);
        let mut out = String::with_capacity(n);
        for (i, c) in self.0.chars().enumerate() {
            if i < 3 || i >= n - visible {
                out.push(c);
            } else {
                out.push('*');
            }
        }
        out
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_person_same_number() {
        let forms = [
            "+91 98765 43210",
            "+919876543210",
            "98765-43210",
            "098765 43210",
            "0091 9876543210",
            "+91 (98765) 43210",
        ];
        for f in forms {
            assert_eq!(PhoneNumber::parse(f, Some(INDIA)).unwrap().as_str(), "+919876543210", "{f}");
        }
    }

    #[test]
    fn rejects_bad_numbers() {
        assert_eq!(PhoneNumber::parse("", Some(INDIA)), Err(PhoneError::Empty));
        assert_eq!(PhoneNumber::parse("98765a3210", Some(INDIA)), Err(PhoneError::BadCharacter));
        assert_eq!(PhoneNumber::parse("9876543210", None), Err(PhoneError::MissingCountryCode));
        assert_eq!(PhoneNumber::parse("+91 12345 67890", None), Err(PhoneError::InvalidIndianMobile));
        assert_eq!(PhoneNumber::parse("+91 98765 4321", None), Err(PhoneError::InvalidIndianMobile));
        assert_eq!(PhoneNumber::parse("+1234", None), Err(PhoneError::BadLength));
        assert_eq!(PhoneNumber::parse("+1 415 555 2671", None).unwrap().as_str(), "+14155552671");
    }

    #[test]
    fn masks_middle_digits() {
        let p = PhoneNumber::parse("+919876543210", None).unwrap();
        assert_eq!(p.masked(), "+91******3210");
    }
}
