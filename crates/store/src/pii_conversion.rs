//! The one-off conversion of plaintext personal data (the foundation's
//! `users.email` and `users.display_name`) into envelopes. It runs between
//! migration 7 (which adds the envelope columns) and migration 8 (which
//! drops the plaintext ones and refuses to if a row was missed), in
//! batches, each its own transaction, so an interrupted start resumes.

use isms_domain::ports::RepoError;

use crate::StoreError;

/// Rows converted per transaction.
const BATCH: i64 = 500;

#[derive(sqlx::FromRow)]
pub(crate) struct PlainUserRow {
    id: uuid::Uuid,
    tenant_id: uuid::Uuid,
    email: String,
    display_name: String,
}

macro_rules! impl_pii_conversion {
    ($store:ty) => {
        impl $store {
            /// Whether migration 8 has run (then there is nothing to
            /// convert, and the plaintext columns no longer exist). Before
            /// the first migration the bookkeeping table is missing: that
            /// error means "not done".
            pub(crate) async fn pii_conversion_done(&self) -> bool {
                sqlx::query_scalar::<_, i64>(
                    "SELECT version FROM _sqlx_migrations WHERE version = $1 AND success",
                )
                .bind(crate::migrations::PII_CONVERSION_AFTER + 1)
                .fetch_optional(&self.pool)
                .await
                .ok()
                .flatten()
                .is_some()
            }

            /// Converts every user still holding plaintext personal data.
            pub(crate) async fn convert_plaintext_users(&self) -> Result<u64, isms_domain::ports::RepoError> {
                let mut converted = 0u64;
                loop {
                    let rows: Vec<crate::pii_conversion::PlainUserRow> =
                        crate::scope::scoped!(self, crate::scope::Scope::Server, c => {
                            sqlx::query_as(
                                "SELECT id, tenant_id, email, display_name FROM users \
                                 WHERE email_enc IS NULL ORDER BY id LIMIT $1",
                            )
                            .bind(crate::pii_conversion::batch())
                            .fetch_all(&mut *c)
                            .await
                            .map_err(crate::error::map)
                        })?;
                    if rows.is_empty() {
                        return Ok(converted);
                    }
                    // Sealed before the write transaction: sealing may write
                    // key state (a first key, a usage reservation), which on
                    // SQLite needs the write lock this transaction would hold.
                    let crypto = self.crypto.get()?.clone();
                    let mut sealed = Vec::with_capacity(rows.len());
                    for r in rows {
                        let (id, user) = r.into_user()?;
                        sealed.push((id, crate::pii::seal_user(crypto.as_ref(), &user).await?));
                    }
                    let mut tx = self.tx(crate::scope::Scope::Server).await?;
                    for (id, s) in &sealed {
                        sqlx::query(
                            "UPDATE users SET email_enc = $2, email_bidx = $3, email_key_version = $4, \
                             display_name_enc = $5, display_name_key_version = $6 \
                             WHERE id = $1 AND email_enc IS NULL",
                        )
                        .bind(id)
                        .bind(&s.email_enc)
                        .bind(&s.email_bidx)
                        .bind(s.email_key_version)
                        .bind(&s.display_name_enc)
                        .bind(s.display_name_key_version)
                        .execute(&mut *tx)
                        .await
                        .map_err(crate::error::map)?;
                        converted += 1;
                    }
                    tx.commit().await.map_err(crate::error::map)?;
                }
            }
        }
    };
}

pub(crate) use impl_pii_conversion;

pub(crate) fn batch() -> i64 {
    BATCH
}

/// A user row as the foundation stored it.
impl PlainUserRow {
    /// Enough of a `User` to seal its personal data.
    pub(crate) fn into_user(self) -> Result<(uuid::Uuid, isms_domain::user::User), RepoError> {
        let email = isms_domain::Email::parse(&self.email)
            .map_err(|_| RepoError::Internal("stored e-mail is invalid".into()))?;
        let mut user = isms_domain::user::User::create(
            isms_domain::user::NewUser {
                tenant_id: self.tenant_id.into(),
                email,
                display_name: Some(self.display_name),
                role: isms_domain::Role::Viewer,
                password_hash: isms_domain::user::PasswordHash::new(String::new()),
                password_must_change: false,
            },
            isms_domain::time::now(),
        );
        user.id = self.id.into();
        Ok((self.id, user))
    }
}

/// Runs the conversion for a store whose migrations stand at 7.
pub(crate) async fn convert<S: Convert>(store: &S) -> Result<(), StoreError> {
    let n = store
        .convert()
        .await
        .map_err(|e| StoreError::Migrate(format!("encrypting personal data: {e}")))?;
    if n > 0 {
        tracing::info!(users = n, "crypto.pii_converted");
    }
    Ok(())
}

pub(crate) trait Convert {
    async fn convert(&self) -> Result<u64, RepoError>;
}

impl Convert for crate::SqliteStore {
    async fn convert(&self) -> Result<u64, RepoError> {
        self.convert_plaintext_users().await
    }
}

impl Convert for crate::PgStore {
    async fn convert(&self) -> Result<u64, RepoError> {
        self.convert_plaintext_users().await
    }
}
