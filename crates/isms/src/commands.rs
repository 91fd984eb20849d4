//! The administrative subcommands. Output meant for scripts goes to stdout
//! (one id per line); diagnostics go to stderr.

use std::io::{BufRead, Write};

use anyhow::{Context as _, bail};
use isms_app::AppError;
use isms_app::users::CreateUser;
use isms_domain::Role;
use isms_domain::page::{MAX_LIMIT, PageRequest};
use secrecy::{ExposeSecret, SecretString};

use crate::config::Config;
use crate::wiring;

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let services = wiring::connect(config, true).await?;
    services.store.close().await;
    eprintln!(
        "migrations applied ({})",
        config.database_url.backend().as_str()
    );
    Ok(())
}

pub async fn tenant_create(config: &Config, name: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    let services = wiring::connect(config, config.auto_migrate).await?;
    let tenant = services.app.tenants.create(name).await.map_err(describe)?;
    writeln!(out, "{}", tenant.id)?;
    services.store.close().await;
    Ok(())
}

pub async fn tenant_list(config: &Config, out: &mut dyn Write) -> anyhow::Result<()> {
    let services = wiring::connect(config, config.auto_migrate).await?;
    let mut after = None;
    loop {
        let page = services
            .app
            .tenants
            .list(PageRequest::new(Some(MAX_LIMIT), after).map_err(|e| anyhow::anyhow!(e))?)
            .await
            .map_err(describe)?;
        for t in &page.items {
            writeln!(out, "{}\t{}\t{}", t.id, t.status.as_str(), t.name)?;
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    services.store.close().await;
    Ok(())
}

pub struct UserArgs<'a> {
    pub tenant: &'a str,
    pub email: &'a str,
    pub role: Role,
    pub display_name: Option<String>,
    pub password_stdin: bool,
}

pub async fn user_create(
    config: &Config,
    args: UserArgs<'_>,
    stdin: &mut dyn BufRead,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let password = if args.password_stdin {
        let mut line = zeroize::Zeroizing::new(String::new());
        stdin
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        let trimmed = line.trim_end_matches(['\n', '\r']);
        if trimmed.is_empty() {
            bail!("--password-stdin: no password on stdin");
        }
        Some(SecretString::from(trimmed))
    } else {
        None
    };
    let services = wiring::connect(config, config.auto_migrate).await?;
    let tenant = services
        .app
        .tenants
        .resolve(args.tenant)
        .await
        .map_err(|e| match e {
            AppError::NotFound => anyhow::anyhow!("no tenant with id or name {:?}", args.tenant),
            other => describe(other),
        })?;
    let created = services
        .app
        .users
        .create(
            CreateUser {
                tenant_id: tenant.id,
                email: args.email.to_owned(),
                display_name: args.display_name,
                role: args.role,
                password,
            },
            &services.app.audit,
        )
        .await
        .map_err(describe)?;
    writeln!(out, "{}", created.user.id)?;
    if let Some(p) = created.generated_password {
        writeln!(
            out,
            "one-time password (shown once; must be changed at first login): {}",
            p.expose_secret()
        )?;
    }
    services.store.close().await;
    Ok(())
}

/// A one-line description of an application error for the terminal.
fn describe(e: AppError) -> anyhow::Error {
    match e {
        AppError::Validation { field, message, .. } => anyhow::anyhow!("{field}: {message}"),
        AppError::Conflict(rule) => anyhow::anyhow!("{} already in use", rule.replace('_', " ")),
        AppError::NotFound => anyhow::anyhow!("not found"),
        AppError::Unauthenticated | AppError::InvalidCredentials => {
            anyhow::anyhow!("not authenticated")
        }
        AppError::Forbidden(why) => anyhow::anyhow!("not allowed: {why}"),
        AppError::PasswordChangeRequired => anyhow::anyhow!("password change required"),
        AppError::Unavailable(m) => anyhow::anyhow!("database unavailable: {m}"),
        AppError::Internal(m) => anyhow::anyhow!("internal error: {m}"),
        // The CLI neither logs in nor passes the access layer; these
        // cannot arise from a command, but a one-liner beats a panic.
        other => anyhow::anyhow!("{other}"),
    }
}

/// Starts signing access tokens with a new key; tokens signed by the old
/// key stay valid until they expire (running servers pick the new key up
/// within a minute, or at once when they meet a token signed with it).
pub async fn keys_rotate_signing(config: &Config, out: &mut dyn Write) -> anyhow::Result<()> {
    let services = wiring::connect(config, config.auto_migrate).await?;
    let event = isms_domain::events::SecurityEvent::new(
        isms_domain::events::SecurityEventKind::SigningKeyRotated,
        isms_domain::events::Outcome::Success,
        &isms_domain::events::RequestMeta::default(),
    )
    .details(serde_json::json!({ "via": "cli", "key": "access_token_signing" }));
    let records = services
        .app
        .audit
        .prepare(std::slice::from_ref(&event))
        .await
        .map_err(describe)?;
    let kid = services
        .keys
        .rotate(&records)
        .await
        .context("rotating the signing key")?;
    services.app.audit.committed(vec![event]);
    writeln!(out, "{kid}")?;
    services.store.close().await;
    Ok(())
}
