//! Access tokens: compact JWS (RFC 7515) signed with Ed25519 (`EdDSA`,
//! RFC 8037). Only this one algorithm exists here, so `alg: none`, HS/RS
//! confusion and algorithm downgrades have nothing to select; the header
//! may hold only `alg`, `typ` and `kid`, and unknown key ids are refused.
//! (General JWT crates were passed over: the pure-Rust ones pull the `rsa`
//! crate and its unfixed advisory into the tree for algorithms we refuse.)

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use isms_domain::auth::{AccessClaims, SigningKeyRecord, signing_key_aad};
use isms_domain::ports::{
    AccessTokenCodec, KeyWrapper, RepoError, SigningKeyRepository, TokenError,
};
use isms_domain::time::Timestamp;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    kid: String,
}

/// Token settings.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    /// Clock skew tolerated on `exp`, `nbf` and `iat` (at most 60 s).
    pub leeway: Duration,
}

struct KeySet {
    signer: Option<(String, SigningKey)>,
    verifiers: HashMap<String, (VerifyingKey, Option<Timestamp>)>,
    public: Vec<SigningKeyRecord>,
}

/// The server's signing keys: the newest unretired key signs; every key
/// still inside its verification window verifies and is published in the
/// JWKS. Reloaded from the database periodically and when a token names a
/// key this instance has not seen (another instance rotated).
pub struct KeyRing {
    settings: JwtSettings,
    repo: Arc<dyn SigningKeyRepository>,
    wrapper: Arc<dyn KeyWrapper>,
    set: RwLock<Arc<KeySet>>,
    last_reload: std::sync::Mutex<std::time::Instant>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("a stored signing key cannot be unwrapped with this master key")]
    Unwrap,
}

/// Minimum time between reloads triggered by unknown key ids, so forged
/// `kid`s cannot turn into a database load.
const RELOAD_BACKOFF: Duration = Duration::from_secs(5);

impl KeyRing {
    /// Loads the keys, creating the first signing key if there is none.
    pub async fn open(
        settings: JwtSettings,
        repo: Arc<dyn SigningKeyRepository>,
        wrapper: Arc<dyn KeyWrapper>,
    ) -> Result<Self, KeyRingError> {
        let ring = Self {
            settings,
            repo,
            wrapper,
            set: RwLock::new(Arc::new(KeySet {
                signer: None,
                verifiers: HashMap::new(),
                public: Vec::new(),
            })),
            last_reload: std::sync::Mutex::new(std::time::Instant::now()),
        };
        ring.reload().await?;
        if ring.current().signer.is_none() {
            ring.insert_new_key(&[]).await?;
            ring.reload().await?;
        }
        Ok(ring)
    }

    fn current(&self) -> Arc<KeySet> {
        match self.set.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    async fn insert_new_key(
        &self,
        audit: &[isms_domain::audit::AuditRecord],
    ) -> Result<String, KeyRingError> {
        let key = SigningKey::generate(&mut OsRng);
        let kid = uuid::Uuid::now_v7().to_string();
        let secret = Zeroizing::new(key.to_bytes());
        let wrapped = self
            .wrapper
            .wrap(secret.as_ref(), &signing_key_aad(&kid))
            .map_err(|_| KeyRingError::Unwrap)?;
        self.repo
            .insert(
                &SigningKeyRecord {
                    kid: kid.clone(),
                    public_key: key.verifying_key().to_bytes().to_vec(),
                    wrapped_private_key: wrapped,
                    created_at: isms_domain::time::now(),
                    retired_at: None,
                    verify_until: None,
                },
                audit,
            )
            .await?;
        Ok(kid)
    }

    /// Re-reads the keys from the database.
    pub async fn reload(&self) -> Result<(), KeyRingError> {
        let now = isms_domain::time::now();
        let records = self.repo.list_verifying(now).await?;
        let mut signer = None;
        let mut verifiers = HashMap::new();
        for r in &records {
            let Ok(bytes) = <[u8; 32]>::try_from(r.public_key.as_slice()) else {
                continue;
            };
            let Ok(vk) = VerifyingKey::from_bytes(&bytes) else {
                continue;
            };
            verifiers.insert(r.kid.clone(), (vk, r.verify_until));
            // Records come newest first: the first unretired one signs.
            if signer.is_none() && r.signs() {
                let secret = self
                    .wrapper
                    .unwrap(&r.wrapped_private_key, &signing_key_aad(&r.kid))
                    .map_err(|_| KeyRingError::Unwrap)?;
                let secret: [u8; 32] = secret
                    .as_slice()
                    .try_into()
                    .map_err(|_| KeyRingError::Unwrap)?;
                signer = Some((r.kid.clone(), SigningKey::from_bytes(&secret)));
            }
        }
        let set = Arc::new(KeySet {
            signer,
            verifiers,
            public: records,
        });
        match self.set.write() {
            Ok(mut g) => *g = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
        if let Ok(mut t) = self.last_reload.lock() {
            *t = std::time::Instant::now();
        }
        Ok(())
    }

    /// Starts signing with a new key. Tokens signed by the old keys stay
    /// valid until they expire: the old keys keep verifying (and stay in
    /// the JWKS) for the token lifetime plus leeway.
    /// Starts signing with a new key; `audit` is stored with it.
    pub async fn rotate(
        &self,
        audit: &[isms_domain::audit::AuditRecord],
    ) -> Result<String, KeyRingError> {
        let kid = self.insert_new_key(audit).await?;
        let now = isms_domain::time::now();
        let verify_until = now + self.settings.access_ttl + self.settings.leeway;
        self.repo.retire_others(&kid, now, verify_until).await?;
        self.reload().await?;
        Ok(kid)
    }

    /// The signing key in force: its id and when it was created (for key
    /// age reporting).
    pub fn signing_key_created(&self) -> Option<(String, Timestamp)> {
        let set = self.current();
        let (kid, _) = set.signer.as_ref()?;
        set.public
            .iter()
            .find(|r| &r.kid == kid)
            .map(|r| (r.kid.clone(), r.created_at))
    }

    /// The public keys as a JWK Set (RFC 7517, OKP keys per RFC 8037).
    pub fn public_jwks(&self) -> serde_json::Value {
        let now = isms_domain::time::now();
        let keys: Vec<serde_json::Value> = self
            .current()
            .public
            .iter()
            .filter(|r| r.verifies_at(now))
            .map(|r| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": B64URL.encode(&r.public_key),
                    "kid": r.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    fn reload_allowed(&self) -> bool {
        self.last_reload
            .lock()
            .map(|t| t.elapsed() >= RELOAD_BACKOFF)
            .unwrap_or(false)
    }

    fn verify_with(
        &self,
        set: &KeySet,
        token: &str,
        now: Timestamp,
    ) -> Result<AccessClaims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header_bytes = B64URL.decode(h).map_err(|_| TokenError::Malformed)?;
        let header: Header =
            serde_json::from_slice(&header_bytes).map_err(|_| TokenError::Malformed)?;
        if header.alg != "EdDSA" {
            return Err(TokenError::Algorithm);
        }
        if header
            .typ
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("JWT"))
        {
            return Err(TokenError::Malformed);
        }
        let (key, verify_until) = set
            .verifiers
            .get(&header.kid)
            .ok_or(TokenError::UnknownKey)?;
        if verify_until.is_some_and(|until| now >= until) {
            return Err(TokenError::UnknownKey);
        }
        let sig_bytes = B64URL.decode(s).map_err(|_| TokenError::Malformed)?;
        let signature = Signature::from_slice(&sig_bytes).map_err(|_| TokenError::Malformed)?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        key.verify_strict(signing_input.as_bytes(), &signature)
            .map_err(|_| TokenError::Signature)?;
        let payload = B64URL.decode(p).map_err(|_| TokenError::Malformed)?;
        let claims: AccessClaims =
            serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        self.check_claims(&claims, now)?;
        Ok(claims)
    }

    fn check_claims(&self, c: &AccessClaims, now: Timestamp) -> Result<(), TokenError> {
        let now = now.timestamp();
        let leeway = i64::try_from(self.settings.leeway.as_secs()).unwrap_or(60);
        if c.iss != self.settings.issuer {
            return Err(TokenError::Issuer);
        }
        if c.aud != self.settings.audience {
            return Err(TokenError::Audience);
        }
        if now >= c.exp.saturating_add(leeway) {
            return Err(TokenError::Expired);
        }
        if c.nbf > now.saturating_add(leeway) || c.iat > now.saturating_add(leeway) {
            return Err(TokenError::NotYetValid);
        }
        Ok(())
    }
}

#[async_trait]
impl AccessTokenCodec for KeyRing {
    fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        let set = self.current();
        let (kid, key) = set.signer.as_ref().ok_or(TokenError::NoSigningKey)?;
        let header = Header {
            alg: "EdDSA".into(),
            typ: Some("JWT".into()),
            kid: kid.clone(),
        };
        let h = B64URL.encode(serde_json::to_vec(&header).map_err(|_| TokenError::Malformed)?);
        let p = B64URL.encode(serde_json::to_vec(claims).map_err(|_| TokenError::Malformed)?);
        let input = format!("{h}.{p}");
        let sig = key.sign(input.as_bytes());
        Ok(format!("{input}.{}", B64URL.encode(sig.to_bytes())))
    }

    fn jwks(&self) -> serde_json::Value {
        self.public_jwks()
    }

    async fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenError> {
        match self.verify_with(&self.current(), token, now) {
            Err(TokenError::UnknownKey) if self.reload_allowed() => {
                if let Err(e) = self.reload().await {
                    tracing::warn!(error = %e, "auth.signing_keys_reload_failed");
                }
                self.verify_with(&self.current(), token, now)
            }
            other => other,
        }
    }
}
