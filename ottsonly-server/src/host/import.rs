//! Reading product and credential files for the operator CLI: CSV with a header row, or a
//! JSON array of objects with the same field names.

use anyhow::{Context, bail};
use ottsonly_core::Money;
use ottsonly_core::catalog::NewProduct;
use ottsonly_core::crypto::Credentials;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
}

fn format_of(path: &Path, text: &str) -> Format {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        // No telling extension: a JSON array starts with `[`.
        _ if text.trim_start().starts_with('[') => Format::Json,
        _ => Format::Csv,
    }
}

/// Parses every record, or fails naming the first bad one (records are 1-based; CSV counts
/// data rows after the header).
fn read_records<T: DeserializeOwned>(path: &Path, text: &str) -> anyhow::Result<Vec<T>> {
    match format_of(path, text) {
        Format::Json => {
            let values: Vec<serde_json::Value> =
                serde_json::from_str(text).context("the file is not a JSON array")?;
            values
                .into_iter()
                .enumerate()
                .map(|(i, v)| serde_json::from_value(v).with_context(|| format!("record {}", i + 1)))
                .collect()
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
            reader
                .deserialize()
                .enumerate()
                .map(|(i, r)| r.with_context(|| format!("row {}", i + 1)))
                .collect()
        }
    }
}

/// A product row: `platform_name,plan_name,description,price_paise,duration_days,stock,is_active`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductRecord {
    platform_name: String,
    plan_name: String,
    #[serde(default)]
    description: Option<String>,
    price_paise: i64,
    duration_days: u32,
    #[serde(default)]
    stock: Option<i64>,
    #[serde(default, deserialize_with = "flexible_bool")]
    is_active: Option<bool>,
}

/// CSV cells are text: accepts true/false, yes/no, 1/0 (and real booleans in JSON); empty is unset.
fn flexible_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Text(String),
        Num(i64),
    }
    Ok(match Option::<B>::deserialize(d)? {
        None => None,
        Some(B::Bool(b)) => Some(b),
        Some(B::Num(n)) => Some(n != 0),
        Some(B::Text(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => None,
            "true" | "yes" | "1" | "y" => Some(true),
            "false" | "no" | "0" | "n" => Some(false),
            other => return Err(serde::de::Error::custom(format!("`{other}` is not a boolean"))),
        },
    })
}

pub fn parse_products(path: &Path, text: &str) -> anyhow::Result<Vec<NewProduct>> {
    let records: Vec<ProductRecord> = read_records(path, text)?;
    if records.is_empty() {
        bail!("no products in {}", path.display());
    }
    records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let price = Money::from_paise(r.price_paise)
                .map_err(|e| anyhow::anyhow!("record {}: price_paise: {e}", i + 1))?;
            Ok(NewProduct {
                platform_name: r.platform_name,
                plan_name: r.plan_name,
                description: r.description.unwrap_or_default(),
                price,
                duration_days: r.duration_days,
                stock: r.stock.unwrap_or(0),
                is_active: r.is_active.unwrap_or(true),
            })
        })
        .collect()
}

/// A credential row: `username,password,profile,pin,notes` (the last three optional).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialRecord {
    username: String,
    password: String,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    pin: Option<String>,
    #[serde(default)]
    notes: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.trim().is_empty())
}

pub fn parse_credentials(path: &Path, text: &str) -> anyhow::Result<Vec<Credentials>> {
    let records: Vec<CredentialRecord> = read_records(path, text)?;
    if records.is_empty() {
        bail!("no credentials in {}", path.display());
    }
    Ok(records
        .into_iter()
        .map(|r| Credentials {
            username: r.username,
            password: r.password,
            profile: non_empty(r.profile),
            pin: non_empty(r.pin),
            notes: non_empty(r.notes),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_from_csv_and_json() {
        let csv = "platform_name,plan_name,description,price_paise,duration_days,stock,is_active\n\
                   Netflix,Premium,\"4K, 4 screens\",64900,30,0,true\n\
                   Hotstar,Super,,89900,365,5,no\n";
        let p = parse_products(Path::new("p.csv"), csv).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].description, "4K, 4 screens");
        assert_eq!(p[1].price.paise(), 89900);
        assert!(!p[1].is_active);
        let json =
            r#"[{"platform_name":"Netflix","plan_name":"Basic","price_paise":19900,"duration_days":30}]"#;
        let p = parse_products(Path::new("p.json"), json).unwrap();
        assert!(p[0].is_active);
        assert_eq!(p[0].stock, 0);
    }

    #[test]
    fn bad_rows_are_named() {
        let csv = "platform_name,plan_name,description,price_paise,duration_days,stock,is_active\nA,B,,abc,30,0,true\n";
        let err = format!("{:#}", parse_products(Path::new("p.csv"), csv).unwrap_err());
        assert!(err.contains("row 1"), "{err}");
        let json = r#"[{"platform_name":"A","plan_name":"B","price_paise":-1,"duration_days":30}]"#;
        let err = format!("{:#}", parse_products(Path::new("p.json"), json).unwrap_err());
        assert!(err.contains("price_paise"), "{err}");
        assert!(
            parse_products(
                Path::new("p.csv"),
                "platform_name,plan_name,description,price_paise,duration_days,stock,is_active\n"
            )
            .is_err()
        );
    }

    #[test]
    fn credentials_from_csv_and_json() {
        let csv = "username,password,profile,pin,notes\na@x.com,pw1,Kids,1234,\nb@x.com,pw2,,,\n";
        let c = parse_credentials(Path::new("c.csv"), csv).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].pin.as_deref(), Some("1234"));
        assert_eq!(c[1].profile, None);
        let json = r#"[{"username":"a@x.com","password":"pw"}]"#;
        assert_eq!(parse_credentials(Path::new("c"), json).unwrap()[0].username, "a@x.com");
    }
}
