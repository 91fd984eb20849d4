//! Row types of the risk register and their conversion to domain values.
//! Set-valued fields travel as JSON text; enums as their `as_str` names.

use chrono::{DateTime, Utc};
use isms_domain::crypto::{Classification, FieldCrypto, FieldPlace};
use isms_domain::ports::RepoError;
use isms_domain::risk::{
    AssessmentResult, Asset, AssetType, BusinessValue, PairScore, Rating, RegisterEntry, Risk,
    RiskLevel, Threat, Treatment, Vulnerability,
};
use uuid::Uuid;

pub(crate) fn corrupt(what: &str) -> RepoError {
    RepoError::Internal(format!("stored {what} is invalid"))
}

pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<String, RepoError> {
    serde_json::to_string(value).map_err(|e| RepoError::Internal(format!("encode: {e}")))
}

/// A stored treatment body.
pub(crate) fn treatment_of(body: &str) -> Result<Treatment, RepoError> {
    from_json(body, "treatment")
}

fn from_json<T: serde::de::DeserializeOwned>(raw: &str, what: &str) -> Result<T, RepoError> {
    serde_json::from_str(raw).map_err(|_| corrupt(what))
}

fn small(v: i64, what: &str) -> Result<u8, RepoError> {
    u8::try_from(v).map_err(|_| corrupt(what))
}

fn score_of(v: i64) -> Result<u16, RepoError> {
    u16::try_from(v).map_err(|_| corrupt("risk score"))
}

/// The key an asset's description is sealed under: its classification,
/// `internal` while unclassified.
pub(crate) fn description_class(a: &Asset) -> Classification {
    a.classification.unwrap_or(Classification::Internal)
}

pub(crate) fn description_place(row: &str) -> FieldPlace<'_> {
    FieldPlace {
        table: "assets",
        column: "description",
        row_id: row,
    }
}

pub(crate) async fn seal_description(
    crypto: &dyn FieldCrypto,
    a: &Asset,
) -> Result<(String, i64), RepoError> {
    let row = a.id.to_string();
    let (enc, version) = crypto
        .seal_field(
            a.tenant_id,
            description_class(a),
            &description_place(&row),
            a.description.as_bytes(),
        )
        .await
        .map_err(crate::pii::crypto_error)?;
    Ok((enc, i64::from(version)))
}

macro_rules! asset_columns {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "tenant_id, ",
            $p,
            "name, ",
            $p,
            "description_enc, ",
            $p,
            "asset_type, ",
            $p,
            "owner_id, ",
            $p,
            "custodian, ",
            $p,
            "classification, ",
            $p,
            "confidentiality, ",
            $p,
            "integrity, ",
            $p,
            "availability, ",
            $p,
            "business_value, ",
            $p,
            "location, ",
            $p,
            "tags, ",
            $p,
            "status, ",
            $p,
            "last_reviewed_at, ",
            $p,
            "next_review_at, ",
            $p,
            "created_at, ",
            $p,
            "updated_at, ",
            $p,
            "deleted_at"
        )
    };
}
pub(crate) use asset_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct AssetRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    description_enc: String,
    asset_type: String,
    owner_id: Option<Uuid>,
    custodian: Option<String>,
    classification: Option<String>,
    confidentiality: i64,
    integrity: i64,
    availability: i64,
    business_value: i64,
    location: Option<String>,
    tags: String,
    status: String,
    last_reviewed_at: Option<DateTime<Utc>>,
    next_review_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

fn rating(field: &'static str, v: i64) -> Result<Rating, RepoError> {
    Rating::parse(field, small(v, field)?).map_err(|_| corrupt(field))
}

impl AssetRow {
    pub(crate) async fn open(self, crypto: &dyn FieldCrypto) -> Result<Asset, RepoError> {
        let tenant = isms_domain::TenantId::from(self.tenant_id);
        let row = self.id.to_string();
        let plain = crypto
            .open_field(tenant, &description_place(&row), &self.description_enc)
            .await
            .map_err(crate::pii::crypto_error)?;
        let description =
            String::from_utf8(plain.to_vec()).map_err(|_| corrupt("asset description"))?;
        Ok(Asset {
            id: self.id.into(),
            tenant_id: tenant,
            name: self.name,
            description,
            asset_type: AssetType::parse(&self.asset_type).map_err(|_| corrupt("asset type"))?,
            owner: self.owner_id.map(Into::into),
            custodian: self.custodian,
            classification: self
                .classification
                .map(|c| Classification::parse(&c).map_err(|_| corrupt("classification")))
                .transpose()?,
            confidentiality: rating("confidentiality", self.confidentiality)?,
            integrity: rating("integrity", self.integrity)?,
            availability: rating("availability", self.availability)?,
            business_value: BusinessValue::parse(
                "business_value",
                small(self.business_value, "business value")?,
            )
            .map_err(|_| corrupt("business value"))?,
            location: self.location,
            tags: from_json(&self.tags, "tags")?,
            status: self.status.parse().map_err(|_| corrupt("asset status"))?,
            last_reviewed_at: self.last_reviewed_at,
            next_review_at: self.next_review_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted_at: self.deleted_at,
        })
    }
}

macro_rules! threat_columns {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "tenant_id, ",
            $p,
            "name, ",
            $p,
            "category, ",
            $p,
            "source, ",
            $p,
            "description, ",
            $p,
            "targets, ",
            $p,
            "base_likelihood, ",
            $p,
            "created_at, ",
            $p,
            "updated_at, ",
            $p,
            "deleted_at"
        )
    };
}
pub(crate) use threat_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct ThreatRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    category: String,
    source: Option<String>,
    description: String,
    targets: String,
    base_likelihood: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

impl TryFrom<ThreatRow> for Threat {
    type Error = RepoError;
    fn try_from(r: ThreatRow) -> Result<Self, RepoError> {
        Ok(Threat {
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            name: r.name,
            category: r.category.parse().map_err(|_| corrupt("threat category"))?,
            source: r.source,
            description: r.description,
            targets: from_json(&r.targets, "threat targets")?,
            base_likelihood: r
                .base_likelihood
                .parse()
                .map_err(|_| corrupt("likelihood"))?,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
    }
}

macro_rules! vulnerability_columns {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "tenant_id, ",
            $p,
            "name, ",
            $p,
            "description, ",
            $p,
            "severity, ",
            $p,
            "cve, ",
            $p,
            "cwe, ",
            $p,
            "affected_assets, ",
            $p,
            "status, ",
            $p,
            "discovered_at, ",
            $p,
            "remediated_at, ",
            $p,
            "created_at, ",
            $p,
            "updated_at, ",
            $p,
            "deleted_at"
        )
    };
}
pub(crate) use vulnerability_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct VulnerabilityRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    description: String,
    severity: String,
    cve: Option<String>,
    cwe: Option<String>,
    affected_assets: String,
    status: String,
    discovered_at: DateTime<Utc>,
    remediated_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

impl TryFrom<VulnerabilityRow> for Vulnerability {
    type Error = RepoError;
    fn try_from(r: VulnerabilityRow) -> Result<Self, RepoError> {
        use isms_domain::risk::{Cve, Cwe};
        Ok(Vulnerability {
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            name: r.name,
            description: r.description,
            severity: r.severity.parse().map_err(|_| corrupt("severity"))?,
            cve: r
                .cve
                .map(|c| Cve::parse(&c).map_err(|_| corrupt("cve")))
                .transpose()?,
            cwe: r
                .cwe
                .map(|c| Cwe::parse(&c).map_err(|_| corrupt("cwe")))
                .transpose()?,
            affected_assets: from_json(&r.affected_assets, "affected assets")?,
            status: r
                .status
                .parse()
                .map_err(|_| corrupt("vulnerability status"))?,
            discovered_at: r.discovered_at,
            remediated_at: r.remediated_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
    }
}

macro_rules! risk_columns {
    () => {
        "r.id AS r_id, r.tenant_id AS r_tenant_id, r.asset_id AS r_asset_id, r.threat_id AS r_threat_id, \
         r.vulnerability_id AS r_vulnerability_id, r.inherent_impact, r.inherent_likelihood, \
         r.inherent_score, r.inherent_level, r.residual_impact, r.residual_likelihood, \
         r.residual_score, r.residual_level, r.assessed_at AS r_assessed_at, \
         r.created_at AS r_created_at, r.updated_at AS r_updated_at"
    };
}
pub(crate) use risk_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct RiskRow {
    r_id: Uuid,
    r_tenant_id: Uuid,
    r_asset_id: Uuid,
    r_threat_id: Uuid,
    r_vulnerability_id: Option<Uuid>,
    inherent_impact: i64,
    inherent_likelihood: i64,
    inherent_score: i64,
    inherent_level: String,
    residual_impact: Option<i64>,
    residual_likelihood: Option<i64>,
    residual_score: Option<i64>,
    residual_level: Option<String>,
    r_assessed_at: DateTime<Utc>,
    r_created_at: DateTime<Utc>,
    r_updated_at: DateTime<Utc>,
}

fn level(raw: &str) -> Result<RiskLevel, RepoError> {
    RiskLevel::parse(raw).map_err(|_| corrupt("risk level"))
}

impl TryFrom<RiskRow> for Risk {
    type Error = RepoError;
    fn try_from(r: RiskRow) -> Result<Self, RepoError> {
        let residual = match (
            r.residual_impact,
            r.residual_likelihood,
            r.residual_score,
            r.residual_level,
        ) {
            (Some(i), Some(l), Some(s), Some(lv)) => Some(PairScore {
                impact: small(i, "residual impact")?,
                likelihood: small(l, "residual likelihood")?,
                score: score_of(s)?,
                level: level(&lv)?,
            }),
            (None, None, None, None) => None,
            _ => return Err(corrupt("residual score")),
        };
        Ok(Risk {
            id: r.r_id.into(),
            exposure: isms_domain::risk::Exposure {
                tenant_id: r.r_tenant_id.into(),
                asset_id: r.r_asset_id.into(),
                threat_id: r.r_threat_id.into(),
                vulnerability_id: r.r_vulnerability_id.map(Into::into),
            },
            inherent: PairScore {
                impact: small(r.inherent_impact, "impact")?,
                likelihood: small(r.inherent_likelihood, "likelihood")?,
                score: score_of(r.inherent_score)?,
                level: level(&r.inherent_level)?,
            },
            residual,
            assessed_at: r.r_assessed_at,
            created_at: r.r_created_at,
            updated_at: r.r_updated_at,
        })
    }
}

/// The residual columns of a risk, all set or all NULL.
pub(crate) fn residual_columns(r: &Risk) -> (Option<i64>, Option<i64>, Option<i64>, Option<&str>) {
    match r.residual {
        Some(s) => (
            Some(i64::from(s.impact)),
            Some(i64::from(s.likelihood)),
            Some(i64::from(s.score)),
            Some(s.level.as_str()),
        ),
        None => (None, None, None, None),
    }
}

/// A register line: the risk, the names around it and its treatment.
#[derive(sqlx::FromRow)]
pub(crate) struct RegisterRow {
    #[sqlx(flatten)]
    risk: RiskRow,
    asset_name: String,
    asset_owner: Option<Uuid>,
    threat_name: String,
    vulnerability_name: Option<String>,
    treatment_body: Option<String>,
}

macro_rules! register_select {
    () => {
        concat!(
            "SELECT ",
            crate::risk_rows::risk_columns!(),
            ", a.name AS asset_name, a.owner_id AS asset_owner, t.name AS threat_name, \
             v.name AS vulnerability_name, tr.body AS treatment_body \
             FROM risks r JOIN assets a ON a.id = r.asset_id JOIN threats t ON t.id = r.threat_id \
             LEFT JOIN vulnerabilities v ON v.id = r.vulnerability_id \
             LEFT JOIN risk_treatments tr ON tr.risk_id = r.id \
             WHERE r.tenant_id = $1 AND r.deleted_at IS NULL AND a.deleted_at IS NULL "
        )
    };
}
pub(crate) use register_select;

impl TryFrom<RegisterRow> for RegisterEntry {
    type Error = RepoError;
    fn try_from(r: RegisterRow) -> Result<Self, RepoError> {
        Ok(RegisterEntry {
            risk: r.risk.try_into()?,
            asset_name: r.asset_name,
            asset_owner: r.asset_owner.map(Into::into),
            threat_name: r.threat_name,
            vulnerability_name: r.vulnerability_name,
            treatment: r
                .treatment_body
                .map(|b| from_json::<Treatment>(&b, "treatment"))
                .transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AssessmentRow {
    id: Uuid,
    tenant_id: Uuid,
    asset_id: Uuid,
    risk_score: i64,
    risk_level: String,
    required_mitigations: String,
    next_assessment_due: DateTime<Utc>,
    contributions: String,
    compliance_status: String,
    assessor: String,
    assessed_at: DateTime<Utc>,
}

impl TryFrom<AssessmentRow> for AssessmentResult {
    type Error = RepoError;
    fn try_from(r: AssessmentRow) -> Result<Self, RepoError> {
        Ok(AssessmentResult {
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            asset_id: r.asset_id.into(),
            risk_score: score_of(r.risk_score)?,
            risk_level: level(&r.risk_level)?,
            required_mitigations: from_json(&r.required_mitigations, "mitigations")?,
            next_assessment_due: r.next_assessment_due,
            contributions: from_json(&r.contributions, "contributions")?,
            compliance_status: from_json(&r.compliance_status, "compliance status")?,
            assessed_at: r.assessed_at,
            assessor: from_json(&r.assessor, "assessor")?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ScheduleRow {
    pub(crate) risk_score: Option<i64>,
    pub(crate) risk_level: Option<String>,
    pub(crate) last_assessed_at: Option<DateTime<Utc>>,
    pub(crate) next_assessment_due: Option<DateTime<Utc>>,
}

impl TryFrom<ScheduleRow> for isms_domain::risk::AssetSchedule {
    type Error = RepoError;
    fn try_from(r: ScheduleRow) -> Result<Self, RepoError> {
        Ok(Self {
            risk_score: r.risk_score.map(score_of).transpose()?,
            risk_level: r.risk_level.as_deref().map(level).transpose()?,
            last_assessed_at: r.last_assessed_at,
            next_assessment_due: r.next_assessment_due,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReviewRiskRow {
    pub(crate) id: Uuid,
    pub(crate) asset_id: Uuid,
    pub(crate) inherent_level: String,
    pub(crate) treatment_status: Option<String>,
}

impl TryFrom<ReviewRiskRow> for isms_domain::compliance::rules::RiskTreatmentState {
    type Error = RepoError;
    fn try_from(r: ReviewRiskRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: r.id.into(),
            asset_id: r.asset_id.into(),
            level: level(&r.inherent_level)?,
            treatment_approved: matches!(
                r.treatment_status.as_deref(),
                Some("approved" | "in_progress" | "done")
            ),
        })
    }
}
