//! The audit log on both backends: gapless appends inside the change's
//! transaction, append-only enforcement, proofs from stored nodes,
//! checkpoints, queries, and alerts with their delivery schedule.

use std::collections::HashMap;

use isms_domain::audit::{
    AuditRecord, ComplianceFlag, LogId, NodeId, inclusion_proof_plan, verify_inclusion,
};
use isms_domain::events::Outcome;
use isms_domain::page::PageRequest;
use isms_domain::ports::{AuditFilter, RepoError, StoredCheckpoint};
use isms_domain::time::now;
use isms_domain::{TenantId, UserId};

use super::support::{Ctx, stored_tenant, tenant_with_user};

pub fn record(tenant: Option<TenantId>, event_type: &str, risk: u8) -> AuditRecord {
    AuditRecord {
        event_type: event_type.into(),
        tenant_id: tenant,
        actor_user_id: None,
        session_id: None,
        request_id: Some(format!("req-{event_type}")),
        resource_type: Some("user".into()),
        resource_id: None,
        action: "test".into(),
        outcome: Outcome::Success,
        ip: Some("198.51.100.4".into()),
        user_agent: Some("suite".into()),
        details: serde_json::json!({ "n": 1, "fields": ["display_name"] }),
        compliance_flags: vec![],
        risk_score: risk,
    }
}

async fn all_entries(cx: &Ctx, log: &LogId) -> Vec<isms_domain::audit::AuditEntry> {
    cx.audit()
        .scan(log, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| isms_domain::audit::AuditEntry::from_canonical(&r.canonical).unwrap())
        .collect()
}

pub async fn appends_are_gapless_and_the_head_tracks_the_root(cx: &Ctx) {
    let t = stored_tenant(cx, "audit-a").await;
    let log = LogId::tenant(t.id);
    assert_eq!(cx.audit().head(&log).await.unwrap().size, 0);
    let mut leaves = Vec::new();
    for i in 0..5u8 {
        let stored = cx
            .audit()
            .append(&[
                record(Some(t.id), "user_updated", i),
                record(Some(t.id), "logout", 1),
            ])
            .await
            .unwrap();
        assert_eq!(stored.len(), 2);
        assert_eq!(stored[0].seq, u64::from(i) * 2);
        assert_eq!(stored[1].seq, u64::from(i) * 2 + 1);
        for e in stored {
            leaves.push(e.leaf_hash().unwrap());
        }
    }
    let head = cx.audit().head(&log).await.unwrap();
    assert_eq!(head.size, 10);
    assert_eq!(
        head.root_hash,
        isms_domain::audit::root_from_leaves(&leaves)
    );
    let scanned = cx.audit().scan(&log, 3, 4).await.unwrap();
    assert_eq!(
        scanned.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![3, 4, 5, 6]
    );
    for raw in &scanned {
        let e = isms_domain::audit::AuditEntry::from_canonical(&raw.canonical).unwrap();
        assert_eq!(e.seq, raw.seq);
        assert_eq!(
            e.leaf_hash().unwrap(),
            raw.leaf_hash,
            "stored leaf of {}",
            e.seq
        );
        assert_eq!(e.record.details["fields"][0], "display_name");
    }
    // Events without a tenant go to the server log.
    cx.audit()
        .append(&[record(None, "account_locked", 3)])
        .await
        .unwrap();
    assert_eq!(cx.audit().head(&LogId::server()).await.unwrap().size, 1);
    let logs = cx.audit().logs().await.unwrap();
    assert_eq!(logs.len(), 2);
}

/// One append of more entries (and nodes) than one statement carries:
/// written in several statements, still one gapless log whose head and
/// stored nodes agree with the entries.
pub async fn a_batch_beyond_one_statement_is_stored_whole(cx: &Ctx) {
    let t = stored_tenant(cx, "audit-batch").await;
    let log = LogId::tenant(t.id);
    cx.audit()
        .append(&[record(Some(t.id), "logout", 1)])
        .await
        .unwrap();
    let batch: Vec<AuditRecord> = (0..1_234u32)
        .map(|i| record(Some(t.id), "user_updated", u8::try_from(i % 10).unwrap()))
        .collect();
    let stored = cx.audit().append(&batch).await.unwrap();
    assert_eq!(stored.len(), 1_234);
    assert_eq!(stored.first().unwrap().seq, 1);
    assert_eq!(stored.last().unwrap().seq, 1_234);
    let entries = all_entries(cx, &log).await;
    assert_eq!(entries.len(), 1_235);
    assert!(entries.iter().enumerate().all(|(i, e)| e.seq == i as u64));
    let leaves: Vec<_> = entries.iter().map(|e| e.leaf_hash().unwrap()).collect();
    let head = cx.audit().head(&log).await.unwrap();
    assert_eq!(head.size, 1_235);
    assert_eq!(
        head.root_hash,
        isms_domain::audit::root_from_leaves(&leaves)
    );
    for seq in [0, 499, 500, 1_000, 1_234] {
        let plan = inclusion_proof_plan(seq, 1_235).unwrap();
        let nodes: HashMap<NodeId, _> = cx
            .audit()
            .nodes(&log, plan.nodes())
            .await
            .unwrap()
            .into_iter()
            .collect();
        let path = plan.assemble(&|id| nodes.get(&id).copied()).unwrap();
        let leaf = leaves[usize::try_from(seq).unwrap()];
        assert!(
            verify_inclusion(&leaf, seq, 1_235, &path, &head.root_hash),
            "seq {seq}"
        );
    }
}

pub async fn stored_nodes_prove_inclusion(cx: &Ctx) {
    let t = stored_tenant(cx, "audit-b").await;
    let log = LogId::tenant(t.id);
    for i in 0..13u8 {
        cx.audit()
            .append(&[record(Some(t.id), "user_updated", i % 10)])
            .await
            .unwrap();
    }
    let head = cx.audit().head(&log).await.unwrap();
    for seq in 0..13 {
        let plan = inclusion_proof_plan(seq, 13).unwrap();
        let mut wanted = plan.nodes().to_vec();
        wanted.push(NodeId {
            level: 0,
            index: seq,
        });
        let nodes: HashMap<NodeId, _> = cx
            .audit()
            .nodes(&log, &wanted)
            .await
            .unwrap()
            .into_iter()
            .collect();
        let path = plan.assemble(&|id| nodes.get(&id).copied()).unwrap();
        let leaf = nodes[&NodeId {
            level: 0,
            index: seq,
        }];
        assert!(
            verify_inclusion(&leaf, seq, 13, &path, &head.root_hash),
            "seq {seq}"
        );
    }
    // Another tenant's nodes are not this log's.
    let other = stored_tenant(cx, "audit-b2").await;
    let none = cx
        .audit()
        .nodes(&LogId::tenant(other.id), &[NodeId { level: 0, index: 0 }])
        .await
        .unwrap();
    assert!(none.is_empty());
}

pub async fn the_log_is_append_only(cx: &Ctx) {
    let t = stored_tenant(cx, "audit-c").await;
    cx.audit()
        .append(&[record(Some(t.id), "user_updated", 2)])
        .await
        .unwrap();
    for sql in [
        "UPDATE audit_entries SET risk_score = 0",
        "DELETE FROM audit_entries",
        "UPDATE audit_nodes SET idx = idx + 100",
        "DELETE FROM audit_nodes",
    ] {
        let res = cx.exec(sql).await;
        assert!(res.is_err(), "{sql} was allowed");
    }
    if cx.is_postgres() {
        assert!(cx.exec("TRUNCATE audit_entries").await.is_err());
    }
    let log = LogId::tenant(t.id);
    let entries = all_entries(cx, &log).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].record.risk_score, 2);
}

pub async fn a_change_and_its_record_commit_together(cx: &Ctx) {
    let (t, mut u) = tenant_with_user(cx, "audit-d", "d@audit.example").await;
    let log = LogId::tenant(t.id);
    u.display_name = "Renamed".into();
    cx.users()
        .update(&u, &[record(Some(t.id), "user_updated", 6)])
        .await
        .unwrap();
    assert_eq!(all_entries(cx, &log).await.len(), 1);
    // A change that fails appends nothing.
    let mut ghost = u.clone();
    ghost.id = UserId::new();
    assert!(matches!(
        cx.users()
            .update(&ghost, &[record(Some(t.id), "user_updated", 6)])
            .await,
        Err(RepoError::NotFound)
    ));
    assert_eq!(all_entries(cx, &log).await.len(), 1);
    // A record the log refuses (the triggers stand in for any failure)
    // rolls the change back.
    if cx.is_postgres() {
        cx.exec(
            "CREATE OR REPLACE FUNCTION suite_fail() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'no'; END $$",
        )
        .await
        .unwrap();
        cx.exec(
            "CREATE TRIGGER suite_fail BEFORE INSERT ON audit_entries \
             FOR EACH ROW EXECUTE FUNCTION suite_fail()",
        )
        .await
        .unwrap();
    } else {
        cx.exec(
            "CREATE TRIGGER suite_fail BEFORE INSERT ON audit_entries \
             BEGIN SELECT RAISE(ABORT, 'no'); END",
        )
        .await
        .unwrap();
    }
    u.display_name = "Never".into();
    assert!(
        cx.users()
            .update(&u, &[record(Some(t.id), "user_updated", 6)])
            .await
            .is_err()
    );
    let drop = if cx.is_postgres() {
        "DROP TRIGGER suite_fail ON audit_entries"
    } else {
        "DROP TRIGGER suite_fail"
    };
    cx.exec(drop).await.unwrap();
    let stored = cx.users().get(t.id, u.id).await.unwrap();
    assert_eq!(stored.display_name, "Renamed");
    assert_eq!(cx.audit().head(&log).await.unwrap().size, 1);
}

pub async fn concurrent_appends_from_two_stores_never_fork(cx: &Ctx) {
    let t = stored_tenant(cx, "audit-e").await;
    let other = cx.connect_again().await;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let repo = if i % 2 == 0 {
                cx.audit()
            } else {
                other.audit()
            };
            let r = record(Some(t.id), "login_success", 1);
            tokio::spawn(async move { repo.append(&[r]).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let log = LogId::tenant(t.id);
    let seqs: Vec<u64> = all_entries(cx, &log).await.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..40).collect::<Vec<_>>());
    let head = cx.audit().head(&log).await.unwrap();
    let leaves: Vec<_> = cx
        .audit()
        .scan(&log, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.leaf_hash)
        .collect();
    assert_eq!(
        head.root_hash,
        isms_domain::audit::root_from_leaves(&leaves)
    );
    other.close().await;
}

pub async fn checkpoints_are_stored_once_per_size(cx: &Ctx) {
    let t = stored_tenant(cx, "audit-f").await;
    let log = LogId::tenant(t.id);
    assert!(cx.audit().latest_checkpoint(&log).await.unwrap().is_none());
    let cp = |size: u64, note: &str| StoredCheckpoint {
        log_id: log.clone(),
        checkpoint: isms_domain::audit::Checkpoint {
            origin: "suite/origin".into(),
            tree_size: size,
            root_hash: [size as u8; 32],
            timestamp: now(),
        },
        key_id: "k1".into(),
        note: format!("suite/origin\n{size}\n{note}\n"),
    };
    assert!(cx.audit().put_checkpoint(&cp(2, "a")).await.unwrap());
    assert!(!cx.audit().put_checkpoint(&cp(2, "b")).await.unwrap());
    assert!(cx.audit().put_checkpoint(&cp(5, "c")).await.unwrap());
    let latest = cx.audit().latest_checkpoint(&log).await.unwrap().unwrap();
    assert_eq!(latest.checkpoint.tree_size, 5);
    assert_eq!(latest.checkpoint.origin, "suite/origin");
    let all = cx.audit().checkpoints(&log).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|c| c.checkpoint.tree_size)
            .collect::<Vec<_>>(),
        vec![2, 5]
    );
    assert!(
        all[0].note.contains("\na\n"),
        "the first note of a size wins"
    );
    assert!(cx.exec("DELETE FROM audit_checkpoints").await.is_err());
}

pub async fn queries_filter_and_page_newest_first(cx: &Ctx) {
    let t = stored_tenant(cx, "audit-g").await;
    let log = LogId::tenant(t.id);
    let actor = UserId::new();
    let mut denied = record(Some(t.id), "access_denied", 8);
    denied.outcome = Outcome::Denied;
    denied.actor_user_id = Some(actor);
    denied.compliance_flags = vec![ComplianceFlag::Iso27001AccessViolation];
    let batch = vec![
        record(Some(t.id), "login_success", 1),
        denied.clone(),
        record(Some(t.id), "user_updated", 6),
        denied,
    ];
    cx.audit().append(&batch).await.unwrap();
    let repo = cx.audit();
    let log_ref = &log;
    let repo_ref = &repo;
    let q = |f: AuditFilter| async move { repo_ref.query(log_ref, &f).await.unwrap() };
    let all = q(AuditFilter {
        limit: 10,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![3, 2, 1, 0]
    );
    let page = q(AuditFilter {
        limit: 1,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        page.len(),
        2,
        "one more than the limit tells a next page exists"
    );
    let next = q(AuditFilter {
        limit: 10,
        before_seq: Some(2),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(next.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 0]);
    let by_type = q(AuditFilter {
        event_type: Some("access_denied".into()),
        limit: 10,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(by_type.len(), 2);
    let by_actor = q(AuditFilter {
        actor_user_id: Some(actor),
        limit: 10,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(by_actor.len(), 2);
    let by_outcome = q(AuditFilter {
        outcome: Some(Outcome::Success),
        limit: 10,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(by_outcome.len(), 2);
    let risky = q(AuditFilter {
        min_risk: Some(6),
        limit: 10,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(risky.len(), 3);
    let flagged = q(AuditFilter {
        flag: Some(ComplianceFlag::Iso27001AccessViolation),
        limit: 10,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(flagged.len(), 2);
    let future = q(AuditFilter {
        from: Some(now() + chrono::Duration::hours(1)),
        limit: 10,
        ..AuditFilter::default()
    })
    .await;
    assert!(future.is_empty());
    let id = all[0].id;
    assert_eq!(cx.audit().get(&log, id).await.unwrap().seq, 3);
    let other = stored_tenant(cx, "audit-g2").await;
    assert!(matches!(
        cx.audit().get(&LogId::tenant(other.id), id).await,
        Err(RepoError::NotFound)
    ));
    let since = now() - chrono::Duration::minutes(5);
    assert_eq!(
        cx.audit()
            .recent_failures(&log, None, Some(actor), since)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        cx.audit()
            .recent_failures(&log, Some("198.51.100.4"), None, since)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        cx.audit()
            .recent_failures(&log, Some("203.0.113.1"), None, since)
            .await
            .unwrap(),
        0
    );
    // The same entries as times, newest first and capped at the limit.
    let times = cx
        .audit()
        .recent_failure_times(&log, Some("198.51.100.4"), Some(actor), since, 10)
        .await
        .unwrap();
    assert_eq!(times.len(), 2);
    assert!(times.windows(2).all(|w| w[0] >= w[1]));
    assert!(times.iter().all(|t| *t >= since));
    let capped = cx
        .audit()
        .recent_failure_times(&log, None, Some(actor), since, 1)
        .await
        .unwrap();
    assert_eq!(capped, times[..1].to_vec());
    for (ip, actor, limit) in [
        (Some("203.0.113.1"), None, 10),
        (None, None, 10),
        (Some("198.51.100.4"), None, 0),
    ] {
        assert!(
            cx.audit()
                .recent_failure_times(&log, ip, actor, since, limit)
                .await
                .unwrap()
                .is_empty()
        );
    }
    let later = now() + chrono::Duration::minutes(1);
    assert!(
        cx.audit()
            .recent_failure_times(&log, Some("198.51.100.4"), None, later, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn critical_records_raise_alerts_scheduled_once(cx: &Ctx) {
    let t = stored_tenant(cx, "audit-h").await;
    cx.audit()
        .append(&[
            record(Some(t.id), "user_updated", 6),
            record(Some(t.id), "access_policy_changed", 9),
        ])
        .await
        .unwrap();
    let page = cx
        .alerts()
        .list(t.id, false, PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        page.items.len(),
        1,
        "only the critical record raises an alert"
    );
    let alert = &page.items[0];
    assert_eq!(alert.severity.as_str(), "CRITICAL");
    assert_eq!(alert.entry_seq, 1);
    assert!(
        alert
            .required_actions
            .iter()
            .any(|a| a == "incident response activation")
    );
    let targets = vec![
        "http://a.example/hook".to_owned(),
        "http://b.example/hook".to_owned(),
    ];
    let other = cx.connect_again().await;
    let at = now();
    let (mine, theirs) = (cx.alerts(), other.alerts());
    let (a, b) = tokio::join!(
        mine.schedule_deliveries(&targets, at, 10),
        theirs.schedule_deliveries(&targets, at, 10)
    );
    a.unwrap();
    b.unwrap();
    let due = cx.alerts().due_deliveries(now(), 10).await.unwrap();
    assert_eq!(
        due.len(),
        2,
        "one delivery per target, scheduled by one store"
    );
    let mut d = due[0].clone();
    d.status = "delivered".into();
    d.attempts = 1;
    d.last_status = Some(204);
    d.delivered_at = Some(now());
    cx.alerts().record_delivery(&d).await.unwrap();
    assert_eq!(
        cx.alerts().due_deliveries(now(), 10).await.unwrap().len(),
        1
    );
    let stored = cx.alerts().deliveries(t.id, alert.id).await.unwrap();
    assert!(
        stored
            .iter()
            .any(|x| x.status == "delivered" && x.last_status == Some(204))
    );
    let by = UserId::new();
    let ack = record(Some(t.id), "alert_acknowledged", 6);
    assert!(
        cx.alerts()
            .acknowledge(
                t.id,
                alert.id,
                by,
                Some("seen"),
                now(),
                std::slice::from_ref(&ack)
            )
            .await
            .unwrap()
    );
    assert!(
        !cx.alerts()
            .acknowledge(t.id, alert.id, by, None, now(), &[ack])
            .await
            .unwrap()
    );
    let acked = cx.alerts().get(t.id, alert.id).await.unwrap();
    assert_eq!(acked.acknowledged_by, Some(by));
    assert_eq!(acked.ack_comment.as_deref(), Some("seen"));
    assert_eq!(cx.audit().head(&LogId::tenant(t.id)).await.unwrap().size, 3);
    let other_tenant = stored_tenant(cx, "audit-h2").await;
    assert!(matches!(
        cx.alerts().get(other_tenant.id, alert.id).await,
        Err(RepoError::NotFound)
    ));
    other.close().await;
}
