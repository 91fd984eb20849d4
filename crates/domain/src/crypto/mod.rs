//! Envelope encryption and key management (ISO 27001:2022 8.24): the pure
//! part. Infra (`isms_infra::crypto`) does the cryptography; this module
//! says what the keys are, when they may be used, what the stored bytes
//! look like and who may decrypt.
//!
//! - `classification`: the four data classes; one key ring each per tenant.
//! - `key_ref`, `lifecycle`, `ring`: naming key versions, their states
//!   (primary → active → retired), usage caps and rotation.
//! - `envelope`, `aad`: the ciphertext format and what it is bound to.
//! - `access`: the decrypt authorisation matrix.
//! - `subject`: per-data-subject keys for crypto-shredding.
//! - `blind`: inputs for searchable blind indexes.
//! - `ports`: the storage the lead wires in.

pub mod aad;
pub mod access;
pub mod blind;
pub mod classification;
pub mod envelope;
pub mod key_ref;
pub mod lifecycle;
pub mod ports;
pub mod ring;
pub mod subject;

pub use aad::Aad;
pub use access::{DecryptDenied, DecryptRule, authorize_decrypt, can_decrypt, read_permission};
pub use classification::{Classification, UnknownClassification};
pub use envelope::{Envelope, EnvelopeError, EnvelopeHeader, KeyKind};
pub use key_ref::{KeyRef, MalformedKeyId, dek_wrap_aad};
pub use lifecycle::{DataKeyMeta, KeyPolicy, KeyRuleError, KeyState, retire, rotation_due};
pub use ports::{
    CryptoObserver, CryptoOp, DataKeyRecord, DataKeyRepository, EncryptedFields, FieldCrypto,
    FieldCryptoError, FieldInventory, FieldPlace, KeyManagement, KeyOpError, ServerKeyRepository,
    SubjectKeyRepository,
};
pub use ring::{KeyRing, Rotation};
pub use subject::{SubjectId, SubjectKeyLookup, SubjectKeyRecord, subject_key_wrap_aad};
