#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Access-token signing and verification against every forgery the
//! identity issue lists.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, Mac};
use isms_domain::auth::{AccessClaims, SigningKeyRecord};
use isms_domain::ports::{AccessTokenCodec, RepoError, SigningKeyRepository, TokenError};
use isms_domain::time::{Timestamp, now};
use isms_domain::{Role, SessionId, TenantId, UserId};
use isms_infra::{JwtSettings, KeyRing, MasterKey};

#[derive(Default)]
struct MemKeys(Mutex<Vec<SigningKeyRecord>>);

#[async_trait]
impl SigningKeyRepository for MemKeys {
    async fn insert(
        &self,
        key: &SigningKeyRecord,
        _audit: &[isms_domain::audit::AuditRecord],
    ) -> Result<(), RepoError> {
        self.0.lock().unwrap().push(key.clone());
        Ok(())
    }
    async fn list_verifying(&self, now: Timestamp) -> Result<Vec<SigningKeyRecord>, RepoError> {
        let mut v: Vec<_> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|k| k.verifies_at(now))
            .cloned()
            .collect();
        v.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.kid.cmp(&a.kid)));
        Ok(v)
    }
    async fn retire_others(
        &self,
        keep: &str,
        at: Timestamp,
        until: Timestamp,
    ) -> Result<(), RepoError> {
        for k in self.0.lock().unwrap().iter_mut() {
            if k.kid != keep && k.retired_at.is_none() {
                k.retired_at = Some(at);
                k.verify_until = Some(until);
            }
        }
        Ok(())
    }
}

fn settings() -> JwtSettings {
    JwtSettings {
        issuer: "isms".into(),
        audience: "isms-api".into(),
        access_ttl: Duration::from_secs(1800),
        leeway: Duration::from_secs(60),
    }
}

async fn ring(repo: Arc<MemKeys>) -> KeyRing {
    KeyRing::open(
        settings(),
        repo,
        Arc::new(MasterKey::from_bytes(&[9u8; 32]).unwrap()),
    )
    .await
    .unwrap()
}

fn claims(iat: i64) -> AccessClaims {
    AccessClaims {
        iss: "isms".into(),
        aud: "isms-api".into(),
        sub: UserId::new(),
        tid: TenantId::new(),
        role: Role::Viewer,
        sid: SessionId::new(),
        jti: uuid::Uuid::now_v7(),
        iat,
        nbf: iat,
        exp: iat + 1800,
        amr: vec!["pwd".into()],
    }
}

fn reassemble(header: &serde_json::Value, payload: &serde_json::Value, sig: &str) -> String {
    format!(
        "{}.{}.{}",
        B64URL.encode(serde_json::to_vec(header).unwrap()),
        B64URL.encode(serde_json::to_vec(payload).unwrap()),
        sig
    )
}

fn parts(token: &str) -> (serde_json::Value, serde_json::Value, String) {
    let v: Vec<&str> = token.split('.').collect();
    (
        serde_json::from_slice(&B64URL.decode(v[0]).unwrap()).unwrap(),
        serde_json::from_slice(&B64URL.decode(v[1]).unwrap()).unwrap(),
        v[2].to_owned(),
    )
}

#[tokio::test]
async fn round_trip_and_claim_checks() {
    let ring = ring(Arc::default()).await;
    let t = now();
    let c = claims(t.timestamp());
    let token = ring.sign(&c).unwrap();
    assert_eq!(ring.verify(&token, t).await.unwrap(), c);
    let (header, _, _) = parts(&token);
    assert_eq!(header["alg"], "EdDSA");
    assert!(header["kid"].is_string());

    // Expiry and not-before, with 60 s leeway at most.
    let late = t + Duration::from_secs(1800 + 61);
    assert_eq!(ring.verify(&token, late).await, Err(TokenError::Expired));
    assert!(
        ring.verify(&token, t + Duration::from_secs(1800 + 30))
            .await
            .is_ok()
    );
    let future = ring.sign(&claims(t.timestamp() + 120)).unwrap();
    assert_eq!(ring.verify(&future, t).await, Err(TokenError::NotYetValid));

    let mut wrong = claims(t.timestamp());
    wrong.aud = "other".into();
    assert_eq!(
        ring.verify(&ring.sign(&wrong).unwrap(), t).await,
        Err(TokenError::Audience)
    );
    let mut wrong = claims(t.timestamp());
    wrong.iss = "evil".into();
    assert_eq!(
        ring.verify(&ring.sign(&wrong).unwrap(), t).await,
        Err(TokenError::Issuer)
    );
}

#[tokio::test]
async fn forgeries_are_refused() {
    let repo = Arc::new(MemKeys::default());
    let ring = ring(repo.clone()).await;
    let t = now();
    let token = ring.sign(&claims(t.timestamp())).unwrap();
    let (header, payload, sig) = parts(&token);

    // alg: none, with and without a signature.
    let mut none = header.clone();
    none["alg"] = "none".into();
    assert_eq!(
        ring.verify(&reassemble(&none, &payload, ""), t).await,
        Err(TokenError::Algorithm)
    );
    assert_eq!(
        ring.verify(&reassemble(&none, &payload, &sig), t).await,
        Err(TokenError::Algorithm)
    );

    // HS256 keyed with the public key (algorithm confusion).
    let public = repo.0.lock().unwrap()[0].public_key.clone();
    let mut hs = header.clone();
    hs["alg"] = "HS256".into();
    let input = format!(
        "{}.{}",
        B64URL.encode(serde_json::to_vec(&hs).unwrap()),
        B64URL.encode(serde_json::to_vec(&payload).unwrap())
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&public).unwrap();
    mac.update(input.as_bytes());
    let forged = format!("{input}.{}", B64URL.encode(mac.finalize().into_bytes()));
    assert_eq!(ring.verify(&forged, t).await, Err(TokenError::Algorithm));

    // Unknown kid.
    let mut unknown = header.clone();
    unknown["kid"] = "not-a-key".into();
    assert_eq!(
        ring.verify(&reassemble(&unknown, &payload, &sig), t).await,
        Err(TokenError::UnknownKey)
    );

    // Tampered payload (role raised) keeps the old signature.
    let mut raised = payload.clone();
    raised["role"] = "admin".into();
    assert_eq!(
        ring.verify(&reassemble(&header, &raised, &sig), t).await,
        Err(TokenError::Signature)
    );

    // Extra header parameters (e.g. an embedded key) are refused.
    let mut jwk = header.clone();
    jwk["jwk"] = serde_json::json!({"kty": "OKP"});
    assert_eq!(
        ring.verify(&reassemble(&jwk, &payload, &sig), t).await,
        Err(TokenError::Malformed)
    );

    // Structural garbage.
    for bad in ["", "a.b", "a.b.c.d", "!!.??.**", &format!("{token}.")] {
        assert!(ring.verify(bad, t).await.is_err(), "{bad:?} accepted");
    }

    // A token from a different key ring (another server's key) with the same kid shape.
    let other = ring_with_other_master().await;
    let foreign = other.sign(&claims(t.timestamp())).unwrap();
    assert!(ring.verify(&foreign, t).await.is_err());
}

async fn ring_with_other_master() -> KeyRing {
    KeyRing::open(
        settings(),
        Arc::new(MemKeys::default()),
        Arc::new(MasterKey::from_bytes(&[1u8; 32]).unwrap()),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_until_they_expire() {
    let repo = Arc::new(MemKeys::default());
    let ring = ring(repo.clone()).await;
    let t = now();
    let old = ring.sign(&claims(t.timestamp())).unwrap();
    let old_kid = parts(&old).0["kid"].as_str().unwrap().to_owned();

    let new_kid = ring.rotate(&[]).await.unwrap();
    assert_ne!(new_kid, old_kid);
    let new = ring.sign(&claims(t.timestamp())).unwrap();
    assert_eq!(parts(&new).0["kid"], new_kid.as_str());
    assert!(ring.verify(&old, t).await.is_ok());
    assert!(ring.verify(&new, t).await.is_ok());

    let kids: Vec<String> = ring.public_jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid));

    // Past the old key's window, its tokens no longer verify.
    let after = t + Duration::from_secs(1800 + 61);
    assert_eq!(ring.verify(&old, after).await, Err(TokenError::UnknownKey));

    // A second instance sharing the database picks up the rotation.
    let second = KeyRing::open(
        settings(),
        repo.clone(),
        Arc::new(MasterKey::from_bytes(&[9u8; 32]).unwrap()),
    )
    .await
    .unwrap();
    assert!(second.verify(&new, t).await.is_ok());
}

#[tokio::test]
async fn wrong_master_key_cannot_open_the_ring() {
    let repo = Arc::new(MemKeys::default());
    let _ = ring(repo.clone()).await;
    let wrong = KeyRing::open(
        settings(),
        repo,
        Arc::new(MasterKey::from_bytes(&[2u8; 32]).unwrap()),
    )
    .await;
    assert!(wrong.is_err());
}
