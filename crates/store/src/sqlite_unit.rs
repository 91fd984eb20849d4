//! A SQLite transaction sent as a few scripts instead of a statement at a
//! time.
//!
//! Every statement sqlx runs on SQLite is a message to the connection's
//! worker thread and a reply: two thread wake-ups, which under a login
//! storm preempt the hashing threads and cost more than the statement
//! itself. A `Script` is several `;`-separated statements in one query
//! (SQLite prepares them one after another and binds each one's `?`
//! parameters after the previous one's); its results come back split per
//! statement. A `Unit` runs a transaction as such scripts on one stashed
//! connection (`sqlite_stash.rs`): the first opens it (`BEGIN IMMEDIATE`), the last commits.
//!
//! A unit that ends any other way (an error, a cancelled request) must not
//! hand its connection back with the transaction still open: the next
//! user of the connection would run inside it. So a unit rolls back on a
//! failed script, and one still open when dropped closes its connection,
//! which ends the transaction with it.

use futures::TryStreamExt as _;
use isms_domain::ports::RepoError;
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{Either, QueryBuilder};

use crate::sqlite::SqliteStore;
use crate::sqlite_stash::Held;

/// Statements sent as one query.
pub(crate) struct Script {
    q: QueryBuilder<Sqlite>,
    n: usize,
}

impl Script {
    pub(crate) fn new() -> Self {
        Self {
            q: QueryBuilder::new(""),
            n: 0,
        }
    }

    /// A script that opens a transaction holding the write lock from its
    /// first statement (see `SqliteStore::tx`).
    pub(crate) fn begin() -> Self {
        let mut s = Self::new();
        s.push(|q| {
            q.push("BEGIN IMMEDIATE");
        });
        s
    }

    /// Appends the statement `statement` writes; returns its index in the
    /// script's `Done`. Parameters must be `push_bind`s: a numbered `$n`
    /// would name the script's `n`th parameter, not the statement's.
    pub(crate) fn push(&mut self, statement: impl FnOnce(&mut QueryBuilder<Sqlite>)) -> usize {
        if self.n > 0 {
            self.q.push("; ");
        }
        statement(&mut self.q);
        self.n += 1;
        self.n - 1
    }

    #[cfg(test)]
    fn sql(&self) -> String {
        self.q.sql().as_str().to_owned()
    }
}

/// A script's results, per statement: the rows it returned and the rows
/// it changed (for an INSERT, UPDATE or DELETE).
#[derive(Debug, Default)]
pub(crate) struct Done {
    changes: Vec<u64>,
    rows: Vec<Vec<SqliteRow>>,
}

impl Done {
    pub(crate) fn changes(&self, statement: usize) -> u64 {
        self.changes.get(statement).copied().unwrap_or(0)
    }

    pub(crate) fn rows(&self, statement: usize) -> &[SqliteRow] {
        self.rows.get(statement).map_or(&[], Vec::as_slice)
    }
}

/// A transaction on one connection (see the module comment).
pub(crate) struct Unit {
    conn: Held,
    /// Whether the connection may be inside the unit's transaction.
    open: bool,
}

impl Unit {
    pub(crate) async fn acquire(store: &SqliteStore) -> Result<Self, RepoError> {
        let conn = store.stash.get().await?;
        Ok(Self { conn, open: false })
    }

    /// Runs `script` inside the unit's transaction (the first script opens
    /// it: `Script::begin`). On an error the transaction is rolled back.
    pub(crate) async fn run(&mut self, script: Script) -> Result<Done, RepoError> {
        self.open = true;
        let out = execute(&mut self.conn, script).await;
        if out.is_err() {
            self.rollback().await;
        }
        out
    }

    /// Runs `script` and commits.
    pub(crate) async fn commit(mut self, mut script: Script) -> Result<Done, RepoError> {
        script.push(|q| {
            q.push("COMMIT");
        });
        let done = self.run(script).await?;
        self.open = false;
        Ok(done)
    }

    /// Ends the transaction without its changes. Should the ROLLBACK fail
    /// the unit stays open, and its connection is closed when it drops.
    pub(crate) async fn rollback(&mut self) {
        if sqlx::Executor::execute(&mut *self.conn, "ROLLBACK")
            .await
            .is_ok()
        {
            self.open = false;
        }
    }
}

impl Drop for Unit {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
    }
}

async fn execute(conn: &mut sqlx::SqliteConnection, mut script: Script) -> Result<Done, RepoError> {
    let n = script.n;
    let mut done = Done {
        changes: Vec::with_capacity(n),
        rows: std::iter::repeat_with(Vec::new).take(n).collect(),
    };
    let mut results = sqlx::Executor::fetch_many(conn, script.q.build());
    while let Some(step) = results.try_next().await.map_err(crate::error::map)? {
        match step {
            // A statement's rows come before its summary.
            Either::Right(row) => {
                if let Some(rows) = done.rows.get_mut(done.changes.len()) {
                    rows.push(row);
                }
            }
            Either::Left(summary) => done.changes.push(summary.rows_affected()),
        }
    }
    if done.changes.len() != n {
        return Err(RepoError::Internal(format!(
            "script of {n} statements reported {}",
            done.changes.len()
        )));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_numbered_in_order_after_the_begin() {
        let mut s = Script::begin();
        let a = s.push(|q| {
            q.push("SELECT ").push_bind(1_i64);
        });
        let b = s.push(|q| {
            q.push("SELECT 2");
        });
        assert_eq!((a, b), (1, 2));
        assert_eq!(s.sql(), "BEGIN IMMEDIATE; SELECT ?; SELECT 2");
    }

    #[test]
    fn a_fresh_script_starts_without_a_separator() {
        let mut s = Script::new();
        assert_eq!(
            s.push(|q| {
                q.push("COMMIT");
            }),
            0
        );
        assert_eq!(s.sql(), "COMMIT");
    }
}
