//! Backups of the demo environments: vaults, plans and the last runs of each.

use super::demo_env;
use crate::model::{BackupJobInfo, BackupPlanInfo, RecoveryPointInfo};
use crate::ssr::cloud::BackupsData;

/// Backups of the demo environments as docs/DEMO.md describes them. Homebrew's last daily job
/// failed, so its bucket's newest recovery point is past the RPO: the demo shows a failed backup.
pub fn demo_backups(env: &str, rpo_hours: Option<u32>, now_ms: i64) -> Option<BackupsData> {
    const H: i64 = 3_600_000;
    let day_start = now_ms - now_ms.rem_euclid(24 * H);
    let last_at = |hour: i64| {
        if day_start + hour * H <= now_ms {
            day_start + hour * H
        } else {
            day_start + hour * H - 24 * H
        }
    };
    let (vault, plan, resource, rtype, hour, every_h, failed_latest) = match env {
        "homebrew-bottles-sync-prod" => (
            ("homebrew-bottles-sync-prod-vault", 118),
            BackupPlanInfo {
                name: "homebrew-bottles-sync-prod-daily".into(),
                rules: vec![(
                    "daily".into(),
                    "cron(0 5 * * ? *)".into(),
                    "120 days (cold storage after 30)".into(),
                )],
            },
            "arn:aws:s3:::homebrew-bottles-sync-prod-bottles",
            "S3",
            5,
            24,
            true,
        ),
        "taskflow-production" => (
            ("taskflow-production-vault", 30),
            BackupPlanInfo {
                name: "taskflow-production-rds".into(),
                rules: vec![
                    ("daily".into(), "cron(0 2 * * ? *)".into(), "30 days".into()),
                    ("weekly".into(), "cron(0 3 ? * SUN *)".into(), "90 days".into()),
                ],
            },
            "arn:aws:rds:us-east-1:987654321098:db:taskflow-production",
            "RDS",
            2,
            24,
            false,
        ),
        "docdb-bluegreen-prod" => (
            ("docdb-bluegreen-prod-vault", 14),
            BackupPlanInfo {
                name: "docdb-bluegreen-prod-daily".into(),
                rules: vec![("daily".into(), "cron(0 4 * * ? *)".into(), "14 days".into())],
            },
            "arn:aws:rds:us-east-1:210987654321:cluster:docdb-bluegreen-prod-docdb",
            "DocumentDB",
            4,
            24,
            false,
        ),
        "curriculum-alignment-prod" => (
            ("curriculum-alignment-prod-vault", 42),
            BackupPlanInfo {
                name: "curriculum-alignment-prod-backup".into(),
                rules: vec![
                    ("full daily".into(), "cron(0 2 * * ? *)".into(), "35 days".into()),
                    ("incremental".into(), "cron(0 */4 * * ? *)".into(), "7 days".into()),
                ],
            },
            "arn:aws:dynamodb:eu-central-1:345678901234:table/curriculum-alignment-prod-programs",
            "DynamoDB",
            2,
            4,
            false,
        ),
        _ if demo_env(env).is_some() => {
            return Some(BackupsData {
                jobs: Some(vec![]),
                recovery_points: Some(vec![]),
                ..Default::default()
            });
        }
        _ => return None,
    };
    // The last eight runs, newest first.
    let newest = if every_h == 24 {
        last_at(hour)
    } else {
        now_ms - now_ms.rem_euclid(every_h * H)
    };
    let jobs: Vec<BackupJobInfo> = (0..8)
        .map(|i| {
            let at = newest - i * every_h * H;
            let failed = failed_latest && i == 0;
            BackupJobInfo {
                id: format!("demo-job-{env}-{i}"),
                resource: resource.to_string(),
                state: if failed { "FAILED" } else { "COMPLETED" }.into(),
                created_ms: at,
                message: if failed {
                    "Access denied: the backup role lacks kms:Decrypt on the bucket key (demo)".into()
                } else {
                    String::new()
                },
            }
        })
        .collect();
    let last_ok = jobs.iter().find(|j| j.state == "COMPLETED").map(|j| j.created_ms);
    let rpo_ms = i64::from(rpo_hours.unwrap_or(24)) * H;
    let late = last_ok.is_none_or(|t| now_ms - t > rpo_ms);
    Some(BackupsData {
        vaults: vec![(vault.0.to_string(), vault.1)],
        plans: vec![plan],
        jobs: Some(jobs),
        recovery_points: Some(vec![RecoveryPointInfo {
            resource: resource.to_string(),
            resource_type: rtype.to_string(),
            last_ms: last_ok,
            late,
        }]),
        notes: vec![],
    })
}
