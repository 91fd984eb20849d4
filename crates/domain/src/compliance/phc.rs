//! Reading the cost parameters out of a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), so the password
//! check can compare them with the current policy without the hash itself
//! ever leaving the user store.

use serde::{Deserialize, Serialize};

/// The Argon2 variants the PHC format names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Argon2Variant {
    Argon2d,
    Argon2i,
    Argon2id,
}

/// Argon2 version 1.3 (`v=19`); a PHC string without `v=` is version 1.0.
pub const ARGON2_VERSION_13: u32 = 0x13;
const ARGON2_VERSION_10: u32 = 0x10;

/// The cost parameters of one Argon2 hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Argon2Params {
    pub variant: Argon2Variant,
    pub version: u32,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// What a stored password hash is, as far as policy is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum HashScheme {
    Argon2(Argon2Params),
    /// A well-formed PHC string of another function (`bcrypt`, `scrypt`,
    /// `pbkdf2-sha256` …): its identifier only.
    Other {
        algorithm: String,
    },
    /// Not a PHC string, or an Argon2 one with missing or bad parameters.
    Unreadable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhcError {
    #[error("not a PHC string")]
    Malformed,
    #[error("PHC parameter missing or malformed: {0}")]
    Parameter(&'static str),
}

/// Largest sane identifier; PHC caps function names at 32 characters.
const MAX_ALGORITHM_CHARS: usize = 32;

/// The algorithm identifier of a PHC string (`argon2id`), if well formed.
fn algorithm(phc: &str) -> Result<(&str, std::str::Split<'_, char>), PhcError> {
    let rest = phc.strip_prefix('$').ok_or(PhcError::Malformed)?;
    let mut fields = rest.split('$');
    let id = fields.next().ok_or(PhcError::Malformed)?;
    let ok = !id.is_empty()
        && id.len() <= MAX_ALGORITHM_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok((id, fields))
    } else {
        Err(PhcError::Malformed)
    }
}

/// Parses the parameters of an Argon2 PHC string. `m`, `t` and `p` are
/// required (in any order; `keyid` and `data` are allowed and ignored),
/// a repeated key is an error, and `v=` defaults to 16 when absent.
pub fn parse_argon2(phc: &str) -> Result<Argon2Params, PhcError> {
    let (id, mut fields) = algorithm(phc)?;
    let variant = match id {
        "argon2d" => Argon2Variant::Argon2d,
        "argon2i" => Argon2Variant::Argon2i,
        "argon2id" => Argon2Variant::Argon2id,
        _ => return Err(PhcError::Malformed),
    };
    let mut field = fields.next().ok_or(PhcError::Parameter("m"))?;
    let mut version = ARGON2_VERSION_10;
    if let Some(v) = field.strip_prefix("v=") {
        version = number(v, "v")?;
        field = fields.next().ok_or(PhcError::Parameter("m"))?;
    }
    let (mut m, mut t, mut p) = (None, None, None);
    for pair in field.split(',') {
        let (k, v) = pair.split_once('=').ok_or(PhcError::Malformed)?;
        let slot = match k {
            "m" => &mut m,
            "t" => &mut t,
            "p" => &mut p,
            "keyid" | "data" => continue,
            _ => return Err(PhcError::Malformed),
        };
        if slot.is_some() {
            return Err(PhcError::Malformed);
        }
        *slot = Some(v);
    }
    let get = |v: Option<&str>, name| number(v.ok_or(PhcError::Parameter(name))?, name);
    let params = Argon2Params {
        variant,
        version,
        memory_kib: get(m, "m")?,
        iterations: get(t, "t")?,
        parallelism: get(p, "p")?,
    };
    if params.iterations == 0 || params.parallelism == 0 {
        return Err(PhcError::Parameter("t/p"));
    }
    Ok(params)
}

/// A PHC decimal: digits only, no sign, no leading zero.
fn number(v: &str, name: &'static str) -> Result<u32, PhcError> {
    let canonical = !v.is_empty()
        && v.bytes().all(|b| b.is_ascii_digit())
        && (v.len() == 1 || !v.starts_with('0'));
    if !canonical {
        return Err(PhcError::Parameter(name));
    }
    v.parse().map_err(|_| PhcError::Parameter(name))
}

impl HashScheme {
    /// Classifies a stored PHC string.
    pub fn from_phc(phc: &str) -> Self {
        match algorithm(phc) {
            Ok((id, _)) if id.starts_with("argon2") => {
                parse_argon2(phc).map_or(HashScheme::Unreadable, HashScheme::Argon2)
            }
            Ok((id, _)) => HashScheme::Other {
                algorithm: id.to_owned(),
            },
            Err(_) => HashScheme::Unreadable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_hasher_output() {
        let p = parse_argon2("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA");
        assert_eq!(
            p,
            Ok(Argon2Params {
                variant: Argon2Variant::Argon2id,
                version: 19,
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
            })
        );
    }

    #[test]
    fn lenient_where_phc_is() {
        let p = parse_argon2("$argon2i$p=4,t=3,m=65536,keyid=abc$salt$hash");
        assert_eq!(
            p.map(|p| (p.version, p.memory_kib, p.parallelism)),
            Ok((16, 65_536, 4))
        );
    }

    #[test]
    fn strict_where_it_matters() {
        for bad in [
            "",
            "argon2id$v=19$m=1,t=1,p=1",
            "$argon2id$v=19",
            "$argon2id$v=19$m=19456,t=2",
            "$argon2id$v=19$m=19456,t=2,p=1,m=8",
            "$argon2id$v=19$m=019456,t=2,p=1",
            "$argon2id$v=19$m=-1,t=2,p=1",
            "$argon2id$v=19$m=19456,t=0,p=1",
            "$argon2id$v=19$m=19456,t=2,p=1,x=1",
            "$argon2x$v=19$m=19456,t=2,p=1",
            "$argon2id$v=19$m=99999999999,t=2,p=1",
        ] {
            assert!(parse_argon2(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn classification() {
        assert!(matches!(
            HashScheme::from_phc("$argon2id$v=19$m=19456,t=2,p=1$s$h"),
            HashScheme::Argon2(_)
        ));
        assert_eq!(
            HashScheme::from_phc("$2b$12$abcdefghijklmnopqrstuv"),
            HashScheme::Other {
                algorithm: "2b".into()
            }
        );
        assert_eq!(
            HashScheme::from_phc("$pbkdf2-sha256$i=1000$s$h"),
            HashScheme::Other {
                algorithm: "pbkdf2-sha256".into()
            }
        );
        assert_eq!(
            HashScheme::from_phc("$argon2id$test"),
            HashScheme::Unreadable
        );
        assert_eq!(HashScheme::from_phc("plaintext"), HashScheme::Unreadable);
        assert_eq!(HashScheme::from_phc("$$"), HashScheme::Unreadable);
    }
}
