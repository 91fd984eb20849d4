//! The Ed25519 key that signs audit checkpoints. Generated on first start
//! (once across instances sharing a database), stored wrapped under the
//! master key, unwrapped into memory at start-up.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use isms_domain::ports::{AuditKeyRecord, AuditKeyRepository, CheckpointSigner, KeyWrapper};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum AuditKeyError {
    #[error("the audit log key cannot be unwrapped with this master key")]
    Unwrap,
    #[error("invalid audit key name: {0}")]
    Name(String),
    #[error(transparent)]
    Repo(#[from] isms_domain::ports::RepoError),
}

fn aad(key_id: &str) -> Vec<u8> {
    isms_domain::audit::log_key_wrap_aad(key_id)
}

/// The checkpoint signer, holding the current private key.
pub struct AuditKeyRing {
    name: String,
    key_id: String,
    secret: Zeroizing<[u8; 32]>,
    public: [u8; 32],
    verifying: Vec<(String, [u8; 32])>,
    created_at: isms_domain::time::Timestamp,
}

impl std::fmt::Debug for AuditKeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKeyRing")
            .field("name", &self.name)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl AuditKeyRing {
    /// Loads the current key, creating it when none exists. `name` is the
    /// note key name used for a new key (existing keys keep theirs).
    pub async fn open(
        repo: Arc<dyn AuditKeyRepository>,
        wrapper: Arc<dyn KeyWrapper>,
        name: &str,
    ) -> Result<Self, AuditKeyError> {
        if name.is_empty() || name.contains(['+', ' ', '\n']) {
            return Err(AuditKeyError::Name(name.to_owned()));
        }
        let mut records = repo.list().await?;
        if !records.iter().any(|r| r.retired_at.is_none()) {
            let key = SigningKey::generate(&mut OsRng);
            let public = key.verifying_key().to_bytes();
            let key_id = hex(&isms_domain::audit::note_key_id(name, &public));
            let secret = Zeroizing::new(key.to_bytes());
            let wrapped = wrapper
                .wrap(secret.as_ref(), &aad(&key_id))
                .map_err(|_| AuditKeyError::Unwrap)?;
            repo.insert_first(&AuditKeyRecord {
                key_id,
                key_name: name.to_owned(),
                public_key: public,
                wrapped_private_key: wrapped,
                created_at: isms_domain::time::now(),
                retired_at: None,
            })
            .await?;
            records = repo.list().await?;
        }
        let current = records
            .iter()
            .find(|r| r.retired_at.is_none())
            .ok_or(AuditKeyError::Unwrap)?;
        let unwrapped = wrapper
            .unwrap(&current.wrapped_private_key, &aad(&current.key_id))
            .map_err(|_| AuditKeyError::Unwrap)?;
        let bytes: [u8; 32] = unwrapped
            .as_slice()
            .try_into()
            .map_err(|_| AuditKeyError::Unwrap)?;
        let secret = Zeroizing::new(bytes);
        // The stored public key must belong to the unwrapped private key.
        if SigningKey::from_bytes(&secret).verifying_key().to_bytes() != current.public_key {
            return Err(AuditKeyError::Unwrap);
        }
        Ok(Self {
            name: current.key_name.clone(),
            key_id: current.key_id.clone(),
            secret,
            public: current.public_key,
            created_at: current.created_at,
            verifying: records
                .iter()
                .map(|r| (r.key_name.clone(), r.public_key))
                .collect(),
        })
    }

    /// When the current log key was created (for key age reporting).
    pub fn created_at(&self) -> isms_domain::time::Timestamp {
        self.created_at
    }

    /// The verifier key string (`<name>+<hex id>+<base64 key>`) auditors
    /// give `isms audit verify --pubkey`.
    pub fn verifier_key(&self) -> String {
        isms_domain::audit::verifier_key(&self.name, &self.public)
    }
}

impl CheckpointSigner for AuditKeyRing {
    fn key_name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn public_key(&self) -> [u8; 32] {
        self.public
    }

    fn sign_note(&self, body: &str) -> String {
        isms_domain::audit::sign_note(body, &self.name, &self.secret)
    }

    fn verifying_keys(&self) -> Vec<(String, [u8; 32])> {
        self.verifying.clone()
    }

    fn sign_report(
        &self,
        report: &isms_domain::compliance::ComplianceReport,
    ) -> Result<isms_domain::compliance::SignedReport, isms_domain::compliance::ReportError> {
        isms_domain::compliance::sign_report(report, &self.name, &self.secret)
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
