//! Phone numbers, normalised to E.164 so that one person is one user.
//!
//! Parsing and validation use the `phonenumber` crate (libphonenumber's metadata): a number must
//! be a valid number of its country, and one-time codes go to mobile numbers only
//! ([`PhoneNumber::parse`]). Stored numbers are read back with [`PhoneNumber::from_e164`], which
//! checks only the shape, so rows written under older metadata stay readable.

use phonenumber::country::Id;
use phonenumber::{Mode, Type};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

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
    #[error("a number without a country code needs a default country")]
    MissingCountryCode,
    #[error("not a valid phone number")]
    Invalid,
    #[error("not a mobile number; codes are sent by SMS to mobile numbers only")]
    NotMobile,
    #[error("`{0}` is not a country code (ISO 3166 alpha-2, e.g. IN)")]
    UnknownRegion(String),
}

/// ISO 3166 alpha-2 code of India, the default country of numbers typed without a `+`.
pub const INDIA: &str = "IN";

/// The `phonenumber` region for an ISO code such as `"IN"` (case-insensitive).
fn region_id(region: &str) -> Result<Id, PhoneError> {
    Id::from_str(&region.trim().to_ascii_uppercase()).map_err(|_| PhoneError::UnknownRegion(region.into()))
}

/// Checks that `region` is a country code the metadata knows (for configuration).
pub fn check_region(region: &str) -> Result<String, PhoneError> {
    let id = region_id(region)?;
    Ok(id.as_ref().to_string())
}

/// The calling code of a region (`"IN"` → 91).
pub fn calling_code(region: &str) -> Option<u16> {
    let id = region_id(region).ok()?;
    phonenumber::metadata::DATABASE.by_id(id.as_ref()).map(|m| m.country_code())
}

impl PhoneNumber {
    /// Parses a number as a person types it and requires a valid **mobile** number (or one the
    /// metadata cannot tell from a fixed line, as in the US). `"+91 98765 43210"`,
    /// `"+919876543210"` and (with `default_region = Some("IN")`) `"98765 43210"` or
    /// `"098765 43210"` are all `+919876543210`.
    pub fn parse(raw: &str, default_region: Option<&str>) -> Result<Self, PhoneError> {
        let parsed = parse_valid(raw, default_region)?;
        match parsed.number_type(&phonenumber::metadata::DATABASE) {
            Type::Mobile | Type::FixedLineOrMobile => Ok(e164(&parsed)),
            _ => Err(PhoneError::NotMobile),
        }
    }

    /// Like [`PhoneNumber::parse`] but accepts a valid number of any type. Only for numbers an
    /// operator configured (test phones), never for what a user types.
    pub fn parse_any(raw: &str, default_region: Option<&str>) -> Result<Self, PhoneError> {
        parse_valid(raw, default_region).map(|p| e164(&p))
    }

    /// A number as stored: `+` then 8 to 15 digits, no leading zero. Only the shape is checked.
    pub fn from_e164(s: &str) -> Result<Self, PhoneError> {
        let digits = s.strip_prefix('+').ok_or(PhoneError::MissingCountryCode)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::BadCharacter);
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(PhoneError::BadLength);
        }
        Ok(PhoneNumber(s.to_string()))
    }

    /// The ISO 3166 alpha-2 country of the number (`"IN"`), when the metadata knows it.
    pub fn region(&self) -> Option<String> {
        let parsed = phonenumber::parse(None, &self.0).ok()?;
        parsed.country().id().map(|id| id.as_ref().to_string())
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

fn e164(p: &phonenumber::PhoneNumber) -> PhoneNumber {
    PhoneNumber(p.format().mode(Mode::E164).to_string())
}

/// Our own character rule first (the crate also reads letters and RFC 3966 URIs), then the crate.
fn parse_valid(raw: &str, default_region: Option<&str>) -> Result<phonenumber::PhoneNumber, PhoneError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(PhoneError::Empty);
    }
    let rest = trimmed.strip_prefix('+');
    let has_plus = rest.is_some();
    let body = rest.unwrap_or(trimmed);
    let mut digits = 0usize;
    for c in body.chars() {
        match c {
            '0'..='9' => digits += 1,
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(PhoneError::BadCharacter),
        }
    }
    if !(6..=17).contains(&digits) {
        return Err(PhoneError::BadLength);
    }
    let region = match default_region {
        Some(r) => Some(region_id(r)?),
        None if has_plus => None,
        None => return Err(PhoneError::MissingCountryCode),
    };
    let parsed = phonenumber::parse(region, trimmed).map_err(|_| PhoneError::Invalid)?;
    if parsed.extension().is_some() || !parsed.is_valid() {
        return Err(PhoneError::Invalid);
    }
    Ok(parsed)
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
        assert_eq!(PhoneNumber::parse("+91 12345 67890", None), Err(PhoneError::NotMobile));
        assert_eq!(PhoneNumber::parse("+91 98765 4321", None), Err(PhoneError::Invalid));
        assert_eq!(PhoneNumber::parse("+1234", None), Err(PhoneError::BadLength));
        assert_eq!(PhoneNumber::parse("+1 415 555 2671", None).unwrap().as_str(), "+14155552671");
        assert_eq!(
            PhoneNumber::parse("+1 415 555 2671", Some("zz")),
            Err(PhoneError::UnknownRegion("zz".into()))
        );
    }

    #[test]
    fn only_mobile_numbers_receive_codes() {
        // A Delhi landline is a valid number, but not a mobile one.
        assert_eq!(PhoneNumber::parse("+91 11 2345 6789", None), Err(PhoneError::NotMobile));
        assert_eq!(PhoneNumber::parse_any("+91 11 2345 6789", None).unwrap().as_str(), "+911123456789");
        // A UK mobile and a UK landline.
        assert_eq!(PhoneNumber::parse("+44 7400 123456", None).unwrap().region().as_deref(), Some("GB"));
        assert_eq!(PhoneNumber::parse("+44 20 7946 0958", None), Err(PhoneError::NotMobile));
    }

    #[test]
    fn the_test_suites_numbers_are_valid_indian_mobiles() {
        for n in [
            "+919876543210",
            "+919811111111",
            "+919822222222",
            "+919833333333",
            "+919999900001",
            "+918888888888",
            "+917777777777",
            "+919000000001",
            "+917011111198",
            "+916666666666",
        ] {
            let p = PhoneNumber::parse(n, None).unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(p.as_str(), n);
            assert_eq!(p.region().as_deref(), Some("IN"), "{n}");
        }
    }

    #[test]
    fn regions_and_stored_form() {
        assert_eq!(PhoneNumber::parse("+14155552671", None).unwrap().region().as_deref(), Some("US"));
        assert_eq!(calling_code("in"), Some(91));
        assert_eq!(check_region("gb").unwrap(), "GB");
        assert!(check_region("XX").is_err());
        assert_eq!(PhoneNumber::from_e164("+919876543210").unwrap().as_str(), "+919876543210");
        assert!(PhoneNumber::from_e164("919876543210").is_err());
        assert!(PhoneNumber::from_e164("+0123456789").is_err());
    }

    #[test]
    fn masks_middle_digits() {
        let p = PhoneNumber::parse("+919876543210", None).unwrap();
        assert_eq!(p.masked(), "+91******3210");
    }
}
