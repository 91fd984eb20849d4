//! Several writes of one transaction sent as one statement: one round trip
//! to the database instead of one per write.
//!
//! A round trip is what a short write costs: on SQLite each statement is a
//! message to the connection's worker thread and back (two thread
//! wake-ups), on PostgreSQL a network exchange. A login made twelve of
//! them; most were writes whose results nothing reads.
//!
//! SQLite runs `;`-separated statements of one query in order, binding
//! each statement's `?` parameters after the previous one's. PostgreSQL
//! refuses several statements in one prepared query but runs
//! data-modifying `WITH` clauses: `WITH w0 AS (INSERT ...), w1 AS (...)
//! UPDATE ...`. Its sub-statements see one snapshot, so a chain only ever
//! holds writes to different rows, none reading another's (a row-level
//! security check reading another table misses a row written in the same
//! chain).
//!
//! SQLite's login goes further: its whole transaction, BEGIN and COMMIT
//! included, in two scripts (`sqlite_unit.rs`).

use sqlx::{Database, QueryBuilder};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chain {
    /// `first; second; last` (SQLite).
    Semicolons,
    /// `WITH w0 AS (first), w1 AS (second) last` (PostgreSQL).
    WithClauses,
}

impl Chain {
    /// Statement `i` of a chain of `n`, written by `statement`.
    pub(crate) fn push<DB: Database>(
        self,
        q: &mut QueryBuilder<DB>,
        i: usize,
        n: usize,
        statement: impl FnOnce(&mut QueryBuilder<DB>),
    ) {
        self.begin(q, i, n);
        statement(q);
        self.end(q, i, n);
    }

    fn begin<DB: Database>(self, q: &mut QueryBuilder<DB>, i: usize, n: usize) {
        match self {
            Chain::Semicolons if i > 0 => {
                q.push("; ");
            }
            Chain::Semicolons => {}
            Chain::WithClauses if i + 1 < n => {
                q.push(if i == 0 { "WITH w" } else { ", w" });
                q.push(i.to_string());
                q.push(" AS (");
            }
            Chain::WithClauses => {}
        }
    }

    fn end<DB: Database>(self, q: &mut QueryBuilder<DB>, i: usize, n: usize) {
        if self == Chain::WithClauses && i + 1 < n {
            q.push(")");
        }
        if self == Chain::WithClauses && i + 2 == n {
            q.push(" ");
        }
    }

    /// The rows the chain's last statement changed, from the count the
    /// whole chain reported, when each earlier statement changes exactly
    /// one row (an `INSERT ... VALUES` of one row either does or fails).
    /// SQLite reports the sum over the statements, PostgreSQL only the
    /// main (last) statement's.
    pub(crate) fn last_rows(self, reported: u64, earlier: u64) -> u64 {
        match self {
            Chain::Semicolons => reported.saturating_sub(earlier),
            Chain::WithClauses => reported,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(c: Chain, n: usize) -> String {
        let mut q = QueryBuilder::<sqlx::Sqlite>::new("");
        for i in 0..n {
            c.push(&mut q, i, n, |q| {
                q.push(format!("S{i}"));
            });
        }
        q.sql().as_str().to_owned()
    }

    #[test]
    fn semicolons_separate_the_statements() {
        assert_eq!(chain(Chain::Semicolons, 1), "S0");
        assert_eq!(chain(Chain::Semicolons, 3), "S0; S1; S2");
    }

    #[test]
    fn with_clauses_wrap_all_but_the_last() {
        assert_eq!(chain(Chain::WithClauses, 1), "S0");
        assert_eq!(chain(Chain::WithClauses, 2), "WITH w0 AS (S0) S1");
        assert_eq!(
            chain(Chain::WithClauses, 3),
            "WITH w0 AS (S0), w1 AS (S1) S2"
        );
    }

    #[test]
    fn the_last_statements_rows_are_found_in_either_report() {
        assert_eq!(Chain::Semicolons.last_rows(3, 2), 1);
        assert_eq!(Chain::Semicolons.last_rows(2, 2), 0);
        assert_eq!(Chain::WithClauses.last_rows(1, 2), 1);
        assert_eq!(Chain::WithClauses.last_rows(0, 2), 0);
    }
}
