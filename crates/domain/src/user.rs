//! User accounts.

use std::fmt;

use crate::email::Email;
use crate::ids::{TenantId, UserId};
use crate::role::Role;
use crate::time::Timestamp;

pub const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// A password hash in PHC string format. Not a secret in the sense of a
/// key, but it is offline-attackable, so it never appears in debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn new(phc: String) -> Self {
        Self(phc)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DisplayNameError {
    #[error("display name must not be empty")]
    Empty,
    #[error("display name must be at most {MAX_DISPLAY_NAME_CHARS} characters")]
    TooLong,
    #[error("display name must not contain control characters")]
    ControlCharacter,
}

/// Validates and trims a display name.
pub fn parse_display_name(raw: &str) -> Result<String, DisplayNameError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(DisplayNameError::Empty);
    }
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(DisplayNameError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(DisplayNameError::ControlCharacter);
    }
    Ok(name.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: Email,
    pub display_name: String,
    pub role: Role,
    pub is_active: bool,
    pub password_hash: PasswordHash,
    pub password_changed_at: Option<Timestamp>,
    /// Set for generated (one-time) passwords: the holder must choose a new
    /// one before doing anything else.
    pub password_must_change: bool,
    pub last_login_at: Option<Timestamp>,
    pub last_access_review_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

/// An account as a password login finds it: the user, and whether a
/// confirmed second factor guards it (read with the user, so a login does
/// not pay a second lookup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAccount {
    pub user: User,
    pub mfa_enrolled: bool,
}

/// What is needed to create a user; the rest starts at its default.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub tenant_id: TenantId,
    pub email: Email,
    pub display_name: Option<String>,
    pub role: Role,
    pub password_hash: PasswordHash,
    pub password_must_change: bool,
}

impl User {
    pub fn create(new: NewUser, now: Timestamp) -> Self {
        let display_name = new
            .display_name
            .unwrap_or_else(|| new.email.local_part().to_owned());
        Self {
            id: UserId::new(),
            tenant_id: new.tenant_id,
            email: new.email,
            display_name,
            role: new.role,
            is_active: true,
            password_hash: new.password_hash,
            // A generated password was never chosen by its holder.
            password_changed_at: (!new.password_must_change).then_some(now),
            password_must_change: new.password_must_change,
            last_login_at: None,
            last_access_review_at: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_defaults_to_local_part_and_hash_is_hidden() {
        let u = User::create(
            NewUser {
                tenant_id: TenantId::new(),
                email: Email::parse("carol@example.com").unwrap(),
                display_name: None,
                role: Role::Viewer,
                password_hash: PasswordHash::new("$argon2id$secret".into()),
                password_must_change: true,
            },
            crate::time::now(),
        );
        assert_eq!(u.display_name, "carol");
        assert!(u.password_changed_at.is_none());
        let dbg = format!("{u:?}");
        assert!(!dbg.contains("argon2id"));
        assert!(!dbg.contains("carol@"));
    }

    #[test]
    fn display_name_rules() {
        assert_eq!(parse_display_name("  Bob "), Ok("Bob".into()));
        assert_eq!(parse_display_name(" "), Err(DisplayNameError::Empty));
        assert!(parse_display_name(&"b".repeat(201)).is_err());
    }
}
