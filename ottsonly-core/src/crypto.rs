//! Secrets at rest: credential sealing (AES-256-GCM), OTP MACs, refresh-token hashes.

use crate::clock::Entropy;
use crate::error::Error;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Version byte in front of every sealed blob, so keys or formats can rotate later.
const SEAL_V1: u8 = 1;
const NONCE_LEN: usize = 12;

/// The plaintext of an account credential. `Debug` never prints the password or PIN.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    pub profile: Option<String>,
    pub pin: Option<String>,
    pub notes: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("profile", &self.profile)
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Encrypts credentials with AES-256-GCM under a key from configuration. The id of the
/// credential record is the associated data, so a sealed blob cannot be moved to another record.
#[derive(Clone)]
pub struct CredentialCipher {
    cipher: Aes256Gcm,
}

impl fmt::Debug for CredentialCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialCipher(<key redacted>)")
    }
}

impl CredentialCipher {
    pub fn new(key: &[u8; 32]) -> Self {
        CredentialCipher { cipher: Aes256Gcm::new(key.into()) }
    }

    /// Parses a key given as 32 bytes in standard base64 or as 64 hex characters.
    pub fn from_encoded(encoded: &str) -> Result<Self, Error> {
        let s = encoded.trim();
        let bytes = if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(s).ok()
        } else {
            base64::engine::general_purpose::STANDARD.decode(s).ok()
        };
        let key: [u8; 32] = bytes
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::validation("credentials_key", "must be 32 bytes, base64 or hex encoded"))?;
        Ok(Self::new(&key))
    }

    pub fn seal(
        &self,
        entropy: &dyn Entropy,
        record_id: &str,
        creds: &Credentials,
    ) -> Result<Vec<u8>, Error> {
        let plaintext = serde_json::to_vec(creds).map_err(|e| Error::Internal(e.to_string()))?;
        let mut nonce = [0u8; NONCE_LEN];
        entropy.fill(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: &plaintext, aad: record_id.as_bytes() })
            .map_err(|_| Error::Internal("credential encryption failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(SEAL_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, record_id: &str, sealed: &[u8]) -> Result<Credentials, Error> {
        let bad = || Error::Internal("stored credential cannot be decrypted (wrong key or tampered)".into());
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != SEAL_V1 {
            return Err(bad());
        }
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        let plaintext = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: record_id.as_bytes() })
            .map_err(|_| bad())?;
        serde_json::from_slice(&plaintext).map_err(|_| bad())
    }
}

/// HMAC-SHA256 as lowercase hex.
pub fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a hex HMAC-SHA256 in constant time.
pub fn verify_hmac_hex(key: &[u8], parts: &[&[u8]], expected_hex: &str) -> bool {
    let Ok(expected) = hex::decode(expected_hex.trim()) else { return false };
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(&expected).is_ok()
}

/// Constant-time equality of two strings' bytes.
pub fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// SHA-256 as hex: enough for high-entropy random tokens (no dictionary to attack).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A random URL-safe token of `bytes` bytes of entropy.
pub fn random_token(entropy: &dyn Entropy, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    entropy.fill(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// A uniformly random decimal code of `digits` digits (rejection sampling, no modulo bias).
pub fn random_digits(entropy: &dyn Entropy, digits: u32) -> String {
    let modulus = 10u64.pow(digits);
    let limit = u64::MAX - (u64::MAX % modulus);
    loop {
        let mut b = [0u8; 8];
        entropy.fill(&mut b);
        let v = u64::from_le_bytes(b);
        if v < limit {
            return format!("{:0width$}", v % modulus, width = digits as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsEntropy;

    fn creds() -> Credentials {
        Credentials {
            username: "a@b.c".into(),
            password: "hunter2".into(),
            profile: Some("Kids".into()),
            pin: Some("1234".into()),
            notes: None,
        }
    }

    #[test]
    fn seal_round_trips_and_binds_record_id() {
        let c = CredentialCipher::new(&[7u8; 32]);
        let sealed = c.seal(&OsEntropy, "cred-1", &creds()).unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"), "plaintext leaked");
        assert_eq!(c.open("cred-1", &sealed).unwrap(), creds());
        assert!(c.open("cred-2", &sealed).is_err(), "blob moved to another record must fail");
        let other = CredentialCipher::new(&[8u8; 32]);
        assert!(other.open("cred-1", &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(c.open("cred-1", &tampered).is_err());
    }

    #[test]
    fn debug_redacts_secrets() {
        let s = format!("{:?}", creds());
        assert!(!s.contains("hunter2") && !s.contains("1234"), "{s}");
    }

    #[test]
    fn key_parsing() {
        assert!(CredentialCipher::from_encoded(&"ab".repeat(32)).is_ok());
        assert!(CredentialCipher::from_encoded("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").is_ok());
        assert!(CredentialCipher::from_encoded("short").is_err());
    }

    #[test]
    fn digits_have_fixed_width_and_hmac_verifies() {
        for _ in 0..200 {
            let d = random_digits(&OsEntropy, 6);
            assert_eq!(d.len(), 6);
            assert!(d.bytes().all(|b| b.is_ascii_digit()));
        }
        let mac = hmac_hex(b"k", &[b"a", b"|", b"b"]);
        assert!(verify_hmac_hex(b"k", &[b"a|b"], &mac));
        assert!(!verify_hmac_hex(b"k", &[b"a|c"], &mac));
        assert!(!verify_hmac_hex(b"k", &[b"a|b"], "zz"));
    }
}
