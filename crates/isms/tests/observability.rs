#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Observability and continuity over real HTTP: the new metrics move with
//! what the server does, detailed health reports every component, the
//! error budget is shared through Redis, SLO breaches alert once and reach
//! the webhooks, alert webhooks carry the caller's trace, and readiness
//! follows a real PostgreSQL going down and coming back.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use isms_store::testing::{REDIS_URL_VAR, service_url};
use prom_text_format_parser::{Scrape, Type, ValueType};
use serde_json::{Value, json};
use support::{Backend, TestApp};

on_both_backends!(
    metrics_count_audit_alerts_and_continuity,
    detailed_health_reports_every_component,
);

const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const AMZN: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

async fn scrape(app: &TestApp) -> Vec<Sample> {
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let parsed = Scrape::parse(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let mut out = Vec::new();
    for metric in parsed.metrics {
        for s in metric.samples {
            let suffix = match (metric.kind, s.value.value_type) {
                (_, ValueType::Sum) => "_sum",
                (_, ValueType::Count) => "_count",
                (Type::Histogram, ValueType::Sample) => "_bucket",
                _ => "",
            };
            out.push(Sample {
                name: format!("{}{suffix}", metric.name),
                labels: s
                    .labels
                    .iter()
                    .map(|l| (l.key.clone(), l.value.clone()))
                    .collect(),
                value: s.value.value.as_f64(),
            });
        }
    }
    out
}

/// The one sample of `metric` with all of `labels` (0 if absent).
fn value(s: &[Sample], metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = s
        .iter()
        .filter(|x| x.name == metric)
        .filter(|x| {
            labels
                .iter()
                .all(|(k, v)| x.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(
        found.len() <= 1,
        "{metric} {labels:?}: {} series",
        found.len()
    );
    found.first().map_or(0.0, |x| x.value)
}

fn series(s: &[Sample], metric: &str) -> usize {
    s.iter().filter(|x| x.name == metric).count()
}

/// One webhook request: its headers and JSON body.
type Delivery = (BTreeMap<String, String>, Value);

/// An HTTP receiver for alert webhooks: every request's headers and body.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Delivery>>>);

impl Receiver {
    async fn start() -> (Self, String, tokio::task::JoinHandle<()>) {
        let r = Self::default();
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let state = state.clone();
                    async move {
                        let h = headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                            .collect();
                        let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        state.0.lock().unwrap().push((h, v));
                        axum::http::StatusCode::NO_CONTENT
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (r, url, task)
    }

    fn alerts_of(&self, event_type: &str) -> Vec<Delivery> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, b)| b["alert"]["event_type"] == event_type)
            .cloned()
            .collect()
    }

    async fn wait_for(&self, event_type: &str, within: Duration) -> Vec<Delivery> {
        let deadline = Instant::now() + within;
        loop {
            let found = self.alerts_of(event_type);
            if !found.is_empty() {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no {event_type} webhook within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn detailed(app: &TestApp, token: &str) -> Value {
    let res = app.get_auth("/api/v1/health/detailed", token).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn analyst(app: &TestApp, admin: &str, email: &str) -> String {
    let pw = "an analyst's passphrase 11";
    app.create_user(admin, email, "analyst", pw).await;
    app.login(email, pw).await.access
}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

async fn metrics_count_audit_alerts_and_continuity(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let before = scrape(&app).await;
    for name in [
        "http_requests_total",
        "http_request_duration_seconds_count",
        "http_requests_in_flight",
        "auth_login_total",
        "auth_lockouts_total",
        "rate_limit_rejections_total",
        "rate_limit_backend",
        "audit_events_total",
        "audit_append_seconds_count",
        "alerts_total",
        "crypto_operations_total",
        "db_pool_connections",
        "error_budget_remaining_ratio",
        "quality_score",
        "isms_build_info",
    ] {
        assert!(series(&before, name) > 0, "{name} is not exported");
    }
    // Every op × class is exported from the start.
    assert_eq!(series(&before, "crypto_operations_total"), 8);
    assert_eq!(
        value(
            &before,
            "crypto_operations_total",
            &[("op", "decrypt"), ("classification", "restricted")]
        ),
        0.0
    );

    // A denial: an audit entry flagged as an access violation, so a HIGH alert.
    let analyst = analyst(&app, &admin.access, "beth@example.org").await;
    let res = app.get_auth("/api/v1/audit/events", &analyst).await;
    assert_eq!(res.status(), 403);
    let res = app
        .login_raw(support::ADMIN_EMAIL, "wrong password entirely")
        .await;
    assert_eq!(res.status(), 401);
    // One seal and one open through the API (internal data: no personal
    // data of this flow uses that class, so the counts are exact).
    let res = app
        .post_auth(
            "/api/v1/crypto/encrypt",
            &admin.access,
            &json!({"plaintext": "quarterly figures", "classification": "internal"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let sealed: Value = res.json().await.unwrap();
    let res = app
        .post_auth("/api/v1/crypto/decrypt", &admin.access, &sealed)
        .await;
    assert_eq!(res.status(), 200);
    let after = scrape(&app).await;
    let delta = |m: &str, l: &[(&str, &str)]| value(&after, m, l) - value(&before, m, l);
    let crypto = |op: &str, class: &str| {
        delta(
            "crypto_operations_total",
            &[("op", op), ("classification", class)],
        )
    };
    assert_eq!(crypto("encrypt", "internal"), 1.0);
    assert_eq!(crypto("decrypt", "internal"), 1.0);
    // The analyst's sealed e-mail and display name.
    assert!(crypto("encrypt", "confidential") >= 1.0);
    assert_eq!(crypto("decrypt", "restricted"), 0.0);
    assert_eq!(
        delta("audit_events_total", &[("event_type", "access_denied")]),
        1.0
    );
    assert_eq!(
        delta("audit_events_total", &[("event_type", "user_created")]),
        1.0
    );
    assert_eq!(
        delta("audit_events_total", &[("event_type", "login_failure")]),
        1.0
    );
    assert!(delta("audit_events_total", &[("event_type", "login_success")]) >= 1.0);
    assert_eq!(delta("alerts_total", &[("severity", "HIGH")]), 1.0);
    assert!(delta("audit_append_seconds_count", &[]) >= 4.0);
    assert!(value(&after, "audit_append_seconds_sum", &[]) > 0.0);
    let budget = value(&after, "error_budget_remaining_ratio", &[]);
    assert!((0.0..=1.0).contains(&budget), "{budget}");
    // No 5xx yet: the budget is untouched.
    assert_eq!(budget, 1.0);
    let quality = value(&after, "quality_score", &[]);
    assert!(quality > 0.7 && quality <= 1.0, "{quality}");
    app.stop().await;
}

// ---------------------------------------------------------------------------
// Detailed health
// ---------------------------------------------------------------------------

async fn detailed_health_reports_every_component(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    // Some traffic: a 404 and an unauthenticated request on a protected route.
    let res = app
        .get_auth(
            &format!("/api/v1/users/{}", uuid::Uuid::now_v7()),
            &admin.access,
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .client
        .get(app.url("/api/v1/users/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // A verification the integrity pillar can see.
    let res = app
        .post_auth("/api/v1/audit/verify", &admin.access, &json!({}))
        .await;
    assert_eq!(res.status(), 200);

    let d = detailed(&app, &admin.access).await;
    assert_eq!(d["status"], "ok", "{d}");
    assert_eq!(d["version"], env!("CARGO_PKG_VERSION"));
    assert!(d["uptime_secs"].is_u64());
    assert_eq!(d["checks"]["database"]["status"], "ok");
    assert!(d["checks"]["database"]["latency_ms"].is_number());
    assert!(d["checks"].get("redis").is_none(), "no Redis configured");
    assert_eq!(d["rate_limit"]["backend"], "in-process");

    let b = &d["error_budget"];
    assert_eq!(b["sla_target"], 0.999);
    assert_eq!(b["window_days"], 30);
    assert_eq!(b["backend"], "in-process");
    assert!(b["total"].as_u64().unwrap() >= 4, "{b}");
    assert_eq!(b["failed"], 0);
    assert!(b["client_errors"].as_u64().unwrap() >= 2, "{b}");
    assert_eq!(b["observed_availability"], 1.0);
    assert_eq!(b["budget_consumed_pct"], 0.0);
    assert_eq!(b["exhausted"], false);

    let signals = d["slo"]["signals"].as_array().unwrap();
    let names: Vec<&str> = signals
        .iter()
        .map(|s| s["signal"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "latency_p95",
            "latency_p99",
            "error_rate",
            "client_error_spike",
            "error_budget_exhausted"
        ]
    );
    assert!(
        signals.iter().all(|s| s["breached"] == false),
        "{signals:?}"
    );
    assert_eq!(d["slo"]["signal_window_secs"], 300);

    let q = &d["quality"];
    assert_eq!(q["gate"], 0.7);
    assert!(q["score"].as_f64().unwrap() >= 0.7, "{q}");
    assert_eq!(q["passes_gate"], true);
    for pillar in [
        "security",
        "data_integrity",
        "reliability",
        "auditability",
        "performance",
    ] {
        let v = q["pillars"][pillar].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{pillar}: {v}");
    }
    // One 401 among the protected requests: valid auth below 1.
    let auth = &q["inputs"]["valid_auth"];
    assert_eq!(
        auth["whole"].as_u64().unwrap() - auth["part"].as_u64().unwrap(),
        1,
        "{q}"
    );
    assert_eq!(q["inputs"]["last_verification_ok"], true);
    assert_eq!(q["pillars"]["reliability"], 1.0);
    // The admin (privileged) has no MFA: coverage 0.
    assert_eq!(q["inputs"]["privileged_mfa"]["part"], 0);
    // The successful mutations (password change, verification) wrote
    // audit entries.
    assert!(
        q["inputs"]["mutations_audited"]["part"].as_u64().unwrap() >= 2,
        "{q}"
    );

    let a = &d["audit"];
    assert!(a["log_size"].as_u64().unwrap() >= 3, "{a}");
    assert!(a["last_checkpoint_age_secs"].is_u64() || a["last_checkpoint_at"].is_null());
    assert_eq!(a["last_verification"]["ok"], true);

    let keys = d["keys"].as_array().unwrap();
    let kinds: Vec<&str> = keys.iter().map(|k| k["key"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["access_token_signing", "audit_checkpoint_signing"]);
    for k in keys {
        assert_eq!(k["age_days"], 0);
        assert_eq!(k["within_rotation"], true);
    }
    assert_eq!(keys[0]["rotate_after_days"], 90);

    // Only admins and auditors may read it.
    let analyst = analyst(&app, &admin.access, "dora@example.org").await;
    let res = app.get_auth("/api/v1/health/detailed", &analyst).await;
    assert_eq!(res.status(), 403);
    app.stop().await;
}

// ---------------------------------------------------------------------------
// Redis: readiness and the shared budget
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_degraded_but_ready_while_redis_is_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let Some(app) = TestApp::start(Backend::Sqlite, &[("ISMS_REDIS_URL", &url)]).await else {
        return;
    };
    let res = app
        .client
        .get(app.url("/api/v1/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["redis"]["status"], "degraded");
    assert!(body["checks"]["redis"]["latency_ms"].is_number());
    let admin = app.admin().await;
    let d = detailed(&app, &admin.access).await;
    assert_eq!(d["status"], "degraded");
    assert_eq!(d["error_budget"]["backend"], "in-process");
    app.stop().await;
}

async fn wait_for_redis(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body: Value = app
            .client
            .get(app.url("/api/v1/health/ready"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if body["status"] == "ok" {
            assert_eq!(body["checks"]["redis"]["status"], "ok");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "redis never became ready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_budget_is_shared_across_instances_through_redis() {
    let Some(redis) = service_url(REDIS_URL_VAR) else {
        return;
    };
    let prefix = support::redis_prefix();
    let env = [
        ("ISMS_REDIS_URL", redis.as_str()),
        ("ISMS_REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    let a = TestApp::start(Backend::Sqlite, &env).await.unwrap();
    let b = TestApp::start(Backend::Sqlite, &env).await.unwrap();
    wait_for_redis(&a).await;
    wait_for_redis(&b).await;
    let b_admin = b.admin().await;
    let before = detailed(&b, &b_admin.access).await["error_budget"].clone();
    assert_eq!(before["backend"], "redis");
    // 25 client errors on A only.
    for _ in 0..25 {
        let res = a.client.get(a.url("/no/such/path")).send().await.unwrap();
        assert_eq!(res.status(), 404);
    }
    // A flushes its counts within a second.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = detailed(&b, &b_admin.access).await["error_budget"].clone();
        let grew =
            now["client_errors"].as_u64().unwrap() - before["client_errors"].as_u64().unwrap();
        if grew >= 25 {
            assert_eq!(now["backend"], "redis");
            assert!(now["total"].as_u64().unwrap() >= before["total"].as_u64().unwrap() + 25);
            break;
        }
        assert!(Instant::now() < deadline, "B never saw A's errors: {now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    a.stop().await;
    b.stop().await;
    // The budget keys live for the SLO window: remove them.
    isms_infra::budget::RedisBudget::connect(&redis, &prefix, Duration::from_secs(1))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------
// SLO breaches and alert webhooks
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slo_breach_alerts_once_per_interval_and_reaches_the_webhook() {
    let (receiver, hook, _task) = Receiver::start().await;
    let Some(app) = TestApp::start(
        Backend::Sqlite,
        &[
            ("ISMS_WEBHOOK_URLS", &hook),
            ("ISMS_SLO_MIN_REQUESTS", "10"),
            ("ISMS_SLO_CHECK_INTERVAL_SECS", "1"),
        ],
    )
    .await
    else {
        return;
    };
    // A scanner: mostly 404s.
    for _ in 0..40 {
        let res = app
            .client
            .get(app.url(&format!("/wp-admin/{}", uuid::Uuid::now_v7())))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
    }
    let got = receiver
        .wait_for("slo_breach", Duration::from_secs(20))
        .await;
    let (headers, body) = &got[0];
    assert_eq!(body["alert"]["severity"], "HIGH");
    assert!(body["alert"]["tenant_id"].is_null(), "a server-level alert");
    assert!(headers.contains_key("x-isms-delivery"));
    assert!(
        body["alert"]["description"]
            .as_str()
            .unwrap()
            .contains("service-level objective")
    );
    // The breach is an entry of the server log naming the signal.
    let services = app.services().await;
    let entries = services
        .store
        .audit()
        .query(
            &isms_domain::audit::LogId::server(),
            &isms_domain::ports::AuditFilter {
                event_type: Some("slo_breach".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(entries.len(), 1, "one alert per signal and interval");
    let details = &entries[0].record.details;
    assert_eq!(details["signal"], "client_error_spike");
    assert_eq!(details["unit"], "ratio");
    assert_eq!(details["window_secs"], 300);
    assert!(
        details["observed"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 0.25
    );
    // More checks while still breached: no second alert (15-minute interval).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.alerts_of("slo_breach").len(), 1);
    let admin = app.admin().await;
    let d = detailed(&app, &admin.access).await;
    assert!(
        d["slo"]["last_alerts"]["client_error_spike"].is_string(),
        "{d}"
    );
    let breached: Vec<&Value> = d["slo"]["signals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["breached"] == true)
        .collect();
    assert_eq!(breached.len(), 1);
    assert_eq!(breached[0]["signal"], "client_error_spike");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_webhooks_and_audit_entries_carry_the_callers_trace() {
    let (receiver, hook, _task) = Receiver::start().await;
    let Some(app) = TestApp::start(Backend::Sqlite, &[("ISMS_WEBHOOK_URLS", &hook)]).await else {
        return;
    };
    let admin = app.admin().await;
    let analyst = analyst(&app, &admin.access, "tracer@example.org").await;
    let res = app
        .client
        .get(app.url("/api/v1/audit/events"))
        .bearer_auth(&analyst)
        .header("traceparent", TP)
        .header("x-amzn-trace-id", AMZN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.headers()["traceparent"], TP);
    assert_eq!(res.headers()["x-amzn-trace-id"], AMZN);
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();

    let got = receiver
        .wait_for("access_denied", Duration::from_secs(20))
        .await;
    let (headers, body) = &got[0];
    assert_eq!(headers["traceparent"], TP);
    assert_eq!(headers["x-amzn-trace-id"], AMZN);
    assert_eq!(headers["x-request-id"], rid);
    assert_eq!(body["entry"]["traceparent"], TP);
    assert_eq!(body["entry"]["request_id"], rid);

    // The audit entry keeps the validated trace in its details.
    let res = app
        .get_auth(
            "/api/v1/audit/events?event_type=access_denied",
            &admin.access,
        )
        .await;
    let list: Value = res.json().await.unwrap();
    let entry = &list["items"][0];
    assert_eq!(entry["request_id"], rid.as_str());
    assert_eq!(entry["details"]["traceparent"], TP);
    assert_eq!(entry["details"]["amzn_trace_id"], AMZN);

    // A malformed trace header is neither echoed nor stored.
    let res = app
        .client
        .get(app.url("/api/v1/health"))
        .header("traceparent", "00-zz-not-a-trace")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("traceparent").is_none());
    app.stop().await;
}

// ---------------------------------------------------------------------------
// Readiness against a private PostgreSQL
// ---------------------------------------------------------------------------

/// A PostgreSQL of this test's own (initdb on a temporary directory, a
/// free port), so stopping it never touches the shared server.
struct PrivatePostgres {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    fn bin_dir() -> Option<std::path::PathBuf> {
        let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").is_file())
            .collect();
        dirs.sort();
        dirs.pop()
    }

    fn run(&self, program: &str, args: &[&str]) -> std::process::ExitStatus {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            // initdb refuses to run as root: run as the postgres user.
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        cmd.args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
    }

    fn start() -> Option<Self> {
        let Some(bin) = Self::bin_dir() else {
            assert!(
                !isms_store::testing::in_ci(),
                "PostgreSQL binaries needed in CI"
            );
            eprintln!("skipping: no initdb under /usr/lib/postgresql");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if as_postgres {
            let ok = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Self {
            bin,
            dir,
            port,
            as_postgres,
        };
        let data = pg.data();
        let ok = pg.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"],
        );
        assert!(ok.success(), "initdb");
        pg.pg_start();
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let ok = self.run(
            "pg_ctl",
            &["-D", &self.data(), "-o", &opts, "-l", &log, "-w", "start"],
        );
        assert!(ok.success(), "pg_ctl start");
    }

    fn pg_stop(&self) {
        let ok = self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
        assert!(ok.success(), "pg_ctl stop");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}

async fn status_of(app: &TestApp, path: &str) -> u16 {
    app.client
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_postgres_is_down_and_recovers() {
    let Some(pg) = PrivatePostgres::start() else {
        return;
    };
    let url = pg.url();
    let app = TestApp::start(Backend::Sqlite, &[("ISMS_DATABASE_URL", &url)])
        .await
        .unwrap();
    let admin = app.admin().await;
    assert_eq!(status_of(&app, "/api/v1/health/ready").await, 200);

    pg.pg_stop();
    let started = Instant::now();
    let res = app
        .client
        .get(app.url("/api/v1/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    // Bounded by the readiness timeout, not the request deadline.
    assert!(started.elapsed() < Duration::from_secs(5));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "not_ready");
    assert_eq!(
        body["details"]["checks"]["database"]["status"],
        "unavailable"
    );
    // Liveness does not depend on the database.
    assert_eq!(status_of(&app, "/api/v1/health").await, 200);
    // A request that needs the database is a 5xx: it spends error budget.
    let res = app.get_auth("/api/v1/users/me", &admin.access).await;
    assert!(res.status().is_server_error(), "{}", res.status());

    pg.pg_start();
    let deadline = Instant::now() + Duration::from_secs(15);
    while status_of(&app, "/api/v1/health/ready").await != 200 {
        assert_eq!(status_of(&app, "/api/v1/health").await, 200);
        assert!(Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let d = detailed(&app, &admin.access).await;
    let b = &d["error_budget"];
    assert!(b["failed"].as_u64().unwrap() >= 1, "{b}");
    assert!(b["budget_consumed_pct"].as_f64().unwrap() > 0.0, "{b}");
    assert!(d["quality"]["pillars"]["reliability"].as_f64().unwrap() < 1.0);
    app.stop().await;
}
