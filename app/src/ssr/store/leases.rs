//! Leases: each background job runs on one replica at a time, the one holding its lease row; the
//! revocations of one IAM role are serialised across replicas the same way (`revoke:<role ARN>`).

use super::{SqlStore, StoreError};
use async_trait::async_trait;

#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes or renews the lease of a job for `ttl_ms`; false when another holder has it.
    async fn lease_acquire(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<bool, StoreError>;
    /// Gives a lease back at once; only its holder can (anyone else's call changes nothing).
    async fn lease_release(&self, name: &str, holder: &str) -> Result<(), StoreError>;
}

#[async_trait]
impl LeaseStore for SqlStore {
    async fn lease_acquire(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<bool, StoreError> {
        sqlx::query("INSERT INTO job_leases (name, holder, until_ms) VALUES ($1, '', 0) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .execute(&self.pool)
            .await?;
        let done = sqlx::query(
            "UPDATE job_leases SET holder = $2, until_ms = $3 WHERE name = $1 AND (holder = $2 OR until_ms < $4)",
        )
        .bind(name)
        .bind(holder)
        .bind(now_ms + ttl_ms)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn lease_release(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM job_leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
