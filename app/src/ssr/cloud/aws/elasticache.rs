//! ElastiCache: replication groups with their status, automatic failover, Multi-AZ and member
//! nodes (the `CacheClusterId` their CloudWatch metrics are keyed by). DescribeReplicationGroups
//! carries no tags, so the caller narrows them to the environment's tagged ARNs.

use super::{err_text, row};
use crate::model::{Health, Resource, ResourceKind};
use aws_sdk_elasticache::Client;
use std::collections::HashSet;

/// The detail that lists a replication group's member nodes (scope.rs reads it back).
pub const NODES: &str = "nodes";

pub async fn read(client: &Client, owned: Option<&HashSet<String>>) -> Result<Vec<Resource>, String> {
    let groups: Vec<_> = client
        .describe_replication_groups()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("ElastiCache DescribeReplicationGroups", &e))?;
    Ok(groups
        .iter()
        .filter(|g| owned.is_none_or(|o| g.arn().is_some_and(|a| o.contains(a))))
        .map(|g| {
            let status = g.status().unwrap_or("unknown");
            let health = match status {
                "available" | "modifying" | "snapshotting" => Health::Healthy,
                "create-failed" | "deleting" => Health::Unhealthy,
                _ => Health::Degraded,
            };
            row(
                ResourceKind::ElastiCache,
                g.replication_group_id().unwrap_or_default(),
                g.arn().unwrap_or_default(),
                status,
                health,
                vec![
                    (
                        "engine".into(),
                        format!(
                            "{} {}",
                            g.engine().unwrap_or("redis"),
                            g.cache_node_type().unwrap_or_default()
                        ),
                    ),
                    (
                        "automatic failover".into(),
                        g.automatic_failover()
                            .map(|f| f.as_str().to_string())
                            .unwrap_or_default(),
                    ),
                    (
                        "multi-AZ".into(),
                        g.multi_az().map(|m| m.as_str().to_string()).unwrap_or_default(),
                    ),
                    (NODES.into(), g.member_clusters().join(", ")),
                ],
            )
        })
        .collect())
}
