//! AWS Backup: vaults, plans (schedule, retention), recent jobs, and the newest recovery point of
//! each protected resource against the environment's RPO. Jobs and recovery points are optional
//! reads: an endpoint without them (moto) gives "not available", not an error.

use super::err_text;
use crate::model::{BackupJobInfo, BackupPlanInfo, DataNote, RecoveryPointInfo};
use crate::ssr::cloud::BackupsData;
use aws_sdk_backup::Client;
use futures::{StreamExt, TryStreamExt, stream};

/// What AWS Backup holds in the account and region, with the ARNs that decide whose it is.
#[derive(Debug, Clone, Default)]
pub struct ReadBackups {
    /// (vault ARN, name, recovery points in it)
    pub vaults: Vec<(String, String, i64)>,
    /// (plan ARN, the vaults its rules store into, plan).
    pub plans: Vec<(String, Vec<String>, BackupPlanInfo)>,
    pub jobs: Option<Vec<BackupJobInfo>>,
    pub recovery_points: Option<Vec<RecoveryPointInfo>>,
    pub notes: Vec<DataNote>,
}

impl ReadBackups {
    /// The part that belongs to the scope (all of it without one): vaults and plans by their tag,
    /// jobs and recovery points by the resource they protect.
    pub fn scoped(&self, scope: Option<&super::scope::Scope>) -> BackupsData {
        let tagged = |arn: &str| scope.is_none_or(|s| s.has_tagged(arn));
        let protects = |arn: &str| scope.is_none_or(|s| s.protects(arn));
        let vaults: Vec<&(String, String, i64)> = self.vaults.iter().filter(|(arn, _, _)| tagged(arn)).collect();
        let ours = |vault: &String| vaults.iter().any(|(_, name, _)| name == vault);
        BackupsData {
            plans: self
                .plans
                .iter()
                .filter(|(arn, targets, _)| tagged(arn) || targets.iter().any(ours))
                .map(|(_, _, p)| p.clone())
                .collect(),
            vaults: vaults.iter().map(|(_, name, n)| (name.clone(), *n)).collect(),
            jobs: self
                .jobs
                .as_ref()
                .map(|j| j.iter().filter(|j| protects(&j.resource)).cloned().collect()),
            recovery_points: self
                .recovery_points
                .as_ref()
                .map(|p| p.iter().filter(|p| protects(&p.resource)).cloned().collect()),
            notes: self.notes.clone(),
        }
    }
}

pub async fn read(client: &Client, rpo_hours: Option<u32>, now_ms: i64) -> Result<ReadBackups, String> {
    // The four reads at once: one slow list does not hold the others.
    let vaults = async {
        client
            .list_backup_vaults()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| err_text("Backup ListBackupVaults", &e))
    };
    let plans = async {
        let plans: Vec<_> = client
            .list_backup_plans()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| err_text("Backup ListBackupPlans", &e))?;
        let plan_ids: Vec<(String, String)> = plans
            .iter()
            .filter_map(|p| Some((p.backup_plan_id()?.to_string(), p.backup_plan_arn()?.to_string())))
            .collect();
        let plan_infos: Vec<(String, Vec<String>, BackupPlanInfo)> = stream::iter(plan_ids)
            .map(|(id, arn)| {
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
                    let targets = plan
                        .rules()
                        .iter()
                        .map(|r| r.target_backup_vault_name().to_string())
                        .collect();
                    Ok(Some((
                        arn,
                        targets,
                        BackupPlanInfo {
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
                        },
                    )))
                }
            })
            .buffered(super::CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            .flatten()
            .collect();
        Ok::<_, String>(plan_infos)
    };
    let since = aws_smithy_types::DateTime::from_millis(now_ms - 7 * 24 * 3_600_000);
    let jobs = async {
        match client
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
                (Some(jobs), None)
            }
            Err(e) => (
                None,
                Some(DataNote {
                    part: "backup jobs".into(),
                    message: format!("not available from this endpoint: {}", err_text("ListBackupJobs", &e)),
                    stale_age_s: None,
                }),
            ),
        }
    };
    let rpo_ms = i64::from(rpo_hours.unwrap_or(24)) * 3_600_000;
    let points = async {
        match client
            .list_protected_resources()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
        {
            Ok(items) => (
                Some(
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
                None,
            ),
            Err(e) => (
                None,
                Some(DataNote {
                    part: "recovery points".into(),
                    message: format!(
                        "not available from this endpoint: {}",
                        err_text("ListProtectedResources", &e)
                    ),
                    stale_age_s: None,
                }),
            ),
        }
    };
    let (vaults, plan_infos, (jobs, jobs_note), (points, points_note)) = tokio::join!(vaults, plans, jobs, points);
    let (vaults, plan_infos) = (vaults?, plan_infos?);
    let notes = jobs_note.into_iter().chain(points_note).collect();
    Ok(ReadBackups {
        vaults: vaults
            .iter()
            .map(|v| {
                (
                    v.backup_vault_arn().unwrap_or_default().to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Health, Resource, ResourceKind};

    #[test]
    fn jobs_and_recovery_points_are_the_environments_by_what_they_protect() {
        let db = "arn:aws:rds:eu-west-1:1:db:prod-db";
        let other = "arn:aws:rds:eu-west-1:1:db:staging-db";
        let job = |resource: &str| BackupJobInfo {
            id: resource.into(),
            resource: resource.into(),
            state: "FAILED".into(),
            created_ms: 0,
            message: String::new(),
        };
        let point = |resource: &str| RecoveryPointInfo {
            resource: resource.into(),
            resource_type: "RDS".into(),
            last_ms: None,
            late: true,
        };
        let plan = |name: &str| BackupPlanInfo {
            name: name.into(),
            rules: vec![],
        };
        let read = ReadBackups {
            vaults: vec![
                ("arn:vault:prod".into(), "prod-vault".into(), 3),
                ("arn:vault:staging".into(), "staging-vault".into(), 5),
            ],
            plans: vec![
                ("arn:plan:tagged".into(), vec![], plan("tagged")),
                (
                    "arn:plan:into-prod".into(),
                    vec!["prod-vault".into()],
                    plan("into-prod"),
                ),
                (
                    "arn:plan:into-staging".into(),
                    vec!["staging-vault".into()],
                    plan("into-staging"),
                ),
            ],
            jobs: Some(vec![job(db), job(other)]),
            recovery_points: Some(vec![point(db), point(other)]),
            notes: vec![],
        };
        let resource = Resource {
            kind: ResourceKind::RdsInstance,
            name: "prod-db".into(),
            id: db.into(),
            status: "available".into(),
            health: Health::Healthy,
            zones: vec![],
            tasks: None,
            details: vec![],
            links: vec![],
            service: None,
        };
        let scope = super::super::scope::Scope::new(&[resource], &["arn:vault:prod".into(), "arn:plan:tagged".into()]);
        let mine = read.scoped(Some(&scope));
        assert_eq!(mine.vaults, vec![("prod-vault".to_string(), 3)]);
        let plans: Vec<&str> = mine.plans.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(plans, vec!["tagged", "into-prod"]);
        assert_eq!(mine.jobs.map(|j| j.len()), Some(1));
        let points = mine.recovery_points.unwrap_or_default();
        assert_eq!(points.iter().map(|p| p.resource.as_str()).collect::<Vec<_>>(), vec![db]);
        let all = read.scoped(None);
        assert_eq!(
            (all.vaults.len(), all.plans.len()),
            (2, 3),
            "without a selector, everything"
        );
    }
}
