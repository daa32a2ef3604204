//! Input checks shared by the services. Each returns a typed validation error naming the field.

use crate::error::{Error, Result};

/// Trims and checks a required human-readable text field.
pub fn text(field: &'static str, value: &str, max_chars: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    optional_text(field, v, max_chars)
}

/// Like [`text`] but allows empty.
pub fn optional_text(field: &'static str, value: &str, max_chars: usize) -> Result<String> {
    let v = value.trim();
    if v.chars().count() > max_chars {
        return Err(Error::validation(field, format!("must be at most {max_chars} characters")));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::validation(field, "must not contain control characters"));
    }
    Ok(v.to_string())
}

/// A pragmatic address check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn email(value: &str) -> Result<String> {
    let v = value.trim();
    let bad = || Error::validation("email", "is not a valid email address");
    if v.len() > 254 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = v.split_once('@').ok_or_else(bad)?;
    let domain_ok = !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    if local.is_empty() || local.len() > 64 || !domain_ok {
        return Err(bad());
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

/// A client-chosen key (idempotency key, request id): 1 to 128 visible ASCII characters.
pub fn key(field: &'static str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.len() > 128 || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::validation(field, "must be 1 to 128 visible ASCII characters"));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email(" A.B@Example.COM ").unwrap(), "A.B@example.com");
        for bad in ["", "a", "a@b", "a@@b.c", "a b@c.d", "@b.c", "a@.b.c", "a@b..c"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn texts_and_keys() {
        assert_eq!(text("name", "  Asha  ", 10).unwrap(), "Asha");
        assert!(text("name", "   ", 10).is_err());
        assert!(text("name", "abcdefghijk", 10).is_err());
        assert!(text("name", "a\u{0}b", 10).is_err());
        assert!(key("k", "abc-123").is_ok());
        assert!(key("k", "with space").is_err());
        assert!(key("k", &"x".repeat(129)).is_err());
    }
}
