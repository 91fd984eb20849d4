//! `isms`: the server and its administrative CLI.

use std::process::ExitCode;

use clap::Parser;
use isms::cli::{
    AuditCommand, Cli, Command, ConfigCommand, KeysCommand, TenantCommand, UserCommand,
};
use isms::commands::{self, UserArgs};
use isms::config::Config;

/// mimalloc instead of the C library's allocator: a request makes about a
/// hundred small allocations across threads, a third of a health
/// request's instructions went to glibc malloc (see the README's
/// benchmarks).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status for configuration errors (as for `config check`).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: invalid configuration: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    // Held until exit so buffered log lines are flushed.
    let _log_guard = matches!(command, Command::Serve).then(|| isms::logging::init(&config));
    let result = runtime.block_on(async {
        let mut out = std::io::stdout();
        match command {
            Command::Serve => isms::server::run(config).await,
            Command::Migrate => commands::migrate(&config).await,
            Command::Tenant(TenantCommand::Create { name }) => {
                commands::tenant_create(&config, &name, &mut out).await
            }
            Command::Tenant(TenantCommand::List) => commands::tenant_list(&config, &mut out).await,
            Command::Tenant(TenantCommand::Delete { tenant, yes }) => {
                commands::tenant_delete(&config, &tenant, yes, &mut out).await
            }
            Command::User(UserCommand::Create {
                tenant,
                email,
                role,
                display_name,
                password_stdin,
            }) => {
                let args = UserArgs {
                    tenant: &tenant,
                    email: &email,
                    role,
                    display_name,
                    password_stdin,
                };
                commands::user_create(&config, args, &mut std::io::stdin().lock(), &mut out).await
            }
            Command::Keys(KeysCommand::RotateSigning) => {
                commands::keys_rotate_signing(&config, &mut out).await
            }
            Command::Keys(KeysCommand::Rotate {
                tenant,
                classification,
            }) => commands::keys_rotate(&config, &tenant, &classification, &mut out).await,
            Command::Keys(KeysCommand::RotateMaster { new_key_file }) => {
                commands::keys_rotate_master(&config, &new_key_file, &mut out).await
            }
            Command::Audit(AuditCommand::Verify {
                file: Some(file),
                pubkey: Some(pubkey),
            }) => {
                let f = std::fs::File::open(&file)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                isms::audit_cli::verify_file(&mut std::io::BufReader::new(f), &pubkey, &mut out)
            }
            Command::Audit(AuditCommand::Verify { .. }) => {
                isms::audit_cli::verify_database(&config, &mut out).await
            }
            Command::Audit(AuditCommand::Export { tenant }) => {
                isms::audit_cli::export(&config, &tenant, &mut out).await
            }
            Command::Config(ConfigCommand::Check) => {
                println!("configuration ok (database: {})", config.database_url);
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes, no backtrace.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
