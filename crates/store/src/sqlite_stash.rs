//! SQLite connections handed from one short use to the next without going
//! back through sqlx's pool.
//!
//! sqlx tests every connection handed back to its pool with a ping: a
//! spawned task and a round trip to the connection's worker thread, two
//! more thread wake-ups per use. A one-statement read paid as much for the
//! ping as for its statement. The ping is there to flush what a cancelled
//! use may have left behind; on SQLite that is a dropped transaction's
//! rollback, which sqlx queues on the connection's worker, and a worker
//! runs its commands in order, so the rollback still precedes whatever the
//! next use sends.
//!
//! The stash holds at most half the pool's connections (checked out of
//! the pool while it holds them); the other half stays in the pool for
//! sqlx transactions and migrations, so neither side can starve the
//! other. A use that may leave a transaction open (`Unit`) closes its
//! connection instead of handing it on.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use isms_domain::ports::RepoError;
use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(crate) struct Stash {
    pool: SqlitePool,
    idle: Mutex<Vec<PoolConnection<Sqlite>>>,
    /// One per connection the stash may hold, idle or in use.
    permits: Arc<Semaphore>,
    share: usize,
    acquire_timeout: Duration,
}

impl Stash {
    pub(crate) fn new(pool: SqlitePool, max_connections: u32, acquire_timeout: Duration) -> Self {
        let share = usize::try_from(max_connections / 2).unwrap_or(0);
        Self {
            pool,
            idle: Mutex::new(Vec::with_capacity(share)),
            permits: Arc::new(Semaphore::new(share)),
            share,
            acquire_timeout,
        }
    }

    /// A connection, from the stash when one is idle.
    pub(crate) async fn get(self: &Arc<Self>) -> Result<Held, RepoError> {
        if self.share == 0 {
            // A pool of one: it is all the pool's.
            let conn = self.pool.acquire().await.map_err(crate::error::map)?;
            return Ok(Held::pooled(conn));
        }
        let permit =
            tokio::time::timeout(self.acquire_timeout, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| crate::error::map(sqlx::Error::PoolTimedOut))?
                .map_err(|_| crate::error::map(sqlx::Error::PoolClosed))?;
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => self.pool.acquire().await.map_err(crate::error::map)?,
        };
        Ok(Held {
            conn: Some(conn),
            permit: Some(permit),
            stash: Some(self.clone()),
        })
    }

    /// Hands every idle connection back to the pool and stops stashing,
    /// so that closing the pool finds them all.
    pub(crate) fn drain(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            // Closed under the lock: a use ending now sees it and hands
            // its connection to the pool rather than to the stash.
            self.permits.close();
            idle.clear();
        }
    }
}

/// A connection in use; dropping it hands it back.
pub(crate) struct Held {
    conn: Option<PoolConnection<Sqlite>>,
    permit: Option<OwnedSemaphorePermit>,
    /// Where the connection goes back to: the pool when `None`.
    stash: Option<Arc<Stash>>,
}

impl Held {
    fn pooled(conn: PoolConnection<Sqlite>) -> Self {
        Self {
            conn: Some(conn),
            permit: None,
            stash: None,
        }
    }

    /// Closes the connection when this drops, instead of handing it on
    /// (it may be inside a transaction).
    pub(crate) fn close_on_drop(&mut self) {
        if let Some(conn) = &mut self.conn {
            conn.close_on_drop();
        }
        self.stash = None;
    }
}

impl Deref for Held {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        // Present until `drop`, the only place that takes it.
        match &self.conn {
            Some(conn) => conn,
            None => unreachable!("a held connection is present until dropped"),
        }
    }
}

impl DerefMut for Held {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match &mut self.conn {
            Some(conn) => conn,
            None => unreachable!("a held connection is present until dropped"),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let (Some(conn), Some(stash)) = (self.conn.take(), &self.stash) {
            // Idle before the permit is free: whoever takes the permit
            // finds the connection instead of opening another one.
            if let Ok(mut idle) = stash.idle.lock()
                && !stash.permits.is_closed()
            {
                idle.push(conn);
            }
        }
        self.permit.take();
    }
}

impl crate::scope::Finish for Held {
    async fn finish(self) -> Result<(), RepoError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use std::str::FromStr as _;

    async fn pool(dir: &std::path::Path, max: u32) -> SqlitePool {
        let opts =
            SqliteConnectOptions::from_str(&format!("sqlite://{}", dir.join("stash.db").display()))
                .unwrap()
                .create_if_missing(true);
        SqlitePoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(2))
            .connect_with(opts)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_connection_goes_from_one_use_to_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let stash = Arc::new(Stash::new(
            pool(dir.path(), 4).await,
            4,
            Duration::from_secs(2),
        ));
        let mut first = stash.get().await.unwrap();
        sqlx::Executor::execute(&mut *first, "CREATE TEMP TABLE mark (x)")
            .await
            .unwrap();
        drop(first);
        // A temporary table lives on its connection only.
        let mut again = stash.get().await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM temp.mark")
            .fetch_one(&mut *again)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn it_holds_half_the_pool_and_leaves_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(dir.path(), 4).await;
        let stash = Arc::new(Stash::new(pool.clone(), 4, Duration::from_millis(200)));
        let a = stash.get().await.unwrap();
        let b = stash.get().await.unwrap();
        // Its share is in use: the next waits, then times out.
        assert!(matches!(stash.get().await, Err(RepoError::Unavailable(_))));
        // The pool still has its half.
        let p1 = pool.acquire().await.unwrap();
        let p2 = pool.acquire().await.unwrap();
        drop((p1, p2));
        drop(a);
        let c = stash.get().await.unwrap();
        drop((b, c));
        stash.drain();
        assert!(stash.get().await.is_err());
        pool.close().await;
        assert!(pool.is_closed());
    }

    #[tokio::test]
    async fn a_closed_connection_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let stash = Arc::new(Stash::new(
            pool(dir.path(), 2).await,
            2,
            Duration::from_secs(2),
        ));
        let mut held = stash.get().await.unwrap();
        sqlx::Executor::execute(&mut *held, "BEGIN IMMEDIATE")
            .await
            .unwrap();
        held.close_on_drop();
        drop(held);
        // The next use gets a connection outside any transaction.
        let mut next = stash.get().await.unwrap();
        sqlx::Executor::execute(&mut *next, "BEGIN IMMEDIATE")
            .await
            .unwrap();
        sqlx::Executor::execute(&mut *next, "COMMIT").await.unwrap();
    }
}
