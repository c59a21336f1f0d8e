//! The failed-login ledger in PostgreSQL, so that N servers do not allow N times the guesses:
//! the same two rules as the in-process ledger (`auth/throttle.rs`), counted in the database.
//! - `login_failures`: consecutive failures per (account, client network), and until when that
//!   network is refused for the account;
//! - `login_failure_times`: when each failure of the last hour happened, per account.
//!
//! Targets and networks arrive as text (`a:<uuid>` for an account, `n:<name>` for a name no
//! account has; an address or a /64).

use chrono::Duration;
use sqlx::PgPool;

use super::{now, unavailable};
use crate::domain::Timestamp;
use crate::store::StoreError;

/// The rules, as `auth/throttle.rs` holds them.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub limit: u32,
    pub base: std::time::Duration,
    pub ceiling: usize,
    pub max_window: std::time::Duration,
    pub span: std::time::Duration,
}

/// Why an attempt is refused, with how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    FromAddress(std::time::Duration),
    Account(std::time::Duration),
}

fn wait(until: Timestamp, now: Timestamp) -> std::time::Duration {
    (until - now).to_std().unwrap_or_default()
}

fn span(duration: std::time::Duration) -> Duration {
    Duration::from_std(duration).unwrap_or(Duration::hours(1))
}

/// `Ok(Some(refusal))` while `target` may not be tried from `network`.
pub async fn check(
    pool: &PgPool,
    rules: &Rules,
    target: &str,
    network: &str,
) -> Result<Option<Refusal>, StoreError> {
    let now = now();
    let blocked: Option<Option<Timestamp>> = sqlx::query_scalar(
        "SELECT blocked_until FROM login_failures WHERE target = $1 AND network = $2",
    )
    .bind(target)
    .bind(network)
    .fetch_optional(pool)
    .await
    .map_err(unavailable)?;
    if let Some(until) = blocked.flatten().filter(|until| *until > now) {
        return Ok(Some(Refusal::FromAddress(wait(until, now))));
    }
    let recent: Vec<Timestamp> = sqlx::query_scalar(
        "SELECT at FROM login_failure_times WHERE target = $1 AND at > $2
         ORDER BY at DESC LIMIT $3",
    )
    .bind(target)
    .bind(now - span(rules.span))
    .bind(rules.ceiling as i64)
    .fetch_all(pool)
    .await
    .map_err(unavailable)?;
    if recent.len() >= rules.ceiling {
        // The oldest of the last `ceiling` failures frees a slot when it is `span` old.
        let freed_by = recent[rules.ceiling - 1] + span(rules.span);
        return Ok(Some(Refusal::Account(wait(freed_by, now))));
    }
    Ok(None)
}

/// Records a failure: one more in a row from `network`, a window once past the limit, and one
/// more for the account's hour.
pub async fn failed(
    pool: &PgPool,
    rules: &Rules,
    target: &str,
    network: &str,
) -> Result<(), StoreError> {
    let now = now();
    let mut tx = pool.begin().await.map_err(unavailable)?;
    let count: i32 = sqlx::query_scalar(
        "INSERT INTO login_failures (target, network, count, blocked_until, last)
         VALUES ($1, $2, 1, NULL, $3)
         ON CONFLICT (target, network) DO UPDATE
             SET count = login_failures.count + 1, last = EXCLUDED.last
         RETURNING count",
    )
    .bind(target)
    .bind(network)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(unavailable)?;
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    if count >= rules.limit {
        let doublings = (count - rules.limit).min(16);
        let window = rules
            .base
            .saturating_mul(1 << doublings)
            .min(rules.max_window);
        sqlx::query(
            "UPDATE login_failures SET blocked_until = $3 WHERE target = $1 AND network = $2",
        )
        .bind(target)
        .bind(network)
        .bind(now + span(window))
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    }
    sqlx::query("INSERT INTO login_failure_times (target, at) VALUES ($1, $2)")
        .bind(target)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)
}

/// A success from `network` resets its count for the account.
pub async fn succeeded(pool: &PgPool, target: &str, network: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_failures WHERE target = $1 AND network = $2")
        .bind(target)
        .bind(network)
        .execute(pool)
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// Forgets what no longer counts; how many rows went.
pub async fn sweep(pool: &PgPool, rules: &Rules) -> Result<usize, StoreError> {
    let now = now();
    let times = sqlx::query("DELETE FROM login_failure_times WHERE at <= $1")
        .bind(now - span(rules.span))
        .execute(pool)
        .await
        .map_err(unavailable)?;
    let pairs = sqlx::query(
        "DELETE FROM login_failures
         WHERE (blocked_until IS NULL OR blocked_until <= $1) AND last <= $2",
    )
    .bind(now)
    .bind(now - span(rules.max_window))
    .execute(pool)
    .await
    .map_err(unavailable)?;
    Ok((times.rows_affected() + pairs.rows_affected()) as usize)
}
