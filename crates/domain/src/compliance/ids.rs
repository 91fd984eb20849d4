//! Identifiers of compliance records: UUIDv7 newtypes like `crate::ids`,
//! so rows stay time-ordered for keyset pagination.

use crate::ids::id_type;

id_type!(
    /// Identifies a consent (or other lawful-basis) record.
    ConsentId
);
id_type!(
    /// Identifies a data-subject request (access, export, erasure, rectification).
    DsrId
);
id_type!(
    /// Identifies a generated compliance report.
    ReportId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_as_plain_uuid_strings() {
        let id = DsrId::new();
        let json = serde_json::to_string(&id).unwrap_or_default();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(id.to_string().parse::<DsrId>().ok(), Some(id));
        assert!(format!("{:?}", ReportId::from_uuid(uuid::Uuid::nil())).starts_with("ReportId("));
    }
}
