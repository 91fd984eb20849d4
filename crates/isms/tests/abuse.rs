#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Abuse resistance over real HTTP: tiered rate limits with their headers,
//! trusted-proxy client addresses, brute-force lockout and unlock, password
//! spraying, and the Redis-backed limiter shared by several instances with
//! its in-process fallback.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, redis_prefix};

const PW: &str = "a long enough passphrase";

on_both_backends!(
    lockout_after_consecutive_failures,
    password_spraying_is_stopped
);

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

fn num(res: &reqwest::Response, name: &str) -> u64 {
    header(res, name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .parse()
        .unwrap()
}

async fn get_from(app: &TestApp, path: &str, client_ip: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(ip) = client_ip {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.unwrap()
}

/// A documentation address unique to this test run, so that runs sharing
/// one Redis never share a budget.
fn unique_ip() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    format!("2001:db8:{:x}:{:x}::1", (n >> 16) as u16, n as u16)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_tier_limit_is_exact_with_headers_and_health_is_exempt() {
    let Some(app) = TestApp::start(
        Backend::Sqlite,
        &[
            ("ISMS_RATE_LIMIT_ENABLED", "true"),
            ("ISMS_RATE_LIMIT_READ_PER_MIN", "5"),
        ],
    )
    .await
    else {
        return;
    };
    for expected in (0..5).rev() {
        let res = get_from(&app, "/.well-known/jwks.json", None).await;
        assert_eq!(res.status(), 200);
        assert_eq!(num(&res, "x-ratelimit-limit"), 5);
        assert_eq!(num(&res, "x-ratelimit-remaining"), expected);
        assert_eq!(header(&res, "ratelimit-policy").unwrap(), "5;w=60");
    }
    let res = get_from(&app, "/.well-known/jwks.json", None).await;
    assert_eq!(res.status(), 429);
    let retry = num(&res, "retry-after");
    assert!((1..=12).contains(&retry), "Retry-After {retry}");
    assert_eq!(num(&res, "x-ratelimit-remaining"), 0);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert!(body["request_id"].is_string());
    // Health probes are exempt and carry no limit headers.
    for _ in 0..10 {
        let res = get_from(&app, "/api/v1/health", None).await;
        assert_eq!(res.status(), 200);
        assert!(header(&res, "x-ratelimit-limit").is_none());
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_and_write_tiers_and_per_user_budget() {
    let Some(app) = TestApp::start(
        Backend::Sqlite,
        &[
            ("ISMS_RATE_LIMIT_ENABLED", "true"),
            ("ISMS_RATE_LIMIT_AUTH_PER_MIN", "4"),
            ("ISMS_RATE_LIMIT_WRITE_PER_MIN", "3"),
            ("ISMS_RATE_LIMIT_READ_PER_MIN", "6"),
            ("ISMS_TRUSTED_PROXIES", "127.0.0.1/32, ::1/128"),
        ],
    )
    .await
    else {
        return;
    };
    // The auth tier: start-up spent one login from this address.
    let res = app.login_raw(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);
    assert_eq!(num(&res, "x-ratelimit-limit"), 4);
    let left = num(&res, "x-ratelimit-remaining");
    let token = support::Tokens::from(res.json::<Value>().await.unwrap());
    for _ in 0..left {
        assert_eq!(
            app.login_raw(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
            200
        );
    }
    let res = app.login_raw(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert!(header(&res, "retry-after").is_some());

    // Authenticated reads from ever new addresses still share the user's
    // budget of 6.
    let mut statuses = Vec::new();
    for i in 0..7 {
        let res = app
            .client
            .get(app.url("/api/v1/users/me"))
            .bearer_auth(&token.access)
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 200, 200, 200, 200, 429]);
    // While a fresh address without a token has its own budget.
    let res = get_from(&app, "/.well-known/jwks.json", Some("198.51.100.7")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(num(&res, "x-ratelimit-remaining"), 5);

    // Writes: 3 per minute per client and per user; start-up spent one of
    // the admin's (the password change).
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let res = app
            .client
            .post(app.url("/api/v1/auth/mfa/step-up"))
            .bearer_auth(&token.access)
            .header("x-forwarded-for", "198.51.100.9")
            .json(&json!({ "code": "123456" }))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, vec![403, 403, 429]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    let Some(app) = TestApp::start(
        Backend::Sqlite,
        &[
            ("ISMS_RATE_LIMIT_ENABLED", "true"),
            ("ISMS_RATE_LIMIT_READ_PER_MIN", "2"),
        ],
    )
    .await
    else {
        return;
    };
    // No trusted proxies: a spoofed header does not buy a new budget.
    let codes: Vec<u16> = futures_statuses(&app, &["1.1.1.1", "2.2.2.2", "3.3.3.3"]).await;
    assert_eq!(codes, vec![200, 200, 429]);
    app.stop().await;

    let Some(app) = TestApp::start(
        Backend::Sqlite,
        &[
            ("ISMS_RATE_LIMIT_ENABLED", "true"),
            ("ISMS_RATE_LIMIT_READ_PER_MIN", "2"),
            ("ISMS_TRUSTED_PROXIES", "127.0.0.0/8,::1"),
        ],
    )
    .await
    else {
        return;
    };
    // Behind a trusted proxy each client has its own budget; a client
    // cannot escape it by prepending addresses (right-most untrusted wins).
    let codes = futures_statuses(&app, &["1.1.1.1", "2.2.2.2", "9.9.9.9, 1.1.1.1"]).await;
    assert_eq!(codes, vec![200, 200, 200]);
    let codes = futures_statuses(&app, &["8.8.8.8, 1.1.1.1"]).await;
    assert_eq!(codes, vec![429]);
    app.stop().await;
}

async fn futures_statuses(app: &TestApp, ips: &[&str]) -> Vec<u16> {
    let mut out = Vec::new();
    for ip in ips {
        out.push(
            get_from(app, "/.well-known/jwks.json", Some(ip))
                .await
                .status()
                .as_u16(),
        );
    }
    out
}

async fn lockout_after_consecutive_failures(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let id = app
        .create_user(&admin.access, "lou@x.example", "viewer", PW)
        .await;
    // A success resets the run of failures.
    for _ in 0..4 {
        assert_eq!(
            app.login_raw("lou@x.example", "wrong wrong wrong")
                .await
                .status(),
            401
        );
    }
    app.login("lou@x.example", PW).await;
    for _ in 0..4 {
        assert_eq!(
            app.login_raw("lou@x.example", "wrong wrong wrong")
                .await
                .status(),
            401
        );
    }
    // The fifth consecutive failure locks the account...
    assert_eq!(
        app.login_raw("lou@x.example", "wrong wrong wrong")
            .await
            .status(),
        401
    );
    // ...and then even the right password is refused.
    let res = app.login_raw("lou@x.example", PW).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = header(&res, "retry-after").unwrap().parse().unwrap();
    assert!((850..=900).contains(&retry), "Retry-After {retry}");
    let mut real: Value = res.json().await.unwrap();
    assert_eq!(real["code"], "account_locked");

    // An unknown address locks the same way and looks the same.
    for _ in 0..5 {
        assert_eq!(
            app.login_raw("ghost@x.example", "wrong wrong wrong")
                .await
                .status(),
            401
        );
    }
    let res = app.login_raw("ghost@x.example", PW).await;
    assert_eq!(res.status(), 429);
    let mut ghost: Value = res.json().await.unwrap();
    real.as_object_mut().unwrap().remove("request_id");
    ghost.as_object_mut().unwrap().remove("request_id");
    assert_eq!(real, ghost);

    // Only an admin unlocks.
    app.create_user(&admin.access, "max@x.example", "manager", PW)
        .await;
    let manager = app.login("max@x.example", PW).await;
    assert_eq!(
        app.post_auth(
            &format!("/api/v1/users/{id}/unlock"),
            &manager.access,
            &json!({})
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        app.post_auth(
            &format!("/api/v1/users/{id}/unlock"),
            &admin.access,
            &json!({})
        )
        .await
        .status(),
        204
    );
    app.login("lou@x.example", PW).await;
    app.stop().await;
}

async fn password_spraying_is_stopped(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[("ISMS_LOCKOUT_IP_MAX_FAILURES", "6")]).await else {
        return;
    };
    // One failure each on many accounts: no account locks, the IP does.
    for i in 0..6 {
        let res = app
            .login_raw(&format!("user{i}@x.example"), "Summer2026!Summer")
            .await;
        assert_eq!(res.status(), 401, "attempt {i}");
    }
    let res = app.login_raw(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert!(header(&res, "retry-after").is_some());
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "rate_limited");
    app.stop().await;
}

// --- Redis -----------------------------------------------------------------

fn redis_url() -> Option<String> {
    isms_store::testing::service_url(isms_store::testing::REDIS_URL_VAR)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_redis_budget() {
    let Some(url) = redis_url() else {
        return;
    };
    let prefix = redis_prefix();
    let env = [
        ("ISMS_REDIS_URL", url.as_str()),
        ("ISMS_REDIS_KEY_PREFIX", prefix.as_str()),
        ("ISMS_RATE_LIMIT_ENABLED", "true"),
        ("ISMS_RATE_LIMIT_READ_PER_MIN", "6"),
        ("ISMS_TRUSTED_PROXIES", "127.0.0.0/8,::1"),
    ];
    let a = TestApp::start(Backend::Sqlite, &env).await.unwrap();
    let b = TestApp::start(Backend::Sqlite, &env).await.unwrap();
    let ip = unique_ip();
    let mut statuses = Vec::new();
    for i in 0..8 {
        let app = if i % 2 == 0 { &a } else { &b };
        statuses.push(
            get_from(app, "/.well-known/jwks.json", Some(&ip))
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, vec![200, 200, 200, 200, 200, 200, 429, 429]);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_holds_across_instances_sharing_redis() {
    let Some(url) = redis_url() else {
        return;
    };
    let prefix = redis_prefix();
    let env = [
        ("ISMS_REDIS_URL", url.as_str()),
        ("ISMS_REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    let a = TestApp::start(Backend::Sqlite, &env).await.unwrap();
    let b = TestApp::start(Backend::Sqlite, &env).await.unwrap();
    // An address nobody else uses, so parallel runs do not interfere.
    let email = format!("nobody-{}@x.example", uuid::Uuid::new_v4().simple());
    for i in 0..5 {
        let app = if i % 2 == 0 { &a } else { &b };
        assert_eq!(app.login_raw(&email, PW).await.status(), 401);
    }
    for app in [&a, &b] {
        let res = app.login_raw(&email, PW).await;
        assert_eq!(res.status(), 429);
        assert_eq!(res.json::<Value>().await.unwrap()["code"], "account_locked");
    }
    a.stop().await;
    b.stop().await;
}

/// A throwaway redis-server this test may stop and start.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start(port: u16) -> Child {
        Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed to run this test")
    }

    async fn new() -> Option<Self> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok();
        if !found {
            assert!(
                !isms_store::testing::in_ci(),
                "redis-server is required under CI"
            );
            eprintln!("skipping: redis-server is not installed");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let me = Self {
            port,
            child: Some(Self::start(port)),
        };
        me.wait_up().await;
        Some(me)
    }

    async fn wait_up(&self) {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start");
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    async fn restart(&mut self) {
        self.stop();
        self.child = Some(Self::start(self.port));
        self.wait_up().await;
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn backend_of(app: &TestApp, token: &str) -> String {
    let body: Value = app
        .get_auth("/api/v1/health/detailed", token)
        .await
        .json()
        .await
        .unwrap();
    body["rate_limit"]["backend"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_falls_back_in_process_and_recovers() {
    let Some(mut redis) = OwnRedis::new().await else {
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let app = TestApp::start(
        Backend::Sqlite,
        &[
            ("ISMS_REDIS_URL", url.as_str()),
            ("ISMS_RATE_LIMIT_ENABLED", "true"),
            ("ISMS_RATE_LIMIT_READ_PER_MIN", "1000"),
        ],
    )
    .await
    .unwrap();
    let admin = app.admin().await;
    assert_eq!(backend_of(&app, &admin.access).await, "redis");

    redis.stop();
    // Requests keep being served, limited in process.
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let res = get_from(&app, "/.well-known/jwks.json", None).await;
        assert_eq!(res.status(), 200);
        assert!(header(&res, "x-ratelimit-remaining").is_some());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    assert_eq!(backend_of(&app, &admin.access).await, "in-process");

    redis.restart().await;
    let mut backend = String::new();
    for _ in 0..100 {
        // Traffic or the background probe notices the recovery.
        get_from(&app, "/.well-known/jwks.json", None).await;
        backend = backend_of(&app, &admin.access).await;
        if backend == "redis" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(backend, "redis");
    app.stop().await;
}
