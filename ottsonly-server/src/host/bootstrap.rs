//! Turning [`Settings`] into a wired [`Ottsonly`]: the store, the secrets ([`super::secrets`]),
//! the core configuration and the ports (the adapters).

use super::secrets::{Secrets, cipher, resolve_secrets};
use super::settings::{Environment, Settings};
use crate::adapters::razorpay::RazorpayClient;
use crate::adapters::sms;
use anyhow::Context;
use ottsonly_core::auth::OtpSender;
use ottsonly_core::payments::PaymentGateway;
use ottsonly_core::{CoreConfig, CredentialCipher, Ottsonly, PhoneNumber, Store};
use std::sync::Arc;

/// Core configuration from the settings and secrets.
pub fn core_config(settings: &Settings, secrets: &Secrets) -> anyhow::Result<CoreConfig> {
    let mut config = CoreConfig::new(secrets.jwt_secret.expose().as_bytes().to_vec())
        .map_err(|e| anyhow::anyhow!("OTTSONLY_JWT_SECRET: {e}"))?;
    config.wallet.capture = settings.razorpay.capture.into();
    config.wallet.reconcile_batch = settings.razorpay_reconcile_batch.max(1);
    if let Some(spec) = &settings.test_phones {
        config.auth.test_phones = config
            .auth
            .parse_test_phones(spec.expose())
            .map_err(|e| anyhow::anyhow!("OTTSONLY_TEST_PHONES: {e}"))?;
        if settings.env == Environment::Production && !config.auth.test_phones.is_empty() {
            // `Settings::validate` refuses this too; a caller that skipped it still cannot.
            let phones: Vec<String> = config.auth.test_phones.keys().map(PhoneNumber::masked).collect();
            anyhow::bail!(
                "OTTSONLY_TEST_PHONES must not be set in production (these numbers log in with a fixed code: {})",
                phones.join(", ")
            );
        }
    }
    config.auth.otp_countries = settings.otp_countries.clone();
    Ok(config)
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
    let Some(config) = settings.razorpay.client_config() else { return Ok(None) };
    let client = RazorpayClient::new(config).map_err(|e| anyhow::anyhow!("razorpay: {e}"))?;
    Ok(Some(Arc::new(client)))
}

/// Opens everything a command needs from the settings: store, secrets, core.
pub async fn open_core(settings: &Settings) -> anyhow::Result<Ottsonly> {
    Ok(open_core_reporting(settings).await?.0)
}

/// [`open_core`], and which secrets are development values kept in the database.
pub async fn open_core_reporting(settings: &Settings) -> anyhow::Result<(Ottsonly, Vec<String>)> {
    let store = super::store::open_store(settings.database_url.expose()).await?;
    let secrets = resolve_secrets(&store, settings).await?;
    let config = core_config(settings, &secrets)?;
    // OTTSONLY_SMS_PROVIDER: the log sender in dev, a real provider in production (see `sms`).
    let otp_sender = sms::otp_sender(&settings.sms, settings.env)?;
    let gateway = payment_gateway(settings)?;
    let app = build_core(store, CoreParts { config, cipher: cipher(&secrets)?, gateway, otp_sender })
        .context("cannot wire the application")?;
    Ok((app, secrets.dev_generated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::settings::{Secret, Sources};

    fn settings(env: &[(&str, &str)]) -> Settings {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::load(&Sources { config_file: None, env, working_dir: None }).expect("settings")
    }

    #[test]
    fn bad_secrets_and_test_phones_are_clear_errors() {
        let secrets = Secrets {
            jwt_secret: Secret::new("short"),
            credentials_key: Secret::new("nope"),
            dev_generated: Vec::new(),
        };
        let err = core_config(&settings(&[]), &secrets).expect_err("short secret").to_string();
        assert!(err.contains("OTTSONLY_JWT_SECRET"), "{err}");
        assert!(cipher(&secrets).expect_err("bad key").to_string().contains("OTTSONLY_CREDENTIALS_KEY"));
        let ok = Secrets {
            jwt_secret: Secret::new("x".repeat(40)),
            credentials_key: Secret::new("0".repeat(64)),
            dev_generated: Vec::new(),
        };
        let bad_phones = settings(&[("OTTSONLY_TEST_PHONES", "+919999900001")]);
        let err = core_config(&bad_phones, &ok).expect_err("bad phones").to_string();
        assert!(err.contains("OTTSONLY_TEST_PHONES"), "{err}");
        let phones = settings(&[("OTTSONLY_TEST_PHONES", "+919999900001:123456, 9999900002:654321")]);
        assert_eq!(core_config(&phones, &ok).expect("config").auth.test_phones.len(), 2);
    }
}
