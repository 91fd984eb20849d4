//! Personal data at rest: users' e-mail and display name are stored as
//! envelopes sealed with the tenant's `confidential` key and bound to
//! tenant, table, column and row; the e-mail is found through a
//! server-wide blind index (login and uniqueness precede knowing the
//! tenant). The repositories call these helpers, so no other code sees the
//! stored form.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use isms_domain::crypto::{Classification, FieldCrypto, FieldCryptoError, FieldPlace};
use isms_domain::email::Email;
use isms_domain::ports::RepoError;
use isms_domain::user::{PasswordHash, User};
use uuid::Uuid;

/// The classification personal data of users is sealed under.
pub(crate) const USER_PII: Classification = Classification::Confidential;
pub(crate) const EMAIL_INDEX: &str = "users.email";

/// Where the store finds its field crypto (set once at wiring time; shared
/// by every clone of the store).
#[derive(Clone, Default)]
pub(crate) struct CryptoSlot(Arc<OnceLock<Arc<dyn FieldCrypto>>>);

impl CryptoSlot {
    pub(crate) fn set(&self, crypto: Arc<dyn FieldCrypto>) {
        let _ = self.0.set(crypto);
    }

    pub(crate) fn get(&self) -> Result<&Arc<dyn FieldCrypto>, RepoError> {
        self.0
            .get()
            .ok_or_else(|| RepoError::Internal("field encryption is not configured".into()))
    }
}

pub(crate) fn crypto_error(e: FieldCryptoError) -> RepoError {
    match e {
        FieldCryptoError::Storage(m) => RepoError::Unavailable(m),
        other => RepoError::Internal(format!("personal data: {other}")),
    }
}

/// A user's personal data as stored.
pub(crate) struct SealedUser {
    pub(crate) email_enc: String,
    pub(crate) email_bidx: Vec<u8>,
    pub(crate) email_key_version: i64,
    pub(crate) display_name_enc: String,
    pub(crate) display_name_key_version: i64,
}

fn place<'a>(column: &'a str, row: &'a str) -> FieldPlace<'a> {
    FieldPlace {
        table: "users",
        column,
        row_id: row,
    }
}

pub(crate) async fn email_index(
    crypto: &dyn FieldCrypto,
    email: &Email,
) -> Result<Vec<u8>, RepoError> {
    Ok(crypto
        .lookup_index(EMAIL_INDEX, email.as_str())
        .await
        .map_err(crypto_error)?
        .to_vec())
}

pub(crate) async fn seal_user(crypto: &dyn FieldCrypto, u: &User) -> Result<SealedUser, RepoError> {
    seal_parts(crypto, u.tenant_id, u.id, &u.email, &u.display_name).await
}

/// What an erased account stores instead of its e-mail and name: unique
/// placeholders that say nothing about the person.
pub(crate) async fn seal_erased(
    crypto: &dyn FieldCrypto,
    tenant: isms_domain::TenantId,
    id: isms_domain::UserId,
) -> Result<SealedUser, RepoError> {
    let email = Email::parse(&format!("erased-{}@erased.invalid", id.as_uuid().simple()))
        .map_err(|e| RepoError::Internal(format!("erased e-mail: {e}")))?;
    seal_parts(crypto, tenant, id, &email, "erased").await
}

async fn seal_parts(
    crypto: &dyn FieldCrypto,
    tenant: isms_domain::TenantId,
    id: isms_domain::UserId,
    email: &Email,
    display_name: &str,
) -> Result<SealedUser, RepoError> {
    let row = id.to_string();
    let (email_enc, ev) = crypto
        .seal_field(
            tenant,
            USER_PII,
            &place("email", &row),
            email.as_str().as_bytes(),
        )
        .await
        .map_err(crypto_error)?;
    let (display_name_enc, dv) = crypto
        .seal_field(
            tenant,
            USER_PII,
            &place("display_name", &row),
            display_name.as_bytes(),
        )
        .await
        .map_err(crypto_error)?;
    Ok(SealedUser {
        email_enc,
        email_bidx: email_index(crypto, email).await?,
        email_key_version: i64::from(ev),
        display_name_enc,
        display_name_key_version: i64::from(dv),
    })
}

async fn open_text(
    crypto: &dyn FieldCrypto,
    tenant: isms_domain::TenantId,
    column: &str,
    row: &str,
    envelope: &str,
) -> Result<String, RepoError> {
    let bytes = crypto
        .open_field(tenant, &place(column, row), envelope)
        .await
        .map_err(crypto_error)?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| RepoError::Internal(format!("stored {column} is invalid")))
}

/// A user row with its MFA enrolment (`find_for_login`).
#[derive(sqlx::FromRow)]
pub(crate) struct LoginRow {
    #[sqlx(flatten)]
    pub(crate) user: SealedUserRow,
    pub(crate) mfa_enrolled: bool,
}

#[derive(sqlx::FromRow)]
pub(crate) struct SealedUserRow {
    id: Uuid,
    tenant_id: Uuid,
    email_enc: Option<String>,
    display_name_enc: Option<String>,
    role: String,
    is_active: bool,
    password_hash: String,
    password_changed_at: Option<DateTime<Utc>>,
    password_must_change: bool,
    last_login_at: Option<DateTime<Utc>>,
    last_access_review_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

macro_rules! sealed_user_columns {
    () => {
        "id, tenant_id, email_enc, display_name_enc, role, is_active, password_hash, password_changed_at, \
         password_must_change, last_login_at, last_access_review_at, created_at, updated_at, deleted_at"
    };
}
pub(crate) use sealed_user_columns;

impl SealedUserRow {
    pub(crate) async fn open(self, crypto: &dyn FieldCrypto) -> Result<User, RepoError> {
        let corrupt = |what: &str| RepoError::Internal(format!("stored {what} is invalid"));
        let tenant = isms_domain::TenantId::from(self.tenant_id);
        let row = self.id.to_string();
        let email = open_text(
            crypto,
            tenant,
            "email",
            &row,
            self.email_enc.as_deref().ok_or_else(|| corrupt("e-mail"))?,
        )
        .await?;
        let display_name = open_text(
            crypto,
            tenant,
            "display_name",
            &row,
            self.display_name_enc
                .as_deref()
                .ok_or_else(|| corrupt("display name"))?,
        )
        .await?;
        Ok(User {
            id: self.id.into(),
            tenant_id: tenant,
            email: Email::parse(&email).map_err(|_| corrupt("e-mail"))?,
            display_name,
            role: self.role.parse().map_err(|_| corrupt("role"))?,
            is_active: self.is_active,
            password_hash: PasswordHash::new(self.password_hash),
            password_changed_at: self.password_changed_at,
            password_must_change: self.password_must_change,
            last_login_at: self.last_login_at,
            last_access_review_at: self.last_access_review_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted_at: self.deleted_at,
        })
    }
}

pub(crate) async fn open_all(
    crypto: &dyn FieldCrypto,
    rows: Vec<SealedUserRow>,
) -> Result<Vec<User>, RepoError> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(r.open(crypto).await?);
    }
    Ok(out)
}
