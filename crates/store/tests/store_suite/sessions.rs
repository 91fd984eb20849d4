//! Sessions and refresh-token families.

use isms_domain::SessionId;
use isms_domain::ports::{RepoError, RotateOutcome};
use isms_domain::session::Session;
use isms_domain::time::now;

use super::support::{
    Ctx, policy, random_hash, refresh, secs, session, sorted, stored_session, stored_user,
    tenant_with_user,
};

pub async fn session_round_trip_is_tenant_scoped(cx: &Ctx) {
    let repo = cx.sessions();
    let (t, u) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let (t2, _) = tenant_with_user(cx, "Globex", "mallory@example.com").await;
    let (s, _) = stored_session(cx, t.id, u.id, now()).await;
    assert_eq!(repo.get(t.id, s.id).await.unwrap(), s);
    crate::assert_err!(repo.get(t2.id, s.id).await, RepoError::NotFound);
    crate::assert_err!(repo.get(t.id, SessionId::new()).await, RepoError::NotFound);

    // Optional columns left empty read back as empty.
    let mut bare = Session::start(t.id, u.id, None, None, &policy(), now());
    bare.mfa_verified_at = None;
    let first = refresh(&bare, bare.created_at);
    repo.create(&bare, &first, &[]).await.unwrap();
    assert_eq!(repo.get(t.id, bare.id).await.unwrap(), bare);

    // Creation is atomic: a first token whose hash is taken fails the
    // whole session.
    let dup = Session::start(t.id, u.id, None, None, &policy(), now());
    let mut clash = refresh(&dup, dup.created_at);
    clash.token_hash = first.token_hash;
    assert!(repo.create(&dup, &clash, &[]).await.is_err());
    crate::assert_err!(repo.get(t.id, dup.id).await, RepoError::NotFound);
}

pub async fn list_live_is_newest_first_and_only_live(cx: &Ctx) {
    let repo = cx.sessions();
    let (t, u) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let other_user = stored_user(cx, t.id, "bob@example.com").await;
    let (t2, _) = tenant_with_user(cx, "Globex", "mallory@example.com").await;
    let t0 = now();

    // Created out of order, so the order comes from created_at.
    let (s2, _) = stored_session(cx, t.id, u.id, t0 + secs(2)).await;
    let (s1, _) = stored_session(cx, t.id, u.id, t0 + secs(1)).await;
    let (s3, _) = stored_session(cx, t.id, u.id, t0 + secs(3)).await;
    let (revoked, _) = stored_session(cx, t.id, u.id, t0 + secs(4)).await;
    assert!(
        repo.revoke(t.id, revoked.id, t0 + secs(5), &[])
            .await
            .unwrap()
    );
    // Started long ago: expired at t0 - 1s.
    let (_expired, _) =
        stored_session(cx, t.id, u.id, t0 - policy().absolute_lifetime - secs(1)).await;
    let (_bobs, _) = stored_session(cx, t.id, other_user.id, t0 + secs(6)).await;

    let at = t0 + secs(10);
    assert_eq!(
        repo.list_live(t.id, u.id, at).await.unwrap(),
        vec![s3.clone(), s2.clone(), s1.clone()]
    );
    // Another tenant sees none of them.
    assert_eq!(repo.list_live(t2.id, u.id, at).await.unwrap(), vec![]);
    // A session is no longer live from its expiry instant on.
    assert_eq!(
        repo.list_live(t.id, u.id, s1.expires_at).await.unwrap(),
        vec![s3.clone(), s2.clone()]
    );
    assert_eq!(
        repo.list_live(t.id, u.id, s1.expires_at - secs(1))
            .await
            .unwrap(),
        vec![s3, s2, s1]
    );
}

pub async fn touch_only_moves_forward(cx: &Ctx) {
    let repo = cx.sessions();
    let (t, u) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let t0 = now();
    let (mut s, _) = stored_session(cx, t.id, u.id, t0).await;
    let (other, _) = stored_session(cx, t.id, u.id, t0).await;

    repo.touch(s.tenant_id, s.id, t0 + secs(30)).await.unwrap();
    s.last_seen_at = t0 + secs(30);
    assert_eq!(session(cx, t.id, s.id).await, s);

    // An older sighting (a debounced write arriving late) is ignored.
    repo.touch(s.tenant_id, s.id, t0 + secs(10)).await.unwrap();
    assert_eq!(session(cx, t.id, s.id).await, s);
    repo.touch(s.tenant_id, s.id, t0 + secs(30)).await.unwrap();
    assert_eq!(session(cx, t.id, s.id).await, s);

    // Sub-second steps count (timestamps are compared, not their text).
    let finer = t0 + secs(30) + std::time::Duration::from_micros(1);
    repo.touch(s.tenant_id, s.id, finer).await.unwrap();
    s.last_seen_at = finer;
    assert_eq!(session(cx, t.id, s.id).await, s);

    // Only the touched session moved.
    assert_eq!(session(cx, t.id, other.id).await, other);
}

pub async fn revoke_is_once_and_kills_refresh(cx: &Ctx) {
    let repo = cx.sessions();
    let (t, u) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let (t2, _) = tenant_with_user(cx, "Globex", "mallory@example.com").await;
    let t0 = now();
    let (mut s, first) = stored_session(cx, t.id, u.id, t0).await;

    // Not from another tenant, and not a session that does not exist.
    assert!(!repo.revoke(t2.id, s.id, t0 + secs(1), &[]).await.unwrap());
    assert!(
        !repo
            .revoke(t.id, SessionId::new(), t0 + secs(1), &[])
            .await
            .unwrap()
    );
    assert_eq!(session(cx, t.id, s.id).await, s);

    assert!(repo.revoke(t.id, s.id, t0 + secs(2), &[]).await.unwrap());
    s.revoked_at = Some(t0 + secs(2));
    assert_eq!(session(cx, t.id, s.id).await, s);
    assert!(!repo.revoke(t.id, s.id, t0 + secs(3), &[]).await.unwrap());
    assert_eq!(
        session(cx, t.id, s.id).await,
        s,
        "first revocation time kept"
    );

    // Its (never rotated) refresh token is dead: not reuse, just invalid.
    let next = refresh(&s, t0 + secs(4));
    assert_eq!(
        repo.rotate_refresh(&first.token_hash, &next, t0 + secs(4), &[])
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert_eq!(repo.find_refresh(&next.token_hash).await.unwrap(), None);
    assert_eq!(
        repo.find_refresh(&first.token_hash).await.unwrap(),
        Some((first, s.clone()))
    );
    assert_eq!(session(cx, t.id, s.id).await, s);
}

pub async fn revoke_all_for_user_keeps_one(cx: &Ctx) {
    let repo = cx.sessions();
    let (t, u) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let bob = stored_user(cx, t.id, "bob@example.com").await;
    let (t2, _) = tenant_with_user(cx, "Globex", "mallory@example.com").await;
    let t0 = now();
    let (a, _) = stored_session(cx, t.id, u.id, t0).await;
    let (mut b, _) = stored_session(cx, t.id, u.id, t0 + secs(1)).await;
    let (c, _) = stored_session(cx, t.id, u.id, t0 + secs(2)).await;
    let (mut old, _) = stored_session(cx, t.id, u.id, t0 + secs(3)).await;
    assert!(repo.revoke(t.id, old.id, t0 + secs(4), &[]).await.unwrap());
    old.revoked_at = Some(t0 + secs(4));
    let (bobs, _) = stored_session(cx, t.id, bob.id, t0).await;

    // Another tenant's id does nothing.
    assert_eq!(
        repo.revoke_all_for_user(t2.id, u.id, None, t0 + secs(5), &[])
            .await
            .unwrap(),
        vec![]
    );

    let at = t0 + secs(6);
    let revoked = repo
        .revoke_all_for_user(t.id, u.id, Some(b.id), at, &[])
        .await
        .unwrap();
    assert_eq!(sorted(revoked), sorted(vec![a.id, c.id]));
    for s in [&a, &c] {
        let mut expect = (*s).clone();
        expect.revoked_at = Some(at);
        assert_eq!(session(cx, t.id, s.id).await, expect);
    }
    assert_eq!(session(cx, t.id, b.id).await, b);
    assert_eq!(
        session(cx, t.id, old.id).await,
        old,
        "earlier revocation kept"
    );
    assert_eq!(session(cx, t.id, bobs.id).await, bobs);
    assert_eq!(
        repo.list_live(t.id, u.id, at).await.unwrap(),
        vec![b.clone()]
    );

    // Without `keep`, the last one goes too; a repeat finds nothing.
    let at2 = t0 + secs(7);
    assert_eq!(
        repo.revoke_all_for_user(t.id, u.id, None, at2, &[])
            .await
            .unwrap(),
        vec![b.id]
    );
    b.revoked_at = Some(at2);
    assert_eq!(session(cx, t.id, b.id).await, b);
    assert_eq!(
        repo.revoke_all_for_user(t.id, u.id, None, at2, &[])
            .await
            .unwrap(),
        vec![]
    );
    assert_eq!(session(cx, t.id, bobs.id).await, bobs);
}

pub async fn find_refresh_returns_record_and_session(cx: &Ctx) {
    let repo = cx.sessions();
    let (t, u) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let (s, first) = stored_session(cx, t.id, u.id, now()).await;
    let (s2, first2) = stored_session(cx, t.id, u.id, now()).await;
    assert_eq!(
        repo.find_refresh(&first.token_hash).await.unwrap(),
        Some((first, s))
    );
    assert_eq!(
        repo.find_refresh(&first2.token_hash).await.unwrap(),
        Some((first2, s2))
    );
    assert_eq!(repo.find_refresh(&random_hash()).await.unwrap(), None);
}

pub async fn rotation_and_reuse_detection(cx: &Ctx) {
    let repo = cx.sessions();
    let (t, u) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let t0 = now();
    let (mut s, mut first) = stored_session(cx, t.id, u.id, t0).await;
    let (bystander, bystander_token) = stored_session(cx, t.id, u.id, t0).await;

    // A live token rotates; its successor is stored as given.
    let t1 = t0 + secs(1);
    let second = refresh(&s, t1);
    assert_eq!(
        repo.rotate_refresh(&first.token_hash, &second, t1, &[])
            .await
            .unwrap(),
        RotateOutcome::Rotated
    );
    first.rotated_at = Some(t1);
    assert_eq!(
        repo.find_refresh(&first.token_hash).await.unwrap(),
        Some((first.clone(), s.clone()))
    );
    assert_eq!(
        repo.find_refresh(&second.token_hash).await.unwrap(),
        Some((second.clone(), s.clone()))
    );

    // The successor rotates in turn.
    let t2 = t0 + secs(2);
    let mut third = refresh(&s, t2);
    third.expires_at = t2 + secs(3600);
    assert_eq!(
        repo.rotate_refresh(&second.token_hash, &third, t2, &[])
            .await
            .unwrap(),
        RotateOutcome::Rotated
    );
    assert_eq!(
        repo.find_refresh(&third.token_hash).await.unwrap(),
        Some((third.clone(), s.clone()))
    );

    // Presenting an already rotated token is reuse: the family dies.
    let t3 = t0 + secs(3);
    let stolen = refresh(&s, t3);
    assert_eq!(
        repo.rotate_refresh(&first.token_hash, &stolen, t3, &[])
            .await
            .unwrap(),
        RotateOutcome::Reused
    );
    s.revoked_at = Some(t3);
    assert_eq!(session(cx, t.id, s.id).await, s);
    assert_eq!(repo.find_refresh(&stolen.token_hash).await.unwrap(), None);
    assert_eq!(
        repo.list_live(t.id, u.id, t3).await.unwrap(),
        vec![bystander.clone()]
    );

    // The latest, never used token of the family is now invalid too.
    let t4 = t0 + secs(4);
    let after = refresh(&s, t4);
    assert_eq!(
        repo.rotate_refresh(&third.token_hash, &after, t4, &[])
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert_eq!(repo.find_refresh(&after.token_hash).await.unwrap(), None);
    assert_eq!(
        repo.find_refresh(&third.token_hash).await.unwrap(),
        Some((third, s.clone()))
    );
    assert_eq!(session(cx, t.id, s.id).await, s, "revocation time kept");

    // Other families are untouched.
    assert_eq!(session(cx, t.id, bystander.id).await, bystander);
    assert_eq!(
        repo.find_refresh(&bystander_token.token_hash)
            .await
            .unwrap(),
        Some((bystander_token, bystander))
    );
}

pub async fn rotate_rejects_unknown_and_expired(cx: &Ctx) {
    let repo = cx.sessions();
    let (t, u) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let t0 = now();

    // Unknown hash.
    let (s, _) = stored_session(cx, t.id, u.id, t0).await;
    let next = refresh(&s, t0);
    assert_eq!(
        repo.rotate_refresh(&random_hash(), &next, t0, &[])
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert_eq!(repo.find_refresh(&next.token_hash).await.unwrap(), None);
    assert_eq!(session(cx, t.id, s.id).await, s);

    // A token past its own expiry (the session still lives): invalid, not
    // reuse, and nothing is revoked or marked.
    let mut short = Session::start(t.id, u.id, None, None, &policy(), t0);
    short.mfa_verified_at = None;
    let mut token = refresh(&short, t0);
    token.expires_at = t0 + secs(60);
    repo.create(&short, &token, &[]).await.unwrap();
    for at in [t0 + secs(60), t0 + secs(61)] {
        let next = refresh(&short, at);
        assert_eq!(
            repo.rotate_refresh(&token.token_hash, &next, at, &[])
                .await
                .unwrap(),
            RotateOutcome::Invalid,
            "token expired at {} presented at {at}",
            token.expires_at
        );
        assert_eq!(repo.find_refresh(&next.token_hash).await.unwrap(), None);
    }
    assert_eq!(
        repo.find_refresh(&token.token_hash).await.unwrap(),
        Some((token.clone(), short.clone()))
    );
    // Just before expiry it still rotates.
    let before = t0 + secs(59);
    let next = refresh(&short, before);
    assert_eq!(
        repo.rotate_refresh(&token.token_hash, &next, before, &[])
            .await
            .unwrap(),
        RotateOutcome::Rotated
    );

    // A token of an expired session is invalid too.
    let t_old = t0 - policy().absolute_lifetime - secs(1);
    let (old, old_token) = stored_session(cx, t.id, u.id, t_old).await;
    let next = refresh(&old, t0);
    assert_eq!(
        repo.rotate_refresh(&old_token.token_hash, &next, t0, &[])
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert_eq!(session(cx, t.id, old.id).await, old);
}

pub async fn concurrent_rotation_has_one_winner(cx: &Ctx) {
    let (t, u) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let a = cx.sessions();
    let b = a.clone();
    // Several rounds, to give a real race a chance to happen.
    for round in 0..10 {
        let t0 = now();
        let (s, first) = stored_session(cx, t.id, u.id, t0).await;
        let (left, right) = (refresh(&s, t0), refresh(&s, t0));
        let (ra, rb) = tokio::join!(
            a.rotate_refresh(&first.token_hash, &left, t0, &[]),
            b.rotate_refresh(&first.token_hash, &right, t0, &[]),
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let mut outcomes = vec![ra.clone(), rb.clone()];
        outcomes.sort_by_key(|o| format!("{o:?}"));
        assert_eq!(
            outcomes,
            vec![RotateOutcome::Reused, RotateOutcome::Rotated],
            "round {round}: {ra:?} / {rb:?}"
        );
        let (winner, loser) = if ra == RotateOutcome::Rotated {
            (&left, &right)
        } else {
            (&right, &left)
        };
        // Exactly one successor was stored; the loser's reuse revoked the
        // family, so even the winner's successor no longer rotates.
        let (stored, fam) = a.find_refresh(&winner.token_hash).await.unwrap().unwrap();
        assert_eq!(stored, *winner);
        assert_eq!(fam.id, s.id);
        assert!(
            fam.revoked_at.is_some(),
            "round {round}: family not revoked"
        );
        assert_eq!(a.find_refresh(&loser.token_hash).await.unwrap(), None);
        let next = refresh(&s, t0 + secs(1));
        assert_eq!(
            a.rotate_refresh(&winner.token_hash, &next, t0 + secs(1), &[])
                .await
                .unwrap(),
            RotateOutcome::Invalid
        );
    }
}

pub async fn create_stamps_the_login_and_refuses_a_deleted_user(cx: &Ctx) {
    let repo = cx.sessions();
    let (t, u) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let bob = stored_user(cx, t.id, "bob@example.com").await;
    let at = now() + secs(30);
    let (s, _) = stored_session(cx, t.id, u.id, at).await;
    // Only the login moved, and only on this user's row.
    let mut expected = u.clone();
    expected.last_login_at = Some(s.created_at);
    assert_eq!(cx.users().get(t.id, u.id).await.unwrap(), expected);
    assert_eq!(cx.users().get(t.id, bob.id).await.unwrap(), bob);

    cx.users().soft_delete(t.id, bob.id, &[]).await.unwrap();
    let late = Session::start(t.id, bob.id, None, None, &policy(), now());
    let first = refresh(&late, late.created_at);
    crate::assert_err!(repo.create(&late, &first, &[]).await, RepoError::NotFound);
    crate::assert_err!(repo.get(t.id, late.id).await, RepoError::NotFound);
}

/// A login's session and audit records are stored together or not at all,
/// and a failed one leaves no transaction behind on the connection it
/// used: later logins (more than the pool's connections) all commit.
pub async fn a_login_stores_its_records_whole_or_not_at_all(cx: &Ctx) {
    use isms_domain::audit::{LogId, root_from_leaves};

    use super::audit::record;

    let repo = cx.sessions();
    let (t, u) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let gone = stored_user(cx, t.id, "gone@example.com").await;
    cx.users().soft_delete(t.id, gone.id, &[]).await.unwrap();
    let log = LogId::tenant(t.id);
    let fresh = |user| {
        let s = Session::start(t.id, user, None, None, &policy(), now());
        let first = refresh(&s, s.created_at);
        (s, first)
    };

    // Records of two logs, one of them raising an alert.
    let (s, first) = fresh(u.id);
    let records = [
        record(Some(t.id), "login_success", 1),
        record(Some(t.id), "access_policy_changed", 9),
        record(None, "account_locked", 3),
    ];
    repo.create(&s, &first, &records).await.unwrap();
    assert_eq!(repo.get(t.id, s.id).await.unwrap(), s);
    let head = cx.audit().head(&log).await.unwrap();
    assert_eq!(head.size, 2);
    let leaves: Vec<_> = cx
        .audit()
        .scan(&log, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.leaf_hash)
        .collect();
    assert_eq!(head.root_hash, root_from_leaves(&leaves));
    assert_eq!(cx.audit().head(&LogId::server()).await.unwrap().size, 1);
    let alerts = cx
        .alerts()
        .list(t.id, false, isms_domain::page::PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(alerts.items.len(), 1);
    assert_eq!(alerts.items[0].entry_seq, 1);

    // Failures of each step, more of them than the pool has connections.
    let one = [record(Some(t.id), "login_success", 1)];
    for _ in 0..6 {
        let (taken, mut clash) = fresh(u.id);
        clash.token_hash = first.token_hash;
        assert!(repo.create(&taken, &clash, &one).await.is_err());
        crate::assert_err!(repo.get(t.id, taken.id).await, RepoError::NotFound);

        let (late, token) = fresh(gone.id);
        crate::assert_err!(repo.create(&late, &token, &one).await, RepoError::NotFound);
        crate::assert_err!(repo.get(t.id, late.id).await, RepoError::NotFound);
    }
    // The audit append itself refusing (a trigger stands in for any
    // failure) takes the session with it.
    let (fail, drop) = if cx.is_postgres() {
        cx.exec(
            "CREATE OR REPLACE FUNCTION suite_fail() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'no'; END $$",
        )
        .await
        .unwrap();
        (
            "CREATE TRIGGER suite_fail BEFORE INSERT ON audit_entries \
             FOR EACH ROW EXECUTE FUNCTION suite_fail()",
            "DROP TRIGGER suite_fail ON audit_entries",
        )
    } else {
        (
            "CREATE TRIGGER suite_fail BEFORE INSERT ON audit_entries \
             BEGIN SELECT RAISE(ABORT, 'no'); END",
            "DROP TRIGGER suite_fail",
        )
    };
    cx.exec(fail).await.unwrap();
    for _ in 0..6 {
        let (refused, token) = fresh(u.id);
        assert!(repo.create(&refused, &token, &one).await.is_err());
        crate::assert_err!(repo.get(t.id, refused.id).await, RepoError::NotFound);
    }
    cx.exec(drop).await.unwrap();
    assert_eq!(cx.audit().head(&log).await.unwrap().size, 2);

    // Every later login commits: another store sees them all.
    let mut later = Vec::new();
    for _ in 0..6 {
        let (s, first) = fresh(u.id);
        repo.create(&s, &first, &one).await.unwrap();
        later.push(s);
    }
    let other = cx.connect_again().await;
    for s in &later {
        assert_eq!(other.sessions().get(t.id, s.id).await.unwrap(), *s);
    }
    assert_eq!(other.audit().head(&log).await.unwrap().size, 8);
}
