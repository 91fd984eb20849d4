//! TOTP (RFC 6238): HMAC-SHA-1, 6 digits, 30-second steps, one step of
//! clock skew either way. The arithmetic is `totp-rs`'s; what is ours is
//! the replay rule (a step, once accepted, and every earlier one, is dead
//! for that user) and keeping the secret out of every `Debug`.

use secrecy::SecretString;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
const DIGITS: u8 = 6;
const SKEW: u16 = 1;
/// RFC 4226 asks for at least 128 bits and recommends 160.
pub const MIN_SECRET_BYTES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("a TOTP secret needs at least {MIN_SECRET_BYTES} bytes")]
    TooShort,
    #[error("not a base32 TOTP secret")]
    NotBase32,
}

/// A user's shared TOTP secret. Zeroized on drop (by `totp-rs`).
#[derive(Clone)]
pub struct TotpSecret {
    totp: Totp,
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, TotpError> {
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(TotpError::TooShort);
        }
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_skew(SKEW)
            .with_step_duration(STEP_SECS as u64)
            .with_secret(Secret::from(bytes))
            .build()
            .map_err(|_| TotpError::TooShort)?;
        Ok(Self { totp })
    }

    /// The form authenticator apps show and accept (RFC 4648 base32,
    /// padding and case ignored).
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        let cleaned: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let secret = Secret::try_from_base32(cleaned).map_err(|_| TotpError::NotBase32)?;
        Self::from_bytes(secret.as_ref().to_vec())
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.totp.secret().as_ref()
    }

    pub fn base32(&self) -> SecretString {
        SecretString::from(self.totp.secret().to_base32())
    }

    /// The `otpauth://totp/...` URI enrolment QR codes carry. `:` is the
    /// label separator in that format, so it is replaced in both names.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> SecretString {
        let clean = |s: &str| s.replace(':', "-");
        let account = match clean(account) {
            a if a.is_empty() => "user".to_owned(),
            a => a,
        };
        let issuer = clean(issuer);
        let issuer = (!issuer.is_empty()).then_some(issuer);
        let uri = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_skew(SKEW)
            .with_step_duration(STEP_SECS as u64)
            .with_secret(Secret::from(self.as_bytes()))
            .with_account_name(account)
            .with_issuer(issuer)
            .build()
            .and_then(|t| t.to_url())
            .unwrap_or_default();
        SecretString::from(uri)
    }

    /// The time step a Unix time falls in.
    pub fn step_of(unix_secs: i64) -> i64 {
        unix_secs.div_euclid(STEP_SECS)
    }

    /// The code for a Unix time (for tests and clients; the server only
    /// verifies).
    pub fn code_at(&self, unix_secs: i64) -> String {
        self.totp
            .generate(u64::try_from(unix_secs).unwrap_or(0))
            .to_string()
    }

    /// Checks a code against the steps around `unix_secs`. Returns the
    /// matched step, which the caller stores: a code whose step is not
    /// after `last_used_step` is a replay and is refused. Comparison is
    /// constant-time (`totp-rs` tokens).
    pub fn verify(&self, code: &str, unix_secs: i64, last_used_step: Option<i64>) -> Option<i64> {
        let code = code.trim();
        if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if unix_secs < 0 {
            return None;
        }
        let origin = Self::step_of(unix_secs);
        // Every step in the window is computed, so timing does not tell
        // which one matched.
        let mut matched = None;
        for offset in -i64::from(SKEW)..=i64::from(SKEW) {
            let step = origin + offset;
            let Ok(at) = u64::try_from(step * STEP_SECS) else {
                continue;
            };
            let candidate = self.totp.generate(at).to_string();
            if constant_eq(candidate.as_bytes(), code.as_bytes()) && matched.is_none() {
                matched = Some(step);
            }
        }
        let step = matched?;
        match last_used_step {
            Some(last) if step <= last => None,
            _ => Some(step),
        }
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1 seed "12345678901234567890"; the RFC
    // prints 8 digits, a 6-digit code is their last six.
    const SEED: &[u8] = b"12345678901234567890";
    const VECTORS: &[(i64, &str)] = &[
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    fn secret() -> TotpSecret {
        TotpSecret::from_bytes(SEED.to_vec()).unwrap()
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        let s = secret();
        for (t, eight) in VECTORS {
            assert_eq!(s.code_at(*t), eight[2..], "t={t}");
            assert_eq!(s.verify(&eight[2..], *t, None), Some(t / 30), "t={t}");
        }
    }

    #[test]
    fn one_step_of_skew_either_way_and_no_more() {
        let s = secret();
        let t = 1_234_567_890;
        assert!(s.verify(&s.code_at(t - 30), t, None).is_some());
        assert!(s.verify(&s.code_at(t + 30), t, None).is_some());
        assert!(s.verify(&s.code_at(t - 60), t, None).is_none());
        assert!(s.verify(&s.code_at(t + 60), t, None).is_none());
    }

    #[test]
    fn a_used_step_and_earlier_ones_are_replays() {
        let s = secret();
        let t = 1_234_567_890;
        let step = s.verify(&s.code_at(t), t, None).unwrap();
        assert_eq!(s.verify(&s.code_at(t), t, Some(step)), None);
        assert_eq!(s.verify(&s.code_at(t - 30), t, Some(step)), None);
        assert_eq!(s.verify(&s.code_at(t + 30), t, Some(step)), Some(step + 1));
    }

    #[test]
    fn malformed_codes_are_refused() {
        let s = secret();
        let t = 1_234_567_890;
        let good = s.code_at(t);
        for bad in ["", "12345", "1234567", "+12345", "12 345", "abcdef"] {
            assert_eq!(s.verify(bad, t, None), None, "{bad}");
        }
        assert!(s.verify(&format!(" {good} "), t, None).is_some());
    }

    #[test]
    fn short_secrets_and_bad_base32_are_refused() {
        assert_eq!(
            TotpSecret::from_bytes(vec![0; 19]).unwrap_err(),
            TotpError::TooShort
        );
        assert_eq!(
            TotpSecret::from_base32("not base32!").unwrap_err(),
            TotpError::NotBase32
        );
    }

    #[test]
    fn base32_round_trips_and_uri_names_the_account() {
        use secrecy::ExposeSecret;
        let s = secret();
        let b32 = s.base32();
        let again = TotpSecret::from_base32(&b32.expose_secret().to_lowercase()).unwrap();
        assert_eq!(again.as_bytes(), SEED);
        let uri = s.otpauth_uri("isms: acme", "a@b.example");
        let uri = uri.expose_secret();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(uri.contains(b32.expose_secret()), "{uri}");
        assert!(uri.contains("issuer="), "{uri}");
    }

    #[test]
    fn debug_does_not_leak() {
        let s = secret();
        let shown = format!("{s:?}");
        assert!(!shown.contains("GEZDGNBV"), "{shown}");
        assert_eq!(shown, "TotpSecret(<redacted>)");
    }
}
