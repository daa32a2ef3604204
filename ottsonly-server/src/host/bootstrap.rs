//! Turning [`Settings`] into a wired [`Ottsonly`]: secrets (configured, or generated once and
//! kept in the database in dev), the core configuration and the ports.

use crate::config::{Environment, Secret, Settings};
use anyhow::{Context, bail};
use base64::Engine;
use ottsonly_core::auth::OtpSender;
use ottsonly_core::payments::PaymentGateway;
use ottsonly_core::{CoreConfig, CredentialCipher, Ottsonly, PhoneNumber, Store};
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
pub async fn resolve_secrets(store: &Arc<dyn Store>, settings: &Settings) -> anyhow::Result<Secrets> {
    let jwt_secret = match &settings.jwt_secret {
        Some(s) => s.clone(),
        None => {
            stored_secret(store, settings.env, JWT_SECRET_SETTING, "OTTSONLY_JWT_SECRET", || random_hex(48))
                .await?
        }
    };
    let credentials_key = match &settings.credentials_key {
        Some(s) => s.clone(),
        None => {
            stored_secret(store, settings.env, CREDENTIALS_KEY_SETTING, "OTTSONLY_CREDENTIALS_KEY", || {
                base64::engine::general_purpose::STANDARD.encode(random_bytes::<32>())
            })
            .await?
        }
    };
    Ok(Secrets { jwt_secret, credentials_key })
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

/// Core configuration from the settings and secrets.
pub fn core_config(settings: &Settings, secrets: &Secrets) -> anyhow::Result<CoreConfig> {
    let mut config = CoreConfig::new(secrets.jwt_secret.expose().as_bytes().to_vec())
        .map_err(|e| anyhow::anyhow!("OTTSONLY_JWT_SECRET: {e}"))?;
    if let Some(spec) = &settings.test_phones {
        config.auth.test_phones = config
            .auth
            .parse_test_phones(spec.expose())
            .map_err(|e| anyhow::anyhow!("OTTSONLY_TEST_PHONES: {e}"))?;
        if settings.env == Environment::Production && !config.auth.test_phones.is_empty() {
            let phones: Vec<String> = config.auth.test_phones.keys().map(PhoneNumber::masked).collect();
            tracing::warn!(
                ?phones,
                "OTTSONLY_TEST_PHONES is set in production: these numbers log in with a fixed code"
            );
        }
    }
    Ok(config)
}

pub fn cipher(secrets: &Secrets) -> anyhow::Result<CredentialCipher> {
    CredentialCipher::from_encoded(secrets.credentials_key.expose())
        .map_err(|e| anyhow::anyhow!("OTTSONLY_CREDENTIALS_KEY: {e}"))
}

/// The ports core talks to. `None` gateway means payments answer `payments_not_configured`.
pub struct CoreParts {
    pub config: CoreConfig,
    pub cipher: CredentialCipher,
    pub gateway: Option<Arc<dyn PaymentGateway>>,
    pub otp_sender: Arc<dyn OtpSender>,
}

/// Wires core. The gateway and OTP sender are injectable so tests can pass core's fakes.
pub fn build_core(store: Arc<dyn Store>, parts: CoreParts) -> anyhow::Result<Ottsonly> {
    let mut b =
        Ottsonly::builder(store, parts.config).credential_cipher(parts.cipher).otp_sender(parts.otp_sender);
    if let Some(g) = parts.gateway {
        b = b.payment_gateway(g);
    }
    b.build().map_err(|e| anyhow::anyhow!("cannot start core: {e}"))
}

/// The Razorpay client when its keys are set; `None` leaves payments answering
/// `payments_not_configured` (allowed in dev only: [`Settings::validate`] refuses production).
pub fn payment_gateway(settings: &Settings) -> anyhow::Result<Option<Arc<dyn PaymentGateway>>> {
    let (Some(key_id), Some(key_secret)) = (&settings.razorpay_key_id, &settings.razorpay_key_secret) else {
        return Ok(None);
    };
    let config = crate::razorpay::RazorpayConfig {
        key_id: key_id.clone(),
        key_secret: key_secret.expose().to_string(),
        api_base: settings
            .razorpay_api_base
            .clone()
            .unwrap_or_else(|| crate::razorpay::DEFAULT_API_BASE.into()),
        timeout: std::time::Duration::from_secs(10),
    };
    let client =
        crate::razorpay::RazorpayClient::new(config).map_err(|e| anyhow::anyhow!("razorpay: {e}"))?;
    Ok(Some(Arc::new(client)))
}

/// Opens everything a command needs from the settings: store, secrets, core.
pub async fn open_core(settings: &Settings) -> anyhow::Result<Ottsonly> {
    let store = crate::store::open_store(settings.database_url.expose()).await?;
    let secrets = resolve_secrets(&store, settings).await?;
    let config = core_config(settings, &secrets)?;
    // OTTSONLY_SMS_PROVIDER: the log sender in dev, a real provider in production (see `sms`).
    let otp_sender = crate::sms::otp_sender(settings)?;
    let gateway = payment_gateway(settings)?;
    build_core(store, CoreParts { config, cipher: cipher(&secrets)?, gateway, otp_sender })
        .context("cannot wire the application")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Sources;

    fn settings(env: &[(&str, &str)]) -> Settings {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::load(&Sources { config_file: None, env, working_dir: None }).expect("settings")
    }

    #[tokio::test]
    async fn dev_secrets_are_generated_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let s = settings(&[]);
        let first = resolve_secrets(&crate::store::open_store(&url).await.expect("store"), &s)
            .await
            .expect("secrets");
        let again = resolve_secrets(&crate::store::open_store(&url).await.expect("store"), &s)
            .await
            .expect("secrets");
        assert_eq!(first.jwt_secret, again.jwt_secret);
        assert_eq!(first.credentials_key, again.credentials_key);
        assert!(first.jwt_secret.expose().len() >= 32);
        assert!(cipher(&first).is_ok());
        assert!(!format!("{first:?}").contains(first.jwt_secret.expose()));
        // Configured values win over stored ones.
        let configured = settings(&[("OTTSONLY_JWT_SECRET", "configured-secret-configured-secret!!")]);
        let store = crate::store::open_store(&url).await.expect("store");
        let s = resolve_secrets(&store, &configured).await.expect("secrets");
        assert_eq!(s.jwt_secret.expose(), "configured-secret-configured-secret!!");
    }

    #[tokio::test]
    async fn production_never_generates_secrets() {
        let store = crate::store::open_store("sqlite::memory:").await.expect("store");
        let s = settings(&[("OTTSONLY_ENV", "production")]);
        let err = resolve_secrets(&store, &s).await.expect_err("must refuse").to_string();
        assert!(err.contains("OTTSONLY_JWT_SECRET"), "{err}");
    }

    #[test]
    fn bad_secrets_and_test_phones_are_clear_errors() {
        let secrets = Secrets { jwt_secret: Secret::new("short"), credentials_key: Secret::new("nope") };
        let err = core_config(&settings(&[]), &secrets).expect_err("short secret").to_string();
        assert!(err.contains("OTTSONLY_JWT_SECRET"), "{err}");
        assert!(cipher(&secrets).expect_err("bad key").to_string().contains("OTTSONLY_CREDENTIALS_KEY"));
        let ok =
            Secrets { jwt_secret: Secret::new("x".repeat(40)), credentials_key: Secret::new("0".repeat(64)) };
        let bad_phones = settings(&[("OTTSONLY_TEST_PHONES", "+919999900001")]);
        let err = core_config(&bad_phones, &ok).expect_err("bad phones").to_string();
        assert!(err.contains("OTTSONLY_TEST_PHONES"), "{err}");
        let phones = settings(&[("OTTSONLY_TEST_PHONES", "+919999900001:123456, 9999900002:654321")]);
        assert_eq!(core_config(&phones, &ok).expect("config").auth.test_phones.len(), 2);
    }
}
