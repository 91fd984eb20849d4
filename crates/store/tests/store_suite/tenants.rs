//! Tenant repository.

use isms_domain::TenantId;
use isms_domain::page::PageRequest;
use isms_domain::ports::RepoError;

use super::support::{Ctx, stored_tenant, tenant};

pub async fn tenant_round_trip_and_name_lookup(cx: &Ctx) {
    let repo = cx.tenants();
    let t = stored_tenant(cx, "Acme Corp").await;
    assert_eq!(repo.get(t.id).await.unwrap(), t);
    crate::assert_err!(repo.get(TenantId::new()).await, RepoError::NotFound);

    for probe in ["Acme Corp", "acme corp", "ACME CORP", "  aCmE cOrP "] {
        assert_eq!(
            repo.find_by_name(probe).await.unwrap(),
            Some(t.clone()),
            "lookup by {probe:?}"
        );
    }
    assert_eq!(repo.find_by_name("Acme").await.unwrap(), None);
    assert_eq!(repo.find_by_name("Acme Corp Ltd").await.unwrap(), None);
    // Names that cannot be tenant names find nothing rather than failing.
    assert_eq!(repo.find_by_name("   ").await.unwrap(), None);
}

pub async fn tenant_names_are_unique_without_case(cx: &Ctx) {
    let repo = cx.tenants();
    let t = stored_tenant(cx, "Acme Corp").await;
    crate::assert_err!(
        repo.create(&tenant("ACME corp"), &[]).await,
        RepoError::Conflict("tenant_name")
    );
    crate::assert_err!(
        repo.create(&tenant("Acme Corp"), &[]).await,
        RepoError::Conflict("tenant_name")
    );
    // The same id twice is a conflict too, whatever its rule is called.
    let mut same_id = tenant("Globex");
    same_id.id = t.id;
    crate::assert_err!(repo.create(&same_id, &[]).await, RepoError::Conflict(_));
    // Nothing of the failed attempts was stored.
    let all = repo.list(PageRequest::first(100)).await.unwrap();
    assert_eq!(all.items, vec![t]);
}

pub async fn tenant_list_pages_in_id_order(cx: &Ctx) {
    let repo = cx.tenants();
    let mut expected = Vec::new();
    for i in 0..5 {
        expected.push(stored_tenant(cx, &format!("Tenant {i}")).await);
    }
    expected.sort_by_key(|t| t.id);

    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = repo
            .list(PageRequest::new(Some(2), after).unwrap())
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().cloned());
        match page.next_after {
            Some(next) => {
                assert_eq!(Some(next), page.items.last().map(|t| t.id.as_uuid()));
                after = Some(next);
            }
            None => break,
        }
        assert!(pages < 10, "pagination does not terminate");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);

    // Exactly one full page: no cursor.
    let page = repo.list(PageRequest::first(5)).await.unwrap();
    assert_eq!(page.items, expected);
    assert_eq!(page.next_after, None);
    // After the last id: empty.
    let page = repo
        .list(PageRequest::new(Some(2), Some(expected[4].id.as_uuid())).unwrap())
        .await
        .unwrap();
    assert_eq!(page.items, vec![]);
    assert_eq!(page.next_after, None);
}
