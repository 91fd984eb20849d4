//! Timestamps: UTC, truncated to microseconds so values round-trip equal on
//! SQLite (text) and PostgreSQL (`timestamptz`, microsecond precision).

use chrono::{DateTime, SubsecRound, Utc};

pub type Timestamp = DateTime<Utc>;

/// Truncates to whole microseconds.
pub fn truncate(ts: Timestamp) -> Timestamp {
    ts.trunc_subsecs(6)
}

/// The current time, truncated.
pub fn now() -> Timestamp {
    truncate(Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    #[test]
    fn truncates_to_micros() {
        let t = now();
        assert_eq!(t.nanosecond() % 1_000, 0);
    }
}
