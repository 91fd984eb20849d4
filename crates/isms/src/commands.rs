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

async fn resolve_tenant(
    services: &wiring::Services,
    id_or_name: &str,
) -> anyhow::Result<isms_domain::tenant::Tenant> {
    services
        .app
        .tenants
        .resolve(id_or_name)
        .await
        .map_err(|e| match e {
            AppError::NotFound => anyhow::anyhow!("no tenant with id or name {id_or_name:?}"),
            other => describe(other),
        })
}

/// Offboards a tenant (see `TenantService::delete`); prints how many key
/// versions were destroyed.
pub async fn tenant_delete(
    config: &Config,
    tenant: &str,
    confirmed: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if !confirmed {
        bail!("deleting a tenant destroys its data keys and cannot be undone; pass --yes");
    }
    let services = wiring::connect(config, config.auto_migrate).await?;
    let t = resolve_tenant(&services, tenant).await?;
    let n = services
        .app
        .tenants
        .delete(&t, services.key_service.as_ref())
        .await
        .map_err(describe)?;
    writeln!(
        out,
        "deleted tenant {} ({n} data key versions destroyed)",
        t.id
    )?;
    services.store.close().await;
    Ok(())
}

fn cli_event(
    kind: isms_domain::events::SecurityEventKind,
    details: serde_json::Value,
) -> isms_domain::events::SecurityEvent {
    isms_domain::events::SecurityEvent::new(
        kind,
        isms_domain::events::Outcome::Success,
        &isms_domain::events::RequestMeta::default(),
    )
    .details(details)
}

/// Rotates one of a tenant's data keys (operator access, audited).
pub async fn keys_rotate(
    config: &Config,
    tenant: &str,
    classification: &str,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let class: isms_domain::crypto::Classification = classification.parse().map_err(|_| {
        anyhow::anyhow!("--classification: expected public, internal, confidential or restricted")
    })?;
    let services = wiring::connect(config, config.auto_migrate).await?;
    let t = resolve_tenant(&services, tenant).await?;
    let event = cli_event(
        isms_domain::events::SecurityEventKind::KeyRotated,
        serde_json::json!({ "classification": class.as_str(), "trigger": "cli" }),
    )
    .tenant(t.id);
    let records = services
        .app
        .audit
        .prepare(std::slice::from_ref(&event))
        .await
        .map_err(describe)?;
    let key = services
        .key_service
        .rotate(t.id, class, &records)
        .await
        .map_err(|e| anyhow::anyhow!("rotating: {e}"))?;
    services.app.audit.committed(vec![event]);
    writeln!(out, "{}", key.id())?;
    services.store.close().await;
    Ok(())
}

/// Rewraps every stored key under a new master key (one transaction).
pub async fn keys_rotate_master(
    config: &Config,
    new_key_file: &std::path::Path,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (new, _) = isms_infra::MasterKey::load(&isms_infra::MasterKeySource::File(
        new_key_file.to_path_buf(),
    ))
    .with_context(|| format!("new master key {}", new_key_file.display()))?;
    let services = wiring::connect(config, config.auto_migrate).await?;
    let event = cli_event(
        isms_domain::events::SecurityEventKind::MasterKeyRotated,
        serde_json::json!({ "via": "cli" }),
    );
    let records = services
        .app
        .audit
        .prepare(std::slice::from_ref(&event))
        .await
        .map_err(describe)?;
    let old = services.key_service.master().clone();
    let server_key_aad =
        |_: &str| isms_domain::crypto::blind::index_key_wrap_aad(isms_infra::crypto::SERVER);
    let counts = services
        .store
        .rotate_master_key(&isms_store::MasterRewrap {
            old: old.as_ref(),
            new: &new,
            server_key_aad: &server_key_aad,
            audit: &records,
        })
        .await
        .map_err(|e| anyhow::anyhow!("rewrapping: {e}"))?;
    services.app.audit.committed(vec![event]);
    writeln!(
        out,
        "rewrapped {} data keys, {} subject keys, {} server keys, {} signing keys, {} audit log keys, {} TOTP secrets",
        counts.data_keys,
        counts.subject_keys,
        counts.server_keys,
        counts.signing_keys,
        counts.audit_log_keys,
        counts.totp_secrets
    )?;
    writeln!(
        out,
        "now configure the new master key (ISMS_MASTER_KEY or ISMS_MASTER_KEY_FILE) and restart every instance"
    )?;
    services.store.close().await;
    Ok(())
}
