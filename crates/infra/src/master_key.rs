//! The master key (KEK): 32 bytes that wrap every other key. It comes from
//! `ISMS_MASTER_KEY` (base64) or a key file that only its owner may read;
//! in development a missing key is generated into the data directory with
//! a loud warning. It is zeroized on drop and never printed.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use isms_domain::ports::{KeyWrapError, KeyWrapper};
use rand::RngCore;
use rand::rngs::OsRng;
use zeroize::{Zeroize, Zeroizing};

pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// Version byte in front of every wrapped key, so the format can change.
const WRAP_FORMAT_V1: u8 = 1;

/// Where the master key comes from.
#[derive(Debug, Clone)]
pub enum MasterKeySource {
    /// Base64 text, from the environment.
    Inline(secrecy::SecretString),
    /// A file holding the base64 key; must not be readable by group/others.
    File(PathBuf),
    /// The development default: read the file, or create it if missing.
    GenerateIfMissing(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("master key must be {KEY_LEN} bytes of base64")]
    Invalid,
    #[error("master key file {0} is readable by group or others; chmod 600 it")]
    Permissions(PathBuf),
    #[error("cannot read master key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create master key file {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct MasterKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MasterKeyError> {
        if bytes.len() != KEY_LEN {
            return Err(MasterKeyError::Invalid);
        }
        let cipher = Aes256Gcm::new_from_slice(bytes).map_err(|_| MasterKeyError::Invalid)?;
        Ok(Self { cipher })
    }

    fn from_base64(text: &str) -> Result<Self, MasterKeyError> {
        let bytes = Zeroizing::new(
            B64.decode(text.trim())
                .map_err(|_| MasterKeyError::Invalid)?,
        );
        Self::from_bytes(&bytes)
    }

    /// Loads (or, for `GenerateIfMissing`, creates) the key. Returns the
    /// key and whether it was generated just now.
    pub fn load(source: &MasterKeySource) -> Result<(Self, bool), MasterKeyError> {
        use secrecy::ExposeSecret;
        match source {
            MasterKeySource::Inline(text) => Ok((Self::from_base64(text.expose_secret())?, false)),
            MasterKeySource::File(path) => Ok((read_key_file(path)?, false)),
            MasterKeySource::GenerateIfMissing(path) => {
                if path.exists() {
                    return Ok((read_key_file(path)?, false));
                }
                let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
                OsRng.fill_bytes(bytes.as_mut());
                let mut text = B64.encode(bytes.as_ref());
                let written = write_new_private_file(path, text.as_bytes());
                text.zeroize();
                match written {
                    Ok(()) => Ok((Self::from_bytes(bytes.as_ref())?, true)),
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Ok((read_key_file(path)?, false))
                    }
                    Err(source) => Err(MasterKeyError::Create {
                        path: path.clone(),
                        source,
                    }),
                }
            }
        }
    }
}

fn read_key_file(path: &Path) -> Result<MasterKey, MasterKeyError> {
    let read_err = |source| MasterKeyError::Read {
        path: path.to_owned(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(read_err)?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(MasterKeyError::Permissions(path.to_owned()));
        }
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(read_err)?);
    MasterKey::from_base64(&text)
}

fn write_new_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The directory that holds key material is owner-only.
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

impl KeyWrapper for MasterKey {
    /// Layout: version (1) ‖ nonce (12) ‖ ciphertext+tag.
    fn wrap(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyWrapError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| KeyWrapError::Malformed)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(WRAP_FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyWrapError> {
        let Some((&WRAP_FORMAT_V1, rest)) = wrapped.split_first() else {
            return Err(KeyWrapError::Malformed);
        };
        if rest.len() < NONCE_LEN + 16 {
            return Err(KeyWrapError::Malformed);
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
            .map(Zeroizing::new)
            .map_err(|_| KeyWrapError::Unauthentic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_bytes(&[7u8; KEY_LEN]).unwrap()
    }

    #[test]
    fn wrap_round_trip_and_aad_binding() {
        let k = key();
        let wrapped = k.wrap(b"secret key bytes", b"isms:signing-key:a").unwrap();
        assert_eq!(
            k.unwrap(&wrapped, b"isms:signing-key:a")
                .unwrap()
                .as_slice(),
            b"secret key bytes"
        );
        assert!(matches!(
            k.unwrap(&wrapped, b"isms:signing-key:b"),
            Err(KeyWrapError::Unauthentic)
        ));
        let other = MasterKey::from_bytes(&[8u8; KEY_LEN]).unwrap();
        assert!(matches!(
            other.unwrap(&wrapped, b"isms:signing-key:a"),
            Err(KeyWrapError::Unauthentic)
        ));
        for i in 0..wrapped.len() {
            let mut t = wrapped.clone();
            t[i] ^= 1;
            assert!(
                k.unwrap(&t, b"isms:signing-key:a").is_err(),
                "flip at {i} accepted"
            );
        }
        assert!(matches!(
            k.unwrap(&[1, 2, 3], b""),
            Err(KeyWrapError::Malformed)
        ));
    }

    #[test]
    fn generated_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/master.key");
        let (a, created) =
            MasterKey::load(&MasterKeySource::GenerateIfMissing(path.clone())).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (b, created) =
            MasterKey::load(&MasterKeySource::GenerateIfMissing(path.clone())).unwrap();
        assert!(!created);
        let wrapped = a.wrap(b"x", b"aad").unwrap();
        assert_eq!(b.unwrap(&wrapped, b"aad").unwrap().as_slice(), b"x");
    }

    #[cfg(unix)]
    #[test]
    fn readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        std::fs::write(&path, B64.encode([1u8; KEY_LEN])).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            MasterKey::load(&MasterKeySource::File(path.clone())),
            Err(MasterKeyError::Permissions(_))
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(MasterKey::load(&MasterKeySource::File(path)).is_ok());
    }

    #[test]
    fn inline_key_must_be_32_bytes() {
        let short = secrecy::SecretString::from(B64.encode([1u8; 16]));
        assert!(matches!(
            MasterKey::load(&MasterKeySource::Inline(short)),
            Err(MasterKeyError::Invalid)
        ));
        let ok = secrecy::SecretString::from(B64.encode([1u8; 32]));
        assert!(MasterKey::load(&MasterKeySource::Inline(ok)).is_ok());
        assert_eq!(format!("{:?}", key()), "MasterKey(..)");
    }
}
