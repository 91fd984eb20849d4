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
//! which ends the transaction with it. A `BEGIN` that failed (another
//! writer held the lock past the busy timeout) opened nothing: the
//! connection goes on to its next use.

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
    /// Whether its first statement opens the transaction.
    opens: bool,
}

impl Script {
    pub(crate) fn new() -> Self {
        Self {
            q: QueryBuilder::new(""),
            n: 0,
            opens: false,
        }
    }

    /// A script that opens a transaction holding the write lock from its
    /// first statement (see `SqliteStore::tx`).
    pub(crate) fn begin() -> Self {
        let mut s = Self::new();
        s.push(|q| {
            q.push("BEGIN IMMEDIATE");
        });
        s.opens = true;
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
        let opens = script.opens;
        match execute(&mut self.conn, script).await {
            Ok(done) => Ok(done),
            // Its BEGIN failed: no transaction to end.
            Err((e, Ran::Nothing)) if opens => {
                self.open = false;
                Err(e)
            }
            Err((e, _)) => {
                self.rollback().await;
                Err(e)
            }
        }
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

/// How much of a failed script ran.
enum Ran {
    Nothing,
    /// Some statements, or an unknown part of it.
    Some,
}

async fn execute(
    conn: &mut sqlx::SqliteConnection,
    mut script: Script,
) -> Result<Done, (RepoError, Ran)> {
    let n = script.n;
    let mut done = Done {
        changes: Vec::with_capacity(n),
        rows: std::iter::repeat_with(Vec::new).take(n).collect(),
    };
    let mut results = sqlx::Executor::fetch_many(conn, script.q.build());
    loop {
        let step = match results.try_next().await {
            Ok(Some(step)) => step,
            Ok(None) => break,
            Err(e) => {
                let ran = if done.changes.is_empty() {
                    Ran::Nothing
                } else {
                    Ran::Some
                };
                return Err((crate::error::map(e), ran));
            }
        };
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
        let reported = done.changes.len();
        let e = RepoError::Internal(format!("script of {n} statements reported {reported}"));
        return Err((e, Ran::Some));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DatabaseUrl, StoreOptions};
    use std::time::Duration;

    async fn store(dir: &std::path::Path) -> SqliteStore {
        let url = format!("sqlite://{}", dir.join("unit.db").display());
        let mut opts = StoreOptions::new(DatabaseUrl::parse(&url).unwrap());
        opts.max_connections = 2;
        opts.busy_timeout = Duration::from_millis(50);
        SqliteStore::connect(&opts).await.unwrap()
    }

    async fn marked(held: &mut Held) -> bool {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM temp.mark")
            .fetch_one(&mut **held)
            .await
            .is_ok()
    }

    /// A script that opens a transaction and runs `statements`.
    fn opening(statements: &[&'static str]) -> Script {
        let mut script = Script::begin();
        for st in statements {
            script.push(|q| {
                q.push(*st);
            });
        }
        script
    }

    async fn has_table(held: &mut Held, name: &str) -> bool {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = ?")
            .bind(name)
            .fetch_one(&mut **held)
            .await
            .unwrap();
        n > 0
    }

    /// The stash holds one connection (half of two); a temporary table
    /// marks it, since it lives on that connection only.
    async fn marked_connection(store: &SqliteStore) {
        let mut held = store.stash.get().await.unwrap();
        sqlx::Executor::execute(&mut *held, "CREATE TEMP TABLE mark (x)")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_begin_refused_by_a_busy_lock_keeps_its_connection() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        marked_connection(&store).await;
        // Another writer holds the lock past the busy timeout.
        let mut other = store.pool.acquire().await.unwrap();
        sqlx::Executor::execute(&mut *other, "BEGIN IMMEDIATE")
            .await
            .unwrap();
        let mut unit = Unit::acquire(&store).await.unwrap();
        assert!(
            unit.run(opening(&["CREATE TABLE never (x)"]))
                .await
                .is_err()
        );
        drop(unit);
        sqlx::Executor::execute(&mut *other, "ROLLBACK")
            .await
            .unwrap();
        let mut again = store.stash.get().await.unwrap();
        assert!(marked(&mut again).await, "the connection was closed");
        // And it is outside any transaction: a new one can open.
        sqlx::Executor::execute(&mut *again, "BEGIN IMMEDIATE; ROLLBACK")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_unit_dropped_inside_its_transaction_closes_its_connection() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        marked_connection(&store).await;
        let mut unit = Unit::acquire(&store).await.unwrap();
        unit.run(opening(&["CREATE TABLE t (x)"])).await.unwrap();
        drop(unit);
        let mut again = store.stash.get().await.unwrap();
        assert!(
            !marked(&mut again).await,
            "a connection inside a transaction was handed on"
        );
        assert!(
            !has_table(&mut again, "t").await,
            "the dropped unit's change was kept"
        );
    }

    #[tokio::test]
    async fn a_failed_statement_rolls_back_and_hands_the_connection_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        marked_connection(&store).await;
        let mut unit = Unit::acquire(&store).await.unwrap();
        let script = opening(&["CREATE TABLE t (x)", "INSERT INTO no_such_table VALUES (1)"]);
        assert!(unit.run(script).await.is_err());
        drop(unit);
        let mut again = store.stash.get().await.unwrap();
        assert!(marked(&mut again).await, "the connection was closed");
        assert!(
            !has_table(&mut again, "t").await,
            "the failed script's first statement was kept"
        );
    }

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
