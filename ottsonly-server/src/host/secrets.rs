//! The two secrets core needs (the JWT key and the credentials key): configured, or in dev
//! generated once and kept in the database so that restarts and CLI commands agree.

use super::settings::{Environment, Secret, Settings};
use anyhow::bail;
use base64::Engine;
use ottsonly_core::{CredentialCipher, Store};
use rand::Rng;
use std::sync::Arc;

/// Settings keys of the secrets generated in dev.
pub const JWT_SECRET_SETTING: &str = "server.jwt_secret";
pub const CREDENTIALS_KEY_SETTING: &str = "server.credentials_key";

/// The two secrets core needs, wherever they came from.
#[derive(Clone)]
pub struct Secrets {
    pub jwt_secret: Secret,
    pub credentials_key: Secret,
    /// Which of them are development values kept in the database (`jwt_secret`,
    /// `credentials_key`), for `GET /health`.
    pub dev_generated: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

/// Takes each secret from the settings; in dev, a missing one is generated once and kept in the
/// database's settings table so that restarts (and CLI commands on the same database) agree.
/// Production never falls back to the database: [`Settings::validate`] has refused by then, and
/// this refuses again in case a caller skipped it.
///
/// In production a configured secret that equals the development value stored in the database
/// is refused too: a deployment must not silently inherit a key that a dev run generated (and
/// that anyone with a copy of the database has).
pub async fn resolve_secrets(store: &Arc<dyn Store>, settings: &Settings) -> anyhow::Result<Secrets> {
    let mut dev_generated = Vec::new();
    let jwt_secret = match &settings.jwt_secret {
        Some(s) => {
            refuse_stored_in_production(store, settings.env, JWT_SECRET_SETTING, "OTTSONLY_JWT_SECRET", s)
                .await?;
            s.clone()
        }
        None => {
            dev_generated.push("jwt_secret".to_string());
            stored_secret(store, settings.env, JWT_SECRET_SETTING, "OTTSONLY_JWT_SECRET", || random_hex(48))
                .await?
        }
    };
    let credentials_key = match &settings.credentials_key {
        Some(s) => {
            let var = "OTTSONLY_CREDENTIALS_KEY";
            refuse_stored_in_production(store, settings.env, CREDENTIALS_KEY_SETTING, var, s).await?;
            s.clone()
        }
        None => {
            dev_generated.push("credentials_key".to_string());
            stored_secret(store, settings.env, CREDENTIALS_KEY_SETTING, "OTTSONLY_CREDENTIALS_KEY", || {
                base64::engine::general_purpose::STANDARD.encode(random_bytes::<32>())
            })
            .await?
        }
    };
    Ok(Secrets { jwt_secret, credentials_key, dev_generated })
}

async fn refuse_stored_in_production(
    store: &Arc<dyn Store>,
    env: Environment,
    key: &str,
    var: &str,
    configured: &Secret,
) -> anyhow::Result<()> {
    if env != Environment::Production {
        return Ok(());
    }
    let stored = store.reader().await?.get_setting(key).await?;
    if stored.is_some_and(|v| ottsonly_core::crypto::ct_eq(&v, configured.expose())) {
        bail!(
            "refusing to start in production: {var} equals the development value stored in the \
             database; configure a new secret"
        );
    }
    Ok(())
}

async fn stored_secret(
    store: &Arc<dyn Store>,
    env: Environment,
    key: &str,
    var: &str,
    generate: impl FnOnce() -> String,
) -> anyhow::Result<Secret> {
    if env == Environment::Production {
        bail!("{var} is required in production");
    }
    let existing = store.reader().await?.get_setting(key).await?;
    let value = match existing {
        Some(v) => {
            tracing::warn!("{var} is not set; using the development value stored in the database");
            v
        }
        None => {
            let mut tx = store.begin().await?;
            // If another process raced us, its value wins and both use it.
            let v = tx.put_setting_if_absent(key, &generate()).await?;
            tx.commit().await?;
            tracing::warn!("{var} is not set; generated a development value and stored it in the database");
            v
        }
    };
    Ok(Secret::new(value))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub fn cipher(secrets: &Secrets) -> anyhow::Result<CredentialCipher> {
    CredentialCipher::from_encoded(secrets.credentials_key.expose())
        .map_err(|e| anyhow::anyhow!("OTTSONLY_CREDENTIALS_KEY: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::settings::Sources;
    use crate::host::store::open_store;

    fn settings(env: &[(&str, &str)]) -> Settings {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::load(&Sources { config_file: None, env, working_dir: None }).expect("settings")
    }

    #[tokio::test]
    async fn dev_secrets_are_generated_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let s = settings(&[]);
        let first = resolve_secrets(&open_store(&url).await.expect("store"), &s).await.expect("secrets");
        let again = resolve_secrets(&open_store(&url).await.expect("store"), &s).await.expect("secrets");
        assert_eq!(first.jwt_secret, again.jwt_secret);
        assert_eq!(first.credentials_key, again.credentials_key);
        assert!(first.jwt_secret.expose().len() >= 32);
        assert!(cipher(&first).is_ok());
        assert!(!format!("{first:?}").contains(first.jwt_secret.expose()));
        // Configured values win over stored ones.
        let configured = settings(&[("OTTSONLY_JWT_SECRET", "configured-secret-configured-secret!!")]);
        let store = open_store(&url).await.expect("store");
        let s = resolve_secrets(&store, &configured).await.expect("secrets");
        assert_eq!(s.jwt_secret.expose(), "configured-secret-configured-secret!!");
    }

    #[tokio::test]
    async fn dev_secrets_are_labelled_and_production_refuses_to_inherit_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let store = open_store(&url).await.expect("store");
        let dev = resolve_secrets(&store, &settings(&[])).await.expect("secrets");
        assert_eq!(dev.dev_generated, ["jwt_secret", "credentials_key"]);
        let key = "0".repeat(64);
        let half = settings(&[("OTTSONLY_CREDENTIALS_KEY", &key)]);
        assert_eq!(resolve_secrets(&store, &half).await.expect("secrets").dev_generated, ["jwt_secret"]);
        // Production configured with the very values a dev run stored: refused.
        let jwt = dev.jwt_secret.expose().to_string();
        let inherited = settings(&[
            ("OTTSONLY_ENV", "production"),
            ("OTTSONLY_JWT_SECRET", &jwt),
            ("OTTSONLY_CREDENTIALS_KEY", &key),
        ]);
        let err = resolve_secrets(&store, &inherited).await.expect_err("inherited").to_string();
        assert!(err.contains("OTTSONLY_JWT_SECRET") && err.contains("development value"), "{err}");
        let creds = dev.credentials_key.expose().to_string();
        let inherited = settings(&[
            ("OTTSONLY_ENV", "production"),
            ("OTTSONLY_JWT_SECRET", "a-fresh-production-secret-of-enough-bytes"),
            ("OTTSONLY_CREDENTIALS_KEY", &creds),
        ]);
        let err = resolve_secrets(&store, &inherited).await.expect_err("inherited").to_string();
        assert!(err.contains("OTTSONLY_CREDENTIALS_KEY"), "{err}");
        let fresh = settings(&[
            ("OTTSONLY_ENV", "production"),
            ("OTTSONLY_JWT_SECRET", "a-fresh-production-secret-of-enough-bytes"),
            ("OTTSONLY_CREDENTIALS_KEY", &key),
        ]);
        assert!(resolve_secrets(&store, &fresh).await.expect("fresh").dev_generated.is_empty());
    }

    #[tokio::test]
    async fn production_never_generates_secrets() {
        let store = open_store("sqlite::memory:").await.expect("store");
        let s = settings(&[("OTTSONLY_ENV", "production")]);
        let err = resolve_secrets(&store, &s).await.expect_err("must refuse").to_string();
        assert!(err.contains("OTTSONLY_JWT_SECRET"), "{err}");
    }
}
