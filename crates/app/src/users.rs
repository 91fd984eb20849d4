//! User administration.

use std::sync::Arc;

use isms_domain::audit::AuditRecord;
use isms_domain::email::Email;
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::page::{Page, PageRequest};
use isms_domain::password_policy::check_password;
use isms_domain::ports::{PasswordHasher, UserRepository};
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::user::{NewUser, User, parse_display_name};
use isms_domain::{Role, TenantId, UserId};
use secrecy::{ExposeSecret, SecretString};

use crate::AppError;
use crate::audit::AuditTrail;
use crate::auth::AuthService;
use crate::secrets::generate_password;

pub struct CreateUser {
    pub tenant_id: TenantId,
    pub email: String,
    pub display_name: Option<String>,
    pub role: Role,
    /// `None` generates a one-time password the user must change.
    pub password: Option<SecretString>,
}

pub struct CreatedUser {
    pub user: User,
    /// Present when the password was generated: shown to the operator once.
    pub generated_password: Option<SecretString>,
}

#[derive(Clone)]
pub struct UserService {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
}

impl UserService {
    pub fn new(users: Arc<dyn UserRepository>, hasher: Arc<dyn PasswordHasher>) -> Self {
        Self { users, hasher }
    }

    /// Validates and prepares a user without storing it, so bootstrap can
    /// store it together with its tenant.
    pub async fn prepare(&self, cmd: CreateUser) -> Result<CreatedUser, AppError> {
        let email = Email::parse(&cmd.email)
            .map_err(|e| AppError::validation("email", "invalid_email", e))?;
        let display_name = cmd
            .display_name
            .as_deref()
            .map(parse_display_name)
            .transpose()
            .map_err(|e| AppError::validation("display_name", "invalid_display_name", e))?;
        let (password, generated) = match cmd.password {
            Some(p) => (p, false),
            None => (generate_password(), true),
        };
        check_password(password.expose_secret(), Some(&email))
            .map_err(|rule| AppError::validation("password", rule.code(), rule))?;
        let password_hash = self.hasher.hash(password.clone()).await?;
        let user = User::create(
            NewUser {
                tenant_id: cmd.tenant_id,
                email,
                display_name,
                role: cmd.role,
                password_hash,
                password_must_change: generated,
            },
            isms_domain::time::now(),
        );
        Ok(CreatedUser {
            user,
            generated_password: generated.then_some(password),
        })
    }

    /// Creates a user on an operator's behalf (the CLI), with its audit
    /// record.
    pub async fn create(
        &self,
        cmd: CreateUser,
        trail: &AuditTrail,
    ) -> Result<CreatedUser, AppError> {
        let created = self.prepare(cmd).await?;
        let user = &created.user;
        let event = SecurityEvent::new(K::UserCreated, Outcome::Success, &RequestMeta::default())
            .tenant(user.tenant_id)
            .target(user.id)
            .details(serde_json::json!({ "via": "cli", "role": user.role.as_str() }));
        let users = &self.users;
        trail
            .change(vec![event], async |audit: &[AuditRecord]| {
                users.create(user, audit).await
            })
            .await?;
        tracing::info!(user_id = %created.user.id, tenant_id = %created.user.tenant_id, role = %created.user.role, "user.created");
        Ok(created)
    }
}

/// A partial update: only provided fields change.
#[derive(Debug, Default, Clone)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub is_active: Option<bool>,
}

/// User administration on behalf of an authenticated caller. Permissions
/// are checked here, below the handlers, and every query is scoped to the
/// caller's tenant.
#[derive(Clone)]
pub struct UserAdmin {
    users: Arc<dyn UserRepository>,
    service: UserService,
    hasher: Arc<dyn PasswordHasher>,
    auth: AuthService,
    audit: AuditTrail,
    erasure: Option<Arc<dyn isms_domain::compliance::GdprRepository>>,
}

impl UserAdmin {
    pub fn new(
        users: Arc<dyn UserRepository>,
        service: UserService,
        hasher: Arc<dyn PasswordHasher>,
        auth: AuthService,
        audit: AuditTrail,
    ) -> Self {
        Self {
            users,
            service,
            hasher,
            auth,
            audit,
            erasure: None,
        }
    }

    /// The store that erases accounts (personal data overwritten and the
    /// subject's key destroyed, in one transaction).
    pub fn with_erasure(
        mut self,
        erasure: Arc<dyn isms_domain::compliance::GdprRepository>,
    ) -> Self {
        self.erasure = Some(erasure);
        self
    }

    fn event(&self, kind: K, who: &Principal, target: UserId, meta: &RequestMeta) -> SecurityEvent {
        SecurityEvent::new(kind, Outcome::Success, meta)
            .tenant(who.tenant_id)
            .actor(who.user_id)
            .target(target)
            .session(who.session_id)
    }

    /// Creates a user in the caller's tenant; nobody grants a role above
    /// their own.
    pub async fn create(
        &self,
        who: &Principal,
        email: String,
        display_name: Option<String>,
        role: Role,
        password: SecretString,
        meta: &RequestMeta,
    ) -> Result<User, AppError> {
        who.require(Permission::UsersWrite)?;
        if !who.role.can_grant(role) {
            return Err(AppError::Forbidden("role_above_own"));
        }
        // The id is known only once prepared; the record names it.
        let prepared = self
            .service
            .prepare(CreateUser {
                tenant_id: who.tenant_id,
                email,
                display_name,
                role,
                password: Some(password),
            })
            .await?;
        let user = prepared.user;
        let event = self
            .event(K::UserCreated, who, user.id, meta)
            .details(serde_json::json!({ "role": role.as_str(), "fields": ["email", "display_name", "role"] }));
        let users = &self.users;
        self.audit
            .change(vec![event], async |audit| users.create(&user, audit).await)
            .await?;
        tracing::info!(user_id = %user.id, tenant_id = %user.tenant_id, role = %user.role, "user.created");
        Ok(user)
    }

    pub async fn list(&self, who: &Principal, page: PageRequest) -> Result<Page<User>, AppError> {
        who.require(Permission::UsersRead)?;
        Ok(self.users.list(who.tenant_id, page).await?)
    }

    /// Self, or anyone in the tenant with `users:read`.
    pub async fn get(&self, who: &Principal, id: UserId) -> Result<User, AppError> {
        if id != who.user_id {
            who.require(Permission::UsersRead)?;
        }
        Ok(self.users.get(who.tenant_id, id).await?)
    }

    /// The caller's own account, from the session state the request was
    /// just authenticated with (changes made through this instance
    /// invalidate it at once), falling back to the store.
    pub async fn me(&self, who: &Principal) -> Result<User, AppError> {
        match self.auth.cached_user(who.session_id) {
            Some(user) if user.id == who.user_id => Ok(user),
            _ => self.get(who, who.user_id).await,
        }
    }

    /// Self may change the display name; `users:write` holders may also
    /// change role (never above their own) and active state.
    pub async fn update(
        &self,
        who: &Principal,
        id: UserId,
        patch: UserPatch,
        meta: &RequestMeta,
    ) -> Result<User, AppError> {
        let is_self = id == who.user_id;
        if !is_self || patch.role.is_some() || patch.is_active.is_some() {
            who.require(Permission::UsersWrite)?;
        }
        let mut user = self.users.get(who.tenant_id, id).await?;
        let old_role = user.role;
        let was_active = user.is_active;
        let sensitive = patch.role.is_some_and(|r| r != old_role)
            || (was_active && patch.is_active == Some(false));
        if sensitive {
            self.auth.require_step_up(who)?;
        }
        if let Some(name) = patch.display_name.as_deref() {
            user.display_name = parse_display_name(name)
                .map_err(|e| AppError::validation("display_name", "invalid_display_name", e))?;
        }
        if let Some(role) = patch.role {
            if !who.role.can_grant(role) || !who.role.can_grant(old_role) {
                return Err(AppError::Forbidden("role_above_own"));
            }
            if is_self && role != old_role {
                return Err(AppError::validation(
                    "role",
                    "cannot_change_own_role",
                    "you cannot change your own role",
                ));
            }
            user.role = role;
        }
        if let Some(active) = patch.is_active {
            if is_self && !active {
                return Err(AppError::validation(
                    "is_active",
                    "cannot_deactivate_self",
                    "you cannot deactivate yourself",
                ));
            }
            user.is_active = active;
        }
        user.updated_at = isms_domain::time::now();
        let mut events = Vec::new();
        if user.role != old_role {
            events.push(self.event(K::RoleChanged, who, id, meta).details(
                serde_json::json!({ "from": old_role.as_str(), "to": user.role.as_str() }),
            ));
        }
        let deactivated = was_active && !user.is_active;
        if deactivated {
            events.push(self.event(K::UserDeactivated, who, id, meta));
        } else if patch.display_name.is_some() || (!was_active && user.is_active) {
            events.push(
                self.event(K::UserUpdated, who, id, meta)
                    .details(serde_json::json!({ "fields": changed_fields(&patch) })),
            );
        }
        let users = &self.users;
        self.audit
            .change(events, async |audit| users.update(&user, audit).await)
            .await?;
        self.auth.invalidate_user(user.id);
        if deactivated {
            self.auth.revoke_user_sessions(&user, None).await?;
        }
        Ok(user)
    }

    /// Soft-deletes a user and ends every session it has. With `erase`
    /// (GDPR Art. 17) the account's personal data is overwritten and the
    /// subject's key destroyed, so whatever was sealed under it (e.g. in
    /// audit details) becomes unrecoverable while every audit hash still
    /// verifies.
    pub async fn delete(
        &self,
        who: &Principal,
        id: UserId,
        erase: bool,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        who.require(Permission::UsersWrite)?;
        if id == who.user_id {
            return Err(AppError::validation(
                "id",
                "cannot_delete_self",
                "you cannot delete yourself",
            ));
        }
        let user = self.users.get(who.tenant_id, id).await?;
        if !who.role.can_grant(user.role) {
            return Err(AppError::Forbidden("role_above_own"));
        }
        self.auth.require_step_up(who)?;
        let users = &self.users;
        if erase {
            self.erase(who, &user, meta).await?;
        }
        self.audit
            .change(
                vec![
                    self.event(K::UserDeleted, who, id, meta)
                        .details(serde_json::json!({ "erased": erase })),
                ],
                async |audit| users.soft_delete(who.tenant_id, id, audit).await,
            )
            .await?;
        self.auth.revoke_user_sessions(&user, None).await?;
        Ok(())
    }

    /// Changes the caller's own password and ends its other sessions.
    pub async fn change_password(
        &self,
        who: &Principal,
        current: SecretString,
        new: SecretString,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        // Replacing a one-time password is the first thing a new account
        // does, before it can enrol a second factor; every other change
        // is a sensitive action.
        if !who.password_must_change {
            self.auth.require_step_up(who)?;
        }
        let mut user = self.users.get(who.tenant_id, who.user_id).await?;
        if !self.hasher.verify(current, &user.password_hash).await? {
            return Err(AppError::validation(
                "current_password",
                "invalid_current_password",
                "the current password is wrong",
            ));
        }
        check_password(new.expose_secret(), Some(&user.email))
            .map_err(|rule| AppError::validation("new_password", rule.code(), rule))?;
        let now = isms_domain::time::now();
        user.password_hash = self.hasher.hash(new).await?;
        user.password_changed_at = Some(now);
        user.password_must_change = false;
        user.updated_at = now;
        let users = &self.users;
        self.audit
            .change(
                vec![self.event(K::PasswordChanged, who, who.user_id, meta)],
                async |audit| users.update(&user, audit).await,
            )
            .await?;
        self.auth
            .revoke_user_sessions(&user, Some(who.session_id))
            .await?;
        Ok(())
    }
}

impl UserAdmin {
    /// Overwrites the account's personal data, drops its sessions' client
    /// details and destroys the subject's key (a tombstone stops a new one
    /// being issued), in one transaction with its audit record.
    async fn erase(
        &self,
        who: &Principal,
        user: &User,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        let erasure = self
            .erasure
            .as_ref()
            .ok_or_else(|| AppError::Internal("erasure needs the GDPR store".into()))?;
        crate::gdpr::erase_account(
            &self.audit,
            erasure,
            Some(who),
            who.tenant_id,
            user.id,
            meta,
        )
        .await?;
        Ok(())
    }

    /// Lifts a brute-force lock on a user of the caller's tenant.
    pub async fn unlock(
        &self,
        who: &Principal,
        id: UserId,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        who.require(Permission::UsersWrite)?;
        let user = self.users.get(who.tenant_id, id).await?;
        let was_locked = self.auth.lockout().unlock(user.email.as_str()).await?;
        self.audit
            .record(vec![
                self.event(K::AccountUnlocked, who, id, meta)
                    .details(serde_json::json!({ "was_locked": was_locked })),
            ])
            .await?;
        Ok(())
    }
}

fn changed_fields(patch: &UserPatch) -> Vec<&'static str> {
    let mut f = Vec::new();
    if patch.display_name.is_some() {
        f.push("display_name");
    }
    if patch.role.is_some() {
        f.push("role");
    }
    if patch.is_active.is_some() {
        f.push("is_active");
    }
    f
}
