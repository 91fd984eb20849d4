//! The per-user facts the account checks read (password policy, access
//! reviews, dormant accounts, administrator count).

use crate::access_policy::AccessPolicy;
use crate::compliance::phc::HashScheme;
use crate::ids::UserId;
use crate::role::Role;
use crate::time::Timestamp;
use crate::user::User;

/// One account as the account checks see it. No e-mail address, no name,
/// no hash: only what the rules compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSnapshot {
    pub id: UserId,
    pub role: Role,
    /// Active and not deleted. Inactive accounts are ignored by every
    /// check (they cannot log in).
    pub active: bool,
    pub created_at: Timestamp,
    /// When the current password was set (`None`: at creation).
    pub password_changed_at: Option<Timestamp>,
    /// The current password is a generated one the holder must replace.
    pub password_must_change: bool,
    /// The parameters of the stored hash.
    pub hash: HashScheme,
    pub mfa_enrolled: bool,
    /// The tenant's access policy requires MFA for this user's role.
    pub mfa_required: bool,
    pub last_login_at: Option<Timestamp>,
    pub last_access_review_at: Option<Timestamp>,
}

impl UserSnapshot {
    /// The snapshot of `user` under the tenant's `policy`; MFA enrolment
    /// lives in its own store, so the caller passes it.
    pub fn from_user(user: &User, policy: &AccessPolicy, mfa_enrolled: bool) -> Self {
        Self {
            id: user.id,
            role: user.role,
            active: user.is_active && user.deleted_at.is_none(),
            created_at: user.created_at,
            password_changed_at: user.password_changed_at,
            password_must_change: user.password_must_change,
            hash: HashScheme::from_phc(user.password_hash.as_str()),
            mfa_enrolled,
            mfa_required: policy.requires_mfa(user.role),
            last_login_at: user.last_login_at,
            last_access_review_at: user.last_access_review_at,
        }
    }
}
