//! Choosing the storage backend by URL scheme: the one place that knows which backends exist.

use anyhow::{Context, bail};
use ottsonly_core::Store;
use ottsonly_store_mongo::{MongoStore, redact_uri};
use ottsonly_store_sqlite::SqliteStore;
use std::sync::Arc;

/// Opens (and migrates) the store a database URL names.
///
/// `sqlite://PATH`, `sqlite:PATH` and `sqlite::memory:` are SQLite; `mongodb://HOSTS/DB?replicaSet=…`
/// (or `mongodb+srv://`) is MongoDB, which must be a replica set or sharded cluster (transactions).
pub async fn open_store(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
    match scheme.as_str() {
        "sqlite" => {
            let store = SqliteStore::open(url)
                .await
                .with_context(|| format!("cannot open the SQLite database {}", redact_uri(url)))?;
            Ok(Arc::new(store))
        }
        "mongodb" | "mongodb+srv" => {
            let store = MongoStore::connect(url)
                .await
                .with_context(|| format!("cannot use the MongoDB database {}", redact_uri(url)))?;
            Ok(Arc::new(store))
        }
        _ => bail!(
            "unsupported database URL `{}`: expected sqlite://PATH or mongodb://HOSTS/DB?replicaSet=NAME",
            redact_uri(url)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact_uri("mongodb://app:hunter2@db:27017/x?rs=1"), "mongodb://app:***@db:27017/x?rs=1");
        assert_eq!(redact_uri("sqlite://ottsonly.db"), "sqlite://ottsonly.db");
        assert_eq!(redact_uri("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(redact_uri("mongodb://app@db/x"), "mongodb://app@db/x");
        assert_eq!(
            redact_uri("mongodb+srv://app:p%40ss@cluster.example/x"),
            "mongodb+srv://app:***@cluster.example/x"
        );
        let seeds = redact_uri("mongodb://app:hunter2@h1:27017,h2:27017/x?replicaSet=rs");
        assert!(!seeds.contains("hunter2") && seeds.starts_with("mongodb://"), "{seeds}");
    }

    #[tokio::test]
    async fn unsupported_schemes_are_clear_errors() {
        // Nothing listens on port 9 of loopback: a clear connection error, password hidden.
        let url = "mongodb://u:pw@127.0.0.1:9/x?serverSelectionTimeoutMS=200&connectTimeoutMS=200";
        let err = format!("{:#}", open_store(url).await.err().unwrap());
        assert!(err.contains("MongoDB") && !err.contains("pw@"), "{err}");
        let err = open_store("postgres://localhost/x").await.err().unwrap().to_string();
        assert!(err.contains("unsupported"), "{err}");
        assert!(open_store("sqlite::memory:").await.is_ok());
    }
}
