//! Token-signing keys.

use std::time::Duration;

use chrono::{DurationRound, TimeDelta};
use isms_domain::time::now;

use super::support::{Ctx, secs, signing_key};

pub async fn signing_key_lifecycle(cx: &Ctx) {
    let repo = cx.signing_keys();
    // A whole second, so timestamps with and without a fraction meet in
    // the comparisons below.
    let t0 = now().duration_trunc(TimeDelta::seconds(1)).unwrap();
    assert_eq!(repo.list_verifying(t0).await.unwrap(), vec![]);

    let a = signing_key("key-a", t0);
    let b = signing_key("key-b", t0 + secs(1));
    let c = signing_key("key-c", t0 + secs(2));
    // Retired long ago and no longer verifying.
    let mut gone = signing_key("key-gone", t0 - secs(7200));
    gone.retired_at = Some(t0 - secs(7200));
    gone.verify_until = Some(t0 - secs(3600));
    for k in [&b, &a, &gone, &c] {
        repo.insert(k, &[]).await.unwrap();
    }
    // The same kid twice is refused.
    assert!(repo.insert(&signing_key("key-a", t0), &[]).await.is_err());

    let at = t0 + secs(3);
    assert_eq!(
        repo.list_verifying(at).await.unwrap(),
        vec![c.clone(), b.clone(), a.clone()]
    );

    // Rotating to C retires A and B (only).
    let until = t0 + secs(3600);
    repo.retire_others("key-c", at, until).await.unwrap();
    let retired = |k: &isms_domain::auth::SigningKeyRecord| {
        let mut k = k.clone();
        k.retired_at = Some(at);
        k.verify_until = Some(until);
        k
    };
    let listed = repo.list_verifying(at).await.unwrap();
    assert_eq!(listed, vec![c.clone(), retired(&b), retired(&a)]);
    assert!(listed[0].signs());
    assert!(!listed[1].signs() && !listed[2].signs());

    // Retiring again later does not extend the old keys' verification.
    repo.retire_others("key-c", at + secs(10), until + secs(600))
        .await
        .unwrap();
    assert_eq!(
        repo.list_verifying(at).await.unwrap(),
        vec![c.clone(), retired(&b), retired(&a)]
    );

    // Up to the instant before `verify_until` they still verify; from it
    // on they are gone.
    let just_before = until - Duration::from_micros(1);
    assert_eq!(
        repo.list_verifying(just_before).await.unwrap(),
        vec![c.clone(), retired(&b), retired(&a)]
    );
    assert_eq!(repo.list_verifying(until).await.unwrap(), vec![c.clone()]);
    assert_eq!(
        repo.list_verifying(until + Duration::from_millis(500))
            .await
            .unwrap(),
        vec![c.clone()]
    );

    // Rotating on to D retires C the same way, leaving A and B as they were.
    let d = signing_key("key-d", t0 + secs(20));
    repo.insert(&d, &[]).await.unwrap();
    let at2 = t0 + secs(30);
    let until2 = t0 + secs(7200);
    repo.retire_others("key-d", at2, until2).await.unwrap();
    let mut c2 = c.clone();
    c2.retired_at = Some(at2);
    c2.verify_until = Some(until2);
    assert_eq!(
        repo.list_verifying(at2).await.unwrap(),
        vec![d.clone(), c2.clone(), retired(&b), retired(&a)]
    );
    assert_eq!(
        repo.list_verifying(until).await.unwrap(),
        vec![d.clone(), c2]
    );
    assert_eq!(repo.list_verifying(until2).await.unwrap(), vec![d]);
}
