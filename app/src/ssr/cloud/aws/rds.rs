//! RDS: DB instances and clusters, DocumentDB included (engine `docdb`).

use super::err_text;
use crate::model::{Health, Resource, ResourceKind};
use aws_sdk_rds::Client;

/// The detail that holds the newest point an instance or cluster can be restored to (its
/// automated backups), in a form `restorable_ms` reads back for the RPO check.
pub const LATEST_RESTORABLE: &str = "latest restorable";
/// The detail that holds the automated backups' retention.
pub const RETENTION: &str = "backup retention";

fn restorable(t: Option<&aws_smithy_types::DateTime>) -> Option<(String, String)> {
    let ms = super::secs_to_ms(t?);
    let at = chrono::DateTime::from_timestamp_millis(ms)?;
    Some((LATEST_RESTORABLE.into(), at.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
}

/// The newest restorable point of a database row, when its automated backups say.
pub fn restorable_ms(details: &[(String, String)]) -> Option<i64> {
    let (_, v) = details.iter().find(|(k, _)| k == LATEST_RESTORABLE)?;
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn health_of(status: &str) -> Health {
    match status {
        "available" | "backing-up" | "maintenance" | "modifying" | "configuring-enhanced-monitoring" => Health::Healthy,
        "failed" | "stopped" | "storage-full" | "inaccessible-encryption-credentials" | "restore-error" => {
            Health::Unhealthy
        }
        s if s.starts_with("incompatible") => Health::Unhealthy,
        _ => Health::Degraded,
    }
}

pub async fn read(client: &Client) -> Result<Vec<Resource>, String> {
    let instances: Vec<_> = client
        .describe_db_instances()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("RDS DescribeDBInstances", &e))?;
    let clusters: Vec<_> = client
        .describe_db_clusters()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("RDS DescribeDBClusters", &e))?;
    let mut out = Vec::new();
    for c in &clusters {
        let engine = c.engine().unwrap_or_default();
        let status = c.status().unwrap_or("unknown");
        let members = c.db_cluster_members();
        let writer = members
            .iter()
            .find(|m| m.is_cluster_writer() == Some(true))
            .and_then(|m| m.db_instance_identifier());
        out.push(Resource {
            kind: if engine == "docdb" {
                ResourceKind::DocDbCluster
            } else {
                ResourceKind::Other("RDS cluster".into())
            },
            name: c.db_cluster_identifier().unwrap_or_default().to_string(),
            id: c.db_cluster_arn().unwrap_or_default().to_string(),
            status: status.to_string(),
            health: health_of(status),
            zones: c.availability_zones().to_vec(),
            tasks: None,
            details: vec![
                (
                    "engine".into(),
                    format!("{engine} {}", c.engine_version().unwrap_or_default()),
                ),
                ("members".into(), members.len().to_string()),
                ("writer".into(), writer.unwrap_or("-").to_string()),
                (
                    RETENTION.into(),
                    format!("{} days", c.backup_retention_period().unwrap_or(0)),
                ),
            ]
            .into_iter()
            .chain(restorable(c.latest_restorable_time()))
            .collect(),
            links: vec![],
            service: None,
        });
    }
    for i in &instances {
        let engine = i.engine().unwrap_or_default();
        let status = i.db_instance_status().unwrap_or("unknown");
        let mut zones: Vec<String> = i.availability_zone().map(str::to_string).into_iter().collect();
        let mut details = vec![
            (
                "engine".into(),
                format!("{engine} {}", i.engine_version().unwrap_or_default()),
            ),
            ("class".into(), i.db_instance_class().unwrap_or_default().to_string()),
        ];
        if i.multi_az() == Some(true) {
            let standby = i.secondary_availability_zone().unwrap_or("another AZ");
            details.push((
                "multi-AZ".into(),
                format!("primary {}, standby {standby}", i.availability_zone().unwrap_or("?")),
            ));
            if let Some(z) = i.secondary_availability_zone() {
                zones.push(z.to_string());
            }
        }
        if let Some(src) = i.read_replica_source_db_instance_identifier() {
            details.push(("replica of".into(), src.to_string()));
        }
        if let Some(c) = i.db_cluster_identifier() {
            details.push(("cluster".into(), c.to_string()));
        } else if i.read_replica_source_db_instance_identifier().is_none() {
            // A standalone primary's automated backups (a cluster's are the cluster's).
            let days = i.backup_retention_period().unwrap_or(0);
            details.push((
                RETENTION.into(),
                if days > 0 { format!("{days} days") } else { "off".into() },
            ));
            details.extend(restorable(i.latest_restorable_time()));
        }
        out.push(Resource {
            kind: if engine == "docdb" {
                ResourceKind::DocDbInstance
            } else {
                ResourceKind::RdsInstance
            },
            name: i.db_instance_identifier().unwrap_or_default().to_string(),
            id: i.db_instance_arn().unwrap_or_default().to_string(),
            status: status.to_string(),
            health: health_of(status),
            zones,
            tasks: None,
            details,
            links: vec![],
            service: None,
        });
    }
    Ok(out)
}
