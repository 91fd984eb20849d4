//! Generated one-time passwords.

use rand::Rng;
use rand::rngs::OsRng;
use secrecy::SecretString;
use zeroize::Zeroizing;

/// No look-alike characters (0/O, 1/l/I), so a password read off a
/// terminal can be typed back.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
/// 20 characters of a 57-letter alphabet: about 116 bits.
pub const GENERATED_PASSWORD_LEN: usize = 20;

pub fn generate_password() -> SecretString {
    let mut out = Zeroizing::new(String::with_capacity(GENERATED_PASSWORD_LEN));
    for _ in 0..GENERATED_PASSWORD_LEN {
        let i = OsRng.gen_range(0..ALPHABET.len());
        out.push(char::from(ALPHABET[i]));
    }
    SecretString::from(out.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn generated_passwords_are_long_distinct_and_from_the_alphabet() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.expose_secret().len(), GENERATED_PASSWORD_LEN);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(a.expose_secret().bytes().all(|c| ALPHABET.contains(&c)));
    }
}
