#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]
//! Envelope encryption and key management over real HTTP and through the
//! real binary, on SQLite and PostgreSQL: the encryption service (round
//! trips, context binding, tampering, tenant isolation), the role ×
//! classification matrix with MFA step-up and its audit trail, key
//! rotation / rewrap / retirement, personal data at rest (database file,
//! `pg_dump`, logs, API responses), crypto-shredding of a user, master-key
//! rotation (and refusing to start with the wrong key) and tenant
//! offboarding.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use serde_json::{Value, json};
use sha2::Digest as _;
use support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, MASTER_KEY_B64, Mfa, TestApp, Tokens};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

const PW: &str = "a long enough passphrase";
const BIN: &str = env!("CARGO_BIN_EXE_isms");
/// Any child process still running after this is killed and the test fails.
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);
const CLASSES: [&str; 4] = ["public", "internal", "confidential", "restricted"];

on_both_backends!(
    round_trip_every_classification_encoding_and_context,
    tampered_parts_wrong_context_and_bad_envelopes_fail,
    another_tenants_package_does_not_decrypt,
    role_matrix_step_up_and_their_audit_events,
    keys_list_rotate_rewrap_and_retire,
    personal_data_is_not_stored_in_clear,
    personal_data_is_not_in_logs_or_other_responses,
    erasure_shreds_the_user_and_the_audit_log_still_verifies,
    master_key_rotation_and_starting_with_a_wrong_key,
    tenant_delete_destroys_its_keys_and_cli_rotates_keys,
);

/// Regressions of bugs found while these tests were written: a package
/// whose parts disagree with its envelope, and an attempt on another
/// tenant's package that went unaudited.
mod regressions {
    use super::support::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tampered_full_package_is_refused_sqlite() {
        super::tampered_full_package_is_refused(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tampered_full_package_is_refused_postgres() {
        super::tampered_full_package_is_refused(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cross_tenant_attempt_is_audited_sqlite() {
        super::cross_tenant_attempt_is_audited(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cross_tenant_attempt_is_audited_postgres() {
        super::cross_tenant_attempt_is_audited(Backend::Postgres).await;
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Status and JSON body (a non-JSON body becomes a JSON string).
async fn status_body(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

async fn encrypt(app: &TestApp, token: &str, req: &Value) -> Value {
    let (status, body) =
        status_body(app.post_auth("/api/v1/crypto/encrypt", token, req).await).await;
    assert_eq!(status, 200, "encrypt {req}: {body}");
    body
}

async fn encrypt_text(app: &TestApp, token: &str, class: &str, text: &str) -> Value {
    encrypt(
        app,
        token,
        &json!({ "plaintext": text, "classification": class }),
    )
    .await
}

async fn decrypt(app: &TestApp, token: &str, req: &Value) -> (u16, Value) {
    status_body(app.post_auth("/api/v1/crypto/decrypt", token, req).await).await
}

/// Decrypts and asserts the plaintext came back.
async fn decrypts_to(app: &TestApp, token: &str, req: &Value, plaintext: &str) -> Value {
    let (status, body) = decrypt(app, token, req).await;
    assert_eq!(status, 200, "decrypt {req}: {body}");
    assert_eq!(body["plaintext"], plaintext, "{body}");
    body
}

/// Asserts an error status and code.
#[track_caller]
fn assert_error(got: &(u16, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "expected {status} {code}: {}", got.1);
    assert_eq!(got.1["code"], code, "expected {status} {code}: {}", got.1);
}

/// A copy of `v` with `fields` set.
fn with(v: &Value, fields: &[(&str, Value)]) -> Value {
    let mut out = v.clone();
    for (k, val) in fields {
        out[*k] = val.clone();
    }
    out
}

/// A copy of `v` without `fields`.
fn without(v: &Value, fields: &[&str]) -> Value {
    let mut out = v.clone();
    for k in fields {
        out.as_object_mut().unwrap().remove(*k);
    }
    out
}

/// The base64 value with bit 0 of byte `index` flipped.
fn flip_b64(s: &Value, index: usize) -> Value {
    let mut bytes = B64.decode(s.as_str().unwrap()).unwrap();
    let i = index.min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    json!(B64.encode(bytes))
}

/// The text envelope (`isms:v1:` + base64url) with byte `index` flipped.
fn flip_envelope(s: &Value, index: usize) -> Value {
    let text = s.as_str().unwrap();
    let body = text.strip_prefix("isms:v1:").unwrap();
    let mut bytes = B64URL.decode(body).unwrap();
    bytes[index] ^= 0x01;
    json!(format!("isms:v1:{}", B64URL.encode(bytes)))
}

async fn me(app: &TestApp, token: &str) -> Value {
    let (status, body) = status_body(app.get_auth("/api/v1/users/me", token).await).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn tenant_of(app: &TestApp, token: &str) -> String {
    me(app, token).await["tenant_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn user_id_of(tokens: &Tokens) -> String {
    let payload = tokens.access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&B64URL.decode(payload).unwrap()).unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

/// Refreshes the session's second factor with a recovery code (TOTP codes
/// are accepted once per time step; recovery codes are plentiful).
async fn step_up(app: &TestApp, token: &str, mfa: &mut Mfa) {
    let res = app
        .post_auth(
            "/api/v1/auth/mfa/step-up",
            token,
            &json!({ "code": mfa.recovery() }),
        )
        .await;
    let (status, body) = status_body(res).await;
    assert_eq!(status, 200, "step-up: {body}");
}

/// The caller's tenant's audit entries of one type, newest first.
async fn audit_events(app: &TestApp, token: &str, event_type: &str) -> Vec<Value> {
    let (status, body) = status_body(
        app.get_auth(
            &format!("/api/v1/audit/events?event_type={event_type}&limit=100"),
            token,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn audit_verifies(app: &TestApp, token: &str) {
    let (status, body) = status_body(
        app.post_auth("/api/v1/audit/verify", token, &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["first_failure"].is_null(), "audit log fails: {body}");
}

/// The key list of the caller's tenant.
async fn keys(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, body) = status_body(app.get_auth("/api/v1/keys", token).await).await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

/// `(version, state)` of every version of one ring, ascending.
async fn ring(app: &TestApp, token: &str, class: &str) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = keys(app, token)
        .await
        .iter()
        .filter(|k| k["classification"] == class)
        .map(|k| {
            (
                k["version"].as_u64().unwrap(),
                k["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn owned(pairs: &[(u64, &str)]) -> Vec<(u64, String)> {
    pairs.iter().map(|(v, s)| (*v, (*s).to_owned())).collect()
}

/// One byte-string column of every row `sql` selects.
async fn blobs(app: &TestApp, sql: &'static str) -> Vec<Vec<u8>> {
    match app.config.database_url.backend() {
        isms_store::Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(app.db.url()).await.unwrap();
            let rows: Vec<(Vec<u8>,)> = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows.into_iter().map(|r| r.0).collect()
        }
        isms_store::Backend::Postgres => {
            let pool = sqlx::PgPool::connect(app.db.url()).await.unwrap();
            let rows: Vec<(Vec<u8>,)> = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows.into_iter().map(|r| r.0).collect()
        }
    }
}

/// Two text columns of one row, bound to its uuid.
async fn text_pair(app: &TestApp, sql: &'static str, id: uuid::Uuid) -> (String, String) {
    match app.config.database_url.backend() {
        isms_store::Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(app.db.url()).await.unwrap();
            let row: (String, String) =
                sqlx::query_as(sql).bind(id).fetch_one(&pool).await.unwrap();
            pool.close().await;
            row
        }
        isms_store::Backend::Postgres => {
            let pool = sqlx::PgPool::connect(app.db.url()).await.unwrap();
            let row: (String, String) =
                sqlx::query_as(sql).bind(id).fetch_one(&pool).await.unwrap();
            pool.close().await;
            row
        }
    }
}

/// Every wrapped key in the database (data, subject, server, signing and
/// audit log keys, TOTP secrets), in a stable order.
async fn wrapped_keys(app: &TestApp) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for sql in [
        "SELECT wrapped_key FROM data_keys ORDER BY tenant_id, classification, version",
        "SELECT wrapped_key FROM subject_keys WHERE wrapped_key IS NOT NULL ORDER BY tenant_id, subject_id",
        "SELECT wrapped_key FROM server_keys ORDER BY name",
        "SELECT wrapped_private_key FROM signing_keys ORDER BY kid",
        "SELECT wrapped_private_key FROM audit_log_keys ORDER BY key_id",
        "SELECT secret_wrapped FROM user_totp ORDER BY user_id",
    ] {
        all.extend(blobs(app, sql).await);
    }
    all
}

/// The whole stored database: the SQLite file plus its WAL (checkpointed
/// first), or a `pg_dump` of the PostgreSQL database.
async fn database_bytes(app: &TestApp) -> Vec<u8> {
    match app.config.database_url.backend() {
        isms_store::Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(app.db.url()).await.unwrap();
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            let path = app.db.url().strip_prefix("sqlite://").unwrap().to_owned();
            let mut bytes = std::fs::read(&path).unwrap();
            assert!(bytes.starts_with(b"SQLite format 3\0"), "{path}");
            for suffix in ["-wal", "-shm", "-journal"] {
                if let Ok(more) = std::fs::read(format!("{path}{suffix}")) {
                    bytes.extend(more);
                }
            }
            bytes
        }
        isms_store::Backend::Postgres => {
            let out = tokio::process::Command::new("pg_dump")
                .arg(app.db.url())
                .output()
                .await
                .expect("run pg_dump");
            assert!(
                out.status.success(),
                "pg_dump failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }
    }
}

/// Whether `needle` occurs in `hay`, ignoring ASCII case.
fn contains_ci(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    hay.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// A base64 master key derived from a label (deterministic, 32 bytes).
fn derived_key(label: &str) -> String {
    B64.encode(sha2::Sha256::digest(label.as_bytes()))
}

// ---------------------------------------------------------------------------
// The binary as a black box
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "expected success: {self:#?}");
        self
    }

    /// A failure with exactly one line on stderr (besides JSON log lines
    /// of a server), no panic, nothing on stdout; returns the line.
    #[track_caller]
    fn one_line_error(&self) -> String {
        assert!(!self.status.success(), "expected failure: {self:#?}");
        assert!(
            !self.stdout.contains("listening"),
            "must not start serving: {self:#?}"
        );
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('{'))
            .collect();
        assert_eq!(lines.len(), 1, "exactly one error line: {self:#?}");
        for forbidden in ["panicked", "backtrace"] {
            assert!(
                !self.stderr.to_lowercase().contains(forbidden),
                "{forbidden:?} on stderr: {self:#?}"
            );
        }
        lines[0].to_owned()
    }
}

/// The `isms` binary over the database of a test, with a scrubbed
/// environment.
struct Cli {
    vars: BTreeMap<String, String>,
    dir: PathBuf,
}

impl Cli {
    fn new(db_url: &str, master_key: &str, dir: &Path) -> Self {
        let vars = [
            ("ISMS_DATABASE_URL", db_url),
            ("ISMS_MASTER_KEY", master_key),
            ("ISMS_DATA_DIR", &dir.join("data").display().to_string()),
            ("ISMS_PASSWORD_HASH_CONCURRENCY", "2"),
            ("ISMS_DB_MAX_CONNECTIONS", "5"),
            ("ISMS_RATE_LIMIT_ENABLED", "false"),
            ("ISMS_REDIS_KEY_PREFIX", &support::redis_prefix()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Self {
            vars,
            dir: dir.to_owned(),
        }
    }

    fn for_app(app: &TestApp, master_key: &str, dir: &Path) -> Self {
        Self::new(app.db.url(), master_key, dir)
    }

    fn set(&self, key: &str, value: &str) -> Self {
        let mut vars = self.vars.clone();
        vars.insert(key.to_owned(), value.to_owned());
        Self {
            vars,
            dir: self.dir.clone(),
        }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.current_dir(&self.dir).args(args);
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
        let child = self.command(args).spawn().expect("start isms");
        let out = tokio::time::timeout(CHILD_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("isms {args:?} did not finish within {CHILD_TIMEOUT:?}"))
            .unwrap();
        Run {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// `isms` serving as a child process.
struct ServerProc {
    child: tokio::process::Child,
    base: String,
    startup: Vec<String>,
    stdout_rest: tokio::task::JoinHandle<Vec<String>>,
    stderr: tokio::task::JoinHandle<String>,
}

impl ServerProc {
    async fn start(cli: &Cli) -> Self {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cli = cli.set("ISMS_BIND", &format!("127.0.0.1:{port}"));
        let mut child = cli.command(&[]).spawn().expect("start isms");
        let out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let stderr = tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf).await;
            String::from_utf8_lossy(&buf).into_owned()
        });
        let mut lines = BufReader::new(out).lines();
        let mut startup = Vec::new();
        let listening = tokio::time::timeout(CHILD_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                let done = line.contains("listening");
                startup.push(line);
                if done {
                    return true;
                }
            }
            false
        })
        .await;
        if listening != Ok(true) {
            let _ = child.start_kill();
            let err = tokio::time::timeout(CHILD_TIMEOUT, stderr).await;
            panic!("server did not start ({listening:?}): {startup:#?}\nstderr: {err:?}");
        }
        let stdout_rest = tokio::spawn(async move {
            let mut rest = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                rest.push(line);
            }
            rest
        });
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            startup,
            stdout_rest,
            stderr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The one-time password printed at first start.
    fn one_time_password(&self) -> String {
        self.startup
            .iter()
            .find_map(|l| l.trim().strip_prefix("password:"))
            .unwrap_or_else(|| panic!("no password line: {:#?}", self.startup))
            .trim()
            .to_owned()
    }

    /// SIGTERM; returns (exit status, stdout, stderr).
    async fn terminate(mut self) -> (ExitStatus, String, String) {
        let pid = self.child.id().expect("still running").to_string();
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(kill.success());
        let status = tokio::time::timeout(CHILD_TIMEOUT, self.child.wait())
            .await
            .expect("exit after SIGTERM")
            .unwrap();
        let mut stdout = self.startup.join("\n");
        let rest = tokio::time::timeout(CHILD_TIMEOUT, self.stdout_rest)
            .await
            .unwrap()
            .unwrap();
        for l in rest {
            stdout.push('\n');
            stdout.push_str(&l);
        }
        let stderr = tokio::time::timeout(CHILD_TIMEOUT, self.stderr)
            .await
            .unwrap()
            .unwrap();
        (status, stdout, stderr)
    }
}

// ---------------------------------------------------------------------------
// 1. The encryption service
// ---------------------------------------------------------------------------

async fn round_trip_every_classification_encoding_and_context(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    // Fresh step-up (MFA confirmed in this session) for restricted data.
    let (admin, _mfa) = app.admin_with_mfa().await;
    let tenant = tenant_of(&app, &admin.access).await;
    let binary: Vec<u8> = (0u8..=255).rev().chain([0xff, 0xfe, 0x00]).collect();
    assert!(String::from_utf8(binary.clone()).is_err());
    let binary_b64 = B64.encode(&binary);

    for class in CLASSES {
        for context in [None, Some("record:42"), Some("")] {
            let ctx = |v: &Value| match context {
                Some(c) => with(v, &[("context", json!(c))]),
                None => v.clone(),
            };
            // UTF-8 text.
            let text = format!("secret {class} ✓ données №{}", context.unwrap_or("-"));
            let pkg = encrypt(
                &app,
                &admin.access,
                &ctx(&json!({ "plaintext": text, "classification": class })),
            )
            .await;
            assert_eq!(pkg["algorithm"], "AES-256-GCM");
            assert_eq!(pkg["classification"], class);
            assert_eq!(pkg["key_version"], 1);
            assert_eq!(pkg["key_id"], format!("tenant:{tenant}/{class}/v1"));
            assert_eq!(
                B64.decode(pkg["iv"].as_str().unwrap()).unwrap().len(),
                12,
                "{pkg}"
            );
            assert_eq!(
                B64.decode(pkg["auth_tag"].as_str().unwrap()).unwrap().len(),
                16
            );
            let ct = B64.decode(pkg["encrypted_data"].as_str().unwrap()).unwrap();
            assert_eq!(ct.len(), text.len(), "GCM keeps the length");
            assert_ne!(ct, text.as_bytes());
            assert!(pkg["envelope"].as_str().unwrap().starts_with("isms:v1:"));
            chrono::DateTime::parse_from_rfc3339(pkg["encrypted_at"].as_str().unwrap()).unwrap();
            assert!(!pkg.to_string().contains("données"), "{pkg}");

            // The whole package, as returned.
            let body = decrypts_to(&app, &admin.access, &ctx(&pkg), &text).await;
            assert_eq!(
                body,
                json!({ "plaintext": text, "encoding": "utf-8", "classification": class, "key_version": 1 })
            );
            // Only key id and envelope.
            let compact = json!({ "key_id": pkg["key_id"], "envelope": pkg["envelope"] });
            decrypts_to(&app, &admin.access, &ctx(&compact), &text).await;
            // Only the parts, without the envelope.
            let parts = without(&pkg, &["envelope"]);
            decrypts_to(&app, &admin.access, &ctx(&parts), &text).await;

            // Another context, or none where one was bound (and an empty
            // one differs from none): 422.
            let wrong: Vec<Option<&str>> = match context {
                None => vec![Some("record:42"), Some("")],
                Some("") => vec![None, Some(" ")],
                Some(c) => vec![None, Some(""), Some("record:43"), Some(&c[..c.len() - 1])],
            };
            for w in wrong {
                let mut req = without(&pkg, &["context"]);
                if let Some(w) = w {
                    req["context"] = json!(w);
                }
                assert_error(
                    &decrypt(&app, &admin.access, &req).await,
                    422,
                    "decryption_failed",
                );
            }

            // Binary data as base64.
            let pkg = encrypt(
                &app,
                &admin.access,
                &ctx(&json!({ "plaintext": binary_b64, "encoding": "base64", "classification": class })),
            )
            .await;
            assert_eq!(
                B64.decode(pkg["encrypted_data"].as_str().unwrap())
                    .unwrap()
                    .len(),
                binary.len()
            );
            let body = decrypts_to(
                &app,
                &admin.access,
                &ctx(&with(&pkg, &[("encoding", json!("base64"))])),
                &binary_b64,
            )
            .await;
            assert_eq!(body["encoding"], "base64");
            assert_eq!(body["classification"], class);
            // Not UTF-8: asking for text is a validation error.
            let res = decrypt(&app, &admin.access, &ctx(&pkg)).await;
            assert_error(&res, 422, "validation_failed");
        }
    }

    // Random nonces: the same plaintext never seals the same way twice.
    let a = encrypt_text(&app, &admin.access, "internal", "same").await;
    let b = encrypt_text(&app, &admin.access, "internal", "same").await;
    assert_ne!(a["iv"], b["iv"]);
    assert_ne!(a["encrypted_data"], b["encrypted_data"]);
    // Malformed requests.
    for bad in [
        json!({ "plaintext": "x", "classification": "secret" }),
        json!({ "plaintext": "not base64!", "encoding": "base64", "classification": "internal" }),
    ] {
        let res = status_body(
            app.post_auth("/api/v1/crypto/encrypt", &admin.access, &bad)
                .await,
        )
        .await;
        assert_error(&res, 422, "validation_failed");
    }
    // Unauthenticated: 401.
    let res = app
        .client
        .post(app.url("/api/v1/crypto/encrypt"))
        .json(&json!({ "plaintext": "x", "classification": "public" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    app.stop().await;
}

async fn tampered_parts_wrong_context_and_bad_envelopes_fail(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let admin_id = user_id_of(&admin);
    let text = "the quarterly numbers";
    let pkg = encrypt(
        &app,
        &admin.access,
        &json!({ "plaintext": text, "classification": "confidential", "context": "doc:7" }),
    )
    .await;
    let parts = with(
        &without(&pkg, &["envelope"]),
        &[("context", json!("doc:7"))],
    );
    // The untampered parts decrypt (the control for everything below).
    decrypts_to(&app, &admin.access, &parts, text).await;

    let ct_len = text.len();
    let mut tampered = Vec::new();
    for i in [0, ct_len / 2, ct_len - 1] {
        tampered.push(with(
            &parts,
            &[("encrypted_data", flip_b64(&parts["encrypted_data"], i))],
        ));
    }
    for i in [0, 15] {
        tampered.push(with(
            &parts,
            &[("auth_tag", flip_b64(&parts["auth_tag"], i))],
        ));
    }
    tampered.push(with(&parts, &[("iv", flip_b64(&parts["iv"], 11))]));
    // The compact form with a flipped ciphertext or tag byte (the
    // envelope's header is 23 bytes; the tag is its last 16).
    let env_len = B64URL
        .decode(
            pkg["envelope"]
                .as_str()
                .unwrap()
                .strip_prefix("isms:v1:")
                .unwrap(),
        )
        .unwrap()
        .len();
    assert_eq!(
        env_len,
        text.len() + 39,
        "docs/crypto-format.md: size = n + 39"
    );
    for i in [11, 23, env_len - 1] {
        tampered.push(json!({
            "key_id": pkg["key_id"],
            "envelope": flip_envelope(&pkg["envelope"], i),
            "context": "doc:7",
        }));
    }
    for req in &tampered {
        assert_error(
            &decrypt(&app, &admin.access, req).await,
            422,
            "decryption_failed",
        );
    }
    // Each was a decrypt_failed audit event of the caller.
    let failed = audit_events(&app, &admin.access, "decrypt_failed").await;
    assert_eq!(failed.len(), tampered.len(), "{failed:#?}");
    for e in &failed {
        assert_eq!(e["outcome"], "failure", "{e}");
        assert_eq!(e["actor_user_id"], admin_id.as_str(), "{e}");
        assert_eq!(e["details"]["classification"], "confidential", "{e}");
        assert_eq!(e["details"]["reason"], "unauthentic", "{e}");
    }

    // A context mismatch is a failure, and an audit event too.
    let res = decrypt(
        &app,
        &admin.access,
        &with(&parts, &[("context", json!("doc:8"))]),
    )
    .await;
    assert_error(&res, 422, "decryption_failed");
    assert_eq!(
        audit_events(&app, &admin.access, "decrypt_failed")
            .await
            .len(),
        tampered.len() + 1
    );

    // Structurally bad packages are refused before any key is tried.
    let truncated = {
        let body = pkg["envelope"]
            .as_str()
            .unwrap()
            .strip_prefix("isms:v1:")
            .unwrap();
        let bytes = B64URL.decode(body).unwrap();
        format!("isms:v1:{}", B64URL.encode(&bytes[..bytes.len() - 1]))
    };
    for (req, code) in [
        (
            json!({ "key_id": pkg["key_id"], "envelope": truncated, "context": "doc:7" }),
            "decryption_failed",
        ),
        (
            json!({ "key_id": "tenant:not-a-uuid/confidential/v1", "envelope": pkg["envelope"] }),
            "validation_failed",
        ),
        (
            with(&parts, &[("key_version", json!(2))]),
            "validation_failed",
        ),
        (
            with(&parts, &[("algorithm", json!("AES-128-CBC"))]),
            "validation_failed",
        ),
        (
            with(&parts, &[("iv", json!(B64.encode([0u8; 8])))]),
            "validation_failed",
        ),
    ] {
        let got = decrypt(&app, &admin.access, &req).await;
        assert_eq!(got.0, 422, "{req}: {}", got.1);
        assert_eq!(got.1["code"], code, "{req}: {}", got.1);
    }
    // Nothing above decrypted: the control is the only read.
    assert_eq!(
        audit_events(&app, &admin.access, "data_decrypted")
            .await
            .len(),
        1
    );
    app.stop().await;
}

/// Bug (ignored): the full package is what clients send back; tampering
/// with its parts must fail even though it also carries the envelope.
async fn tampered_full_package_is_refused(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let pkg = encrypt_text(&app, &admin.access, "confidential", "the full package").await;
    decrypts_to(&app, &admin.access, &pkg, "the full package").await;
    for req in [
        with(
            &pkg,
            &[("encrypted_data", flip_b64(&pkg["encrypted_data"], 0))],
        ),
        with(&pkg, &[("auth_tag", flip_b64(&pkg["auth_tag"], 15))]),
        with(&pkg, &[("iv", flip_b64(&pkg["iv"], 0))]),
    ] {
        assert_error(
            &decrypt(&app, &admin.access, &req).await,
            422,
            "decryption_failed",
        );
    }
    app.stop().await;
}

async fn another_tenants_package_does_not_decrypt(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin_a = app.admin().await;
    let tenant_a = tenant_of(&app, &admin_a.access).await;
    let (tenant_b, admin_b) = app.other_tenant("Tenant B", "admin@b.example").await;
    for class in ["internal", "confidential"] {
        let pkg = encrypt_text(&app, &admin_a.access, class, "tenant A's secret").await;
        assert!(pkg["key_id"].as_str().unwrap().contains(&tenant_a));
        // B's admin sends A's package as it came: 422.
        assert_error(
            &decrypt(&app, &admin_b.access, &pkg).await,
            422,
            "decryption_failed",
        );
        assert_error(
            &decrypt(&app, &admin_b.access, &without(&pkg, &["envelope"])).await,
            422,
            "decryption_failed",
        );
        // Relabelled as B's own key: B's key (and the tenant in the AAD)
        // does not open it either.
        let relabelled = json!({
            "key_id": pkg["key_id"].as_str().unwrap().replace(&tenant_a, &tenant_b),
            "envelope": pkg["envelope"],
        });
        assert_error(
            &decrypt(&app, &admin_b.access, &relabelled).await,
            422,
            "decryption_failed",
        );
        // A still reads it.
        decrypts_to(&app, &admin_a.access, &pkg, "tenant A's secret").await;
    }
    // B's relabelled attempts are in B's log, not A's.
    let b_failed = audit_events(&app, &admin_b.access, "decrypt_failed").await;
    assert!(b_failed.len() >= 2, "{b_failed:#?}");
    for e in &b_failed {
        assert_eq!(e["tenant_id"], tenant_b.as_str());
        assert_eq!(e["outcome"], "failure");
    }
    assert!(
        audit_events(&app, &admin_a.access, "decrypt_failed")
            .await
            .is_empty()
    );
    // And B's own data keeps working for B, not for A.
    let pkg_b = encrypt_text(&app, &admin_b.access, "confidential", "B's").await;
    decrypts_to(&app, &admin_b.access, &pkg_b, "B's").await;
    assert_error(
        &decrypt(&app, &admin_a.access, &pkg_b).await,
        422,
        "decryption_failed",
    );
    app.stop().await;
}

/// Bug (ignored): the contract records a decrypt_failed event for another
/// tenant's package too.
async fn cross_tenant_attempt_is_audited(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin_a = app.admin().await;
    let (_tenant_b, admin_b) = app.other_tenant("Tenant B", "admin@b.example").await;
    let pkg = encrypt_text(&app, &admin_a.access, "confidential", "A's").await;
    assert_error(
        &decrypt(&app, &admin_b.access, &pkg).await,
        422,
        "decryption_failed",
    );
    let failed = audit_events(&app, &admin_b.access, "decrypt_failed").await;
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["actor_user_id"], user_id_of(&admin_b).as_str());
    assert_eq!(failed[0]["outcome"], "failure");
    app.stop().await;
}

// ---------------------------------------------------------------------------
// 2. Who may decrypt what
// ---------------------------------------------------------------------------

async fn role_matrix_step_up_and_their_audit_events(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    // Two admin sessions before MFA exists: one will enrol (and be fresh),
    // the other is then enrolled but never stepped up.
    let admin = app.admin().await;
    let stale = app.admin().await;
    let mut users = BTreeMap::new();
    for role in ["viewer", "analyst", "manager", "auditor"] {
        let email = format!("{role}@matrix.example");
        let id = app.create_user(&admin.access, &email, role, PW).await;
        users.insert(role, (id, app.login(&email, PW).await));
    }
    // Anyone may encrypt; here the admin seals one value per class.
    let mut pkgs = BTreeMap::new();
    for class in CLASSES {
        let text = format!("{class} data");
        pkgs.insert(
            class,
            (encrypt_text(&app, &admin.access, class, &text).await, text),
        );
    }
    let viewer_pkg = encrypt_text(&app, &users["viewer"].1.access, "restricted", "up").await;
    assert_eq!(viewer_pkg["classification"], "restricted");

    let mut denied = 0;
    for (role, allowed) in [
        ("viewer", &["public", "internal"][..]),
        ("analyst", &["public", "internal"][..]),
        ("manager", &["public", "internal", "confidential"][..]),
        ("auditor", &["public", "internal", "confidential"][..]),
    ] {
        let token = &users[role].1.access;
        for class in CLASSES {
            let (pkg, text) = &pkgs[class];
            let got = decrypt(&app, token, pkg).await;
            if allowed.contains(&class) {
                assert_eq!(got.0, 200, "{role} decrypts {class}: {}", got.1);
                assert_eq!(got.1["plaintext"], text.as_str());
            } else {
                assert_error(&got, 403, "forbidden");
                denied += 1;
            }
        }
    }
    assert_error(
        &decrypt(&app, &users["viewer"].1.access, &viewer_pkg).await,
        403,
        "forbidden",
    );
    denied += 1;

    // Admin: restricted needs MFA, then a fresh step-up.
    let (restricted, restricted_text) = &pkgs["restricted"];
    assert_error(
        &decrypt(&app, &admin.access, restricted).await,
        403,
        "mfa_enrollment_required",
    );
    denied += 1;
    // Confidential needs no step-up.
    decrypts_to(
        &app,
        &admin.access,
        &pkgs["confidential"].0,
        "confidential data",
    )
    .await;
    let mut mfa = app.enroll_mfa(&admin.access).await;
    decrypts_to(&app, &admin.access, restricted, restricted_text).await;
    assert_error(
        &decrypt(&app, &stale.access, restricted).await,
        403,
        "mfa_step_up_required",
    );
    denied += 1;
    // A wrong code does not count.
    let res = app
        .post_auth(
            "/api/v1/auth/mfa/step-up",
            &stale.access,
            &json!({ "code": "000000" }),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_error(
        &decrypt(&app, &stale.access, restricted).await,
        403,
        "mfa_step_up_required",
    );
    denied += 1;
    step_up(&app, &stale.access, &mut mfa).await;
    decrypts_to(&app, &stale.access, restricted, restricted_text).await;
    decrypts_to(&app, &stale.access, &viewer_pkg, "up").await;

    // The audit trail: every denial, with who, what and why. A missing
    // step-up is a `decrypt_denied` event.
    let events = audit_events(&app, &admin.access, "decrypt_denied").await;
    let admin_id = user_id_of(&admin);
    let step_ups: Vec<&Value> = events
        .iter()
        .filter(|e| e["actor_user_id"] == admin_id.as_str())
        .collect();
    assert_eq!(step_ups.len(), 3, "{events:#?}");
    for e in &step_ups {
        assert_eq!(e["outcome"], "denied", "{e}");
        assert_eq!(e["details"]["classification"], "restricted", "{e}");
        assert_eq!(e["details"]["reason"], "mfa_step_up", "{e}");
        assert_eq!(e["details"]["key_version"], 1, "{e}");
    }
    // Every role denial is an `access_denied` event of that user naming the
    // missing permission; only step-up refusals are `decrypt_denied`.
    let (status, all) = status_body(
        app.get_auth(
            "/api/v1/audit/events?outcome=denied&limit=100",
            &admin.access,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{all}");
    let all = all["items"].as_array().unwrap().clone();
    let denials_of = |actor: &str, permission: &str| {
        all.iter()
            .filter(|e| {
                e["actor_user_id"] == actor
                    && e["outcome"] == "denied"
                    && ["decrypt_denied", "access_denied"]
                        .contains(&e["event_type"].as_str().unwrap())
                    && e["details"].to_string().contains(permission)
            })
            .count()
    };
    for (role, conf, restr) in [
        ("viewer", 1, 2),
        ("analyst", 1, 1),
        ("manager", 0, 1),
        ("auditor", 0, 1),
    ] {
        let id = &users[role].0;
        assert_eq!(
            denials_of(id, "data:read_confidential"),
            conf,
            "{role}: {all:#?}"
        );
        assert_eq!(
            denials_of(id, "data:read_restricted"),
            restr,
            "{role}: {all:#?}"
        );
    }
    assert_eq!(
        all.len(),
        denied,
        "one denied event per denial (and a wrong step-up code is a failure): {all:#?}"
    );
    // Successful reads of confidential and restricted data are recorded;
    // public and internal ones are not.
    let decrypted = audit_events(&app, &admin.access, "data_decrypted").await;
    assert!(decrypted.iter().all(|e| e["outcome"] == "success"));
    let by = |actor: &str| {
        decrypted
            .iter()
            .filter(|e| e["actor_user_id"] == actor)
            .map(|e| e["details"]["classification"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(by(&users["manager"].0), ["confidential"]);
    assert_eq!(by(&users["auditor"].0), ["confidential"]);
    assert!(by(&users["viewer"].0).is_empty());
    assert_eq!(decrypted.len(), 2 + 1 + 1 + 2, "{decrypted:#?}");
    app.stop().await;
}

// ---------------------------------------------------------------------------
// 3. Keys
// ---------------------------------------------------------------------------

async fn keys_list_rotate_rewrap_and_retire(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let stale = app.admin().await;
    let tenant = tenant_of(&app, &admin.access).await;
    app.create_user(&admin.access, "early@keys.example", "viewer", PW)
        .await;
    app.create_user(&admin.access, "dormant@keys.example", "auditor", PW)
        .await;
    let auditor = app.login("dormant@keys.example", PW).await;
    let v1 = encrypt_text(&app, &admin.access, "confidential", "sealed under v1").await;
    assert_eq!(v1["key_version"], 1);

    // The list: metadata only.
    let listed = keys(&app, &admin.access).await;
    let conf: Vec<&Value> = listed
        .iter()
        .filter(|k| k["classification"] == "confidential")
        .collect();
    assert_eq!(conf.len(), 1, "{listed:#?}");
    assert_eq!(conf[0]["id"], format!("tenant:{tenant}/confidential/v1"));
    assert_eq!(conf[0]["state"], "primary");
    assert!(conf[0]["usage_count"].as_u64().unwrap() >= 1);
    assert!(conf[0]["rotated_at"].is_null());
    let created =
        chrono::DateTime::parse_from_rfc3339(conf[0]["created_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(conf[0]["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires > created);
    let allowed: BTreeSet<&str> = [
        "id",
        "classification",
        "version",
        "state",
        "created_at",
        "rotated_at",
        "retired_at",
        "expires_at",
        "usage_count",
        "max_usage",
    ]
    .into();
    for k in &listed {
        let fields: BTreeSet<&str> = k.as_object().unwrap().keys().map(String::as_str).collect();
        assert!(fields.is_subset(&allowed), "unexpected fields: {k}");
    }
    // None of the stored (wrapped) key bytes shows up, in any encoding.
    let text = serde_json::to_string(&listed).unwrap();
    let wrapped = blobs(&app, "SELECT wrapped_key FROM data_keys").await;
    assert!(!wrapped.is_empty());
    for w in &wrapped {
        let hex: String = w.iter().map(|b| format!("{b:02x}")).collect();
        for enc in [B64.encode(w), B64URL.encode(w), hex] {
            assert!(!text.contains(&enc[..24]), "key material in GET /keys");
        }
    }
    // Auditors read the list; viewers do not; only admins rotate.
    assert_eq!(keys(&app, &auditor.access).await.len(), listed.len());
    let viewer = app.login("early@keys.example", PW).await;
    assert_eq!(
        app.get_auth("/api/v1/keys", &viewer.access).await.status(),
        403
    );
    let res = status_body(
        app.post_auth(
            "/api/v1/keys/confidential/rotate",
            &auditor.access,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_error(&res, 403, "forbidden");

    // Rotation is a sensitive action.
    let rotate = async |token: &str| {
        status_body(
            app.post_auth("/api/v1/keys/confidential/rotate", token, &json!({}))
                .await,
        )
        .await
    };
    assert_error(&rotate(&admin.access).await, 403, "mfa_enrollment_required");
    let mut mfa = app.enroll_mfa(&admin.access).await;
    assert_error(&rotate(&stale.access).await, 403, "mfa_step_up_required");
    assert_eq!(
        ring(&app, &admin.access, "confidential").await,
        owned(&[(1, "primary")]),
        "nothing rotated by the refused attempts"
    );
    let (status, new) = rotate(&admin.access).await;
    assert_eq!(status, 200, "{new}");
    assert_eq!(new["version"], 2);
    assert_eq!(new["state"], "primary");
    assert_eq!(new["id"], format!("tenant:{tenant}/confidential/v2"));
    assert_eq!(
        ring(&app, &admin.access, "confidential").await,
        owned(&[(1, "active"), (2, "primary")])
    );
    let listed = keys(&app, &admin.access).await;
    let old = listed
        .iter()
        .find(|k| k["classification"] == "confidential" && k["version"] == 1)
        .unwrap();
    assert!(old["rotated_at"].is_string(), "{old}");
    let rotations = audit_events(&app, &admin.access, "key_rotated").await;
    assert_eq!(rotations.len(), 1, "{rotations:#?}");
    assert_eq!(rotations[0]["details"]["classification"], "confidential");

    // Old data still decrypts; new data uses v2.
    let body = decrypts_to(&app, &admin.access, &v1, "sealed under v1").await;
    assert_eq!(body["key_version"], 1);
    let v2 = encrypt_text(&app, &admin.access, "confidential", "sealed under v2").await;
    assert_eq!(v2["key_version"], 2);
    assert_eq!(v2["key_id"], format!("tenant:{tenant}/confidential/v2"));
    decrypts_to(&app, &admin.access, &v2, "sealed under v2").await;
    // Other rings are untouched.
    let internal = encrypt_text(&app, &admin.access, "internal", "i").await;
    assert_eq!(internal["key_version"], 1);
    // Users created before the rotation still log in.
    app.login("early@keys.example", PW).await;

    // Retiring v1 is refused while users' fields still use it.
    let retire = async |token: &str, version: u32| {
        status_body(
            app.post_auth(
                "/api/v1/keys/confidential/retire",
                token,
                &json!({ "version": version }),
            )
            .await,
        )
        .await
    };
    let refused = retire(&admin.access, 1).await;
    assert_error(&refused, 409, "conflict");
    assert_eq!(refused.1["details"]["rule"], "key_in_use");
    // Retiring the primary is refused too.
    assert_ne!(retire(&admin.access, 2).await.0, 200);
    assert_eq!(
        ring(&app, &admin.access, "confidential").await,
        owned(&[(1, "active"), (2, "primary")])
    );
    assert_error(&retire(&stale.access, 1).await, 403, "mfa_step_up_required");

    // Rewrap moves every stored field to v2.
    let mut total = 0;
    for round in 0.. {
        assert!(round < 20, "rewrap never finished");
        let (status, p) = status_body(
            app.post_auth(
                "/api/v1/keys/confidential/rewrap",
                &admin.access,
                &json!({}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{p}");
        assert_eq!(p["primary_version"], 2);
        total += p["rewrapped"].as_u64().unwrap();
        if p["remaining"] == false {
            break;
        }
    }
    // "dormant" has not logged in since the rotation: at least its row.
    assert!(total >= 1, "rewrapped {total}");
    // Idempotent: nothing left.
    let (_, again) = status_body(
        app.post_auth(
            "/api/v1/keys/confidential/rewrap",
            &admin.access,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(again["rewrapped"], 0, "{again}");
    assert_eq!(again["remaining"], false);
    assert!(
        !audit_events(&app, &admin.access, "keys_rewrapped")
            .await
            .is_empty()
    );

    // Now v1 retires, and no longer decrypts.
    let (status, retired) = retire(&admin.access, 1).await;
    assert_eq!(status, 200, "{retired}");
    assert_eq!(retired["state"], "retired");
    assert!(retired["retired_at"].is_string());
    assert_eq!(
        ring(&app, &admin.access, "confidential").await,
        owned(&[(1, "retired"), (2, "primary")])
    );
    assert_error(&decrypt(&app, &admin.access, &v1).await, 409, "key_retired");
    assert_error(
        &decrypt(&app, &auditor.access, &without(&v1, &["envelope"])).await,
        409,
        "key_retired",
    );
    let failed = audit_events(&app, &admin.access, "decrypt_failed").await;
    assert!(
        failed
            .iter()
            .any(|e| e["details"]["reason"] == "key_retired" && e["outcome"] == "failure"),
        "{failed:#?}"
    );
    decrypts_to(&app, &admin.access, &v2, "sealed under v2").await;
    // Every user still logs in (their fields were rewrapped).
    app.login("early@keys.example", PW).await;
    app.login("dormant@keys.example", PW).await;
    app.login_mfa(ADMIN_EMAIL, ADMIN_PASSWORD, &mut mfa).await;
    let res = status_body(app.get_auth("/api/v1/users?limit=100", &admin.access).await).await;
    assert_eq!(res.0, 200, "{}", res.1);
    assert_eq!(res.1["items"].as_array().unwrap().len(), 3);
    let retirements = audit_events(&app, &admin.access, "key_retired").await;
    assert_eq!(retirements.len(), 1);
    audit_verifies(&app, &admin.access).await;
    app.stop().await;
}

// ---------------------------------------------------------------------------
// 4. Personal data at rest
// ---------------------------------------------------------------------------

const CANARY_USERS: [(&str, &str); 3] = [
    (
        "Zebulon.Quartermaine.q9@Canary-PII.example",
        "Philomena Canarywright",
    ),
    (
        "yolanda.brightwater.q9@canary-pii.example",
        "Yolanda Brightwater",
    ),
    (
        "  Xavier.Lumberjacque.q9@canary-pii.example ",
        "Xavier Lumberjacque",
    ),
];
const CANARY_RENAMED: &str = "Octavia Lanternfish";
const CANARY_GHOST: &str = "ghost.nonexistent.q9@canary-pii.example";
/// Stored in clear on purpose (tenant names are not personal data): the
/// control showing that the bytes searched are the real database.
const VISIBLE_TENANT: &str = "Visible Canary Tenant";

/// Every string that must never be found at rest or in logs.
fn canary_needles() -> Vec<String> {
    let mut out = Vec::new();
    for (email, name) in CANARY_USERS {
        let email = email.trim().to_lowercase();
        out.push(email.clone());
        out.push(email.split('@').next().unwrap().to_owned());
        out.push(name.to_owned());
    }
    out.push(CANARY_RENAMED.to_owned());
    out.push(CANARY_GHOST.to_owned());
    out.push("canary-pii".to_owned());
    out.push("other.admin.q9".to_owned());
    out
}

/// Creates the canary users through an API at `base` and exercises login,
/// failed login and renaming; returns the users' ids.
async fn exercise_canaries(
    client: &reqwest::Client,
    url: &dyn Fn(&str) -> String,
    admin: &str,
) -> Vec<String> {
    let post = async |path: &str, token: Option<&str>, body: Value| {
        let mut req = client.post(url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        status_body(req.send().await.unwrap()).await
    };
    let mut ids = Vec::new();
    for (email, name) in CANARY_USERS {
        let (status, body) = post(
            "/api/v1/users",
            Some(admin),
            json!({ "email": email, "display_name": name, "role": "analyst", "password": PW }),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["email"], email.trim().to_lowercase());
        assert_eq!(body["display_name"], name);
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    // Login by e-mail through the blind index, whatever the case.
    for (email, _) in CANARY_USERS {
        for variant in [
            email.trim().to_owned(),
            email.trim().to_uppercase(),
            email.trim().to_lowercase(),
            format!(" {} ", email.trim()),
        ] {
            let (status, body) = post(
                "/api/v1/auth/login",
                None,
                json!({ "email": variant, "password": PW }),
            )
            .await;
            assert_eq!(status, 200, "login as {variant:?}: {body}");
        }
        let (status, body) = post(
            "/api/v1/auth/login",
            None,
            json!({ "email": email, "password": "not the right passphrase" }),
        )
        .await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, _) = post(
        "/api/v1/auth/login",
        None,
        json!({ "email": CANARY_GHOST, "password": PW }),
    )
    .await;
    assert_eq!(status, 401);
    // Renaming re-seals the display name.
    let res = client
        .patch(url(&format!("/api/v1/users/{}", ids[1])))
        .bearer_auth(admin)
        .json(&json!({ "display_name": CANARY_RENAMED }))
        .send()
        .await
        .unwrap();
    let (status, body) = status_body(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["display_name"], CANARY_RENAMED);
    // The users endpoints do show the data (it is really there).
    let res = client
        .get(url("/api/v1/users?limit=100"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    let (status, body) = status_body(res).await;
    assert_eq!(status, 200);
    let listed = body.to_string();
    assert!(listed.contains("zebulon.quartermaine.q9@canary-pii.example"));
    assert!(listed.contains(CANARY_RENAMED));
    ids
}

async fn personal_data_is_not_stored_in_clear(backend: Backend) {
    let Some(mut app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let (_, other) = app
        .other_tenant(VISIBLE_TENANT, "pii.other.admin.q9@canary-pii.example")
        .await;
    let base = app.url("");
    let url = move |p: &str| format!("{base}{p}");
    let ids = exercise_canaries(&app.client, &url, &admin.access).await;
    // An erasure-free soft delete keeps the row (sealed) too.
    let (a2, _mfa) = app.admin_with_mfa().await;
    let res = app
        .delete_auth(&format!("/api/v1/users/{}", ids[2]), &a2.access)
        .await;
    assert_eq!(res.status(), 204);
    // Data sealed through the encryption service is not stored at all.
    let pkg = encrypt_text(
        &app,
        &other.access,
        "confidential",
        "Philomena Canarywright",
    )
    .await;
    assert!(!pkg.to_string().contains("Canarywright"));

    // Stop the server: every connection closes and the WAL is folded in.
    app.server.take().unwrap().stop().await.unwrap();
    let bytes = database_bytes(&app).await;
    assert!(
        contains_ci(&bytes, VISIBLE_TENANT),
        "control: the tenant name is stored in clear"
    );
    assert!(
        contains_ci(&bytes, "isms:v1:"),
        "control: envelopes are stored"
    );
    for needle in canary_needles() {
        assert!(
            !contains_ci(&bytes, &needle),
            "{needle:?} is stored in clear ({backend:?})"
        );
    }
}

async fn personal_data_is_not_in_logs_or_other_responses(backend: Backend) {
    let db = match backend {
        Backend::Sqlite => isms_store::testing::TestDatabase::sqlite(),
        Backend::Postgres => match isms_store::testing::TestDatabase::postgres().await {
            Some(db) => db,
            None => return,
        },
    };
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(db.url(), MASTER_KEY_B64, dir.path())
        .set("ISMS_LOG_FORMAT", "json")
        .set("ISMS_LOG", "debug");
    let server = ServerProc::start(&cli).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let base = server.base.clone();
    let url = move |p: &str| format!("{base}{p}");
    // First start: replace the one-time password.
    let login = async |email: &str, pw: &str| {
        let res = client
            .post(url("/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": pw }))
            .send()
            .await
            .unwrap();
        let (status, body) = status_body(res).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    };
    let one_time = server.one_time_password();
    let token = login(ADMIN_EMAIL, &one_time).await;
    let res = client
        .post(server.url("/api/v1/users/me/password"))
        .bearer_auth(&token)
        .json(&json!({ "current_password": one_time, "new_password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let admin = login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let ids = exercise_canaries(&client, &url, &admin).await;

    // Responses other than the users endpoints carry no personal data.
    let get = async |path: &str, token: &str| {
        let res = client
            .get(url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let (status, body) = status_body(res).await;
        assert_eq!(status, 200, "{path}: {body}");
        body.to_string()
    };
    let canary = login(CANARY_USERS[0].0, PW).await;
    let mut bodies = vec![
        get("/api/v1/audit/events?limit=100", &admin).await,
        get("/api/v1/keys", &admin).await,
        get("/api/v1/auth/sessions", &canary).await,
        get(
            &format!("/api/v1/audit/events?actor={}&limit=100", ids[0]),
            &admin,
        )
        .await,
    ];
    let res = client
        .post(url("/api/v1/audit/verify"))
        .bearer_auth(&admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    bodies.push(status_body(res).await.1.to_string());
    let res = client
        .post(url("/api/v1/crypto/encrypt"))
        .bearer_auth(&canary)
        .json(&json!({ "plaintext": "zebulon.quartermaine.q9@canary-pii.example", "classification": "confidential" }))
        .send()
        .await
        .unwrap();
    let (status, pkg) = status_body(res).await;
    assert_eq!(status, 200);
    bodies.push(pkg.to_string());
    assert!(bodies[0].contains("login_success") || bodies[0].contains("user_created"));
    for body in &bodies {
        for needle in canary_needles() {
            assert!(
                !contains_ci(body.as_bytes(), &needle),
                "{needle:?} in a response: {body}"
            );
        }
    }

    let (status, stdout, stderr) = server.terminate().await;
    assert!(status.success(), "{stderr}");
    // Control: the log is there, as JSON lines, and mentions the requests.
    let json_lines = stderr.lines().filter(|l| l.starts_with('{')).count();
    assert!(json_lines >= 5, "expected JSON log lines: {stderr}");
    assert!(stderr.contains("listening"), "{stderr}");
    for needle in canary_needles() {
        assert!(
            !contains_ci(stderr.as_bytes(), &needle),
            "{needle:?} in the log ({backend:?})"
        );
        assert!(
            !contains_ci(stdout.as_bytes(), &needle),
            "{needle:?} on stdout ({backend:?})"
        );
    }
    drop(db);
}

// ---------------------------------------------------------------------------
// 5. Crypto-shredding
// ---------------------------------------------------------------------------

async fn erasure_shreds_the_user_and_the_audit_log_still_verifies(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let stale = app.admin().await;
    let (admin, _mfa) = app.admin_with_mfa().await;
    let tenant = tenant_of(&app, &admin.access).await;
    let erin = app
        .create_user(&admin.access, "erin.erasable@shred.example", "analyst", PW)
        .await;
    let keep = app
        .create_user(&admin.access, "kim.kept@shred.example", "analyst", PW)
        .await;
    let erin_tokens = app.login("erin.erasable@shred.example", PW).await;
    let pkg = encrypt_text(&app, &erin_tokens.access, "internal", "erin's note").await;

    // Erasure is a sensitive action: without a fresh step-up, nothing
    // happens.
    let res = app
        .delete_auth(&format!("/api/v1/users/{erin}?erase=true"), &stale.access)
        .await;
    assert_error(&status_body(res).await, 403, "mfa_step_up_required");
    app.login("erin.erasable@shred.example", PW).await;
    assert!(
        audit_events(&app, &admin.access, "subject_erased")
            .await
            .is_empty()
    );

    let res = app
        .delete_auth(&format!("/api/v1/users/{erin}?erase=true"), &admin.access)
        .await;
    assert_eq!(res.status(), 204);
    // The account is gone: no login (with any spelling), no record.
    for email in ["erin.erasable@shred.example", "ERIN.ERASABLE@shred.example"] {
        let res = app.login_raw(email, PW).await;
        assert_error(&status_body(res).await, 401, "invalid_credentials");
    }
    let res = app
        .get_auth(&format!("/api/v1/users/{erin}"), &admin.access)
        .await;
    assert_error(&status_body(res).await, 404, "not_found");
    // Its sessions ended (within the session cache's few seconds).
    let mut ended = false;
    for _ in 0..30 {
        if app
            .get_auth("/api/v1/users/me", &erin_tokens.access)
            .await
            .status()
            == 401
        {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(ended, "the erased user's token still works");
    let listed = status_body(app.get_auth("/api/v1/users?limit=100", &admin.access).await).await;
    assert!(
        !listed.1.to_string().contains("erin.erasable"),
        "{}",
        listed.1
    );

    // The stored row holds placeholders, sealed like any other value.
    let erin_uuid = uuid::Uuid::parse_str(&erin).unwrap();
    let (email_enc, name_enc) = text_pair(
        &app,
        "SELECT email_enc, display_name_enc FROM users WHERE id = $1",
        erin_uuid,
    )
    .await;
    let services = app.services().await;
    let tenant_id: isms_domain::TenantId = tenant.parse().unwrap();
    let open = async |column: &str, env: &str| {
        let bytes = isms_domain::crypto::FieldCrypto::open_field(
            services.key_service.as_ref(),
            tenant_id,
            &isms_domain::crypto::FieldPlace {
                table: "users",
                column,
                row_id: &erin,
            },
            env,
        )
        .await
        .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    assert_eq!(
        open("email", &email_enc).await,
        format!("erased-{}@erased.invalid", erin_uuid.simple())
    );
    assert_eq!(open("display_name", &name_enc).await, "erased");
    services.store.close().await;
    // The subject key is destroyed (a tombstone without key material).
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM subject_keys WHERE tenant_id = $1 AND wrapped_key IS NULL \
             AND destroyed_at IS NOT NULL",
            uuid::Uuid::parse_str(&tenant).unwrap(),
        )
        .await,
        1
    );

    // The audit trail records it and still verifies.
    let erased = audit_events(&app, &admin.access, "subject_erased").await;
    assert_eq!(erased.len(), 1, "{erased:#?}");
    assert_eq!(erased[0]["outcome"], "success");
    assert_eq!(erased[0]["resource_id"], erin.as_str());
    assert_eq!(erased[0]["actor_user_id"], user_id_of(&admin).as_str());
    let deleted = audit_events(&app, &admin.access, "user_deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["details"]["erased"], true);
    assert!(
        !serde_json::to_string(&audit_events(&app, &admin.access, "login_success").await)
            .unwrap()
            .contains("erin.erasable")
    );
    audit_verifies(&app, &admin.access).await;
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::for_app(&app, MASTER_KEY_B64, dir.path());
    let run = cli.run(&["audit", "verify"]).await;
    run.assert_success();
    assert!(
        run.stdout.lines().all(|l| l.starts_with("ok\t")),
        "{run:#?}"
    );
    // Others are untouched; the e-mail address can be used again.
    let kim = app.login("kim.kept@shred.example", PW).await;
    assert_eq!(user_id_of(&kim), keep);
    app.create_user(&admin.access, "erin.erasable@shred.example", "viewer", PW)
        .await;
    app.login("erin.erasable@shred.example", PW).await;
    // Data the erased user sealed under the tenant's key stays readable
    // for the tenant (erasure shreds the person's data, not the tenant's).
    decrypts_to(&app, &admin.access, &pkg, "erin's note").await;
    app.stop().await;
}

// ---------------------------------------------------------------------------
// 6. The master key
// ---------------------------------------------------------------------------

async fn master_key_rotation_and_starting_with_a_wrong_key(backend: Backend) {
    let Some(mut app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let (admin, mfa) = app.admin_with_mfa().await;
    app.create_user(&admin.access, "mara@master.example", "manager", PW)
        .await;
    app.create_user(&admin.access, "vic@master.example", "viewer", PW)
        .await;
    let conf = encrypt(
        &app,
        &admin.access,
        &json!({ "plaintext": "before the master rotation", "classification": "confidential", "context": "m" }),
    )
    .await;
    let restricted = encrypt_text(&app, &admin.access, "restricted", "top secret").await;
    let internal = encrypt_text(&app, &admin.access, "internal", "internal note").await;
    // Stop the server: the CLI rewraps the stored keys offline.
    app.server.take().unwrap().stop().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let old_key = MASTER_KEY_B64.to_owned();
    let new_key = derived_key("isms crypto tests: the new master key");
    let wrong_key = derived_key("isms crypto tests: somebody else's key");
    let cli = Cli::for_app(&app, &old_key, dir.path()).set("ISMS_BIND", "127.0.0.1:0");
    let before = wrapped_keys(&app).await;
    assert!(before.len() >= 6, "{}", before.len());

    // The new key's file must be private.
    let key_file = dir.path().join("new.key");
    std::fs::write(&key_file, format!("{new_key}\n")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let key_arg = key_file.display().to_string();
        let run = cli
            .run(&["keys", "rotate-master", "--new-key-file", &key_arg])
            .await;
        let line = run.one_line_error();
        assert!(line.contains("new.key"), "{line}");
        assert_eq!(wrapped_keys(&app).await, before, "nothing rewrapped");
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let key_arg = key_file.display().to_string();
    let run = cli
        .run(&["keys", "rotate-master", "--new-key-file", &key_arg])
        .await;
    run.assert_success();
    let first = run.stdout.lines().next().unwrap();
    assert!(first.starts_with("rewrapped "), "{run:#?}");
    assert!(first.contains(" 1 TOTP secrets"), "{first}");
    assert!(!first.contains("rewrapped 0 data keys"), "{first}");
    let after = wrapped_keys(&app).await;
    assert_eq!(after.len(), before.len());
    for (a, b) in after.iter().zip(&before) {
        assert_ne!(a, b, "every wrapped key changed");
    }

    // The old key, and a wrong one, no longer start the server; nothing is
    // overwritten.
    for key in [&old_key, &wrong_key] {
        let run = cli.set("ISMS_MASTER_KEY", key).run(&["serve"]).await;
        let line = run.one_line_error();
        assert!(line.starts_with("error:"), "{line}");
        assert!(line.contains("master key"), "{line}");
        assert_eq!(wrapped_keys(&app).await, after, "nothing overwritten");
    }
    // Other commands refuse the wrong key too.
    let run = cli
        .set("ISMS_MASTER_KEY", &wrong_key)
        .run(&["keys", "rotate-master", "--new-key-file", &key_arg])
        .await;
    run.one_line_error();
    assert_eq!(wrapped_keys(&app).await, after);

    // The new key: everything works.
    let data_dir = tempfile::tempdir().unwrap();
    let mut env = support::base_env(&app.db, data_dir.path());
    env.insert("ISMS_MASTER_KEY".into(), new_key.clone());
    let config = isms::config::Config::from_sources(None, &env).unwrap();
    let mut out = Vec::new();
    let server = isms::server::spawn(config.clone(), &mut out).await.unwrap();
    assert!(out.is_empty(), "no second bootstrap");
    app.server = Some(server);
    app.config = config;
    // The admin's TOTP secret was rewrapped: a TOTP login works.
    let res = app.login_raw(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (status, body) = status_body(res).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "mfa_required");
    let res = app
        .client
        .post(app.url("/api/v1/auth/mfa/verify"))
        .json(&json!({ "mfa_token": body["mfa_token"], "code": mfa.code(0) }))
        .send()
        .await
        .unwrap();
    let (status, body) = status_body(res).await;
    assert_eq!(status, 200, "TOTP after master rotation: {body}");
    let admin = Tokens::from(body);
    // Every user logs in (blind index and data keys rewrapped).
    let mara = app.login("mara@master.example", PW).await;
    app.login("vic@master.example", PW).await;
    // Old ciphertexts decrypt.
    decrypts_to(
        &app,
        &mara.access,
        &with(&conf, &[("context", json!("m"))]),
        "before the master rotation",
    )
    .await;
    decrypts_to(&app, &admin.access, &restricted, "top secret").await;
    decrypts_to(&app, &admin.access, &internal, "internal note").await;
    // New data too, and the audit log (its key was rewrapped) verifies.
    let fresh = encrypt_text(&app, &admin.access, "confidential", "after").await;
    decrypts_to(&app, &mara.access, &fresh, "after").await;
    audit_verifies(&app, &admin.access).await;
    app.server.take().unwrap().stop().await.unwrap();
    let run = cli
        .set("ISMS_MASTER_KEY", &new_key)
        .run(&["audit", "verify"])
        .await;
    run.assert_success();
    drop(app);
}

// ---------------------------------------------------------------------------
// 7. Offboarding and the key CLI
// ---------------------------------------------------------------------------

async fn tenant_delete_destroys_its_keys_and_cli_rotates_keys(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let tenant_a = tenant_of(&app, &admin.access).await;
    app.create_user(&admin.access, "keeper@kept.example", "manager", PW)
        .await;
    let pkg_a = encrypt_text(&app, &admin.access, "confidential", "A's data").await;
    let (tenant_b, admin_b) = app.other_tenant("Doomed", "boss@doomed.example").await;
    app.create_user(&admin_b.access, "staff@doomed.example", "viewer", PW)
        .await;
    let staff = app.login("staff@doomed.example", PW).await;
    let pkg_b = encrypt_text(&app, &admin_b.access, "confidential", "B's data").await;
    decrypts_to(&app, &admin_b.access, &pkg_b, "B's data").await;

    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::for_app(&app, MASTER_KEY_B64, dir.path());

    // keys rotate: prints the new version's id; the API sees it.
    let run = cli
        .run(&[
            "keys",
            "rotate",
            "--tenant",
            &tenant_a,
            "--classification",
            "confidential",
        ])
        .await;
    run.assert_success();
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        [format!("tenant:{tenant_a}/confidential/v2")],
        "{run:#?}"
    );
    assert_eq!(
        ring(&app, &admin.access, "confidential").await,
        owned(&[(1, "active"), (2, "primary")])
    );
    let run = cli
        .run(&[
            "keys",
            "rotate",
            "--tenant",
            &tenant_a,
            "--classification",
            "restricted",
        ])
        .await;
    run.assert_success();
    assert_eq!(
        run.stdout.trim(),
        format!("tenant:{tenant_a}/restricted/v1")
    );
    let line = cli
        .run(&[
            "keys",
            "rotate",
            "--tenant",
            &tenant_a,
            "--classification",
            "secret",
        ])
        .await
        .one_line_error();
    assert!(line.contains("classification"), "{line}");
    let line = cli
        .run(&[
            "keys",
            "rotate",
            "--tenant",
            "no-such-tenant",
            "--classification",
            "internal",
        ])
        .await
        .one_line_error();
    assert!(line.contains("no-such-tenant"), "{line}");
    decrypts_to(&app, &admin.access, &pkg_a, "A's data").await;
    let rotated = audit_events(&app, &admin.access, "key_rotated").await;
    assert_eq!(rotated.len(), 2, "{rotated:#?}");
    assert!(rotated.iter().all(|e| e["details"]["trigger"] == "cli"));

    // tenant delete needs --yes; without it nothing happens.
    let line = cli
        .run(&["tenant", "delete", "--tenant", &tenant_b])
        .await
        .one_line_error();
    assert!(line.contains("--yes"), "{line}");
    app.login("boss@doomed.example", ADMIN_PASSWORD).await;
    let b_uuid = uuid::Uuid::parse_str(&tenant_b).unwrap();
    let b_keys = "SELECT COUNT(*) FROM data_keys WHERE tenant_id = $1";
    assert!(app.count(b_keys, b_uuid).await >= 1);

    let run = cli
        .run(&["tenant", "delete", "--tenant", &tenant_b, "--yes"])
        .await;
    run.assert_success();
    let line = run.stdout.trim();
    assert!(
        line.starts_with(&format!("deleted tenant {tenant_b} (")),
        "{run:#?}"
    );
    assert!(!line.contains("(0 data key"), "{line}");
    assert_eq!(app.count(b_keys, b_uuid).await, 0, "B's keys are destroyed");

    // B's users can no longer log in; its sessions end.
    for (email, pw) in [
        ("boss@doomed.example", ADMIN_PASSWORD),
        ("staff@doomed.example", PW),
    ] {
        let res = app.login_raw(email, pw).await;
        assert_error(&status_body(res).await, 401, "invalid_credentials");
    }
    let mut ended = false;
    for _ in 0..30 {
        if app
            .get_auth("/api/v1/users/me", &staff.access)
            .await
            .status()
            == 401
        {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(ended, "a deleted tenant's session still works");
    let run = cli.run(&["tenant", "list"]).await;
    run.assert_success();
    assert!(!run.stdout.contains(&tenant_b), "{run:#?}");
    assert!(run.stdout.contains(&tenant_a));
    let line = cli
        .run(&[
            "keys",
            "rotate",
            "--tenant",
            &tenant_b,
            "--classification",
            "internal",
        ])
        .await
        .one_line_error();
    assert!(line.contains(&tenant_b), "{line}");
    assert_eq!(
        app.count(b_keys, b_uuid).await,
        0,
        "no key for a deleted tenant"
    );

    // Tenant A is unaffected.
    let admin = app.admin().await;
    let keeper = app.login("keeper@kept.example", PW).await;
    decrypts_to(&app, &keeper.access, &pkg_a, "A's data").await;
    let fresh = encrypt_text(&app, &admin.access, "confidential", "still here").await;
    decrypts_to(&app, &keeper.access, &fresh, "still here").await;
    assert_error(
        &decrypt(&app, &admin.access, &pkg_b).await,
        422,
        "decryption_failed",
    );
    // Every audit log, the deleted tenant's included, still verifies.
    audit_verifies(&app, &admin.access).await;
    let run = cli.run(&["audit", "verify"]).await;
    run.assert_success();
    assert!(
        run.stdout.lines().all(|l| l.starts_with("ok\t")),
        "{run:#?}"
    );
    assert!(run.stdout.contains(&tenant_b), "B's log is kept: {run:#?}");
    app.stop().await;
}
