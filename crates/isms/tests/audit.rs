#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The tamper-evident audit trail over real HTTP, on SQLite and PostgreSQL:
//! what security events record (request context, actor, outcome, scoring),
//! who may read the log and tenant isolation, signed checkpoints and RFC
//! 9162 proofs checked client-side, tampering by someone with database
//! access (detected with the exact sequence number), an audit write that
//! fails taking its change down with it, alerts with signed webhooks and
//! their acknowledgement, the `isms audit` CLI (on the database and on an
//! offline export), and gapless appends from two instances at once.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use isms_domain::audit::{self, AuditEntry, AuditRecord, Hash, LogId};
use serde_json::{Value, json};
use sha2::Sha256;
use support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, MASTER_KEY_B64, TestApp, Tokens};

const PW: &str = "a long enough passphrase";
const WEBHOOK_SECRET: &str = "test-webhook-secret-0123456789abcdef0123";
const BIN: &str = env!("CARGO_BIN_EXE_isms");

on_both_backends!(
    security_events_are_logged_with_their_context,
    checkpoints_and_proofs_verify_client_side,
    tampering_is_detected_at_the_exact_entry,
    failed_audit_write_fails_and_rolls_back_the_change,
    critical_events_raise_alerts_delivered_to_signed_webhooks,
    cli_verifies_the_database_and_offline_exports,
    audit_policy_changes_scoring_and_needs_step_up,
    truncating_the_tail_is_detected_by_the_checkpoint,
    background_job_checkpoints_by_count_and_by_age,
);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn hash_of(v: &Value) -> Hash {
    B64.decode(v.as_str().expect("a base64 string"))
        .unwrap()
        .try_into()
        .expect("32 bytes")
}

fn path_of(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(hash_of).collect()
}

fn seq(e: &Value) -> u64 {
    e["seq"].as_u64().unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

async fn get_json(app: &TestApp, path: &str, token: &str) -> Value {
    let res = app.get_auth(path, token).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

async fn status_of(app: &TestApp, path: &str, token: &str) -> u16 {
    app.get_auth(path, token).await.status().as_u16()
}

/// A login carrying our own request id and user agent.
async fn login_with_id(app: &TestApp, email: &str, password: &str, rid: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-request-id", rid)
        .header("user-agent", "audit-suite/1.0")
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

/// Every entry of the caller's tenant log matching `query` (`&k=v...`),
/// newest first, following the cursor with pages of `limit`.
async fn events_paged(app: &TestApp, token: &str, query: &str, limit: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = app
            .client
            .get(app.url("/api/v1/audit/events"))
            .bearer_auth(token);
        let mut params: Vec<(String, String)> = vec![("limit".into(), limit.to_string())];
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap();
            params.push((k.to_owned(), v.to_owned()));
        }
        if let Some(c) = &cursor {
            params.push(("cursor".into(), c.clone()));
        }
        url = url.query(&params);
        let res = url.send().await.unwrap();
        let status = res.status();
        let page: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "events {query}: {page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize);
        out.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

async fn all_events(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    events_paged(app, token, query, 100).await
}

/// The entry at `seq` as `GET /audit/events` shows it.
async fn entry_at(app: &TestApp, token: &str, at: u64) -> Value {
    all_events(app, token, "")
        .await
        .into_iter()
        .find(|e| seq(e) == at)
        .unwrap_or_else(|| panic!("no entry {at}"))
}

/// The one entry of `event_type` written for request `rid`.
fn the_entry<'a>(events: &'a [Value], rid: &str, event_type: &str) -> &'a Value {
    let found: Vec<&Value> = events
        .iter()
        .filter(|e| e["request_id"] == rid && e["event_type"] == event_type)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "exactly one {event_type} for request {rid}: {events:#?}"
    );
    found[0]
}

fn flags(e: &Value) -> Vec<&str> {
    e["compliance_flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect()
}

/// The entry exactly as the API shows it, as the domain type.
fn entry_of(view: &Value) -> AuditEntry {
    let log = match view["tenant_id"].as_str() {
        Some(t) => LogId::tenant(t.parse().unwrap()),
        None => LogId::server(),
    };
    let record: AuditRecord = serde_json::from_value(view.clone()).unwrap();
    AuditEntry {
        log_id: log,
        seq: seq(view),
        id: s(&view["id"]).parse().unwrap(),
        timestamp: serde_json::from_value(view["timestamp"].clone()).unwrap(),
        record,
    }
}

/// The leaf hash recomputed from the entry exactly as the API shows it
/// (RFC 9162 `SHA-256(0x00 ‖ canonical entry)`).
fn leaf_of(view: &Value) -> Hash {
    entry_of(view).leaf_hash().unwrap()
}

/// The canonical encoding of `view` after `edit` (a well-formed entry
/// that says something else).
fn canonical_after(view: &Value, edit: impl FnOnce(&mut Value)) -> String {
    let mut v = view.clone();
    edit(&mut v);
    String::from_utf8(entry_of(&v).canonical_bytes().unwrap()).unwrap()
}

/// Newest first, `seq` n-1 down to 0 with no gap or repeat.
fn assert_gapless_newest_first(events: &[Value]) {
    let seqs: Vec<u64> = events.iter().map(seq).collect();
    let n = seqs.len() as u64;
    let expected: Vec<u64> = (0..n).rev().collect();
    assert_eq!(seqs, expected, "seqs are gapless, newest first");
}

struct LogKey {
    name: String,
    public: [u8; 32],
    verifier: String,
}

/// `GET /audit/log-key`, cross-checked: the verifier key is the signed-note
/// encoding of the same name and public key.
async fn log_key(app: &TestApp, token: &str) -> LogKey {
    let k = get_json(app, "/api/v1/audit/log-key", token).await;
    assert_eq!(k["algorithm"], "Ed25519");
    let public: [u8; 32] = B64.decode(s(&k["public_key"])).unwrap().try_into().unwrap();
    let name = s(&k["key_name"]).to_owned();
    assert_eq!(k["verifier_key"], audit::verifier_key(&name, &public));
    assert_eq!(
        audit::parse_verifier_key(s(&k["verifier_key"])),
        Ok((name.clone(), public))
    );
    LogKey {
        name,
        public,
        verifier: s(&k["verifier_key"]).to_owned(),
    }
}

/// Whether the key part of a verifier key (`name+id+base64`) contains a
/// `+`, as standard base64 does for about half of all keys.
fn key_part_has_plus(verifier: &str) -> bool {
    verifier.splitn(3, '+').nth(2).unwrap().contains('+')
}

/// Opens a checkpoint's signed note with the log key and checks that what
/// it signs is what the JSON fields say.
fn open_checkpoint(cp: &Value, key: &LogKey) -> audit::Checkpoint {
    let opened = audit::open_note(s(&cp["note"]), &key.name, &key.public)
        .unwrap_or_else(|e| panic!("checkpoint note does not open: {e}: {cp}"));
    assert_eq!(opened.tree_size, cp["tree_size"].as_u64().unwrap());
    assert_eq!(opened.root_hash, hash_of(&cp["root_hash"]));
    let ts: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(cp["timestamp"].clone()).unwrap();
    assert_eq!(opened.timestamp, ts);
    assert_eq!(opened.origin, format!("{}/{}", key.name, s(&cp["log_id"])));
    opened
}

async fn checkpoint(app: &TestApp, token: &str, key: &LogKey) -> (Value, audit::Checkpoint) {
    let cp = get_json(app, "/api/v1/audit/checkpoint", token).await;
    let opened = open_checkpoint(&cp, key);
    (cp, opened)
}

async fn verify(app: &TestApp, token: &str) -> Value {
    let res = app
        .post_auth("/api/v1/audit/verify", token, &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Asserts the report names `kind` at `seq` (`None`: no seq to blame).
fn assert_failure(report: &Value, kind: &str, seq: Option<u64>) {
    let f = &report["first_failure"];
    assert!(f.is_object(), "expected a failure: {report}");
    assert_eq!(f["kind"], kind, "{report}");
    assert_eq!(f["seq"].as_u64(), seq, "{report}");
    assert!(!s(&f["message"]).is_empty());
}

fn assert_verified(report: &Value) {
    assert!(
        report["first_failure"].is_null(),
        "expected the log to verify: {report}"
    );
}

/// Inclusion proof of `seq` in the tree of `size`, checked against `root`
/// with `leaf`; returns the proof's own leaf hash.
async fn check_inclusion(
    app: &TestApp,
    token: &str,
    seq: u64,
    size: u64,
    leaf: &Hash,
    root: &Hash,
) -> Hash {
    let p = get_json(
        app,
        &format!("/api/v1/audit/proofs/inclusion?seq={seq}&tree_size={size}"),
        token,
    )
    .await;
    assert_eq!(p["seq"], seq);
    assert_eq!(p["tree_size"], size);
    let proof_leaf = hash_of(&p["leaf_hash"]);
    let path = path_of(&p["path"]);
    assert!(
        audit::verify_inclusion(leaf, seq, size, &path, root),
        "inclusion of {seq} in {size} does not verify: {p}"
    );
    proof_leaf
}

/// Direct database access, as an operator (or an attacker) with the
/// database's credentials has it.
enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    async fn open(app: &TestApp) -> Self {
        match app.config.database_url.backend() {
            isms_store::Backend::Sqlite => {
                Self::Sqlite(sqlx::SqlitePool::connect(app.db.url()).await.unwrap())
            }
            isms_store::Backend::Postgres => {
                Self::Postgres(sqlx::PgPool::connect(app.db.url()).await.unwrap())
            }
        }
    }

    fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// Runs statements; returns the rows affected or the database's error.
    async fn exec(&self, sql: &str) -> Result<u64, String> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Self::Sqlite(p) => sqlx::raw_sql(sql)
                .execute(p)
                .await
                .map(|r| r.rows_affected())
                .map_err(|e| e.to_string()),
            Self::Postgres(p) => sqlx::raw_sql(sql)
                .execute(p)
                .await
                .map(|r| r.rows_affected())
                .map_err(|e| e.to_string()),
        }
    }

    async fn ok(&self, sql: &str) -> u64 {
        self.exec(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn ints(&self, sql: &str) -> Vec<i64> {
        let q = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Self::Sqlite(p) => sqlx::query_scalar(q).fetch_all(p).await.unwrap(),
            Self::Postgres(p) => sqlx::query_scalar(q).fetch_all(p).await.unwrap(),
        }
    }

    async fn text(&self, sql: &str) -> String {
        let q = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Self::Sqlite(p) => sqlx::query_scalar(q).fetch_one(p).await.unwrap(),
            Self::Postgres(p) => sqlx::query_scalar(q).fetch_one(p).await.unwrap(),
        }
    }

    /// An expression giving a blob column as lower-case hex.
    fn hex(&self, column: &str) -> String {
        match self {
            Self::Sqlite(_) => format!("lower(hex({column}))"),
            Self::Postgres(_) => format!("encode({column}, 'hex')"),
        }
    }

    /// A blob literal from hex.
    fn blob(&self, hex: &str) -> String {
        match self {
            Self::Sqlite(_) => format!("X'{hex}'"),
            Self::Postgres(_) => format!("decode('{hex}', 'hex')"),
        }
    }

    /// Drops the append-only triggers of `table`, as an attacker with DDL
    /// rights would.
    async fn drop_append_only(&self, table: &str) {
        match self {
            Self::Sqlite(_) => {
                self.ok(&format!("DROP TRIGGER {table}_no_update")).await;
                self.ok(&format!("DROP TRIGGER {table}_no_delete")).await;
            }
            Self::Postgres(_) => {
                self.ok(&format!("DROP TRIGGER {table}_append_only ON {table}"))
                    .await;
                self.ok(&format!("DROP TRIGGER {table}_no_truncate ON {table}"))
                    .await;
            }
        }
    }

    /// An entry's stored canonical encoding (what its leaf hash covers).
    async fn canonical(&self, log: &str, seq: u64) -> String {
        self.text(&format!(
            "SELECT canonical FROM audit_entries WHERE log_id = '{log}' AND seq = {seq}"
        ))
        .await
    }

    async fn set_canonical(&self, log: &str, seq: u64, canonical: &str) {
        let n = self
            .ok(&format!(
                "UPDATE audit_entries SET canonical = {} WHERE log_id = '{log}' AND seq = {seq}",
                quote(canonical)
            ))
            .await;
        assert_eq!(n, 1);
    }

    /// The size the log's head row records.
    async fn size(&self, log: &str) -> i64 {
        self.ints(&format!(
            "SELECT size FROM audit_logs WHERE log_id = '{log}'"
        ))
        .await[0]
    }

    /// The seqs of a log in storage order.
    async fn seqs(&self, log: &str) -> Vec<i64> {
        self.ints(&format!(
            "SELECT seq FROM audit_entries WHERE log_id = '{log}' ORDER BY seq"
        ))
        .await
    }

    async fn close(self) {
        match self {
            Self::Sqlite(p) => p.close().await,
            Self::Postgres(p) => p.close().await,
        }
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `isms` binary run against a test server's database.
struct Cli {
    dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Cli {
    fn for_app(app: &TestApp) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let vars = vec![
            ("ISMS_DATABASE_URL".to_owned(), app.db.url().to_owned()),
            ("ISMS_MASTER_KEY".to_owned(), MASTER_KEY_B64.to_owned()),
            ("ISMS_DATA_DIR".to_owned(), dir.path().display().to_string()),
        ];
        Self { dir, vars }
    }

    async fn run(&self, args: &[&str]) -> Run {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.current_dir(self.dir.path()).args(args);
        for (key, ..) in isms::config::KEYS {
            cmd.env_remove(key);
        }
        cmd.env_remove("ISMS_CONFIG");
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let child = cmd.spawn().expect("start isms");
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("isms {args:?} did not finish"))
            .unwrap();
        Run {
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn file(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

/// What a webhook receiver got: headers and body of one POST.
struct Received {
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// A webhook receiver on 127.0.0.1 that answers 503 to its first
/// `fail_first` POSTs and 200 afterwards.
struct Receiver {
    url: String,
    rx: tokio::sync::mpsc::UnboundedReceiver<Received>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(fail_first: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let seen = Arc::new(AtomicUsize::new(0));
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let tx = tx.clone();
                    let seen = seen.clone();
                    async move {
                        let n = seen.fetch_add(1, Ordering::SeqCst);
                        let _ = tx.send(Received {
                            headers,
                            body: body.to_vec(),
                        });
                        if n < fail_first {
                            axum::http::StatusCode::SERVICE_UNAVAILABLE
                        } else {
                            axum::http::StatusCode::OK
                        }
                    }
                },
            ),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            url: format!("http://{addr}/hook"),
            rx,
            task,
        }
    }

    async fn next(&mut self, within: Duration) -> Received {
        tokio::time::timeout(within, self.rx.recv())
            .await
            .expect("no webhook POST arrived in time")
            .unwrap()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `t=<unix>,v1=<hex>` checked against HMAC-SHA256(secret, "<t>." ‖ body).
fn assert_signed(r: &Received, secret: &str) {
    let sig = r.header("x-isms-signature").expect("x-isms-signature");
    let (t, v1) = sig
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("malformed signature header {sig:?}"));
    let t: i64 = t.parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - t).abs() < 120,
        "signature timestamp {t} is not recent"
    );
    let mac = |body: &[u8]| {
        let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        m.update(format!("{t}.").as_bytes());
        m.update(body);
        hex(&m.finalize().into_bytes())
    };
    assert_eq!(mac(&r.body), v1, "the webhook signature verifies");
    // The check is meaningful: another body or secret does not verify.
    let mut other = r.body.clone();
    other.push(b' ');
    assert_ne!(mac(&other), v1);
    let mut m = Hmac::<Sha256>::new_from_slice(b"another secret of at least 32 chars").unwrap();
    m.update(format!("{t}.").as_bytes());
    m.update(&r.body);
    assert_ne!(hex(&m.finalize().into_bytes()), v1);
}

// ---------------------------------------------------------------------------
// 1. What is logged, who may read it, tenant isolation
// ---------------------------------------------------------------------------

async fn security_events_are_logged_with_their_context(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let res = login_with_id(&app, ADMIN_EMAIL, ADMIN_PASSWORD, "t1-login-ok").await;
    assert_eq!(res.status(), 200);
    let admin = Tokens::from(res.json::<Value>().await.unwrap());
    let me = get_json(&app, "/api/v1/users/me", &admin.access).await;
    let admin_id = s(&me["id"]).to_owned();
    let tenant_id = s(&me["tenant_id"]).to_owned();

    let res = login_with_id(&app, ADMIN_EMAIL, "not the password at all", "t1-login-bad").await;
    assert_eq!(res.status(), 401);

    let res = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&admin.access)
        .header("x-request-id", "t1-create")
        .json(&json!({ "email": "ann@x.example", "role": "auditor", "password": PW }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let ann_id = s(&res.json::<Value>().await.unwrap()["id"]).to_owned();
    let auditor = app.login("ann@x.example", PW).await;

    let events = all_events(&app, &auditor.access, "").await;
    assert_gapless_newest_first(&events);
    for e in &events {
        assert_eq!(e["tenant_id"], tenant_id.as_str());
        // What the API shows is exactly what was hashed into the log.
        assert_eq!(hash_of(&e["leaf_hash"]), leaf_of(e), "leaf of {e}");
    }

    let ok = the_entry(&events, "t1-login-ok", "login_success");
    assert_eq!(ok["outcome"], "success");
    assert_eq!(ok["action"], "login");
    assert_eq!(ok["actor_user_id"], admin_id.as_str());
    assert_eq!(ok["resource_type"], "user");
    assert_eq!(ok["resource_id"], admin_id.as_str());
    assert!(ok["session_id"].is_string());
    assert_eq!(ok["ip"], "127.0.0.1");
    assert_eq!(ok["user_agent"], "audit-suite/1.0");
    assert_eq!(ok["details"]["amr"], json!(["pwd"]));
    assert_eq!(ok["risk_score"], 1);

    let bad = the_entry(&events, "t1-login-bad", "login_failure");
    assert_eq!(bad["outcome"], "failure");
    assert_eq!(bad["action"], "login");
    assert!(bad["actor_user_id"].is_null(), "nobody authenticated");
    assert!(bad["session_id"].is_null());
    assert_eq!(bad["resource_type"], "user");
    assert_eq!(bad["resource_id"], admin_id.as_str());
    assert_eq!(bad["risk_score"], 3);
    assert_eq!(bad["user_agent"], "audit-suite/1.0");

    let created = the_entry(&events, "t1-create", "user_created");
    assert_eq!(created["outcome"], "success");
    assert_eq!(created["action"], "create");
    assert_eq!(created["actor_user_id"], admin_id.as_str());
    assert_eq!(created["session_id"], ok["session_id"]);
    assert_eq!(created["resource_type"], "user");
    assert_eq!(created["resource_id"], ann_id.as_str());
    assert!(flags(created).contains(&"GDPR_PROCESSING"), "{created}");
    assert_eq!(created["risk_score"], 6);
    assert!(seq(ok) < seq(bad) && seq(bad) < seq(created));
    // Personal data never appears in clear.
    for e in &events {
        assert!(!e.to_string().contains("ann@x.example"), "e-mail in {e}");
    }

    // Filters.
    let failures = all_events(&app, &auditor.access, "&event_type=login_failure").await;
    assert!(failures.iter().all(|e| e["event_type"] == "login_failure"));
    assert!(failures.iter().any(|e| e["id"] == bad["id"]));
    let failed = all_events(&app, &auditor.access, "&outcome=failure").await;
    assert!(!failed.is_empty() && failed.iter().all(|e| e["outcome"] == "failure"));
    let by_admin = all_events(&app, &auditor.access, &format!("&actor={admin_id}")).await;
    assert!(
        by_admin
            .iter()
            .all(|e| e["actor_user_id"] == admin_id.as_str())
    );
    assert!(by_admin.iter().any(|e| e["id"] == created["id"]));
    assert!(by_admin.iter().any(|e| e["id"] == ok["id"]));
    let on_ann = all_events(
        &app,
        &auditor.access,
        &format!("&resource_type=user&resource_id={ann_id}"),
    )
    .await;
    assert!(on_ann.iter().all(|e| e["resource_id"] == ann_id.as_str()));
    assert!(on_ann.iter().any(|e| e["id"] == created["id"]));
    let risky = all_events(&app, &auditor.access, "&min_risk=6").await;
    assert!(risky.iter().all(|e| e["risk_score"].as_u64().unwrap() >= 6));
    assert!(risky.iter().any(|e| e["id"] == created["id"]));
    assert!(!risky.iter().any(|e| e["id"] == ok["id"]));
    let gdpr = all_events(&app, &auditor.access, "&flag=GDPR_PROCESSING").await;
    assert!(gdpr.iter().all(|e| flags(e).contains(&"GDPR_PROCESSING")));
    assert!(gdpr.iter().any(|e| e["id"] == created["id"]));
    let since = s(&created["timestamp"]).to_owned();
    let newer = all_events(&app, &auditor.access, &format!("&from={since}")).await;
    assert!(newer.iter().any(|e| e["id"] == created["id"]));
    assert!(!newer.iter().any(|e| e["id"] == ok["id"]));
    let until = s(&ok["timestamp"]).to_owned();
    let older = all_events(&app, &auditor.access, &format!("&to={until}")).await;
    assert!(!older.is_empty());
    assert!(
        !older
            .iter()
            .any(|e| e["id"] == ok["id"] || e["id"] == created["id"])
    );
    // Small pages walk the same log.
    let paged = events_paged(&app, &auditor.access, "", 2).await;
    let ids = |v: &[Value]| v.iter().map(|e| e["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&paged), ids(&events));
    // Bad filters are refused.
    for (q, want) in [
        ("outcome=maybe", 422),
        ("flag=NOT_A_FLAG", 422),
        ("limit=0", 422),
        ("limit=101", 422),
        ("min_risk=11", 422),
        ("cursor=not-a-seq", 400),
    ] {
        let st = status_of(&app, &format!("/api/v1/audit/events?{q}"), &auditor.access).await;
        assert_eq!(st, want, "{q}");
    }

    // Only auditors and admins read the log.
    app.create_user(&admin.access, "vic@x.example", "viewer", PW)
        .await;
    app.create_user(&admin.access, "meg@x.example", "manager", PW)
        .await;
    let viewer = app.login("vic@x.example", PW).await;
    let manager = app.login("meg@x.example", PW).await;
    let viewer_id = s(&get_json(&app, "/api/v1/users/me", &viewer.access).await["id"]).to_owned();
    for token in [&viewer.access, &manager.access] {
        for path in [
            "/api/v1/audit/events",
            "/api/v1/audit/checkpoint",
            "/api/v1/audit/proofs/inclusion?seq=0&tree_size=1",
        ] {
            assert_eq!(status_of(&app, path, token).await, 403, "{path}");
        }
        let res = app
            .post_auth("/api/v1/audit/verify", token, &json!({}))
            .await;
        assert_eq!(res.status(), 403);
    }
    assert_eq!(
        status_of(&app, "/api/v1/audit/events", &admin.access).await,
        200
    );
    // The viewer's denial is itself on the record.
    let denied = all_events(
        &app,
        &auditor.access,
        &format!("&event_type=access_denied&actor={viewer_id}"),
    )
    .await;
    assert_eq!(denied.len(), 4, "{denied:#?}");
    let d = denied.last().unwrap();
    assert_eq!(d["outcome"], "denied");
    assert_eq!(d["details"]["permission"], "audit:read");
    assert!(flags(d).contains(&"ISO27001_ACCESS_VIOLATION"));
    assert!(d["risk_score"].as_u64().unwrap() >= 8);

    // Another tenant's admin sees only its own log.
    let (other_id, other) = app.other_tenant("acme", "root@acme.example").await;
    let theirs = all_events(&app, &other.access, "").await;
    assert!(!theirs.is_empty());
    assert_gapless_newest_first(&theirs);
    assert!(theirs.iter().all(|e| e["tenant_id"] == other_id.as_str()));
    let ours: std::collections::HashSet<String> = all_events(&app, &auditor.access, "")
        .await
        .iter()
        .map(|e| s(&e["id"]).to_owned())
        .collect();
    assert!(theirs.iter().all(|e| !ours.contains(s(&e["id"]))));
    for id in [&created["id"], &ok["id"], &bad["id"]] {
        let path = format!("/api/v1/audit/events/{}", s(id));
        assert_eq!(status_of(&app, &path, &other.access).await, 404);
        assert_eq!(status_of(&app, &path, &auditor.access).await, 200);
    }
    let their_id = s(&theirs[0]["id"]);
    assert_eq!(
        status_of(
            &app,
            &format!("/api/v1/audit/events/{their_id}"),
            &auditor.access
        )
        .await,
        404
    );
    let filtered = all_events(&app, &other.access, &format!("&actor={admin_id}")).await;
    assert!(filtered.is_empty());
    let their_cp = get_json(&app, "/api/v1/audit/checkpoint", &other.access).await;
    assert_eq!(their_cp["log_id"], format!("tenant:{other_id}"));
    assert_eq!(their_cp["tree_size"], theirs.len());
    app.stop().await;
}

// ---------------------------------------------------------------------------
// 2. Signed checkpoints and proofs
// ---------------------------------------------------------------------------

async fn checkpoints_and_proofs_verify_client_side(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    for i in 0..4 {
        app.create_user(&admin.access, &format!("u{i}@x.example"), "analyst", PW)
            .await;
    }
    let key = log_key(&app, &admin.access).await;
    assert_eq!(key.name, "isms.local/audit");

    let (cp1, opened1) = checkpoint(&app, &admin.access, &key).await;
    let me = get_json(&app, "/api/v1/users/me", &admin.access).await;
    assert_eq!(cp1["log_id"], format!("tenant:{}", s(&me["tenant_id"])));
    let n1 = opened1.tree_size;
    let events = all_events(&app, &admin.access, "").await;
    assert_eq!(events.len() as u64, n1, "the checkpoint covers the log");
    // The checkpoint's root is the RFC 9162 root of the entries as shown.
    let mut leaves: Vec<Hash> = events.iter().rev().map(leaf_of).collect();
    assert_eq!(audit::root_from_leaves(&leaves), opened1.root_hash);
    // A note signed by another key, or altered, does not open.
    let forged = s(&cp1["note"]).replacen(&format!("\n{n1}\n"), &format!("\n{}\n", n1 + 1), 1);
    assert!(audit::open_note(&forged, &key.name, &key.public).is_err());

    for seq in [0, 1, n1 / 2, n1 - 1] {
        let leaf = leaves[seq as usize];
        let proof_leaf =
            check_inclusion(&app, &admin.access, seq, n1, &leaf, &opened1.root_hash).await;
        assert_eq!(proof_leaf, leaf);
        // The proof is specific: another leaf does not verify with it.
        let p = get_json(
            &app,
            &format!("/api/v1/audit/proofs/inclusion?seq={seq}&tree_size={n1}"),
            &admin.access,
        )
        .await;
        let other = leaves[((seq + 1) % n1) as usize];
        assert!(!audit::verify_inclusion(
            &other,
            seq,
            n1,
            &path_of(&p["path"]),
            &opened1.root_hash
        ));
    }

    // More events, a new checkpoint, and proof that it extends the first.
    for i in 4..7 {
        app.create_user(&admin.access, &format!("u{i}@x.example"), "analyst", PW)
            .await;
    }
    let (_cp2, opened2) = checkpoint(&app, &admin.access, &key).await;
    let n2 = opened2.tree_size;
    assert!(n2 >= n1 + 3, "{n1} -> {n2}");
    let c = get_json(
        &app,
        &format!("/api/v1/audit/proofs/consistency?from={n1}&to={n2}"),
        &admin.access,
    )
    .await;
    assert_eq!(c["from"], n1);
    assert_eq!(c["to"], n2);
    let path = path_of(&c["path"]);
    assert!(audit::verify_consistency(
        n1,
        n2,
        &opened1.root_hash,
        &opened2.root_hash,
        &path
    ));
    assert!(!audit::verify_consistency(
        n1,
        n2,
        &opened2.root_hash,
        &opened1.root_hash,
        &path
    ));

    let events = all_events(&app, &admin.access, "").await;
    leaves = events.iter().rev().map(leaf_of).collect();
    assert!(leaves.len() as u64 >= n2);
    assert_eq!(
        audit::root_from_leaves(&leaves[..n2 as usize]),
        opened2.root_hash
    );
    // Every entry is provably in the second tree, and every earlier size
    // is consistent with it.
    for seq in 0..n2 {
        check_inclusion(
            &app,
            &admin.access,
            seq,
            n2,
            &leaves[seq as usize],
            &opened2.root_hash,
        )
        .await;
    }
    for from in 1..=n2 {
        let c = get_json(
            &app,
            &format!("/api/v1/audit/proofs/consistency?from={from}&to={n2}"),
            &admin.access,
        )
        .await;
        let old_root = audit::root_from_leaves(&leaves[..from as usize]);
        assert!(
            audit::verify_consistency(
                from,
                n2,
                &old_root,
                &opened2.root_hash,
                &path_of(&c["path"])
            ),
            "consistency {from} -> {n2}"
        );
    }
    // Inclusion in an older, unsigned size is served too.
    check_inclusion(
        &app,
        &admin.access,
        2,
        5,
        &leaves[2],
        &audit::root_from_leaves(&leaves[..5]),
    )
    .await;

    // Out of range.
    let size = n2 + 1000;
    for path in [
        format!("/api/v1/audit/proofs/inclusion?seq={n2}&tree_size={n2}"),
        format!("/api/v1/audit/proofs/inclusion?seq=0&tree_size={size}"),
        "/api/v1/audit/proofs/inclusion?seq=0&tree_size=0".to_owned(),
        "/api/v1/audit/proofs/consistency?from=0&to=3".to_owned(),
        "/api/v1/audit/proofs/consistency?from=4&to=3".to_owned(),
        format!("/api/v1/audit/proofs/consistency?from=1&to={size}"),
    ] {
        let res = app.get_auth(&path, &admin.access).await;
        assert_eq!(res.status(), 422, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "validation_failed", "{path}");
        assert!(body["request_id"].is_string());
    }

    // One entry with its proof against the latest checkpoint.
    for e in [
        &events[0],
        &events[events.len() / 2],
        events.last().unwrap(),
    ] {
        let d = get_json(
            &app,
            &format!("/api/v1/audit/events/{}", s(&e["id"])),
            &admin.access,
        )
        .await;
        assert_eq!(d["id"], e["id"]);
        assert_eq!(d["seq"], e["seq"]);
        assert_eq!(d["details"], e["details"]);
        let cp = open_checkpoint(&d["checkpoint"], &key);
        let p = &d["inclusion_proof"];
        assert!(p.is_object(), "a proof: {d}");
        assert_eq!(p["seq"], e["seq"]);
        assert_eq!(p["tree_size"], cp.tree_size);
        assert_eq!(hash_of(&p["leaf_hash"]), leaf_of(&d));
        assert!(audit::verify_inclusion(
            &leaf_of(&d),
            seq(&d),
            cp.tree_size,
            &path_of(&p["path"]),
            &cp.root_hash
        ));
    }
    let random = uuid::Uuid::now_v7();
    assert_eq!(
        status_of(
            &app,
            &format!("/api/v1/audit/events/{random}"),
            &admin.access
        )
        .await,
        404
    );

    let report = verify(&app, &admin.access).await;
    assert_verified(&report);
    assert!(report["checkpoints_checked"].as_u64().unwrap() >= 2);
    app.stop().await;
}

// ---------------------------------------------------------------------------
// 3. Tampering
// ---------------------------------------------------------------------------

async fn tampering_is_detected_at_the_exact_entry(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    for i in 0..5 {
        app.create_user(&admin.access, &format!("t{i}@x.example"), "viewer", PW)
            .await;
    }
    let key = log_key(&app, &admin.access).await;
    let (cp, opened) = checkpoint(&app, &admin.access, &key).await;
    let log = s(&cp["log_id"]).to_owned();
    let size = opened.tree_size;
    assert!(size >= 10, "enough entries: {size}");
    let db = Db::open(&app).await;
    let table = "audit_entries";
    let at = |seq: u64| format!("log_id = '{log}' AND seq = {seq}");

    // A clean log verifies, up to the checkpoint just signed.
    let report = verify(&app, &admin.access).await;
    assert_verified(&report);
    assert_eq!(report["log_id"], log.as_str());
    assert_eq!(report["entries"], size);
    assert_eq!(report["root_hash"], cp["root_hash"]);
    assert!(report["checkpoints_checked"].as_u64().unwrap() >= 1);

    // With the triggers in place nobody changes the log, not even the
    // database owner.
    for t in ["audit_entries", "audit_nodes", "audit_checkpoints"] {
        let upd = match t {
            "audit_nodes" => format!("UPDATE {t} SET idx = idx WHERE log_id = '{log}'"),
            _ => format!("UPDATE {t} SET log_id = log_id WHERE log_id = '{log}'"),
        };
        let e = db.exec(&upd).await.expect_err("UPDATE is refused");
        assert!(e.contains("append-only"), "{t}: {e}");
        let e = db
            .exec(&format!("DELETE FROM {t} WHERE log_id = '{log}'"))
            .await
            .expect_err("DELETE is refused");
        assert!(e.contains("append-only"), "{t}: {e}");
        if db.is_postgres() {
            let e = db
                .exec(&format!("TRUNCATE {t}"))
                .await
                .expect_err("TRUNCATE is refused");
            assert!(e.contains("append-only"), "{t}: {e}");
        }
    }
    // Nothing changed (the verification itself is one more entry).
    assert_eq!(db.seqs(&log).await, (0..=size as i64).collect::<Vec<_>>());

    // An attacker drops them.
    db.drop_append_only(table).await;

    // (a) details of one entry changed.
    let k = 2;
    let original = db.canonical(&log, k).await;
    let tampered = canonical_after(&entry_at(&app, &admin.access, k).await, |v| {
        v["details"] = json!({ "tampered": true });
    });
    db.set_canonical(&log, k, &tampered).await;
    assert_failure(
        &verify(&app, &admin.access).await,
        "entry_modified",
        Some(k),
    );
    // A client checking the entry against its proof sees it too: the leaf
    // of what is shown is not the leaf the tree holds.
    let shown = entry_at(&app, &admin.access, k).await;
    assert_eq!(shown["details"], json!({ "tampered": true }));
    let d = get_json(
        &app,
        &format!("/api/v1/audit/events/{}", s(&shown["id"])),
        &admin.access,
    )
    .await;
    let p = &d["inclusion_proof"];
    let cpd = open_checkpoint(&d["checkpoint"], &key);
    assert_ne!(hash_of(&p["leaf_hash"]), leaf_of(&d));
    assert!(!audit::verify_inclusion(
        &leaf_of(&d),
        k,
        cpd.tree_size,
        &path_of(&p["path"]),
        &cpd.root_hash
    ));
    db.set_canonical(&log, k, &original).await;
    assert_verified(&verify(&app, &admin.access).await);

    // (a') the risk score of another.
    let k = 4;
    let original = db.canonical(&log, k).await;
    let tampered = canonical_after(&entry_at(&app, &admin.access, k).await, |v| {
        let r = v["risk_score"].as_u64().unwrap();
        v["risk_score"] = json!(if r == 0 { 1 } else { r - 1 });
    });
    db.set_canonical(&log, k, &tampered).await;
    assert_failure(
        &verify(&app, &admin.access).await,
        "entry_modified",
        Some(k),
    );
    db.set_canonical(&log, k, &original).await;
    assert_verified(&verify(&app, &admin.access).await);

    // (c) two entries swap places.
    let (lo, hi) = (5, 7);
    let swap = [
        format!("UPDATE {table} SET seq = 9999999 WHERE {}", at(lo)),
        format!("UPDATE {table} SET seq = {lo} WHERE {}", at(hi)),
        format!("UPDATE {table} SET seq = {hi} WHERE {}", at(9_999_999)),
    ];
    for stmt in &swap {
        db.ok(stmt).await;
    }
    let report = verify(&app, &admin.access).await;
    let kind = s(&report["first_failure"]["kind"]).to_owned();
    assert!(
        kind == "entry_reordered" || kind == "entry_modified",
        "{report}"
    );
    assert_eq!(report["first_failure"]["seq"], lo, "{report}");
    for stmt in &swap {
        db.ok(stmt).await;
    }
    assert_verified(&verify(&app, &admin.access).await);

    // (d) an entry rewritten together with its stored leaf hash: every
    // entry hashes fine, but the tree no longer has the signed root.
    let k = 6;
    let original = db.canonical(&log, k).await;
    let orig_leaf = db
        .text(&format!(
            "SELECT {} FROM {table} WHERE {}",
            db.hex("leaf_hash"),
            at(k)
        ))
        .await;
    let forged = canonical_after(&entry_at(&app, &admin.access, k).await, |v| {
        v["details"] = json!({ "rewritten": true });
    });
    db.ok(&format!(
        "UPDATE {table} SET canonical = {}, leaf_hash = {} WHERE {}",
        quote(&forged),
        db.blob(&hex(&audit::leaf_hash(forged.as_bytes()))),
        at(k)
    ))
    .await;
    let report = verify(&app, &admin.access).await;
    assert_eq!(
        report["first_failure"]["kind"], "checkpoint_mismatch",
        "{report}"
    );
    let blamed = report["first_failure"]["seq"].as_u64().unwrap();
    assert!(blamed >= k, "{report}");
    db.ok(&format!(
        "UPDATE {table} SET canonical = {}, leaf_hash = {} WHERE {}",
        quote(&original),
        db.blob(&orig_leaf),
        at(k)
    ))
    .await;
    assert_verified(&verify(&app, &admin.access).await);

    // (e) a checkpoint's root replaced: its signature no longer covers it.
    db.drop_append_only("audit_checkpoints").await;
    let where_cp = format!("log_id = '{log}' AND tree_size = {size}");
    let orig_root = db
        .text(&format!(
            "SELECT {} FROM audit_checkpoints WHERE {where_cp}",
            db.hex("root_hash")
        ))
        .await;
    db.ok(&format!(
        "UPDATE audit_checkpoints SET root_hash = {} WHERE {where_cp}",
        db.blob(&hex(&[7u8; 32]))
    ))
    .await;
    assert_failure(
        &verify(&app, &admin.access).await,
        "checkpoint_signature",
        None,
    );
    db.ok(&format!(
        "UPDATE audit_checkpoints SET root_hash = {} WHERE {where_cp}",
        db.blob(&orig_root)
    ))
    .await;
    assert_verified(&verify(&app, &admin.access).await);

    // (b) one entry deleted.
    let k = 3;
    assert_eq!(
        db.ok(&format!("DELETE FROM {table} WHERE {}", at(k))).await,
        1
    );
    assert_failure(&verify(&app, &admin.access).await, "entry_missing", Some(k));
    db.close().await;
    app.stop().await;
}

async fn truncating_the_tail_is_detected_by_the_checkpoint(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    app.create_user(&admin.access, "tail@x.example", "viewer", PW)
        .await;
    let key = log_key(&app, &admin.access).await;
    let (cp, opened) = checkpoint(&app, &admin.access, &key).await;
    let log = s(&cp["log_id"]).to_owned();
    let db = Db::open(&app).await;
    db.drop_append_only("audit_entries").await;
    let last = opened.tree_size - 1;
    db.ok(&format!(
        "DELETE FROM audit_entries WHERE log_id = '{log}' AND seq = {last}"
    ))
    .await;
    // No later entry exists yet: only the signed size betrays the cut.
    assert_failure(
        &verify(&app, &admin.access).await,
        "entry_missing",
        Some(last),
    );
    db.close().await;
    app.stop().await;
}

/// The columns `GET /audit/events` filters on are copies of fields of the
/// hashed entry; changing them hides an entry from filtered queries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_filter_columns_are_detected_sqlite() {
    tampered_filter_columns_are_detected(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_filter_columns_are_detected_postgres() {
    tampered_filter_columns_are_detected(Backend::Postgres).await;
}

async fn tampered_filter_columns_are_detected(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    app.create_user(&admin.access, "hide@x.example", "viewer", PW)
        .await;
    let viewer = app.login("hide@x.example", PW).await;
    assert_eq!(status_of(&app, "/api/v1/users", &viewer.access).await, 403);
    let denied = all_events(&app, &admin.access, "&event_type=access_denied").await;
    assert_eq!(denied.len(), 1);
    let k = seq(&denied[0]);
    let log = format!("tenant:{}", s(&denied[0]["tenant_id"]));
    let db = Db::open(&app).await;
    db.drop_append_only("audit_entries").await;
    db.ok(&format!(
        "UPDATE audit_entries SET event_type = 'login_success', outcome = 'success', \
         risk_score = 1, compliance_flags = '[]' WHERE log_id = '{log}' AND seq = {k}"
    ))
    .await;
    // The denial no longer shows up where a reviewer would look for it...
    let hidden = |v: Vec<Value>| !v.iter().any(|e| seq(e) == k);
    assert!(hidden(
        all_events(&app, &admin.access, "&event_type=access_denied").await
    ));
    assert!(hidden(all_events(&app, &admin.access, "&min_risk=8").await));
    assert!(hidden(
        all_events(&app, &admin.access, "&flag=ISO27001_ACCESS_VIOLATION").await
    ));
    // ...so verification must notice.
    assert_failure(
        &verify(&app, &admin.access).await,
        "entry_modified",
        Some(k),
    );
    db.close().await;
    app.stop().await;
}

/// `ISMS_AUDIT_CHECKPOINT_MAX_ENTRIES` and `..._INTERVAL_SECS`: the
/// background job signs a checkpoint when enough entries arrived, or when
/// the last one is old enough, without anyone asking for it.
async fn background_job_checkpoints_by_count_and_by_age(backend: Backend) {
    async fn latest_signed(db: &Db, log: &str) -> i64 {
        db.ints(&format!(
            "SELECT COALESCE(MAX(tree_size), -1) FROM audit_checkpoints WHERE log_id = '{log}'"
        ))
        .await[0]
    }
    // By count: at most 4 entries stay unsigned for a day.
    let Some(app) = TestApp::start(
        backend,
        &[
            ("ISMS_AUDIT_CHECKPOINT_MAX_ENTRIES", "5"),
            ("ISMS_AUDIT_CHECKPOINT_INTERVAL_SECS", "86400"),
        ],
    )
    .await
    else {
        return;
    };
    let admin = app.admin().await;
    let me = get_json(&app, "/api/v1/users/me", &admin.access).await;
    let log = format!("tenant:{}", s(&me["tenant_id"]));
    let db = Db::open(&app).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (head, signed) = (db.size(&log).await, latest_signed(&db, &log).await);
    assert!(signed > 0, "a log without a checkpoint gets one at once");
    assert!(head - signed < 5, "head {head}, signed {signed}");
    let mut n = 0;
    while db.size(&log).await - signed < 4 {
        app.create_user(&admin.access, &format!("n{n}@x.example"), "viewer", PW)
            .await;
        n += 1;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        latest_signed(&db, &log).await,
        signed,
        "4 new entries wait for the interval"
    );
    app.create_user(&admin.access, "fifth@x.example", "viewer", PW)
        .await;
    let head = db.size(&log).await;
    let mut now_signed = signed;
    for _ in 0..50 {
        now_signed = latest_signed(&db, &log).await;
        if now_signed == head {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(now_signed, head, "the 5th entry triggers a checkpoint");
    db.close().await;
    app.stop().await;

    // By age: every second, whatever the count.
    let Some(app) = TestApp::start(
        backend,
        &[
            ("ISMS_AUDIT_CHECKPOINT_MAX_ENTRIES", "1000000"),
            ("ISMS_AUDIT_CHECKPOINT_INTERVAL_SECS", "1"),
        ],
    )
    .await
    else {
        return;
    };
    let admin = app.admin().await;
    let db = Db::open(&app).await;
    app.create_user(&admin.access, "aged@x.example", "viewer", PW)
        .await;
    let head = db.size(&log_of(&app, &admin.access).await).await;
    let mut signed = -1;
    for _ in 0..50 {
        signed = latest_signed(&db, &log_of(&app, &admin.access).await).await;
        if signed == head {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        signed, head,
        "a grown log is checkpointed after the interval"
    );
    let key = log_key(&app, &admin.access).await;
    let report = verify(&app, &admin.access).await;
    assert_verified(&report);
    assert!(
        report["checkpoints_checked"].as_u64().unwrap() >= 2,
        "{report}"
    );
    // The job's checkpoints are signed notes like any other.
    open_checkpoint(
        &get_json(&app, "/api/v1/audit/checkpoint", &admin.access).await,
        &key,
    );
    db.close().await;
    app.stop().await;
}

async fn log_of(app: &TestApp, token: &str) -> String {
    let me = get_json(app, "/api/v1/users/me", token).await;
    format!("tenant:{}", s(&me["tenant_id"]))
}

// ---------------------------------------------------------------------------
// 4. A change and its audit entry commit together
// ---------------------------------------------------------------------------

async fn failed_audit_write_fails_and_rolls_back_the_change(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let id = app
        .create_user(&admin.access, "rex@x.example", "analyst", PW)
        .await;
    let before = get_json(&app, &format!("/api/v1/users/{id}"), &admin.access).await;
    let sessions_before = get_json(&app, "/api/v1/auth/sessions", &admin.access).await["items"]
        .as_array()
        .unwrap()
        .len();
    let key = log_key(&app, &admin.access).await;
    let (_, cp) = checkpoint(&app, &admin.access, &key).await;
    let db = Db::open(&app).await;
    let log = format!("tenant:{}", s(&before["tenant_id"]));
    let size_before = db.size(&log).await;
    assert_eq!(size_before as u64, cp.tree_size);

    // The audit log cannot be written to.
    if db.is_postgres() {
        db.ok(
            "CREATE FUNCTION test_audit_down() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'simulated audit outage'; END $$; \
             CREATE TRIGGER test_audit_down BEFORE INSERT ON audit_entries \
             FOR EACH ROW EXECUTE FUNCTION test_audit_down();",
        )
        .await;
    } else {
        db.ok(
            "CREATE TRIGGER test_audit_down BEFORE INSERT ON audit_entries \
             BEGIN SELECT RAISE(ABORT, 'simulated audit outage'); END",
        )
        .await;
    }

    let res = app
        .patch_auth(
            &format!("/api/v1/users/{id}"),
            &admin.access,
            &json!({ "display_name": "Changed Without A Trace" }),
        )
        .await;
    assert_5xx(res, "PATCH user").await;
    let res = app
        .post_auth(
            "/api/v1/users",
            &admin.access,
            &json!({ "email": "ghost@x.example", "role": "viewer", "password": PW }),
        )
        .await;
    assert_5xx(res, "POST user").await;
    assert_5xx(
        app.login_raw("rex@x.example", "a wrong wrong password")
            .await,
        "failed login",
    )
    .await;
    assert_5xx(app.login_raw(ADMIN_EMAIL, ADMIN_PASSWORD).await, "login").await;

    // Back to normal: nothing of the above happened.
    if db.is_postgres() {
        db.ok("DROP TRIGGER test_audit_down ON audit_entries").await;
    } else {
        db.ok("DROP TRIGGER test_audit_down").await;
    }
    let after = get_json(&app, &format!("/api/v1/users/{id}"), &admin.access).await;
    assert_eq!(after["display_name"], before["display_name"]);
    assert_eq!(after["updated_at"], before["updated_at"]);
    let users = get_json(&app, "/api/v1/users?limit=100", &admin.access).await;
    assert!(
        !users["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == "ghost@x.example")
    );
    let sessions_after = get_json(&app, "/api/v1/auth/sessions", &admin.access).await["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        sessions_after, sessions_before,
        "no session without its audit entry"
    );
    assert_eq!(db.size(&log).await, size_before);
    assert_eq!(db.seqs(&log).await.len() as i64, size_before);
    // The same change now goes through, with its entry.
    app.create_user(&admin.access, "ghost@x.example", "viewer", PW)
        .await;
    let res = app
        .patch_auth(
            &format!("/api/v1/users/{id}"),
            &admin.access,
            &json!({ "display_name": "Changed With A Trace" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let updates = all_events(&app, &admin.access, "&event_type=user_updated").await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["resource_id"], id.as_str());
    assert_eq!(db.size(&log).await, size_before + 2);
    assert_verified(&verify(&app, &admin.access).await);
    db.close().await;
    app.stop().await;
}

/// A 5xx with the JSON error body and no internals in it.
async fn assert_5xx(res: reqwest::Response, what: &str) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert!((500..600).contains(&status), "{what}: {status} {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(
        body["code"].is_string() && body["request_id"].is_string(),
        "{what}: {body}"
    );
    assert!(
        !text.contains("simulated audit outage"),
        "no internals: {text}"
    );
}

// ---------------------------------------------------------------------------
// 5. Alerts and webhooks
// ---------------------------------------------------------------------------

async fn critical_events_raise_alerts_delivered_to_signed_webhooks(backend: Backend) {
    // The receiver refuses the first attempt, so the retry is exercised.
    let mut hook = Receiver::start(1).await;
    let Some(app) = TestApp::start(
        backend,
        &[
            ("ISMS_WEBHOOK_URLS", hook.url.as_str()),
            ("ISMS_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    )
    .await
    else {
        return;
    };
    let admin = app.admin().await;
    app.create_user(&admin.access, "vera@x.example", "viewer", PW)
        .await;
    let manager_id = app
        .create_user(&admin.access, "mona@x.example", "manager", PW)
        .await;
    app.create_user(&admin.access, "aud@x.example", "auditor", PW)
        .await;
    let viewer = app.login("vera@x.example", PW).await;
    let manager = app.login("mona@x.example", PW).await;
    let auditor = app.login("aud@x.example", PW).await;
    // Nothing critical happened yet.
    let alerts = get_json(&app, "/api/v1/alerts", &admin.access).await;
    assert_eq!(alerts["items"], json!([]), "{alerts}");

    // A viewer calls an admin route.
    let res = app
        .client
        .get(app.url("/api/v1/users"))
        .bearer_auth(&viewer.access)
        .header("x-request-id", "t5-denied")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let entry = the_entry(
        &all_events(&app, &admin.access, "&event_type=access_denied").await,
        "t5-denied",
        "access_denied",
    )
    .clone();
    assert_eq!(entry["risk_score"], 8);
    assert_eq!(flags(&entry), vec!["ISO27001_ACCESS_VIOLATION"]);

    let alerts = get_json(&app, "/api/v1/alerts", &manager.access).await;
    let items = alerts["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{alerts}");
    let alert = &items[0];
    let alert_id = s(&alert["id"]).to_owned();
    assert_eq!(alert["event_type"], "access_denied");
    assert_eq!(alert["severity"], "HIGH");
    assert_eq!(alert["risk_score"], 8);
    assert_eq!(alert["entry_id"], entry["id"]);
    assert_eq!(alert["entry_seq"], entry["seq"]);
    assert!(alert["acknowledged_at"].is_null());
    let actions: Vec<&str> = alert["required_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert!(actions.contains(&"immediate investigation"), "{actions:?}");
    assert!(actions.contains(&"enhanced monitoring"), "{actions:?}");

    // First attempt: refused by the receiver, recorded, retried.
    let first = hook.next(Duration::from_secs(20)).await;
    let delivery_id = first.header("x-isms-delivery").unwrap().to_owned();
    let detail_path = format!("/api/v1/alerts/{alert_id}");
    let mut detail = Value::Null;
    for _ in 0..50 {
        detail = get_json(&app, &detail_path, &admin.access).await;
        if detail["deliveries"][0]["attempts"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let d = &detail["deliveries"][0];
    assert_eq!(d["status"], "pending", "{detail}");
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["last_status"], 503);
    assert_eq!(d["id"], delivery_id.as_str());

    // Second attempt: delivered.
    let got = hook.next(Duration::from_secs(30)).await;
    assert_eq!(got.header("x-isms-delivery"), Some(delivery_id.as_str()));
    assert_eq!(got.header("x-isms-event"), Some("alert"));
    assert_eq!(got.header("x-request-id"), Some("t5-denied"));
    assert!(
        got.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_signed(&got, WEBHOOK_SECRET);
    assert_signed(&first, WEBHOOK_SECRET);
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body["type"], "alert");
    assert_eq!(body["delivery_id"], delivery_id.as_str());
    assert_eq!(body["alert"]["id"], alert_id.as_str());
    assert_eq!(body["alert"]["severity"], "HIGH");
    assert_eq!(body["alert"]["entry_id"], entry["id"]);
    assert_eq!(body["alert"]["tenant_id"], entry["tenant_id"]);
    assert_eq!(body["entry"]["request_id"], "t5-denied");
    assert_eq!(body["entry"]["outcome"], "denied");
    assert!(!String::from_utf8_lossy(&got.body).contains("vera@x.example"));
    let mut delivered = Value::Null;
    for _ in 0..50 {
        delivered = get_json(&app, &detail_path, &admin.access).await;
        if delivered["deliveries"][0]["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deliveries = delivered["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "one delivery per target: {delivered}");
    let d = &deliveries[0];
    assert_eq!(d["status"], "delivered", "{delivered}");
    assert_eq!(d["attempts"], 2);
    assert_eq!(d["last_status"], 200);
    assert_eq!(d["target"], hook.url.as_str());
    assert!(d["delivered_at"].is_string());
    // Delivered once: no further POST for it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(hook.rx.try_recv().is_err(), "nothing delivered twice");

    // Acknowledging: not for viewers or auditors; once for a manager.
    let ack = format!("/api/v1/alerts/{alert_id}/ack");
    assert_eq!(
        app.post_auth(&ack, &viewer.access, &json!({}))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post_auth(&ack, &auditor.access, &json!({}))
            .await
            .status(),
        403
    );
    assert_eq!(
        status_of(&app, &detail_path, &auditor.access).await,
        200,
        "auditors read alerts"
    );
    let res = app
        .post_auth(
            &ack,
            &manager.access,
            &json!({ "comment": "looked into it" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let acked: Value = res.json().await.unwrap();
    assert_eq!(acked["acknowledged_by"], manager_id.as_str());
    assert_eq!(acked["ack_comment"], "looked into it");
    assert!(acked["acknowledged_at"].is_string());
    for token in [&manager.access, &admin.access] {
        let res = app.post_auth(&ack, token, &json!({})).await;
        assert_eq!(res.status(), 409);
        assert_eq!(res.json::<Value>().await.unwrap()["code"], "conflict");
    }
    let open = get_json(&app, "/api/v1/alerts?unacknowledged=true", &admin.access).await;
    assert!(
        !open["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == alert_id.as_str())
    );
    let acks = all_events(&app, &admin.access, "&event_type=alert_acknowledged").await;
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["actor_user_id"], manager_id.as_str());
    assert_eq!(acks[0]["resource_type"], "alert");
    assert_eq!(acks[0]["resource_id"], alert_id.as_str());

    // Alerts are the tenant's own.
    let (_, other) = app.other_tenant("acme", "root@acme.example").await;
    assert_eq!(status_of(&app, &detail_path, &other.access).await, 404);
    assert_eq!(
        app.post_auth(&ack, &other.access, &json!({}))
            .await
            .status(),
        404
    );
    let theirs = get_json(&app, "/api/v1/alerts", &other.access).await;
    assert_eq!(theirs["items"], json!([]));
    app.stop().await;
}

/// A server-level alert (the CLI rotating the token-signing key scores 9
/// in the server log) must not stop tenant alerts from being delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_level_alert_does_not_block_webhook_delivery() {
    let mut hook = Receiver::start(0).await;
    let app = TestApp::start(
        Backend::Sqlite,
        &[
            ("ISMS_WEBHOOK_URLS", hook.url.as_str()),
            ("ISMS_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    )
    .await
    .unwrap();
    let cli = Cli::for_app(&app);
    let run = cli.run(&["keys", "rotate-signing"]).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let admin = app.admin().await;
    app.create_user(&admin.access, "vera@x.example", "viewer", PW)
        .await;
    let viewer = app.login("vera@x.example", PW).await;
    assert_eq!(status_of(&app, "/api/v1/users", &viewer.access).await, 403);
    let alerts = get_json(&app, "/api/v1/alerts", &admin.access).await;
    assert_eq!(alerts["items"].as_array().unwrap().len(), 1);
    // Both are delivered, the server log's alert (tenant null) too; the
    // tenant's must arrive whatever the order.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let got = hook.next(Duration::from_secs(15)).await;
        let body: Value = serde_json::from_slice(&got.body).unwrap();
        ids.push(body["alert"]["id"].clone());
    }
    assert!(ids.contains(&alerts["items"][0]["id"]), "{ids:?}");
    app.stop().await;
}

// ---------------------------------------------------------------------------
// 6. The CLI
// ---------------------------------------------------------------------------

async fn cli_verifies_the_database_and_offline_exports(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    for i in 0..3 {
        app.create_user(&admin.access, &format!("c{i}@x.example"), "viewer", PW)
            .await;
    }
    let key = log_key(&app, &admin.access).await;
    let (cp, opened) = checkpoint(&app, &admin.access, &key).await;
    let log = s(&cp["log_id"]).to_owned();
    let cli = Cli::for_app(&app);

    let run = cli.run(&["audit", "verify"]).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("ok\t{log}\t")))
        .unwrap_or_else(|| panic!("a line for {log}: {run:#?}"));
    assert!(
        line.contains(&format!("\t{} entries", opened.tree_size)),
        "{line}"
    );
    assert!(
        run.stdout.lines().all(|l| l.starts_with("ok\t")),
        "{run:#?}"
    );

    // Tampered: non-zero, and the line names the entry.
    let db = Db::open(&app).await;
    db.drop_append_only("audit_entries").await;
    let k = 3;
    let original = db.canonical(&log, k).await;
    let view = entry_at(&app, &admin.access, k).await;
    let tampered = canonical_after(&view, |v| v["details"] = json!({ "x": 1 }));
    db.set_canonical(&log, k, &tampered).await;
    let run = cli.run(&["audit", "verify"]).await;
    assert_ne!(run.code, Some(0), "{run:#?}");
    let failed = run
        .stdout
        .lines()
        .find(|l| l.starts_with("FAILED\t"))
        .unwrap_or_else(|| panic!("a FAILED line: {run:#?}"));
    let fields: Vec<&str> = failed.split('\t').collect();
    assert_eq!(fields[1], log);
    assert_eq!(fields[2], format!("seq {k}"));
    assert_eq!(fields[3], "entry_modified");
    assert!(!run.stderr.trim().is_empty());
    db.set_canonical(&log, k, &original).await;
    assert_eq!(cli.run(&["audit", "verify"]).await.code, Some(0));
    db.close().await;

    // Export, then verify offline with the published key.
    let run = cli.run(&["audit", "export", "--tenant", "default"]).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "log");
    assert_eq!(lines[0]["log_id"], log.as_str());
    assert_eq!(lines[0]["verifier_key"], key.verifier.as_str());
    let entries: Vec<&Value> = lines.iter().filter(|l| l["type"] == "entry").collect();
    let seqs: Vec<u64> = entries.iter().map(|e| seq(e)).collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    assert!(seqs.len() as u64 >= opened.tree_size);
    let cps: Vec<&Value> = lines.iter().filter(|l| l["type"] == "checkpoint").collect();
    assert!(cps.iter().any(|c| c["tree_size"] == opened.tree_size));
    for c in &cps {
        audit::open_note(s(&c["note"]), &key.name, &key.public).unwrap();
    }
    let file = cli.file("export.jsonl");
    std::fs::write(&file, &run.stdout).unwrap();
    let file_arg = file.display().to_string();
    let run = cli
        .run(&[
            "audit",
            "verify",
            "--file",
            &file_arg,
            "--pubkey",
            &key.verifier.clone(),
        ])
        .await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(run.stdout.starts_with(&format!("ok\t{log}\t")), "{run:#?}");

    // Under another key the checkpoints do not verify.
    let stranger = audit::verifier_key(&key.name, &[9u8; 32]);
    let run = cli
        .run(&[
            "audit", "verify", "--file", &file_arg, "--pubkey", &stranger,
        ])
        .await;
    assert_ne!(run.code, Some(0), "{run:#?}");
    assert!(run.stdout.contains("\tcheckpoint_signature\t"), "{run:#?}");

    // One entry line edited.
    let k = 2;
    let edited: Vec<String> = run_lines(&lines, |l| {
        if l["type"] == "entry" && l["seq"] == k {
            let mut entry: Value = serde_json::from_str(s(&l["canonical"])).unwrap();
            entry["details"] = json!({ "edited": "offline" });
            l["canonical"] = json!(entry.to_string());
        }
    });
    std::fs::write(&file, edited.join("\n") + "\n").unwrap();
    let run = cli
        .run(&[
            "audit",
            "verify",
            "--file",
            &file_arg,
            "--pubkey",
            &key.verifier.clone(),
        ])
        .await;
    assert_ne!(run.code, Some(0), "{run:#?}");
    let failed = run.stdout.lines().next().unwrap();
    assert_eq!(
        failed.split('\t').take(4).collect::<Vec<_>>(),
        vec![
            "FAILED",
            log.as_str(),
            &format!("seq {k}"),
            "entry_modified"
        ],
        "{run:#?}"
    );

    // One entry line dropped.
    let k = 4;
    let dropped: Vec<String> = lines
        .iter()
        .filter(|l| !(l["type"] == "entry" && l["seq"] == k))
        .map(|l| l.to_string())
        .collect();
    std::fs::write(&file, dropped.join("\n") + "\n").unwrap();
    let run = cli
        .run(&[
            "audit",
            "verify",
            "--file",
            &file_arg,
            "--pubkey",
            &key.verifier.clone(),
        ])
        .await;
    assert_ne!(run.code, Some(0), "{run:#?}");
    assert!(
        run.stdout
            .starts_with(&format!("FAILED\t{log}\tseq {k}\tentry_missing\t")),
        "{run:#?}"
    );
    app.stop().await;
}

/// The verifier key that `GET /audit/log-key` publishes and the README
/// tells operators to pass to `isms audit verify --pubkey`, also when its
/// base64 holds a `+` (about half of all keys; keys are random, so this
/// starts servers until it meets one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_verify_accepts_every_published_verifier_key() {
    for _ in 0..30 {
        let app = TestApp::start(Backend::Sqlite, &[]).await.unwrap();
        let admin = app.admin().await;
        let key = log_key(&app, &admin.access).await;
        if !key_part_has_plus(&key.verifier) {
            app.stop().await;
            continue;
        }
        checkpoint(&app, &admin.access, &key).await;
        let cli = Cli::for_app(&app);
        let run = cli.run(&["audit", "export", "--tenant", "default"]).await;
        assert_eq!(run.code, Some(0), "{run:#?}");
        let file = cli.file("export.jsonl");
        std::fs::write(&file, &run.stdout).unwrap();
        let file_arg = file.display().to_string();
        let run = cli
            .run(&[
                "audit",
                "verify",
                "--file",
                &file_arg,
                "--pubkey",
                &key.verifier,
            ])
            .await;
        assert_eq!(run.code, Some(0), "verifier key {}: {run:#?}", key.verifier);
        app.stop().await;
        return;
    }
    panic!("no log key with a '+' in 30 starts");
}

/// An export whose checkpoints were removed proves nothing about its
/// entries; the offline verifier must not call it verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_verify_needs_a_signed_checkpoint() {
    let app = TestApp::start(Backend::Sqlite, &[]).await.unwrap();
    let admin = app.admin().await;
    let key = log_key(&app, &admin.access).await;
    checkpoint(&app, &admin.access, &key).await;
    let cli = Cli::for_app(&app);
    let run = cli.run(&["audit", "export", "--tenant", "default"]).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    // Rewrite entry 1 consistently and drop the signed checkpoints.
    let forged: Vec<String> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["type"] != "checkpoint")
        .map(|mut l| {
            if l["type"] == "entry" && l["seq"] == 1 {
                let mut e = AuditEntry::from_canonical(s(&l["canonical"]).as_bytes()).unwrap();
                e.record.details = json!({ "forged": true });
                let text = String::from_utf8(e.canonical_bytes().unwrap()).unwrap();
                l["leaf_hash"] = json!(B64.encode(audit::leaf_hash(text.as_bytes())));
                l["canonical"] = json!(text);
            }
            l.to_string()
        })
        .collect();
    let file = cli.file("forged.jsonl");
    std::fs::write(&file, forged.join("\n") + "\n").unwrap();
    let file_arg = file.display().to_string();
    let run = cli
        .run(&[
            "audit",
            "verify",
            "--file",
            &file_arg,
            "--pubkey",
            &key.verifier,
        ])
        .await;
    assert_ne!(run.code, Some(0), "a forged export verified: {run:#?}");
    app.stop().await;
}

fn run_lines(lines: &[Value], edit: impl Fn(&mut Value)) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let mut l = l.clone();
            edit(&mut l);
            l.to_string()
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Audit policy
// ---------------------------------------------------------------------------

async fn put_policy(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.client
        .put(app.url("/api/v1/tenant/audit-policy"))
        .bearer_auth(token)
        .header("x-request-id", "t-policy")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn audit_policy_changes_scoring_and_needs_step_up(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let plain = app.admin().await;
    app.create_user(&plain.access, "pat@x.example", "auditor", PW)
        .await;
    let auditor = app.login("pat@x.example", PW).await;
    let policy = get_json(&app, "/api/v1/tenant/audit-policy", &plain.access).await;
    assert_eq!(policy["suspicious_ips"], json!([]));
    assert_eq!(policy["risk_table"]["base"]["login_success"], 1);
    assert_eq!(policy["risk_table"]["base"]["unauthorized_access"], 8);
    assert_eq!(
        status_of(&app, "/api/v1/tenant/audit-policy", &auditor.access).await,
        403
    );

    let mut wanted = policy.clone();
    wanted["suspicious_ips"] = json!(["127.0.0.0/8"]);
    // Without a fresh second factor: refused.
    let res = put_policy(&app, &plain.access, wanted.clone()).await;
    assert_eq!(res.status(), 403);
    let code = res.json::<Value>().await.unwrap()["code"].clone();
    assert!(
        code == "mfa_step_up_required" || code == "mfa_enrollment_required",
        "{code}"
    );
    let (admin, _mfa) = app.admin_with_mfa().await;
    let mut invalid = policy.clone();
    invalid["risk_table"]["base"]["login_success"] = json!(11);
    assert_eq!(put_policy(&app, &admin.access, invalid).await.status(), 422);
    let res = put_policy(&app, &admin.access, wanted.clone()).await;
    assert_eq!(res.status(), 200);
    let stored = get_json(&app, "/api/v1/tenant/audit-policy", &admin.access).await;
    assert_eq!(stored["suspicious_ips"], json!(["127.0.0.0/8"]));

    let changed = the_entry(
        &all_events(&app, &auditor.access, "").await,
        "t-policy",
        "audit_policy_changed",
    )
    .clone();
    assert_eq!(changed["outcome"], "success");
    assert_eq!(changed["resource_type"], "tenant");
    assert!(changed["risk_score"].as_u64().unwrap() >= 9);
    let alerts = get_json(&app, "/api/v1/alerts", &admin.access).await;
    let raised = alerts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["entry_id"] == changed["id"])
        .unwrap_or_else(|| panic!("an alert for the policy change: {alerts}"));
    assert_eq!(raised["severity"], "CRITICAL");

    // Logins from the now suspicious network score higher.
    let res = login_with_id(&app, "pat@x.example", PW, "t-suspicious").await;
    assert_eq!(res.status(), 200);
    let login = the_entry(
        &all_events(&app, &auditor.access, "&event_type=login_success").await,
        "t-suspicious",
        "login_success",
    )
    .clone();
    assert_eq!(login["risk_score"], 1 + 3);
    app.stop().await;
}

// ---------------------------------------------------------------------------
// Denials decided inside the services are security events too
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_level_denials_are_audited_sqlite() {
    service_level_denials_are_audited(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_level_denials_are_audited_postgres() {
    service_level_denials_are_audited(Backend::Postgres).await;
}

async fn service_level_denials_are_audited(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let me = get_json(&app, "/api/v1/users/me", &admin.access).await;
    let admin_id = s(&me["id"]).to_owned();
    let viewer_id = app
        .create_user(&admin.access, "nosy@x.example", "viewer", PW)
        .await;
    let viewer = app.login("nosy@x.example", PW).await;
    assert_eq!(
        status_of(&app, &format!("/api/v1/users/{admin_id}"), &viewer.access).await,
        403
    );
    let res = app
        .patch_auth(
            &format!("/api/v1/users/{admin_id}"),
            &viewer.access,
            &json!({ "display_name": "Pwned" }),
        )
        .await;
    assert_eq!(res.status(), 403);
    let denied = all_events(
        &app,
        &admin.access,
        &format!("&event_type=access_denied&actor={viewer_id}"),
    )
    .await;
    assert_eq!(denied.len(), 2, "both 403s are on the record: {denied:#?}");
    app.stop().await;
}

// ---------------------------------------------------------------------------
// 7. Two instances, one log
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_append_to_one_log_without_gaps_postgres() {
    let Some(app) = TestApp::start(Backend::Postgres, &[]).await else {
        return;
    };
    let second = app.another_instance().await;
    let admin = app.admin().await;
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(
            app.create_user(&admin.access, &format!("p{i}@x.example"), "analyst", PW)
                .await,
        );
    }
    let key = log_key(&app, &admin.access).await;
    let (cp, before) = checkpoint(&app, &admin.access, &key).await;
    let log = s(&cp["log_id"]).to_owned();

    // 2 × 30 concurrent updates, half through each instance, plus failed
    // logins through both.
    let started = Instant::now();
    let mut updates = Vec::new();
    for i in 0..60usize {
        let base = if i % 2 == 0 {
            app.url("")
        } else {
            second.url("")
        };
        let id = users[i % users.len()].clone();
        let client = app.client.clone();
        let token = admin.access.clone();
        updates.push(async move {
            client
                .patch(format!("{base}/api/v1/users/{id}"))
                .bearer_auth(token)
                .json(&json!({ "display_name": format!("Name {i}") }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut failures = Vec::new();
    for i in 0..10usize {
        let base = if i % 2 == 0 {
            app.url("")
        } else {
            second.url("")
        };
        let client = app.client.clone();
        failures.push(async move {
            client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({ "email": format!("p{}@x.example", i % 6), "password": "wrong wrong wrong" }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let (updated, failed) = tokio::join!(
        futures::future::join_all(updates),
        futures::future::join_all(failures)
    );
    eprintln!("70 concurrent writes took {:?}", started.elapsed());
    assert!(updated.iter().all(|s| *s == 200), "{updated:?}");
    assert!(failed.iter().all(|s| *s == 401), "{failed:?}");

    let db = Db::open(&app).await;
    let seqs = db.seqs(&log).await;
    let n = seqs.len() as i64;
    assert_eq!(seqs, (0..n).collect::<Vec<_>>(), "gapless, each seq once");
    assert_eq!(n as u64, before.tree_size + 70);
    let size = db
        .ints(&format!(
            "SELECT size FROM audit_logs WHERE log_id = '{log}'"
        ))
        .await;
    assert_eq!(size, vec![n]);
    let updates = db
        .ints(&format!(
            "SELECT COUNT(*) FROM audit_entries WHERE log_id = '{log}' AND event_type = 'user_updated'"
        ))
        .await;
    assert_eq!(updates, vec![60]);
    db.close().await;

    // Both instances sign checkpoints of the same tree and prove from it.
    let (_, a) = checkpoint(&app, &admin.access, &key).await;
    let b_cp: Value = app
        .client
        .get(second.url("/api/v1/audit/checkpoint"))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b = open_checkpoint(&b_cp, &key);
    assert_eq!(a.tree_size, n as u64);
    assert_eq!((b.tree_size, b.root_hash), (a.tree_size, a.root_hash));
    let c = get_json(
        &app,
        &format!(
            "/api/v1/audit/proofs/consistency?from={}&to={}",
            before.tree_size, a.tree_size
        ),
        &admin.access,
    )
    .await;
    assert!(audit::verify_consistency(
        before.tree_size,
        a.tree_size,
        &before.root_hash,
        &a.root_hash,
        &path_of(&c["path"])
    ));
    let events = all_events(&app, &admin.access, "").await;
    assert_gapless_newest_first(&events);
    let leaves: Vec<Hash> = events.iter().rev().map(leaf_of).collect();
    assert_eq!(audit::root_from_leaves(&leaves), a.root_hash);
    let report = verify(&app, &admin.access).await;
    assert_verified(&report);
    assert_eq!(report["entries"], n);
    second.stop().await.unwrap();
    app.stop().await;
}
