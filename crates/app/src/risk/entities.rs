//! The asset inventory, threat catalogue and vulnerabilities: create,
//! read, replace, soft-delete and list.

use isms_domain::events::{RequestMeta, SecurityEventKind as K};
use isms_domain::page::{Page, PageRequest};
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::risk::{
    Asset, AssetDraft, AssetFilter, AssetId, AssetSchedule, Sort, SortField, Threat, ThreatDraft,
    ThreatFilter, ThreatId, Vulnerability, VulnerabilityDraft, VulnerabilityFilter,
    VulnerabilityId,
};
use isms_domain::time::now;

use super::{RiskService, invalid};
use crate::AppError;

impl RiskService {
    pub async fn create_asset(
        &self,
        who: &Principal,
        draft: AssetDraft,
        meta: &RequestMeta,
    ) -> Result<Asset, AppError> {
        who.require(Permission::AssetsWrite)?;
        if let Some(owner) = draft.owner {
            self.require_owner(who.tenant_id, owner, "owner").await?;
        }
        let asset = Asset::create(who.tenant_id, draft, now()).map_err(invalid)?;
        let event = Self::event(
            K::AssetCreated,
            who,
            meta,
            "asset",
            asset.id,
            serde_json::json!({}),
        );
        let repo = self.repo();
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.create_asset(&asset, audit).await
            })
            .await?;
        Ok(asset)
    }

    pub async fn get_asset(
        &self,
        who: &Principal,
        id: AssetId,
    ) -> Result<(Asset, AssetSchedule), AppError> {
        who.require(Permission::AssetsRead)?;
        let asset = self.repo().get_asset(who.tenant_id, id).await?;
        let schedule = self.repo().asset_schedule(who.tenant_id, id).await?;
        Ok((asset, schedule))
    }

    pub async fn replace_asset(
        &self,
        who: &Principal,
        id: AssetId,
        draft: AssetDraft,
        meta: &RequestMeta,
    ) -> Result<Asset, AppError> {
        who.require(Permission::AssetsWrite)?;
        let mut asset = self.repo().get_asset(who.tenant_id, id).await?;
        // An owner the asset already has stays valid even once the user
        // left; a new one must be a current user.
        if let Some(owner) = draft.owner.filter(|o| asset.owner != Some(*o)) {
            self.require_owner(who.tenant_id, owner, "owner").await?;
        }
        asset.apply(draft, now()).map_err(invalid)?;
        let event = Self::event(
            K::AssetUpdated,
            who,
            meta,
            "asset",
            id,
            serde_json::json!({}),
        );
        let repo = self.repo();
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.update_asset(&asset, audit).await
            })
            .await?;
        Ok(asset)
    }

    /// Soft-deletes the asset and unlinks its exposures.
    pub async fn delete_asset(
        &self,
        who: &Principal,
        id: AssetId,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        who.require(Permission::AssetsWrite)?;
        let event = Self::event(
            K::AssetDeleted,
            who,
            meta,
            "asset",
            id,
            serde_json::json!({}),
        );
        let repo = self.repo();
        let tenant = who.tenant_id;
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.delete_asset(tenant, id, now(), audit).await
            })
            .await
    }

    pub async fn list_assets(
        &self,
        who: &Principal,
        filter: &AssetFilter,
        sort: Sort<SortField>,
        page: PageRequest,
    ) -> Result<Page<Asset>, AppError> {
        who.require(Permission::AssetsRead)?;
        Ok(self
            .repo()
            .list_assets(who.tenant_id, filter, sort, page)
            .await?)
    }

    pub async fn create_threat(
        &self,
        who: &Principal,
        draft: ThreatDraft,
        meta: &RequestMeta,
    ) -> Result<Threat, AppError> {
        who.require(Permission::AssetsWrite)?;
        self.ensure_seeded(who.tenant_id).await?;
        let threat = Threat::create(who.tenant_id, draft, now()).map_err(invalid)?;
        let event = Self::event(
            K::ThreatCreated,
            who,
            meta,
            "threat",
            threat.id,
            serde_json::json!({}),
        );
        let repo = self.repo();
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.create_threat(&threat, audit).await
            })
            .await?;
        Ok(threat)
    }

    pub async fn get_threat(&self, who: &Principal, id: ThreatId) -> Result<Threat, AppError> {
        who.require(Permission::AssetsRead)?;
        self.ensure_seeded(who.tenant_id).await?;
        Ok(self.repo().get_threat(who.tenant_id, id).await?)
    }

    pub async fn replace_threat(
        &self,
        who: &Principal,
        id: ThreatId,
        draft: ThreatDraft,
        meta: &RequestMeta,
    ) -> Result<Threat, AppError> {
        who.require(Permission::AssetsWrite)?;
        let mut threat = self.repo().get_threat(who.tenant_id, id).await?;
        threat.apply(draft, now()).map_err(invalid)?;
        let event = Self::event(
            K::ThreatUpdated,
            who,
            meta,
            "threat",
            id,
            serde_json::json!({}),
        );
        let repo = self.repo();
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.update_threat(&threat, audit).await
            })
            .await?;
        Ok(threat)
    }

    pub async fn delete_threat(
        &self,
        who: &Principal,
        id: ThreatId,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        who.require(Permission::AssetsWrite)?;
        let event = Self::event(
            K::ThreatDeleted,
            who,
            meta,
            "threat",
            id,
            serde_json::json!({}),
        );
        let repo = self.repo();
        let tenant = who.tenant_id;
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.delete_threat(tenant, id, now(), audit).await
            })
            .await
    }

    pub async fn list_threats(
        &self,
        who: &Principal,
        filter: &ThreatFilter,
        sort: Sort<SortField>,
        page: PageRequest,
    ) -> Result<Page<Threat>, AppError> {
        who.require(Permission::AssetsRead)?;
        self.ensure_seeded(who.tenant_id).await?;
        Ok(self
            .repo()
            .list_threats(who.tenant_id, filter, sort, page)
            .await?)
    }

    /// Every affected asset must be a live asset of the caller's tenant.
    async fn check_affected(&self, who: &Principal, ids: &[AssetId]) -> Result<(), AppError> {
        for id in ids {
            match self.repo().get_asset(who.tenant_id, *id).await {
                Ok(_) => {}
                Err(isms_domain::ports::RepoError::NotFound) => {
                    return Err(AppError::validation(
                        "affected_assets",
                        "unknown_asset",
                        format!("no asset {id}"),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub async fn create_vulnerability(
        &self,
        who: &Principal,
        draft: VulnerabilityDraft,
        meta: &RequestMeta,
    ) -> Result<Vulnerability, AppError> {
        who.require(Permission::AssetsWrite)?;
        let v = Vulnerability::create(who.tenant_id, draft, now()).map_err(invalid)?;
        self.check_affected(who, &v.affected_assets).await?;
        let event = Self::event(
            K::VulnerabilityCreated,
            who,
            meta,
            "vulnerability",
            v.id,
            serde_json::json!({ "severity": v.severity.as_str() }),
        );
        let repo = self.repo();
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.create_vulnerability(&v, audit).await
            })
            .await?;
        Ok(v)
    }

    pub async fn get_vulnerability(
        &self,
        who: &Principal,
        id: VulnerabilityId,
    ) -> Result<Vulnerability, AppError> {
        who.require(Permission::AssetsRead)?;
        Ok(self.repo().get_vulnerability(who.tenant_id, id).await?)
    }

    pub async fn replace_vulnerability(
        &self,
        who: &Principal,
        id: VulnerabilityId,
        draft: VulnerabilityDraft,
        meta: &RequestMeta,
    ) -> Result<Vulnerability, AppError> {
        who.require(Permission::AssetsWrite)?;
        let mut v = self.repo().get_vulnerability(who.tenant_id, id).await?;
        v.apply(draft, now()).map_err(invalid)?;
        self.check_affected(who, &v.affected_assets).await?;
        let event = Self::event(
            K::VulnerabilityUpdated,
            who,
            meta,
            "vulnerability",
            id,
            serde_json::json!({ "status": v.status.as_str() }),
        );
        let repo = self.repo();
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.update_vulnerability(&v, audit).await
            })
            .await?;
        Ok(v)
    }

    pub async fn delete_vulnerability(
        &self,
        who: &Principal,
        id: VulnerabilityId,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        who.require(Permission::AssetsWrite)?;
        let event = Self::event(
            K::VulnerabilityDeleted,
            who,
            meta,
            "vulnerability",
            id,
            serde_json::json!({}),
        );
        let repo = self.repo();
        let tenant = who.tenant_id;
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.delete_vulnerability(tenant, id, now(), audit).await
            })
            .await
    }

    pub async fn list_vulnerabilities(
        &self,
        who: &Principal,
        filter: &VulnerabilityFilter,
        sort: Sort<SortField>,
        page: PageRequest,
    ) -> Result<Page<Vulnerability>, AppError> {
        who.require(Permission::AssetsRead)?;
        Ok(self
            .repo()
            .list_vulnerabilities(who.tenant_id, filter, sort, page)
            .await?)
    }
}
