//! Command line. Every subcommand reads the same configuration as `serve`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "isms",
    version,
    about = "Information-security management server for ISO/IEC 27001"
)]
pub struct Cli {
    /// TOML configuration file (environment variables override it).
    #[arg(long, global = true, env = "ISMS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no command is given).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Verify and export the tamper-evident audit logs.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Inspect configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Re-hash every audit log, rebuild its Merkle tree and check every
    /// signed checkpoint; exit 0 only when all verify. With --file, verify
    /// an export offline instead (no database needed).
    Verify {
        /// An export written by `isms audit export`.
        #[arg(long, requires = "pubkey", value_name = "FILE")]
        file: Option<PathBuf>,
        /// The log's verifier key (`GET /api/v1/audit/log-key`,
        /// `verifier_key`).
        #[arg(long, requires = "file", value_name = "KEY")]
        pubkey: Option<String>,
    },
    /// Write a tenant's log (entries and checkpoints) as JSON lines to
    /// stdout.
    Export {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints its id.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List tenants (id, status, name), one per line.
    List,
    /// Delete a tenant: its users and sessions end and its data keys are
    /// destroyed, so everything it encrypted becomes unrecoverable.
    Delete {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// Confirm that the tenant's encrypted data is to be destroyed.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints its id (and a generated password, once).
    Create {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        /// admin, manager, analyst, auditor or viewer.
        #[arg(long)]
        role: isms_domain::Role,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from the first line of stdin instead of
        /// generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Start signing access tokens with a new Ed25519 key; prints its id.
    /// Old tokens stay valid until they expire.
    RotateSigning,
    /// Rotate a tenant's data key of one classification; prints the new
    /// version's id. Older versions keep decrypting.
    Rotate {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// public, internal, confidential or restricted.
        #[arg(long)]
        classification: String,
    },
    /// Rewrap every stored key (data keys, subject keys, signing keys, the
    /// audit log key, TOTP secrets) from the configured master key to a new
    /// one, in one transaction; then configure the new key.
    RotateMaster {
        /// File holding the new base64 master key (mode 0600).
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration; exit 2 naming the first bad key.
    Check,
}
