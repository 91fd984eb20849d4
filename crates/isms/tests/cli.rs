#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]
//! The `isms` binary as a black box: the real executable in a fresh working
//! directory with a scrubbed environment. Help output, configuration errors
//! (exit 2, one line naming the key), the administrative subcommands on
//! SQLite and PostgreSQL, and the server as a process: first start, shared
//! SQLite with the CLI, SIGTERM, restart.

mod support;

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use isms_store::testing::TestDatabase;
use serde_json::{Value, json};
use support::{ADMIN_EMAIL, Backend, MASTER_KEY_B64};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

const BIN: &str = env!("CARGO_BIN_EXE_isms");
/// Any child still running after this is killed and the test fails.
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to exit after SIGTERM.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
const GOOD_PASSWORD: &str = "a perfectly fine passphrase";

on_both_backends!(
    migrate_succeeds_and_is_idempotent,
    tenant_create_and_list,
    user_create,
    keys_rotate_signing_prints_a_new_kid_each_time,
    serve_first_start_shared_database_sigterm_and_restart,
);

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// One finished run of the binary.
#[derive(Debug)]
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "expected success: {self:#?}");
        self
    }

    /// Stdout split into lines.
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Exactly one line on stdout, which is a UUIDv7; returns it.
    fn one_uuid(&self) -> uuid::Uuid {
        self.assert_success();
        let lines = self.lines();
        assert_eq!(lines.len(), 1, "expected exactly one line: {self:#?}");
        assert_uuid(lines[0])
    }

    /// Asserts a failure with nothing on stdout, exactly one non-empty line
    /// on stderr and no trace of a panic or backtrace; returns that line.
    fn one_line_error(&self) -> &str {
        assert!(!self.status.success(), "expected failure: {self:#?}");
        assert!(
            self.stdout.trim().is_empty(),
            "nothing on stdout on failure: {self:#?}"
        );
        let lines: Vec<&str> = self.stderr.trim_end_matches('\n').lines().collect();
        assert_eq!(lines.len(), 1, "exactly one line on stderr: {self:#?}");
        assert!(!lines[0].trim().is_empty(), "a non-empty line: {self:#?}");
        for forbidden in ["panicked", "backtrace", "RUST_BACKTRACE"] {
            assert!(
                !self
                    .stderr
                    .to_lowercase()
                    .contains(&forbidden.to_lowercase()),
                "{forbidden:?} on stderr: {self:#?}"
            );
        }
        lines[0]
    }
}

fn assert_uuid(s: &str) -> uuid::Uuid {
    let id = uuid::Uuid::parse_str(s).unwrap_or_else(|_| panic!("not a UUID: {s:?}"));
    assert_eq!(id.get_version_num(), 7, "ids are UUIDv7: {s}");
    id
}

/// A fresh working directory plus the `ISMS_*` variables to give the binary
/// (everything else named `ISMS_*` in the test's own environment is removed).
struct Env {
    dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
    _db: Option<TestDatabase>,
}

impl Env {
    /// No configuration at all: the defaults.
    fn bare() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            vars: Vec::new(),
            _db: None,
        }
    }

    /// The defaults plus a master key.
    fn with_key() -> Self {
        Self::bare().set("ISMS_MASTER_KEY", MASTER_KEY_B64)
    }

    /// A fresh database of `backend` (and, unless `with_key` is false, a
    /// master key); `None` when the backend is skipped here.
    async fn database(backend: Backend, with_key: bool) -> Option<Self> {
        let db = match backend {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => TestDatabase::postgres().await?,
        };
        let mut env = if with_key {
            Self::with_key()
        } else {
            Self::bare()
        };
        env = env.set("ISMS_DATABASE_URL", db.url());
        env._db = Some(db);
        Some(env)
    }

    /// A database of `backend` with a master key.
    async fn for_backend(backend: Backend) -> Option<Self> {
        Self::database(backend, true).await
    }

    fn set(mut self, key: &str, value: &str) -> Self {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_owned(), value.to_owned()));
        self
    }

    fn unset(mut self, key: &str) -> Self {
        self.vars.retain(|(k, _)| k != key);
        self
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.path().join(name), contents).unwrap();
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.current_dir(self.path()).args(args);
        for (key, ..) in isms::config::KEYS {
            cmd.env_remove(key);
        }
        cmd.env_remove("ISMS_CONFIG");
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None).await
    }

    async fn run_stdin(&self, args: &[&str], input: &str) -> Run {
        self.run_with(args, Some(input)).await
    }

    async fn run_with(&self, args: &[&str], input: Option<&str>) -> Run {
        let mut cmd = self.command(args);
        if input.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("start isms");
        if let Some(input) = input {
            let mut stdin = child.stdin.take().unwrap();
            // The child may exit without reading (a clap error): ignore a
            // broken pipe.
            let _ = stdin.write_all(input.as_bytes()).await;
            drop(stdin);
        }
        // On timeout the child is dropped, which kills it.
        let out = tokio::time::timeout(CHILD_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("isms {args:?} did not finish within {CHILD_TIMEOUT:?}"))
            .unwrap();
        Run {
            status: out.status,
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `isms` serving in the background, started with no subcommand.
struct Server {
    child: tokio::process::Child,
    /// Stdout lines up to and including the "listening" line.
    startup: Vec<String>,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: tokio::task::JoinHandle<String>,
    base: String,
}

/// What a stopped server left behind.
struct Stopped {
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: String,
}

impl Server {
    async fn start(env: &Env, port: u16) -> Self {
        let mut child = env.command(&[]).spawn().expect("start isms");
        let out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let stderr = tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf).await;
            String::from_utf8_lossy(&buf).into_owned()
        });
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut startup = Vec::new();
        let listening = tokio::time::timeout(CHILD_TIMEOUT, async {
            while let Some(line) = rx.recv().await {
                let done = line.contains("listening");
                startup.push(line);
                if done {
                    return true;
                }
            }
            false
        })
        .await;
        match listening {
            Ok(true) => {}
            Ok(false) => {
                let status = tokio::time::timeout(SHUTDOWN_TIMEOUT, child.wait()).await;
                let stderr = tokio::time::timeout(SHUTDOWN_TIMEOUT, stderr).await;
                panic!(
                    "server exited before listening ({status:?})\nstdout: {startup:#?}\nstderr: {stderr:?}"
                );
            }
            Err(_) => panic!("server not listening within {CHILD_TIMEOUT:?}: {startup:#?}"),
        }
        Self {
            child,
            startup,
            stdout: rx,
            stderr,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits (bounded) for the exit and the output.
    async fn terminate(mut self) -> Stopped {
        let pid = self.child.id().expect("server still running").to_string();
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(kill.success(), "kill -TERM {pid}");
        let status = tokio::time::timeout(SHUTDOWN_TIMEOUT, self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!("server did not exit within {SHUTDOWN_TIMEOUT:?} of SIGTERM")
            })
            .unwrap();
        let mut stdout = std::mem::take(&mut self.startup);
        let rest = tokio::time::timeout(SHUTDOWN_TIMEOUT, async {
            while let Some(line) = self.stdout.recv().await {
                stdout.push(line);
            }
        })
        .await;
        assert!(rest.is_ok(), "stdout did not close after exit");
        let stderr = tokio::time::timeout(SHUTDOWN_TIMEOUT, self.stderr)
            .await
            .expect("stderr did not close after exit")
            .unwrap();
        Stopped {
            status,
            stdout,
            stderr,
        }
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn health(client: &reqwest::Client, server: &Server) {
    let res = client
        .get(server.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"status": "ok"}));
}

async fn login_status(
    client: &reqwest::Client,
    server: &Server,
    email: &str,
    password: &str,
) -> reqwest::StatusCode {
    client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

// ---------------------------------------------------------------------------
// Help and configuration (no database needed)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn help_lists_the_subcommands_and_options() {
    let env = Env::bare();
    let has_all = |run: &Run, words: &[&str]| {
        run.assert_success();
        for w in words {
            assert!(run.stdout.contains(w), "{w:?} missing from help: {run:#?}");
        }
    };
    has_all(
        &env.run(&["--help"]).await,
        &["serve", "migrate", "tenant", "user", "keys", "config"],
    );
    has_all(&env.run(&["tenant", "--help"]).await, &["create", "list"]);
    has_all(
        &env.run(&["user", "create", "--help"]).await,
        &["--tenant", "--email", "--role", "--password-stdin"],
    );
    has_all(&env.run(&["keys", "--help"]).await, &["rotate-signing"]);
    has_all(&env.run(&["config", "--help"]).await, &["check"]);
    // Help touches nothing on disk.
    assert!(!env.path().join("data").exists());
}

#[tokio::test]
async fn bad_configuration_exits_2_with_one_line_naming_the_key() {
    struct Case {
        vars: &'static [(&'static str, &'static str)],
        unset_key: bool,
        file: Option<&'static str>,
        args: &'static [&'static str],
        names: &'static str,
        never: &'static [&'static str],
    }
    const CHECK: &[&str] = &["config", "check"];
    let case = |vars, args, names| Case {
        vars,
        unset_key: false,
        file: None,
        args,
        names,
        never: &[],
    };
    let cases = [
        case(&[("ISMS_BIND", "nonsense")], CHECK, "ISMS_BIND"),
        case(&[("ISMS_BIND", "nonsense")], &["migrate"], "ISMS_BIND"),
        case(
            &[("ISMS_BIND", "nonsense")],
            &["tenant", "list"],
            "ISMS_BIND",
        ),
        case(
            &[("ISMS_BIND", "nonsense")],
            &["tenant", "create", "--name", "X"],
            "ISMS_BIND",
        ),
        case(
            &[("ISMS_BIND", "nonsense")],
            &["keys", "rotate-signing"],
            "ISMS_BIND",
        ),
        case(&[("ISMS_BIND", "nonsense")], &[], "ISMS_BIND"),
        case(&[("ISMS_BIND", "nonsense")], &["serve"], "ISMS_BIND"),
        case(
            &[("ISMS_DATABASE_URL", "mysql://x")],
            CHECK,
            "ISMS_DATABASE_URL",
        ),
        case(&[("ISMS_CORS_ORIGINS", "*")], CHECK, "ISMS_CORS_ORIGINS"),
        case(
            &[("ISMS_CORS_ORIGINS", "https://ok.example,*")],
            CHECK,
            "ISMS_CORS_ORIGINS",
        ),
        case(
            &[("ISMS_AUTO_MIGRATE", "maybe")],
            CHECK,
            "ISMS_AUTO_MIGRATE",
        ),
        Case {
            vars: &[("ISMS_MASTER_KEY", "c2hvcnQ=")],
            never: &["c2hvcnQ"],
            ..case(&[], CHECK, "ISMS_MASTER_KEY")
        },
        Case {
            // 31 bytes: almost right, still refused, still not echoed.
            vars: &[(
                "ISMS_MASTER_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
            )],
            never: &["AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg"],
            ..case(&[], CHECK, "ISMS_MASTER_KEY")
        },
        Case {
            unset_key: true,
            ..case(
                &[("ISMS_ENVIRONMENT", "production")],
                CHECK,
                "ISMS_MASTER_KEY",
            )
        },
        Case {
            unset_key: true,
            ..case(
                &[("ISMS_ENVIRONMENT", "production")],
                &[],
                "ISMS_MASTER_KEY",
            )
        },
        Case {
            file: Some("bind = \"127.0.0.1:9000\"\nbnid = \"oops\"\n"),
            ..case(&[], &["--config", "isms.toml", "config", "check"], "bnid")
        },
        Case {
            // The file given through ISMS_CONFIG is read the same way.
            file: Some("colour = \"blue\"\n"),
            ..case(&[("ISMS_CONFIG", "isms.toml")], CHECK, "colour")
        },
        Case {
            file: Some("bind = \"nonsense\"\n"),
            ..case(&[], &["--config", "isms.toml", "migrate"], "bind")
        },
    ];
    for c in cases {
        let mut env = Env::with_key().set("RUST_BACKTRACE", "1");
        if c.unset_key {
            env = env.unset("ISMS_MASTER_KEY");
        }
        for (k, v) in c.vars {
            env = env.set(k, v);
        }
        if let Some(text) = c.file {
            env.write("isms.toml", text);
        }
        let run = env.run(c.args).await;
        let what = format!("isms {:?} with {:?}", c.args, c.vars);
        assert_eq!(run.code(), Some(2), "{what}: {run:#?}");
        let line = run.one_line_error();
        assert!(line.contains(c.names), "{what}: {line:?} names {}", c.names);
        for secret in c.never {
            assert!(!run.stderr.contains(secret), "{what} echoed {secret:?}");
        }
        // Refused before touching anything.
        assert!(!env.path().join("data").exists(), "{what} created ./data");
    }
}

#[tokio::test]
async fn good_configuration_check_exits_0() {
    // Defaults only.
    let env = Env::bare();
    env.run(&["config", "check"]).await.assert_success();
    // A master key, a file and the environment together; no secret echoed.
    let env = Env::with_key()
        .set(
            "ISMS_DATABASE_URL",
            "postgres://isms:s3cr3t-pw@127.0.0.1:5432/isms",
        )
        .set(
            "ISMS_CORS_ORIGINS",
            "https://app.example,http://localhost:3000",
        )
        .set("ISMS_ENVIRONMENT", "production");
    env.write(
        "isms.toml",
        "bind = \"0.0.0.0:9000\"\ndb_max_connections = 3\ncors_origins = [\"https://x.example\"]\nauto_migrate = false\n",
    );
    let run = env.run(&["--config", "isms.toml", "config", "check"]).await;
    run.assert_success();
    for secret in ["s3cr3t-pw", MASTER_KEY_B64] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "config check echoed a secret: {run:#?}"
        );
    }
    // Checking creates nothing.
    assert!(!env.path().join("data").exists());
}

#[tokio::test]
async fn database_errors_are_one_line_without_the_password() {
    // Nothing listens on port 1: the connection fails after the pool's
    // acquire timeout.
    let env = Env::with_key().set(
        "ISMS_DATABASE_URL",
        "postgres://isms:s3cr3t-pw@127.0.0.1:1/isms",
    );
    let run = env.run(&["migrate"]).await;
    assert_ne!(
        run.code(),
        Some(2),
        "a reachable-at-run-time error, not config"
    );
    let line = run.one_line_error();
    assert!(!line.contains("s3cr3t-pw"), "{line}");
}

#[tokio::test]
async fn migrate_on_the_defaults_creates_the_data_directory() {
    let env = Env::bare();
    let run = env.run(&["migrate"]).await;
    run.assert_success();
    let data = env.path().join("data");
    assert!(data.join("isms.db").is_file(), "./data/isms.db");
    assert_eq!(mode(&data), 0o700, "./data is private");
    assert_eq!(mode(&data.join("master.key")), 0o600, "master.key is 0600");
    assert!(run.stderr.contains("WARNING"), "{run:#?}");
    // The second run reuses the key: no new warning.
    let again = env.run(&["migrate"]).await;
    again.assert_success();
    assert!(!again.stderr.contains("WARNING"), "{again:#?}");
}

#[tokio::test]
async fn subcommands_read_the_config_file() {
    let env = Env::with_key();
    env.write("isms.toml", "data_dir = \"state\"\n");
    let id = env
        .run(&[
            "--config",
            "isms.toml",
            "tenant",
            "create",
            "--name",
            "Filed",
        ])
        .await
        .one_uuid();
    assert!(env.path().join("state/isms.db").is_file());
    assert!(!env.path().join("data").exists());
    let listed = env.run(&["--config", "isms.toml", "tenant", "list"]).await;
    listed.assert_success();
    assert!(listed.stdout.contains(&id.to_string()), "{listed:#?}");
    // Without the file, the default ./data is a different database.
    let other = env.run(&["tenant", "list"]).await;
    other.assert_success();
    assert!(!other.stdout.contains("Filed"), "{other:#?}");
}

// ---------------------------------------------------------------------------
// Subcommands on both backends
// ---------------------------------------------------------------------------

async fn migrate_succeeds_and_is_idempotent(backend: Backend) {
    let Some(env) = Env::for_backend(backend).await else {
        return;
    };
    env.run(&["migrate"]).await.assert_success();
    env.run(&["migrate"]).await.assert_success();
    // ISMS_DATABASE_URL is used: the default SQLite file is not created.
    assert!(!env.path().join("data/isms.db").exists());
}

async fn tenant_create_and_list(backend: Backend) {
    let Some(env) = Env::for_backend(backend).await else {
        return;
    };
    env.run(&["migrate"]).await.assert_success();
    let acme = env
        .run(&["tenant", "create", "--name", "Acme"])
        .await
        .one_uuid();
    let beta = env
        .run(&["tenant", "create", "--name", "Beta Ltd"])
        .await
        .one_uuid();
    assert_ne!(acme, beta);

    // Names are unique, ignoring case.
    let dup = env.run(&["tenant", "create", "--name", "ACME"]).await;
    let line = dup.one_line_error();
    assert!(line.contains("already"), "{line}");

    let list = env.run(&["tenant", "list"]).await;
    list.assert_success();
    let rows: Vec<Vec<&str>> = list
        .lines()
        .iter()
        .map(|l| l.split('\t').collect())
        .collect();
    for row in &rows {
        assert_eq!(row.len(), 3, "id<TAB>status<TAB>name: {row:?}");
        assert_uuid(row[0]);
    }
    assert!(
        rows.contains(&vec![acme.to_string().as_str(), "active", "Acme"]),
        "{list:#?}"
    );
    assert!(
        rows.contains(&vec![beta.to_string().as_str(), "active", "Beta Ltd"]),
        "{list:#?}"
    );
    assert_eq!(rows.len(), 2, "the failed create wrote nothing: {list:#?}");
}

async fn user_create(backend: Backend) {
    let Some(env) = Env::for_backend(backend).await else {
        return;
    };
    env.run(&["migrate"]).await.assert_success();
    let acme = env
        .run(&["tenant", "create", "--name", "Acme"])
        .await
        .one_uuid()
        .to_string();
    let good = format!("{GOOD_PASSWORD}\n");

    // By tenant name, then by tenant id.
    let a = create_user(&env, "Acme", "a@b.example", "analyst", &good)
        .await
        .one_uuid();
    let b = create_user(&env, &acme, "b@b.example", "viewer", &good)
        .await
        .one_uuid();
    assert_ne!(a, b);

    // Policy failures name the rule and write nothing.
    let common = create_user(&env, "Acme", "c@b.example", "analyst", "password1234\n").await;
    let line = common.one_line_error();
    assert!(line.contains("common"), "{line}");
    create_user(&env, "Acme", "c@b.example", "analyst", &good)
        .await
        .one_uuid();

    let short = create_user(&env, "Acme", "d@b.example", "analyst", "short\n").await;
    let line = short.one_line_error();
    assert!(line.contains("12"), "{line}");

    let own_name = create_user(
        &env,
        "Acme",
        "gwendolyn@b.example",
        "analyst",
        "call me gwendolyn please\n",
    )
    .await;
    let line = own_name.one_line_error();
    assert!(line.contains("local part"), "{line}");

    let empty = create_user(&env, "Acme", "d@b.example", "analyst", "").await;
    empty.one_line_error();

    // Without --password-stdin: the id, then a one-time password, once.
    let generated = env
        .run(&[
            "user",
            "create",
            "--tenant",
            "Acme",
            "--email",
            "e@b.example",
            "--role",
            "manager",
        ])
        .await;
    generated.assert_success();
    let lines = generated.lines();
    assert_eq!(lines.len(), 2, "{generated:#?}");
    assert_uuid(lines[0]);
    assert!(lines[1].contains("password"), "{generated:#?}");
    let password = lines[1].rsplit(' ').next().unwrap();
    assert!(password.len() >= 12, "{generated:#?}");
    assert!(
        !generated.stderr.contains(password),
        "password only on stdout"
    );

    // An unknown role is a usage error from the argument parser.
    let role = create_user(&env, "Acme", "f@b.example", "overlord", &good).await;
    assert_eq!(role.code(), Some(2), "{role:#?}");
    assert!(role.stderr.contains("role"), "{role:#?}");

    // Unknown tenants, by name and by id.
    let missing = create_user(&env, "Nowhere", "f@b.example", "viewer", &good).await;
    let line = missing.one_line_error();
    assert!(
        line.contains("tenant") && line.contains("Nowhere"),
        "{line}"
    );
    let missing_id = uuid::Uuid::now_v7().to_string();
    let missing = create_user(&env, &missing_id, "f@b.example", "viewer", &good).await;
    let line = missing.one_line_error();
    assert!(
        line.contains("tenant") && line.contains(&missing_id),
        "{line}"
    );

    // E-mail is unique across the server, ignoring case and whitespace.
    let dup = create_user(&env, "Acme", "a@b.example", "viewer", &good).await;
    assert!(dup.one_line_error().contains("already"), "{dup:#?}");
    env.run(&["tenant", "create", "--name", "Other"])
        .await
        .one_uuid();
    let dup = create_user(&env, "Other", " A@B.Example ", "viewer", &good).await;
    assert!(dup.one_line_error().contains("already"), "{dup:#?}");
}

/// `isms user create --password-stdin` with `input` on stdin.
async fn create_user(env: &Env, tenant: &str, email: &str, role: &str, input: &str) -> Run {
    let args = [
        "user",
        "create",
        "--tenant",
        tenant,
        "--email",
        email,
        "--role",
        role,
        "--password-stdin",
    ];
    env.run_stdin(&args, input).await
}

async fn keys_rotate_signing_prints_a_new_kid_each_time(backend: Backend) {
    let Some(env) = Env::for_backend(backend).await else {
        return;
    };
    env.run(&["migrate"]).await.assert_success();
    let kid = |run: Run| {
        run.assert_success();
        let lines = run.lines();
        assert_eq!(lines.len(), 1, "{run:#?}");
        assert!(!lines[0].trim().is_empty(), "{run:#?}");
        lines[0].to_owned()
    };
    let first = kid(env.run(&["keys", "rotate-signing"]).await);
    let second = kid(env.run(&["keys", "rotate-signing"]).await);
    assert_ne!(first, second);

    // The wrong master key cannot open the stored signing keys: a clear
    // error, not a panic.
    let wrong = env
        .set(
            "ISMS_MASTER_KEY",
            "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=",
        )
        .run(&["keys", "rotate-signing"])
        .await;
    wrong.one_line_error();
}

// ---------------------------------------------------------------------------
// The server as a process
// ---------------------------------------------------------------------------

/// SQLite runs on the embedded default (no database URL); both run without
/// a master key, so the development key is generated under ./data.
async fn serve_first_start_shared_database_sigterm_and_restart(backend: Backend) {
    let env = match backend {
        Backend::Sqlite => Env::bare(),
        Backend::Postgres => match Env::database(backend, false).await {
            Some(env) => env,
            None => return,
        },
    };
    let port = free_port();
    let env = env
        .set("ISMS_BIND", &format!("127.0.0.1:{port}"))
        .set("ISMS_PASSWORD_HASH_CONCURRENCY", "2");
    let data = env.path().join("data");
    let client = http();

    // First start: the credentials block, once, on stdout.
    let server = Server::start(&env, port).await;
    assert_eq!(
        server
            .startup
            .iter()
            .filter(|l| l.contains("listening"))
            .count(),
        1
    );
    let password_lines: Vec<&String> = server
        .startup
        .iter()
        .filter(|l| l.trim_start().starts_with("password:"))
        .collect();
    assert_eq!(password_lines.len(), 1, "{:#?}", server.startup);
    let password = password_lines[0]
        .trim()
        .strip_prefix("password:")
        .unwrap()
        .trim()
        .to_owned();
    assert!(password.len() >= 12, "{password:?}");
    assert_eq!(
        server
            .startup
            .iter()
            .filter(|l| l.contains(ADMIN_EMAIL))
            .count(),
        1,
        "{:#?}",
        server.startup
    );

    // The data directory and the generated master key are private.
    if matches!(backend, Backend::Sqlite) {
        assert!(data.join("isms.db").is_file(), "./data/isms.db");
    } else {
        assert!(!data.join("isms.db").exists(), "PostgreSQL needs no file");
    }
    // Whoever creates it (SQLite store or master-key loader), it is private.
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("master.key")), 0o600);

    health(&client, &server).await;
    assert_eq!(
        login_status(&client, &server, ADMIN_EMAIL, &password).await,
        200
    );
    assert_eq!(
        login_status(&client, &server, ADMIN_EMAIL, "not the password at all").await,
        401
    );

    // The CLI shares the database (and the generated master key) with the
    // running server.
    let side = env.run(&["tenant", "create", "--name", "Side"]).await;
    side.one_uuid();
    let user = env
        .run_stdin(
            &[
                "user",
                "create",
                "--tenant",
                "Side",
                "--email",
                "side@b.example",
                "--role",
                "viewer",
                "--password-stdin",
            ],
            &format!("{GOOD_PASSWORD}\n"),
        )
        .await;
    user.one_uuid();
    health(&client, &server).await;
    assert_eq!(
        login_status(&client, &server, "side@b.example", GOOD_PASSWORD).await,
        200,
        "a user created by the CLI logs in to the running server"
    );
    let list = env.run(&["tenant", "list"]).await;
    list.assert_success();
    assert!(list.stdout.contains("\tSide\n"), "{list:#?}");

    // SIGTERM: a clean, prompt exit.
    let stopped = server.terminate().await;
    assert!(
        stopped.status.success(),
        "exit after SIGTERM: {:?}",
        stopped.status
    );
    let stdout = stopped.stdout.join("\n");
    assert_eq!(
        stdout.matches("password:").count(),
        1,
        "the first-start block appears once: {stdout}"
    );
    assert!(
        !stopped.stderr.contains(&password),
        "the one-time password leaked into the log stream"
    );
    assert!(
        stopped.stderr.contains("WARNING") && stopped.stderr.contains("master key"),
        "the generated master key is announced loudly: {}",
        stopped.stderr
    );

    // Second start on the same data: no new credentials, same admin.
    let server = Server::start(&env, port).await;
    // A fresh client: the old one's pooled connections died with the
    // first process.
    let client = http();
    health(&client, &server).await;
    assert_eq!(
        login_status(&client, &server, ADMIN_EMAIL, &password).await,
        200
    );
    let stopped = server.terminate().await;
    assert!(stopped.status.success(), "{:?}", stopped.status);
    let stdout = stopped.stdout.join("\n");
    assert!(stdout.contains("listening"), "{stdout}");
    assert!(
        !stdout.contains("password:"),
        "second start prints no password: {stdout}"
    );
    assert!(!stdout.contains("First start"), "{stdout}");
    assert!(
        !stopped.stderr.contains("WARNING"),
        "the key is reused: {}",
        stopped.stderr
    );
    assert!(!stopped.stderr.contains(&password));
}
