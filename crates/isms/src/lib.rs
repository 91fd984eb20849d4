//! The isms binary's library half: configuration, wiring of adapters into
//! services, the server lifecycle and the CLI commands. Integration tests
//! start the server through `server::spawn`, the same path `main` takes.

pub mod audit_cli;
pub mod cli;
pub mod commands;
pub mod config;
pub mod emf;
pub mod jobs;
pub mod json_escape;
pub mod json_log;
pub mod logging;
pub mod observability;
pub mod redact;
pub mod server;
pub mod wiring;
