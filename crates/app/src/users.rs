//! User administration.

use std::sync::Arc;

use isms_domain::email::Email;
use isms_domain::password_policy::check_password;
use isms_domain::ports::{PasswordHasher, UserRepository};
use isms_domain::user::{parse_display_name, NewUser, User};
use isms_domain::{Role, TenantId};
use secrecy::{ExposeSecret, SecretString};

use crate::secrets::generate_password;
use crate::AppError;

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
        let email = Email::parse(&cmd.email).map_err(|e| AppError::validation("email", "invalid_email", e))?;
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

    pub async fn create(&self, cmd: CreateUser) -> Result<CreatedUser, AppError> {
        let created = self.prepare(cmd).await?;
        self.users.create(&created.user).await?;
        tracing::info!(user_id = %created.user.id, tenant_id = %created.user.tenant_id, role = %created.user.role, "user.created");
        Ok(created)
    }
}
