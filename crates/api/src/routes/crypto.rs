//! The encryption service (`/crypto/encrypt`, `/crypto/decrypt`) and key
//! management (`/keys`).

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use isms_domain::crypto::envelope::{NONCE_LEN, TAG_LEN};
use isms_domain::crypto::{Classification, DataKeyMeta, Envelope, EnvelopeHeader, KeyRef};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Auth, Meta};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

const ALGORITHM: &str = "AES-256-GCM";

/// How `plaintext` is written in requests and responses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// UTF-8 text (the default).
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    /// Binary data as standard base64.
    Base64,
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        "The request failed validation.",
    )
    .with_details(serde_json::json!({ "fields": [{ "field": field, "code": "invalid", "message": message }] }))
}

fn classification(s: &str) -> Result<Classification, ApiError> {
    s.parse().map_err(|_| {
        invalid(
            "classification",
            "expected public, internal, confidential or restricted",
        )
    })
}

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct EncryptRequest {
    /// The data: UTF-8 text, or base64 with `"encoding": "base64"`.
    #[garde(length(max = 45_000))]
    pub plaintext: String,
    #[garde(skip)]
    #[serde(default)]
    pub encoding: Encoding,
    /// `public`, `internal`, `confidential` or `restricted`.
    #[garde(length(max = 16))]
    #[schema(example = "confidential")]
    pub classification: String,
    /// Bound to the ciphertext (e.g. a record id); decrypting needs the
    /// same context.
    #[garde(inner(length(max = 1024)))]
    pub context: Option<String>,
}

/// A sealed package. `encrypted_data` is the ciphertext, `iv` the 96-bit
/// nonce, `auth_tag` the 128-bit GCM tag (all base64); `envelope` is the
/// same in the compact self-describing form (`isms:v1:…`).
#[derive(Serialize, ToSchema)]
pub struct EncryptedPackage {
    pub encrypted_data: String,
    /// `tenant:<uuid>/<classification>/v<version>`.
    pub key_id: String,
    pub key_version: u32,
    pub iv: String,
    pub auth_tag: String,
    #[schema(example = "AES-256-GCM")]
    pub algorithm: String,
    pub encrypted_at: chrono::DateTime<chrono::Utc>,
    pub classification: String,
    pub envelope: Option<String>,
}

fn package(
    env: &Envelope,
    key: &DataKeyMeta,
    at: chrono::DateTime<chrono::Utc>,
) -> EncryptedPackage {
    let sealed = env.sealed();
    let (ct, tag) = sealed.split_at(sealed.len().saturating_sub(TAG_LEN));
    EncryptedPackage {
        encrypted_data: B64.encode(ct),
        key_id: key.id(),
        key_version: key.key.version,
        iv: B64.encode(env.nonce()),
        auth_tag: B64.encode(tag),
        algorithm: ALGORITHM.to_owned(),
        encrypted_at: at,
        classification: key.key.classification.as_str().to_owned(),
        envelope: Some(env.to_text()),
    }
}

/// Encrypt data under the tenant's key of a classification.
#[utoipa::path(
    post,
    path = "/api/v1/crypto/encrypt",
    operation_id = "encrypt",
    tag = "crypto",
    security(("bearer" = [])),
    request_body = EncryptRequest,
    responses(
        (status = 200, description = "Sealed", body = EncryptedPackage),
        (status = 422, description = "Bad classification, encoding or size", body = ErrorBody)
    )
)]
pub async fn encrypt(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(req): Json<EncryptRequest>,
) -> ApiResult<Json<EncryptedPackage>> {
    let class = classification(&req.classification)?;
    let data = match req.encoding {
        Encoding::Utf8 => req.plaintext.into_bytes(),
        Encoding::Base64 => B64
            .decode(req.plaintext.as_bytes())
            .map_err(|_| invalid("plaintext", "not valid base64"))?,
    };
    let data = zeroize::Zeroizing::new(data);
    let sealed = state
        .crypto
        .encrypt(
            &who,
            class,
            req.context.as_deref().map(str::as_bytes),
            &data,
        )
        .await?;
    Ok(Json(package(
        &sealed.envelope,
        &sealed.key,
        sealed.encrypted_at,
    )))
}

/// The package `encrypt` returned, sent back as it came (or just its
/// `key_id` and `envelope`), plus the same `context`.
#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct DecryptRequest {
    #[garde(inner(length(max = 60_000)))]
    pub encrypted_data: Option<String>,
    #[garde(length(max = 128))]
    pub key_id: String,
    #[garde(skip)]
    pub key_version: Option<u32>,
    #[garde(inner(length(max = 32)))]
    pub iv: Option<String>,
    #[garde(inner(length(max = 32)))]
    pub auth_tag: Option<String>,
    #[garde(inner(length(max = 16)))]
    pub algorithm: Option<String>,
    #[garde(skip)]
    pub encrypted_at: Option<chrono::DateTime<chrono::Utc>>,
    #[garde(inner(length(max = 16)))]
    pub classification: Option<String>,
    #[garde(inner(length(max = 80_000)))]
    pub envelope: Option<String>,
    #[garde(inner(length(max = 1024)))]
    pub context: Option<String>,
    /// How to return the plaintext (default UTF-8; binary data that is not
    /// UTF-8 needs base64).
    #[garde(skip)]
    #[serde(default)]
    pub encoding: Encoding,
}

#[derive(Serialize, ToSchema)]
pub struct DecryptResponse {
    pub plaintext: String,
    pub encoding: Encoding,
    pub classification: String,
    pub key_version: u32,
}

/// Why a package cannot be opened before any key is used.
enum BadPackage {
    /// Malformed request fields (422 `validation_failed`, not audited).
    Invalid(ApiError),
    /// Bytes that do not belong together or to this tenant: an attempt on
    /// ciphertext, audited like a failed decryption.
    Unauthentic(&'static str),
}

/// Rebuilds the envelope from a package, checking that its parts agree
/// with each other and with the envelope, and that the key belongs to the
/// caller's tenant.
fn envelope_of(p: &DecryptRequest, tenant: isms_domain::TenantId) -> Result<Envelope, BadPackage> {
    use BadPackage::{Invalid, Unauthentic};
    let key: KeyRef = p
        .key_id
        .parse()
        .map_err(|_| Invalid(invalid("key_id", "malformed key id")))?;
    if key.tenant != tenant {
        return Err(Unauthentic("foreign_key"));
    }
    let disagrees = p.algorithm.as_deref().is_some_and(|a| a != ALGORITHM)
        || p.key_version.is_some_and(|v| v != key.version)
        || p.classification
            .as_deref()
            .is_some_and(|c| c != key.classification.as_str());
    if disagrees {
        return Err(Invalid(invalid("key_id", "the package's fields disagree")));
    }
    let from_parts = if p.encrypted_data.is_some() || p.iv.is_some() || p.auth_tag.is_some() {
        Some(envelope_from_parts(p, &key)?)
    } else {
        None
    };
    let from_text = match &p.envelope {
        Some(text) => {
            let env = Envelope::from_text(text).map_err(|_| Unauthentic("malformed_envelope"))?;
            if env.key_ref(tenant) != Some(key) {
                return Err(Unauthentic("envelope_names_another_key"));
            }
            Some(env)
        }
        None => None,
    };
    match (from_parts, from_text) {
        // Both given: they must be the same ciphertext, or one was altered.
        (Some(a), Some(b)) if a.encode() == b.encode() => Ok(b),
        (Some(_), Some(_)) => Err(Unauthentic("parts_disagree_with_envelope")),
        (Some(e), None) | (None, Some(e)) => Ok(e),
        (None, None) => Err(Invalid(invalid(
            "envelope",
            "give the envelope or encrypted_data, iv and auth_tag",
        ))),
    }
}

fn envelope_from_parts(p: &DecryptRequest, key: &KeyRef) -> Result<Envelope, BadPackage> {
    use BadPackage::{Invalid, Unauthentic};
    let field = |v: &Option<String>, name: &str| {
        v.clone()
            .ok_or_else(|| Invalid(invalid(name, "required with the other parts")))
    };
    let nonce: [u8; NONCE_LEN] = B64
        .decode(field(&p.iv, "iv")?)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| Invalid(invalid("iv", "expected 12 bytes of base64")))?;
    let mut sealed = B64
        .decode(field(&p.encrypted_data, "encrypted_data")?)
        .map_err(|_| Invalid(invalid("encrypted_data", "not valid base64")))?;
    let tag = B64
        .decode(field(&p.auth_tag, "auth_tag")?)
        .ok()
        .filter(|t| t.len() == TAG_LEN)
        .ok_or_else(|| Invalid(invalid("auth_tag", "expected 16 bytes of base64")))?;
    sealed.extend_from_slice(&tag);
    Envelope::from_parts(EnvelopeHeader::data_key(key), nonce, sealed)
        .map_err(|_| Unauthentic("malformed_parts"))
}

/// Decrypt a package, subject to the role × classification matrix
/// (confidential: admin, manager, auditor; restricted: admin with MFA
/// step-up).
#[utoipa::path(
    post,
    path = "/api/v1/crypto/decrypt",
    operation_id = "decrypt",
    tag = "crypto",
    security(("bearer" = [])),
    request_body = DecryptRequest,
    responses(
        (status = 200, description = "The plaintext", body = DecryptResponse),
        (status = 403, description = "`forbidden` (role) or `mfa_step_up_required`", body = ErrorBody),
        (status = 409, description = "`key_retired`", body = ErrorBody),
        (status = 422, description = "`decryption_failed` (tampered, wrong context or key)", body = ErrorBody)
    )
)]
pub async fn decrypt(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(req): Json<DecryptRequest>,
) -> ApiResult<Json<DecryptResponse>> {
    let env = match envelope_of(&req, who.tenant_id) {
        Ok(env) => env,
        Err(BadPackage::Invalid(e)) => return Err(e),
        Err(BadPackage::Unauthentic(reason)) => {
            return Err(state
                .crypto
                .reject_package(&who, reason, &meta)
                .await
                .into());
        }
    };
    let (plain, key) = state
        .crypto
        .decrypt(&who, &env, req.context.as_deref().map(str::as_bytes), &meta)
        .await?;
    let plaintext = match req.encoding {
        Encoding::Base64 => B64.encode(plain.as_slice()),
        Encoding::Utf8 => String::from_utf8(plain.to_vec())
            .map_err(|_| invalid("encoding", "the plaintext is not UTF-8; ask for base64"))?,
    };
    Ok(Json(DecryptResponse {
        plaintext,
        encoding: req.encoding,
        classification: key.key.classification.as_str().to_owned(),
        key_version: key.key.version,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct KeyView {
    /// `tenant:<uuid>/<classification>/v<version>`.
    pub id: String,
    pub classification: String,
    pub version: u32,
    /// `primary` (encrypts and decrypts), `active` (decrypts), `retired`.
    pub state: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub rotated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub retired_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When rotation becomes due.
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// Encryptions performed or reserved under this version.
    pub usage_count: u64,
    pub max_usage: u64,
}

impl From<DataKeyMeta> for KeyView {
    fn from(k: DataKeyMeta) -> Self {
        Self {
            id: k.id(),
            classification: k.key.classification.as_str().to_owned(),
            version: k.key.version,
            state: k.state.as_str().to_owned(),
            created_at: k.created_at,
            rotated_at: k.rotated_at,
            retired_at: k.retired_at,
            expires_at: k.expires_at,
            usage_count: k.usage_count,
            max_usage: k.max_usage,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KeyList {
    pub items: Vec<KeyView>,
    pub next_cursor: Option<String>,
}

/// The tenant's key metadata (never key material).
#[utoipa::path(
    get,
    path = "/api/v1/keys",
    operation_id = "list_keys",
    tag = "crypto",
    security(("bearer" = [])),
    responses((status = 200, description = "Every version of every ring", body = KeyList))
)]
pub async fn list_keys(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<KeyList>> {
    let items = state
        .crypto
        .list(&who)
        .await?
        .into_iter()
        .map(KeyView::from)
        .collect();
    Ok(Json(KeyList {
        items,
        next_cursor: None,
    }))
}

/// Rotate: a new primary version; older ones keep decrypting (admin, MFA
/// step-up).
#[utoipa::path(
    post,
    path = "/api/v1/keys/{classification}/rotate",
    operation_id = "rotate_key",
    tag = "crypto",
    security(("bearer" = [])),
    params(("classification" = String, Path, description = "public, internal, confidential or restricted")),
    responses(
        (status = 200, description = "The new primary", body = KeyView),
        (status = 403, description = "`mfa_step_up_required`", body = ErrorBody)
    )
)]
pub async fn rotate(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(class): Path<String>,
) -> ApiResult<Json<KeyView>> {
    let class = classification(&class)?;
    Ok(Json(state.crypto.rotate(&who, class, &meta).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct RewrapView {
    /// Fields re-encrypted by this call.
    pub rewrapped: u64,
    /// Whether fields under older versions remain (call again).
    pub remaining: bool,
    pub primary_version: u32,
}

/// Re-encrypt stored fields under the primary version (resumable,
/// idempotent; up to ten seconds per call).
#[utoipa::path(
    post,
    path = "/api/v1/keys/{classification}/rewrap",
    operation_id = "rewrap_key",
    tag = "crypto",
    security(("bearer" = [])),
    params(("classification" = String, Path, description = "public, internal, confidential or restricted")),
    responses((status = 200, description = "Progress", body = RewrapView))
)]
pub async fn rewrap(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(class): Path<String>,
) -> ApiResult<Json<RewrapView>> {
    let class = classification(&class)?;
    let p = state.crypto.rewrap(&who, class, &meta).await?;
    Ok(Json(RewrapView {
        rewrapped: p.rewrapped,
        remaining: p.remaining,
        primary_version: p.primary_version,
    }))
}

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct RetireRequest {
    #[garde(range(min = 1))]
    pub version: u32,
}

/// Retire a version: it no longer decrypts (409 `conflict` while stored
/// fields still use it; admin, MFA step-up).
#[utoipa::path(
    post,
    path = "/api/v1/keys/{classification}/retire",
    operation_id = "retire_key",
    tag = "crypto",
    security(("bearer" = [])),
    params(("classification" = String, Path, description = "public, internal, confidential or restricted")),
    request_body = RetireRequest,
    responses(
        (status = 200, description = "The retired version", body = KeyView),
        (status = 409, description = "Still in use", body = ErrorBody)
    )
)]
pub async fn retire(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(class): Path<String>,
    Json(req): Json<RetireRequest>,
) -> ApiResult<Json<KeyView>> {
    let class = classification(&class)?;
    Ok(Json(
        state
            .crypto
            .retire(&who, class, req.version, &meta)
            .await?
            .into(),
    ))
}
