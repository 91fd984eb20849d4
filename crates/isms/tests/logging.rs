#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]
//! The log stream of the real binary, captured from its stderr while a
//! full identity flow runs against it: every line has exactly the log
//! shape, every request has one `request.completed` line (route template,
//! status, duration, client ip, user and tenant, response bytes), storage
//! lines carry the request id, and no password, token, TOTP secret or
//! code, recovery code or plaintext e-mail appears anywhere. The EMF lines
//! on stdout (`ISMS_CLOUDWATCH_EMF=true`) are checked against the EMF
//! structure.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use isms_store::testing::TestDatabase;
use serde_json::{Value, json};
use support::{ADMIN_EMAIL, Backend, MASTER_KEY_B64};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_isms");
const TIMEOUT: Duration = Duration::from_secs(60);
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

on_both_backends!(full_flow_logs_have_the_shape_and_leak_nothing);

/// The binary as a child process with a scrubbed environment.
struct Proc {
    child: tokio::process::Child,
    base: String,
    /// Stdout up to the listening line.
    startup: Vec<String>,
    stdout: tokio::task::JoinHandle<Vec<String>>,
    stderr: tokio::task::JoinHandle<String>,
    /// Stderr so far, as it arrives.
    written: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _dir: tempfile::TempDir,
}

impl Proc {
    async fn start(db: &TestDatabase, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.current_dir(dir.path());
        for (key, ..) in isms::config::KEYS {
            cmd.env_remove(key);
        }
        cmd.env_remove("ISMS_CONFIG")
            .env("ISMS_BIND", "127.0.0.1:0")
            .env("ISMS_DATABASE_URL", db.url())
            .env("ISMS_DATA_DIR", dir.path().join("data"))
            .env("ISMS_MASTER_KEY", MASTER_KEY_B64)
            .env("ISMS_PASSWORD_HASH_CONCURRENCY", "2")
            .env("ISMS_RATE_LIMIT_ENABLED", "false")
            .env("ISMS_REDIS_KEY_PREFIX", support::redis_prefix());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start isms");
        let mut err = child.stderr.take().unwrap();
        let written = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = written.clone();
        let stderr = tokio::spawn(async move {
            let mut chunk = [0_u8; 8192];
            while let Ok(n @ 1..) = err.read(&mut chunk).await {
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
            String::from_utf8_lossy(&sink.lock().unwrap()).into_owned()
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut startup = Vec::new();
        let base = tokio::time::timeout(TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                let addr = line
                    .strip_prefix("isms listening on ")
                    .and_then(|r| r.split_whitespace().next())
                    .map(str::to_owned);
                startup.push(line);
                if let Some(a) = addr {
                    return a;
                }
            }
            panic!("server exited before listening: {startup:#?}");
        })
        .await
        .expect("server did not start listening");
        let stdout = tokio::spawn(async move {
            let mut rest = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                rest.push(line);
            }
            rest
        });
        Self {
            child,
            base,
            startup,
            stdout,
            stderr,
            written,
            _dir: dir,
        }
    }

    /// Waits until the log line of request `rid` has been written.
    async fn logged(&self, rid: &str) {
        let quoted = format!("\"request_id\":\"{rid}\"");
        let found = tokio::time::timeout(Duration::from_secs(10), async {
            while !String::from_utf8_lossy(&self.written.lock().unwrap()).contains(&quoted) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(found.is_ok(), "request {rid} not logged while running");
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn one_time_password(&self) -> String {
        self.startup
            .iter()
            .find_map(|l| l.trim().strip_prefix("password:"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// SIGTERM, then everything the process wrote.
    async fn stop(mut self) -> (Vec<String>, String) {
        let pid = self.child.id().unwrap().to_string();
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(ok.success());
        let status = tokio::time::timeout(TIMEOUT, self.child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "{status:?}");
        let stdout = tokio::time::timeout(TIMEOUT, self.stdout)
            .await
            .unwrap()
            .unwrap();
        let stderr = tokio::time::timeout(TIMEOUT, self.stderr)
            .await
            .unwrap()
            .unwrap();
        (stdout, stderr)
    }
}

/// Every response the flow received: request id → (method, path, status,
/// body length).
#[derive(Default)]
struct Seen {
    requests: BTreeMap<String, (String, String, u16, usize)>,
    /// Values that must not appear in any log line.
    secrets: BTreeSet<String>,
}

struct Client {
    http: reqwest::Client,
    seen: std::sync::Mutex<Seen>,
}

impl Client {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            seen: Default::default(),
        }
    }

    fn secret(&self, s: &str) {
        self.seen.lock().unwrap().secrets.insert(s.to_owned());
    }

    async fn send(
        &self,
        p: &Proc,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.clone(), p.url(path))
            .header("traceparent", TRACEPARENT);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(
            res.headers()["traceparent"].to_str().unwrap(),
            TRACEPARENT,
            "traceparent echoed"
        );
        let bytes = res.bytes().await.unwrap();
        self.seen.lock().unwrap().requests.insert(
            rid,
            (method.to_string(), path.to_owned(), status, bytes.len()),
        );
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, json)
    }

    async fn post(&self, p: &Proc, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.send(p, reqwest::Method::POST, path, token, Some(body))
            .await
    }

    async fn get(&self, p: &Proc, path: &str, token: Option<&str>) -> (u16, Value) {
        self.send(p, reqwest::Method::GET, path, token, None).await
    }

    /// Logs in; every token it returns is a secret.
    async fn login(&self, p: &Proc, email: &str, password: &str) -> (u16, Value) {
        let (status, body) = self
            .post(
                p,
                "/api/v1/auth/login",
                None,
                json!({ "email": email, "password": password }),
            )
            .await;
        for key in ["access_token", "refresh_token", "mfa_token"] {
            if let Some(t) = body[key].as_str() {
                self.secret(t);
            }
        }
        (status, body)
    }
}

fn token(body: &Value) -> String {
    body["access_token"].as_str().unwrap().to_owned()
}

fn totp_now(secret: &isms_domain::totp::TotpSecret, offset: i64) -> String {
    secret.code_at(chrono::Utc::now().timestamp() + offset * 30)
}

/// Drives login, refresh, user creation, MFA enrolment, MFA login, step-up,
/// password changes, failures and an access denial.
async fn identity_flow(p: &Proc, c: &Client) -> String {
    let one_time = p.one_time_password();
    let p1 = "first chosen passphrase 01";
    let p2 = "second chosen passphrase 02";
    let carol_email = "carol.private@example.org";
    let carol_pw = "carol's own passphrase 03";
    let wrong = "definitely-the-wrong-password-99";
    for s in [
        one_time.as_str(),
        p1,
        p2,
        carol_pw,
        wrong,
        ADMIN_EMAIL,
        carol_email,
    ] {
        c.secret(s);
    }

    let (s, first) = c.login(p, ADMIN_EMAIL, &one_time).await;
    assert_eq!(s, 200);
    let (s, _) = c
        .post(
            p,
            "/api/v1/users/me/password",
            Some(&token(&first)),
            json!({ "current_password": one_time, "new_password": p1 }),
        )
        .await;
    assert_eq!(s, 204);
    let (s, admin) = c.login(p, ADMIN_EMAIL, p1).await;
    assert_eq!(s, 200);
    let (s, refreshed) = c
        .post(
            p,
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": admin["refresh_token"] }),
        )
        .await;
    assert_eq!(s, 200);
    for key in ["access_token", "refresh_token"] {
        c.secret(refreshed[key].as_str().unwrap());
    }
    let admin_token = token(&refreshed);

    let (s, _) = c
        .post(
            p,
            "/api/v1/users",
            Some(&admin_token),
            json!({ "email": carol_email, "role": "analyst", "password": carol_pw }),
        )
        .await;
    assert_eq!(s, 201);

    // MFA: enrol and confirm.
    let (s, enrol) = c
        .post(
            p,
            "/api/v1/auth/mfa/totp/enroll",
            Some(&admin_token),
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let secret_b32 = enrol["secret"].as_str().unwrap();
    c.secret(secret_b32);
    for (k, v) in enrol.as_object().unwrap() {
        if k.contains("uri") || k.contains("otpauth") {
            c.secret(v.as_str().unwrap());
        }
    }
    let secret = isms_domain::totp::TotpSecret::from_base32(secret_b32).unwrap();
    let confirm_code = totp_now(&secret, -1);
    c.secret(&confirm_code);
    let (s, confirmed) = c
        .post(
            p,
            "/api/v1/auth/mfa/totp/confirm",
            Some(&admin_token),
            json!({ "code": confirm_code }),
        )
        .await;
    assert_eq!(s, 200);
    let recovery: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    for r in &recovery {
        c.secret(r);
    }

    // MFA login: a wrong code first, then a recovery code.
    let (s, challenge) = c.login(p, ADMIN_EMAIL, p1).await;
    assert_eq!(s, 401);
    assert_eq!(challenge["code"], "mfa_required");
    let bad_code = if confirm_code == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (s, _) = c
        .post(
            p,
            "/api/v1/auth/mfa/verify",
            None,
            json!({ "mfa_token": challenge["mfa_token"], "code": bad_code }),
        )
        .await;
    assert_eq!(s, 401);
    let (s, challenge) = c.login(p, ADMIN_EMAIL, p1).await;
    assert_eq!(s, 401);
    let (s, mfa_admin) = c
        .post(
            p,
            "/api/v1/auth/mfa/verify",
            None,
            json!({ "mfa_token": challenge["mfa_token"], "code": recovery[0] }),
        )
        .await;
    assert_eq!(s, 200);
    for key in ["access_token", "refresh_token"] {
        c.secret(mfa_admin[key].as_str().unwrap());
    }
    let mfa_token = token(&mfa_admin);

    // Step-up with a fresh TOTP code, then a password change needing it.
    let step_code = totp_now(&secret, 0);
    c.secret(&step_code);
    let (s, _) = c
        .post(
            p,
            "/api/v1/auth/mfa/step-up",
            Some(&mfa_token),
            json!({ "code": step_code }),
        )
        .await;
    assert_eq!(s, 200, "step-up");
    let (s, _) = c
        .post(
            p,
            "/api/v1/users/me/password",
            Some(&mfa_token),
            json!({ "current_password": p1, "new_password": p2 }),
        )
        .await;
    assert_eq!(s, 204);

    // Failures and a denial (which raises an alert).
    let (s, _) = c.login(p, ADMIN_EMAIL, wrong).await;
    assert_eq!(s, 401);
    let (s, carol) = c.login(p, carol_email, carol_pw).await;
    assert_eq!(s, 200);
    let (s, _) = c.get(p, "/api/v1/audit/events", Some(&token(&carol))).await;
    assert_eq!(s, 403);
    let (s, _) = c.get(p, "/api/v1/users/me", Some(&token(&carol))).await;
    assert_eq!(s, 200);
    let (s, _) = c
        .get(
            p,
            &format!("/api/v1/users/{}", uuid::Uuid::now_v7()),
            Some(&mfa_token),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = c.get(p, "/no/such/path", None).await;
    assert_eq!(s, 404);

    // Encrypt and, within the step-up window, decrypt restricted data: the
    // plaintext must not reach the log, nor the envelope's key material.
    let plaintext = "Patient 4711: diagnosis withheld";
    c.secret(plaintext);
    let (s, sealed) = c
        .post(
            p,
            "/api/v1/crypto/encrypt",
            Some(&mfa_token),
            json!({ "plaintext": plaintext, "classification": "restricted" }),
        )
        .await;
    assert_eq!(s, 200, "{sealed}");
    let (s, opened) = c
        .post(p, "/api/v1/crypto/decrypt", Some(&mfa_token), sealed)
        .await;
    assert_eq!(s, 200, "{opened}");
    assert_eq!(opened["plaintext"], plaintext);
    mfa_token
}

/// A six-digit code counts as leaked only where it stands alone (not
/// inside a longer number such as a duration).
fn contains_token(hay: &str, needle: &str) -> bool {
    let digits = needle.bytes().all(|b| b.is_ascii_digit());
    hay.match_indices(needle).any(|(i, _)| {
        if !digits {
            return true;
        }
        let before = hay[..i].bytes().last();
        let after = hay[i + needle.len()..].bytes().next();
        !before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.')
            && !after.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.')
    })
}

fn assert_shape(line: &str) -> Value {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {line}"));
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "context",
            "environment",
            "level",
            "message",
            "request_id",
            "service",
            "timestamp"
        ],
        "{line}"
    );
    let ts = v["timestamp"].as_str().unwrap();
    let parsed = chrono::DateTime::parse_from_rfc3339(ts).unwrap();
    assert_eq!(parsed.offset().local_minus_utc(), 0);
    assert!(
        ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[19] == b'.',
        "{ts}"
    );
    assert!(
        ["DEBUG", "INFO", "WARN", "ERROR"].contains(&v["level"].as_str().unwrap()),
        "{line}"
    );
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains('.')
            && message.split('.').all(|w| !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')),
        "message is not a dotted event name: {line}"
    );
    assert_eq!(v["service"], "isms-test", "{line}");
    assert_eq!(v["environment"], "ci", "{line}");
    assert!(
        v["request_id"].is_null() || v["request_id"].is_string(),
        "{line}"
    );
    assert!(v["context"].is_object(), "{line}");
    v
}

/// EMF structure (CloudWatch embedded metric format specification).
fn assert_emf(doc: &Value) {
    let root = doc.as_object().unwrap();
    let aws = root["_aws"].as_object().unwrap();
    assert!(aws["Timestamp"].is_u64());
    for d in aws["CloudWatchMetrics"].as_array().unwrap() {
        assert!(!d["Namespace"].as_str().unwrap().is_empty());
        for set in d["Dimensions"].as_array().unwrap() {
            for dim in set.as_array().unwrap() {
                assert!(root[dim.as_str().unwrap()].is_string(), "{dim}");
            }
        }
        for m in d["Metrics"].as_array().unwrap() {
            assert!(root[m["Name"].as_str().unwrap()].is_number(), "{m}");
            assert!(m["Unit"].is_string());
        }
    }
}

async fn full_flow_logs_have_the_shape_and_leak_nothing(backend: Backend) {
    let db = match backend {
        Backend::Sqlite => TestDatabase::sqlite(),
        Backend::Postgres => match TestDatabase::postgres().await {
            Some(db) => db,
            None => return,
        },
    };
    let p = Proc::start(
        &db,
        &[
            // Everything, storage statements included.
            ("ISMS_LOG", "debug"),
            ("ISMS_SERVICE_NAME", "isms-test"),
            ("ISMS_ENVIRONMENT", "ci"),
            ("ISMS_CLOUDWATCH_EMF", "true"),
        ],
    )
    .await;
    let c = Client::new();
    let admin = identity_flow(&p, &c).await;
    // Every line so far served a request or is marked as start-up or
    // background work: the auditability signal reads 100 %.
    let (s, health) = c.get(&p, "/api/v1/health/detailed", Some(&admin)).await;
    assert_eq!(s, 200);
    let lines_ratio = &health["quality"]["inputs"]["log_lines_with_request_id"];
    assert!(lines_ratio["whole"].as_u64().unwrap() > 50, "{lines_ratio}");
    assert_eq!(lines_ratio["part"], lines_ratio["whole"], "{lines_ratio}");
    let (stdout, stderr) = p.stop().await;
    let seen = c.seen.into_inner().unwrap();

    // Shape of every line.
    let lines: Vec<Value> = stderr.lines().map(assert_shape).collect();
    assert!(lines.len() > seen.requests.len(), "{}", lines.len());

    // One request.completed per request, with the request's facts.
    let mut completed: BTreeMap<String, Value> = BTreeMap::new();
    for l in lines.iter().filter(|l| l["message"] == "request.completed") {
        let rid = l["request_id"].as_str().unwrap().to_owned();
        assert!(completed.insert(rid, l.clone()).is_none(), "twice: {l}");
    }
    assert_eq!(completed.len(), seen.requests.len());
    for (rid, (method, path, status, bytes)) in &seen.requests {
        let ctx = &completed[rid]["context"];
        assert_eq!(ctx["method"], method.as_str());
        assert_eq!(ctx["status"], *status);
        assert_eq!(ctx["client_ip"], "127.0.0.1");
        assert_eq!(ctx["response_bytes"], *bytes as u64, "{ctx}");
        assert!(ctx["duration_ms"].as_f64().unwrap() >= 0.0);
        assert_eq!(ctx["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        let route = ctx["route"].as_str().unwrap();
        let by_id = path
            .strip_prefix("/api/v1/users/")
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok());
        if by_id {
            assert_eq!(route, "/api/v1/users/{id}", "template, not {path}");
        } else if path == "/no/such/path" {
            assert_eq!(route, "<unmatched>");
        } else {
            assert_eq!(route, path);
        }
        let authenticated = path == "/api/v1/users/me" && *status == 200;
        if authenticated {
            assert!(
                ctx["user_id"].is_string() && ctx["tenant_id"].is_string(),
                "{ctx}"
            );
        }
        if path == "/api/v1/auth/login" {
            assert!(ctx.get("user_id").is_none(), "{ctx}");
        }
    }

    // Lines from the storage layer carry the request id of their request.
    let with_storage: BTreeSet<&str> = lines
        .iter()
        .filter(|l| l["message"] == "sqlx.query")
        .filter_map(|l| l["request_id"].as_str())
        .collect();
    let logins: Vec<&String> = seen
        .requests
        .iter()
        .filter(|(_, (_, path, ..))| path == "/api/v1/auth/login")
        .map(|(rid, _)| rid)
        .collect();
    assert!(!logins.is_empty());
    for rid in logins {
        assert!(
            with_storage.contains(rid.as_str()),
            "no storage line for {rid}"
        );
    }
    // Lines emitted inside a request (security events, alerts) have it too.
    for l in lines
        .iter()
        .filter(|l| l["message"] == "security.event" || l["message"] == "alert.raised")
        // First-start provisioning happens before any request.
        .filter(|l| l["context"]["details"]["via"] != "bootstrap")
    {
        assert!(l["request_id"].is_string(), "{l}");
    }
    assert!(
        lines.iter().any(|l| l["message"] == "alert.raised"),
        "the denial raised an alert"
    );

    // Nothing secret anywhere in the stream.
    for s in &seen.secrets {
        assert!(!contains_token(&stderr, s), "leaked into the log: {s}");
    }
    // ...nor any JWT at all.
    assert!(!stderr.contains("eyJ"), "a JWT reached the log");

    // EMF: one document per request, on stdout.
    let emf: Vec<Value> = stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(emf.len(), seen.requests.len());
    for doc in &emf {
        assert_emf(doc);
        let rid = doc["request_id"].as_str().unwrap();
        assert_eq!(doc["Route"], completed[rid]["context"]["route"]);
        assert_eq!(doc["Service"], "isms-test");
    }
    for s in &seen.secrets {
        assert!(
            !stdout
                .iter()
                .any(|l| l.contains(s.as_str()) && l.contains("_aws")),
            "leaked into EMF: {s}"
        );
    }
}

/// At `ISMS_LOG=warn` the request span still exists, so a warning inside
/// a request keeps its request id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_inside_requests_keep_their_request_id_at_warn_level() {
    let db = TestDatabase::sqlite();
    let p = Proc::start(
        &db,
        &[
            ("ISMS_LOG", "warn"),
            ("ISMS_SERVICE_NAME", "isms-test"),
            ("ISMS_ENVIRONMENT", "ci"),
        ],
    )
    .await;
    let c = Client::new();
    // A failing login for an unknown user raises nothing; a denial does.
    let (s, first) = c.login(&p, ADMIN_EMAIL, &p.one_time_password()).await;
    assert_eq!(s, 200);
    let pw = "a brand new passphrase 42";
    let (s, _) = c
        .post(
            &p,
            "/api/v1/users/me/password",
            Some(&token(&first)),
            json!({ "current_password": p.one_time_password(), "new_password": pw }),
        )
        .await;
    assert_eq!(s, 204);
    let (_, admin) = c.login(&p, ADMIN_EMAIL, pw).await;
    let (s, _) = c
        .post(
            &p,
            "/api/v1/users",
            Some(&token(&admin)),
            json!({ "email": "viewer@example.org", "role": "viewer", "password": "a quiet reader phrase 77" }),
        )
        .await;
    assert_eq!(s, 201);
    let (_, viewer) = c
        .login(&p, "viewer@example.org", "a quiet reader phrase 77")
        .await;
    let (s, _) = c.get(&p, "/api/v1/alerts", Some(&token(&viewer))).await;
    assert_eq!(s, 403);
    let (_, stderr) = p.stop().await;
    let lines: Vec<Value> = stderr.lines().map(assert_shape).collect();
    assert!(
        lines
            .iter()
            .all(|l| l["level"] != "INFO" && l["level"] != "DEBUG")
    );
    let alert = lines
        .iter()
        .find(|l| l["message"] == "alert.raised")
        .unwrap_or_else(|| panic!("no alert line: {stderr}"));
    let rid = alert["request_id"].as_str().expect("request id at WARN");
    assert!(c.seen.lock().unwrap().requests.contains_key(rid));
}

/// Lines queued by many requests at once reach stderr whole, one per
/// request, and while the server runs: batching their writes holds none
/// back until shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_each_log_one_whole_line_without_delay() {
    let db = TestDatabase::sqlite();
    let p = Proc::start(
        &db,
        &[
            ("ISMS_SERVICE_NAME", "isms-test"),
            ("ISMS_ENVIRONMENT", "ci"),
        ],
    )
    .await;
    let c = Client::new();
    let sent = futures::future::join_all((0..400).map(|_| c.get(&p, "/api/v1/health", None))).await;
    assert!(sent.iter().all(|(s, _)| *s == 200));
    let before: BTreeSet<String> = c.seen.lock().unwrap().requests.keys().cloned().collect();
    let (_, last) = c.get(&p, "/api/v1/health", None).await;
    assert_eq!(last["status"], "ok");
    let newest = c
        .seen
        .lock()
        .unwrap()
        .requests
        .keys()
        .find(|k| !before.contains(*k))
        .cloned()
        .unwrap();
    // The server stays up meanwhile: nothing flushes its buffers but the
    // writer's own batching.
    p.logged(&newest).await;
    let (_, stderr) = p.stop().await;
    let mut completed = BTreeSet::new();
    for l in stderr.lines().map(assert_shape) {
        if l["message"] == "request.completed" {
            assert!(completed.insert(l["request_id"].as_str().unwrap().to_owned()));
        }
    }
    let seen: BTreeSet<String> = c.seen.into_inner().unwrap().requests.into_keys().collect();
    assert_eq!(completed, seen);
}
