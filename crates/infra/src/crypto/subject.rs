//! Per-data-subject keys (crypto-shredding). Same envelope format as data
//! keys, with key kind "subject key": the AAD binds tenant, subject and
//! purpose, and the envelope's key version is the subject key's version.

use isms_domain::TenantId;
use isms_domain::crypto::{
    Aad, Classification, Envelope, EnvelopeHeader, KeyKind, SubjectId, SubjectKeyLookup,
    SubjectKeyRecord, subject_key_wrap_aad,
};
use isms_domain::ports::KeyWrapper;
use isms_domain::time::Timestamp;
use zeroize::Zeroizing;

use super::aead::{open_raw, seal_raw};
use super::dek::Dek;
use super::{CryptoError, random_nonce};

/// One data subject's unwrapped key. `Debug` names the tenant only (the
/// subject id can itself be personal data).
pub struct SubjectKey {
    tenant: TenantId,
    subject: SubjectId,
    version: u32,
    key: Dek,
}

impl std::fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubjectKey")
            .field("tenant", &self.tenant)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl SubjectKey {
    /// A fresh version-1 key for `subject`.
    pub fn generate(tenant: TenantId, subject: SubjectId) -> Result<Self, CryptoError> {
        Ok(Self {
            tenant,
            subject,
            version: 1,
            key: Dek::generate()?,
        })
    }

    /// The record to offer `SubjectKeyRepository::get_or_create`.
    pub fn to_record(
        &self,
        wrapper: &dyn KeyWrapper,
        now: Timestamp,
    ) -> Result<SubjectKeyRecord, CryptoError> {
        let aad = subject_key_wrap_aad(self.tenant, &self.subject, self.version);
        Ok(SubjectKeyRecord {
            tenant: self.tenant,
            subject: self.subject.clone(),
            version: self.version,
            wrapped_key: wrapper.wrap(self.key.bytes(), &aad)?,
            created_at: now,
        })
    }

    /// Unwraps a stored key; a record copied to another subject or tenant
    /// fails as `Unauthentic`.
    pub fn from_record(
        wrapper: &dyn KeyWrapper,
        record: &SubjectKeyRecord,
    ) -> Result<Self, CryptoError> {
        let aad = subject_key_wrap_aad(record.tenant, &record.subject, record.version);
        let bytes = wrapper.unwrap(&record.wrapped_key, &aad)?;
        Ok(Self {
            tenant: record.tenant,
            subject: record.subject.clone(),
            version: record.version,
            key: Dek::from_bytes(&bytes)?,
        })
    }

    /// `from_record` for what the repository returned; a destroyed key is
    /// `SubjectForgotten`.
    pub fn from_lookup(
        wrapper: &dyn KeyWrapper,
        lookup: &SubjectKeyLookup,
    ) -> Result<Self, CryptoError> {
        match lookup {
            SubjectKeyLookup::Live(record) => Self::from_record(wrapper, record),
            SubjectKeyLookup::Destroyed { .. } => Err(CryptoError::SubjectForgotten),
        }
    }

    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    pub fn subject(&self) -> &SubjectId {
        &self.subject
    }

    fn header(&self, classification: Classification) -> EnvelopeHeader {
        EnvelopeHeader {
            kind: KeyKind::SubjectKey,
            classification,
            key_version: self.version,
        }
    }

    /// Seals personal data of this subject for `purpose` (e.g.
    /// `"contact.email"`). `classification` drives who may decrypt.
    pub fn seal(
        &self,
        classification: Classification,
        purpose: &str,
        plaintext: &[u8],
    ) -> Result<Envelope, CryptoError> {
        let nonce = random_nonce()?;
        let aad = Aad::subject(self.tenant, &self.subject, purpose);
        seal_raw(
            &self.key,
            self.header(classification),
            &aad,
            plaintext,
            nonce,
        )
    }

    pub fn open(
        &self,
        envelope: &Envelope,
        purpose: &str,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let header = envelope.header();
        if header.kind != KeyKind::SubjectKey {
            return Err(CryptoError::Malformed);
        }
        if header.key_version != self.version {
            return Err(CryptoError::UnknownKey);
        }
        let aad = Aad::subject(self.tenant, &self.subject, purpose);
        open_raw(&self.key, envelope, &aad)
    }
}
