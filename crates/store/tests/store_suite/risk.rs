//! The risk register repository: entities, exposures, assessments,
//! treatments and the compliance input, on both backends.

use chrono::Duration;
use isms_domain::TenantId;
use isms_domain::crypto::Classification;
use isms_domain::page::PageRequest;
use isms_domain::ports::RepoError;
use isms_domain::risk::{
    AssessmentWrite, Assessor, Asset, AssetDraft, AssetFilter, AssetStatus, AssetType, CiaProperty,
    CiaSet, Exposure, Likelihood, RiskFilter, RiskLevel, RiskMatrixConfig, Severity, Sort,
    SortField, Threat, ThreatCategory, ThreatDraft, ThreatFilter, Treatment, TreatmentDraft,
    TreatmentOption, TreatmentStatus, Vulnerability, VulnerabilityDraft, VulnerabilityFilter,
    VulnerabilityStatus, assess_pairs, default_threat_catalogue, score_pair,
};
use isms_domain::time::now;

use super::support::*;
use crate::assert_err;

fn asset_draft(name: &str, rating: u8) -> AssetDraft {
    AssetDraft {
        name: name.into(),
        description: format!("secret notes about {name}"),
        asset_type: AssetType::Information,
        owner: None,
        custodian: Some("IT".into()),
        classification: Some(Classification::Confidential),
        confidentiality: rating,
        integrity: 2,
        availability: 1,
        business_value: 3,
        location: Some("Paris".into()),
        tags: vec!["crm".into(), "PII".into()],
        status: AssetStatus::Active,
        next_review_at: None,
    }
}

async fn stored_asset(cx: &Ctx, tenant: TenantId, name: &str, rating: u8) -> Asset {
    let a = Asset::create(tenant, asset_draft(name, rating), now()).unwrap();
    cx.risks().create_asset(&a, &[]).await.unwrap();
    a
}

async fn stored_threat(cx: &Ctx, tenant: TenantId, name: &str) -> Threat {
    let t = Threat::create(
        tenant,
        ThreatDraft {
            name: name.into(),
            category: ThreatCategory::Deliberate,
            source: Some("criminals".into()),
            description: String::new(),
            targets: CiaSet::of(&[CiaProperty::Confidentiality]),
            base_likelihood: Likelihood::AlmostCertain,
        },
        now(),
    )
    .unwrap();
    cx.risks().create_threat(&t, &[]).await.unwrap();
    t
}

async fn stored_vuln(cx: &Ctx, tenant: TenantId, name: &str, asset: &Asset) -> Vulnerability {
    let at = now();
    let v = Vulnerability::create(
        tenant,
        VulnerabilityDraft {
            name: name.into(),
            description: String::new(),
            severity: Severity::High,
            cve: Some("CVE-2021-44228".into()),
            cwe: Some("CWE-502".into()),
            affected_assets: vec![asset.id],
            status: VulnerabilityStatus::Open,
            discovered_at: at - Duration::days(1),
            remediated_at: None,
        },
        at,
    )
    .unwrap();
    cx.risks().create_vulnerability(&v, &[]).await.unwrap();
    v
}

async fn link(
    cx: &Ctx,
    asset: &Asset,
    threat: &Threat,
    v: Option<&Vulnerability>,
) -> isms_domain::risk::Risk {
    let config = RiskMatrixConfig::default();
    let e = Exposure::link(asset, threat, v).unwrap();
    let r = isms_domain::risk::Risk::new(e, score_pair(asset, threat, v, &config), now());
    cx.risks().add_exposure(&r, &[]).await.unwrap();
    r
}

pub async fn risk_entities_round_trip_scoped_and_encrypted(cx: &Ctx) {
    let (t, owner) = tenant_with_user(cx, "risk-a", "owner@example.com").await;
    let other = stored_tenant(cx, "risk-b").await;
    let repo = cx.risks();
    let mut a = stored_asset(cx, t.id, "CRM database", 4).await;
    assert_eq!(repo.get_asset(t.id, a.id).await.unwrap(), a);
    assert_err!(repo.get_asset(other.id, a.id).await, RepoError::NotFound);
    // The description is an envelope at rest, never the text.
    let stored = cx
        .exec_rows(&format!(
            "SELECT description_enc FROM assets WHERE id = {}",
            cx.uuid_literal(a.id.as_uuid())
        ))
        .await;
    assert!(stored[0].starts_with("isms:v1:"), "{}", stored[0]);
    assert!(!stored[0].contains("secret"));

    // The key sealing it is in the encrypted-field inventory, so it cannot
    // be retired while in use; everything is under the primary already.
    let inventory = cx.encrypted_fields().inventory(t.id).await.unwrap();
    let field = inventory
        .iter()
        .find(|f| f.table == "assets" && f.column == "description")
        .unwrap();
    assert_eq!(field.classification, Classification::Confidential);
    assert_eq!(field.by_version, vec![(1, 1)]);
    assert_eq!(
        cx.encrypted_fields()
            .rewrap(t.id, Classification::Confidential, 10)
            .await
            .unwrap(),
        0
    );

    // Reclassified, it is resealed and still reads back.
    let mut d = asset_draft("CRM database", 4);
    d.classification = Some(Classification::Restricted);
    d.owner = Some(owner.id);
    a.apply(d, now()).unwrap();
    repo.update_asset(&a, &[]).await.unwrap();
    assert_eq!(repo.get_asset(t.id, a.id).await.unwrap(), a);

    let b = stored_asset(cx, t.id, "Backup tapes", 2).await;
    let filter = AssetFilter {
        owner: Some(owner.id),
        ..AssetFilter::default()
    };
    let page = repo
        .list_assets(t.id, &filter, Sort::default(), PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![a.id]
    );
    let by_tag = AssetFilter {
        tag: Some("pii".into()),
        q: Some("BACKUP".into()),
        ..AssetFilter::default()
    };
    let page = repo
        .list_assets(t.id, &by_tag, Sort::default(), PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![b.id]
    );
    // Sorted by name, paged one at a time.
    let sort = SortField::parse("name").unwrap();
    let first = repo
        .list_assets(t.id, &AssetFilter::default(), sort, PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(first.items[0].id, b.id);
    let next = PageRequest::new(Some(1), first.next_after).unwrap();
    let second = repo
        .list_assets(t.id, &AssetFilter::default(), sort, next)
        .await
        .unwrap();
    assert_eq!(second.items[0].id, a.id);
    assert_eq!(second.next_after, None);
    let desc = repo
        .list_assets(
            t.id,
            &AssetFilter::default(),
            SortField::parse("-name").unwrap(),
            PageRequest::first(5),
        )
        .await
        .unwrap();
    assert_eq!(
        desc.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![a.id, b.id]
    );

    let threat = stored_threat(cx, t.id, "Data theft").await;
    assert_eq!(repo.get_threat(t.id, threat.id).await.unwrap(), threat);
    assert_err!(
        repo.get_threat(other.id, threat.id).await,
        RepoError::NotFound
    );
    let threats = repo
        .list_threats(
            t.id,
            &ThreatFilter {
                q: Some("theft".into()),
                ..ThreatFilter::default()
            },
            Sort::default(),
            PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(threats.items, vec![threat.clone()]);

    let v = stored_vuln(cx, t.id, "Log4Shell", &a).await;
    assert_eq!(repo.get_vulnerability(t.id, v.id).await.unwrap(), v);
    let vulns = repo
        .list_vulnerabilities(
            t.id,
            &VulnerabilityFilter {
                asset: Some(a.id),
                status: Some(VulnerabilityStatus::Open),
                ..VulnerabilityFilter::default()
            },
            Sort::default(),
            PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(vulns.items, vec![v.clone()]);

    // Soft delete: gone from reads and lists, and only once.
    let at = now();
    repo.delete_asset(t.id, b.id, at, &[]).await.unwrap();
    assert_err!(repo.get_asset(t.id, b.id).await, RepoError::NotFound);
    assert_err!(
        repo.delete_asset(t.id, b.id, at, &[]).await,
        RepoError::NotFound
    );
    assert_err!(
        repo.delete_threat(other.id, threat.id, at, &[]).await,
        RepoError::NotFound
    );
    repo.delete_vulnerability(t.id, v.id, at, &[])
        .await
        .unwrap();
    assert_err!(
        repo.get_vulnerability(t.id, v.id).await,
        RepoError::NotFound
    );
}

pub async fn exposures_are_unique_and_assessments_commit_together(cx: &Ctx) {
    let t = stored_tenant(cx, "assess").await;
    let repo = cx.risks();
    let a = stored_asset(cx, t.id, "Payroll", 4).await;
    let threat = stored_threat(cx, t.id, "Eavesdropping").await;
    let v = stored_vuln(cx, t.id, "Weak TLS", &a).await;
    let r1 = link(cx, &a, &threat, Some(&v)).await;
    let r2 = link(cx, &a, &threat, None).await;
    let dup = isms_domain::risk::Risk::new(r1.exposure, r1.inherent, now());
    assert_err!(
        repo.add_exposure(&dup, &[]).await,
        RepoError::Conflict("exposure")
    );

    let input = repo.assessment_input(t.id, a.id).await.unwrap();
    assert_eq!(input.asset, a);
    assert_eq!(input.pairs.len(), 2);
    let due = repo
        .due_for_assessment(t.id, now(), None, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].pairs.len(), 2);

    let config = RiskMatrixConfig::default();
    let at = now();
    let result = assess_pairs(
        &input.asset,
        input
            .pairs
            .iter()
            .map(|p| (&p.threat, p.vulnerability.as_ref())),
        &config,
        at,
        Assessor::System,
    )
    .unwrap();
    assert_eq!(
        (result.risk_score, result.risk_level),
        (20, RiskLevel::Critical)
    );
    let mut risks: Vec<_> = input.pairs.iter().map(|p| p.risk.clone()).collect();
    for (r, c) in risks.iter_mut().zip(&result.contributions) {
        r.rescore(c.pair(), at);
    }
    let write = AssessmentWrite {
        result: result.clone(),
        risks,
        treatments: vec![],
    };
    repo.record_assessments(t.id, std::slice::from_ref(&write), &[])
        .await
        .unwrap();
    // Every risk row carries its new score and assessment time.
    let stored: Vec<_> = repo
        .all_risks(t.id, &RiskFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.risk)
        .collect();
    assert_eq!(stored, write.risks);
    let schedule = repo.asset_schedule(t.id, a.id).await.unwrap();
    assert_eq!(schedule.risk_level, Some(RiskLevel::Critical));
    assert_eq!(
        schedule.next_assessment_due,
        Some(result.next_assessment_due)
    );
    // No longer due until its next assessment date.
    assert!(
        repo.due_for_assessment(t.id, at, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let later = result.next_assessment_due;
    assert_eq!(
        repo.due_for_assessment(t.id, later, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // A second assessment: the history is newest first and immutable.
    let mut second = result.clone();
    second.id = isms_domain::risk::AssessmentId::new();
    let w2 = AssessmentWrite {
        result: second.clone(),
        risks: vec![],
        treatments: vec![],
    };
    repo.record_assessments(t.id, &[w2], &[]).await.unwrap();
    let history = repo
        .list_assessments(t.id, a.id, PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(history.items, vec![second]);
    let rest = repo
        .list_assessments(
            t.id,
            a.id,
            PageRequest::new(Some(5), history.next_after).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(rest.items, vec![result.clone()]);

    // A batch naming an asset deleted meanwhile writes nothing at all.
    let gone_asset = stored_asset(cx, t.id, "Retired", 2).await;
    repo.delete_asset(t.id, gone_asset.id, now(), &[])
        .await
        .unwrap();
    let mut third = result.clone();
    third.id = isms_domain::risk::AssessmentId::new();
    let mut orphan = result.clone();
    orphan.id = isms_domain::risk::AssessmentId::new();
    orphan.asset_id = gone_asset.id;
    let batch = [third, orphan].map(|result| AssessmentWrite {
        result,
        risks: vec![],
        treatments: vec![],
    });
    assert_err!(
        repo.record_assessments(t.id, &batch, &[]).await,
        RepoError::NotFound
    );
    let history = repo
        .list_assessments(t.id, a.id, PageRequest::first(5))
        .await
        .unwrap();
    assert_eq!(history.items.len(), 2);

    // Filtering assets on their assessed level.
    let crit = AssetFilter {
        level: Some(RiskLevel::Critical),
        ..AssetFilter::default()
    };
    let listed = repo
        .list_assets(t.id, &crit, Sort::default(), PageRequest::first(5))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);

    // Unlinking removes the risk once; the other stays.
    let gone = repo
        .remove_exposure(&r2.exposure, now(), &[])
        .await
        .unwrap();
    assert_eq!(gone, r2.id);
    assert_err!(
        repo.remove_exposure(&r2.exposure, now(), &[]).await,
        RepoError::NotFound
    );
    let register = repo.all_risks(t.id, &RiskFilter::default()).await.unwrap();
    assert_eq!(
        register.iter().map(|e| e.risk.id).collect::<Vec<_>>(),
        vec![r1.id]
    );
    // Relinking after the unlink is allowed.
    link(cx, &a, &threat, None).await;
}

pub async fn register_treatments_and_review_input(cx: &Ctx) {
    let (t, manager) = tenant_with_user(cx, "register", "manager@example.com").await;
    let other = stored_tenant(cx, "register-b").await;
    let repo = cx.risks();
    let a = stored_asset(cx, t.id, "Website", 4).await;
    let low = stored_asset(cx, t.id, "Brochure", 1).await;
    let threat = stored_threat(cx, t.id, "Defacement").await;
    let v = stored_vuln(cx, t.id, "Outdated CMS", &a).await;
    let crit = link(cx, &a, &threat, Some(&v)).await;
    let minor = link(cx, &low, &threat, None).await;
    assert_eq!(crit.inherent.level, RiskLevel::Critical);

    let entry = repo.get_risk(t.id, crit.id).await.unwrap();
    assert_eq!(entry.asset_name, "Website");
    assert_eq!(entry.threat_name, "Defacement");
    assert_eq!(entry.vulnerability_name.as_deref(), Some("Outdated CMS"));
    assert_eq!(entry.treatment, None);
    assert_err!(repo.get_risk(other.id, crit.id).await, RepoError::NotFound);

    let page = repo
        .list_risks(t.id, &RiskFilter::default(), PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let page2 = repo
        .list_risks(
            t.id,
            &RiskFilter::default(),
            PageRequest::new(Some(1), page.next_after).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        sorted(vec![page.items[0].risk.id, page2.items[0].risk.id]),
        sorted(vec![crit.id, minor.id])
    );

    let review = repo.risk_review_input(t.id, now()).await.unwrap();
    assert_eq!(review.assets.len(), 2);
    assert!(
        review
            .assets
            .iter()
            .all(|x| x.next_assessment_due.is_none())
    );
    assert_eq!(review.risks.len(), 1);
    assert!(!review.risks[0].treatment_approved);

    // Accepting: proposed, then approved (done at once) with the residual.
    let config = RiskMatrixConfig::default();
    let draft = TreatmentDraft {
        option: TreatmentOption::Accept,
        owner: manager.id,
        description: "Board accepts".into(),
        planned_controls: vec![],
        due_date: None,
        residual: None,
    };
    let mut treatment = Treatment::propose(&crit, draft, manager.id, &config, now()).unwrap();
    repo.save_treatment(&treatment, None, &[]).await.unwrap();
    let by_status = RiskFilter {
        status: Some(TreatmentStatus::Proposed),
        owner: Some(manager.id),
        ..RiskFilter::default()
    };
    let listed = repo.all_risks(t.id, &by_status).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].treatment.as_ref(), Some(&treatment));
    assert_eq!(
        repo.treatments_of(t.id, &[crit.id, minor.id])
            .await
            .unwrap(),
        vec![treatment.clone()]
    );
    assert!(
        repo.treatments_of(other.id, &[crit.id])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(repo.treatments_of(t.id, &[]).await.unwrap().is_empty());

    let admin = isms_domain::UserId::new();
    treatment
        .approve(
            &isms_domain::risk::Approver {
                user_id: admin,
                role: isms_domain::Role::Admin,
                step_up_verified: true,
            },
            Some("board minute 12"),
            now(),
        )
        .unwrap();
    let mut risk = crit.clone();
    risk.record_treatment(&treatment, now()).unwrap();
    repo.save_treatment(&treatment, Some(&risk), &[])
        .await
        .unwrap();
    let entry = repo.get_risk(t.id, crit.id).await.unwrap();
    assert_eq!(entry.risk.residual, risk.residual);
    assert_eq!(
        entry.treatment.map(|x| x.status),
        Some(TreatmentStatus::Done)
    );
    let review = repo.risk_review_input(t.id, now()).await.unwrap();
    assert!(review.risks[0].treatment_approved);

    let by_level = RiskFilter {
        level: Some(minor.inherent.level),
        asset: Some(low.id),
        ..RiskFilter::default()
    };
    let lows = repo.all_risks(t.id, &by_level).await.unwrap();
    assert_eq!(
        lows.iter().map(|e| e.risk.id).collect::<Vec<_>>(),
        vec![minor.id]
    );
    assert!(
        repo.all_risks(other.id, &RiskFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn the_catalogue_is_seeded_once_per_tenant(cx: &Ctx) {
    let t = stored_tenant(cx, "seeded").await;
    let repo = cx.risks();
    let at = now();
    let threats: Vec<Threat> = default_threat_catalogue()
        .iter()
        .map(|tpl| tpl.instantiate(t.id, at))
        .collect();
    assert!(!threats.is_empty());
    assert!(repo.seed_catalogue(t.id, &threats, &[]).await.unwrap());
    let again: Vec<Threat> = default_threat_catalogue()
        .iter()
        .map(|tpl| tpl.instantiate(t.id, at))
        .collect();
    assert!(!repo.seed_catalogue(t.id, &again, &[]).await.unwrap());
    let listed = repo
        .list_threats(
            t.id,
            &ThreatFilter::default(),
            Sort::default(),
            PageRequest::first(100),
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), threats.len().min(100));
}
