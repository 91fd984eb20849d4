//! Information classification (Annex A 5.12): the one type assets and
//! encryption share, defined with the key rings it selects.

pub use crate::crypto::classification::{Classification, UnknownClassification};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_order_is_sensitivity() {
        for c in Classification::ALL {
            assert_eq!(Classification::parse(c.as_str()), Ok(c));
        }
        assert!(Classification::parse("secret").is_err());
        assert!(Classification::parse("Public").is_err());
        assert!(Classification::Restricted > Classification::Confidential);
        assert!(Classification::Internal > Classification::Public);
    }
}
