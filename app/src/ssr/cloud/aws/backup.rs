//! AWS Backup: vaults, plans (schedule, retention), recent jobs, and the newest recovery point of
//! each protected resource against the environment's RPO. Jobs and recovery points are optional
//! reads: an endpoint without them (moto) gives "not available", not an error.

use super::err_text;
use crate::model::{BackupJobInfo, BackupPlanInfo, DataNote, RecoveryPointInfo};
use crate::ssr::cloud::BackupsData;
use aws_sdk_backup::Client;
use futures::{StreamExt, TryStreamExt, stream};

pub async fn read(client: &Client, rpo_hours: Option<u32>, now_ms: i64) -> Result<BackupsData, String> {
    let vaults: Vec<_> = client
        .list_backup_vaults()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("Backup ListBackupVaults", &e))?;
    let plans: Vec<_> = client
        .list_backup_plans()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("Backup ListBackupPlans", &e))?;
    let plan_ids: Vec<String> = plans
        .iter()
        .filter_map(|p| p.backup_plan_id().map(str::to_string))
        .collect();
    let plan_infos: Vec<BackupPlanInfo> = stream::iter(plan_ids)
        .map(|id| {
            let client = client.clone();
            async move {
                let out = client
                    .get_backup_plan()
                    .backup_plan_id(id)
                    .send()
                    .await
                    .map_err(|e| err_text("Backup GetBackupPlan", &e))?;
                let Some(plan) = out.backup_plan() else {
                    return Ok::<_, String>(None);
                };
                Ok(Some(BackupPlanInfo {
                    name: plan.backup_plan_name().to_string(),
                    rules: plan
                        .rules()
                        .iter()
                        .map(|r| {
                            let retention = r
                                .lifecycle()
                                .map(|l| {
                                    let mut parts = Vec::new();
                                    if let Some(d) = l.delete_after_days() {
                                        parts.push(format!("{d} days"));
                                    }
                                    if let Some(c) = l.move_to_cold_storage_after_days() {
                                        parts.push(format!("cold storage after {c}"));
                                    }
                                    parts.join(", ")
                                })
                                .unwrap_or_else(|| "kept until deleted".into());
                            (
                                r.rule_name().to_string(),
                                r.schedule_expression().unwrap_or("on demand").to_string(),
                                retention,
                            )
                        })
                        .collect(),
                }))
            }
        })
        .buffered(super::CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .flatten()
        .collect();

    let mut notes = Vec::new();
    let since = aws_smithy_types::DateTime::from_millis(now_ms - 7 * 24 * 3_600_000);
    let jobs = match client
        .list_backup_jobs()
        .by_created_after(since)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
    {
        Ok(items) => {
            let mut jobs: Vec<BackupJobInfo> = items
                .iter()
                .map(|j| BackupJobInfo {
                    id: j.backup_job_id().unwrap_or_default().to_string(),
                    resource: j.resource_arn().unwrap_or_default().to_string(),
                    state: j.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
                    created_ms: j.creation_date().map(super::secs_to_ms).unwrap_or(0),
                    message: j.status_message().unwrap_or_default().to_string(),
                })
                .collect();
            jobs.sort_by_key(|j| std::cmp::Reverse(j.created_ms));
            Some(jobs)
        }
        Err(e) => {
            notes.push(DataNote {
                part: "backup jobs".into(),
                message: format!("not available from this endpoint: {}", err_text("ListBackupJobs", &e)),
                stale_age_s: None,
            });
            None
        }
    };
    let rpo_ms = i64::from(rpo_hours.unwrap_or(24)) * 3_600_000;
    let points = match client
        .list_protected_resources()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
    {
        Ok(items) => Some(
            items
                .iter()
                .map(|r| {
                    let last = r.last_backup_time().map(super::secs_to_ms);
                    RecoveryPointInfo {
                        resource: r.resource_arn().unwrap_or_default().to_string(),
                        resource_type: r.resource_type().unwrap_or_default().to_string(),
                        last_ms: last,
                        late: last.is_none_or(|t| now_ms - t > rpo_ms),
                    }
                })
                .collect(),
        ),
        Err(e) => {
            notes.push(DataNote {
                part: "recovery points".into(),
                message: format!(
                    "not available from this endpoint: {}",
                    err_text("ListProtectedResources", &e)
                ),
                stale_age_s: None,
            });
            None
        }
    };
    Ok(BackupsData {
        vaults: vaults
            .iter()
            .map(|v| {
                (
                    v.backup_vault_name().unwrap_or_default().to_string(),
                    v.number_of_recovery_points(),
                )
            })
            .collect(),
        plans: plan_infos,
        jobs,
        recovery_points: points,
        notes,
    })
}
