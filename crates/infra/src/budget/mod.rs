//! `ErrorBudgetStore` adapters: Redis (one budget for every instance,
//! updated atomically by a Lua script), in process, and a wrapper that
//! counts in both and answers from Redis while it is reachable.

mod memory;
mod redis;
mod resilient;

pub use self::memory::MemoryBudget;
pub use self::redis::RedisBudget;
pub use self::resilient::ResilientBudget;

use isms_domain::continuity::BudgetCounts;

/// `a - b`, never below zero (a bucket evicted twice must not underflow).
fn minus(a: BudgetCounts, b: BudgetCounts) -> BudgetCounts {
    BudgetCounts {
        total: a.total.saturating_sub(b.total),
        failed: a.failed.saturating_sub(b.failed),
        client_errors: a.client_errors.saturating_sub(b.client_errors),
    }
}
