//! Homebrew Bottles Sync, in three sizes (prod, staging, dev): Lambda orchestrator and sync
//! worker, an ECS Fargate task that runs only while a sync is in progress (on Spot outside prod),
//! the bottles bucket and the EventBridge schedule; prod also has a backup vault and plan.

use super::sim::{AlarmSpec, Reading, Sim, arn, reading, res, service};
use crate::model::{Resource, ResourceKind, TaskCounts};

#[derive(Clone, Copy, PartialEq)]
pub(super) enum HomebrewSize {
    Dev,
    Staging,
    Prod,
}

pub(super) fn homebrew(sim: &Sim, size: HomebrewSize) -> (Vec<Resource>, Vec<Reading>) {
    let (env, region, cpu_mem, worker_mem, schedule, spot) = match size {
        HomebrewSize::Prod => (
            "prod",
            "us-east-1",
            "2048 / 8192 MB",
            "3008 MB",
            "cron(0 3 ? * SUN *)",
            "no (on-demand only)",
        ),
        HomebrewSize::Staging => (
            "staging",
            "us-east-1",
            "2048 / 8192 MB",
            "3008 MB",
            "cron(0 3 ? * SAT *)",
            "yes (weight 3)",
        ),
        HomebrewSize::Dev => (
            "dev",
            "us-west-2",
            "1024 / 4096 MB",
            "1024 MB",
            "cron(0 */6 * * ? *)",
            "yes",
        ),
    };
    let a = "123456789012";
    let n = format!("homebrew-bottles-sync-{env}");
    let zones: Vec<String> = vec![format!("{region}a"), format!("{region}b")];
    let z: Vec<&str> = zones.iter().map(String::as_str).collect();
    // The Fargate sync task runs while a sync is in progress; on Spot it is interrupted now and then.
    let syncing = sim.window(1800.0, 0.4, 0.0);
    let interrupted = size != HomebrewSize::Prod && syncing && sim.window(600.0, 0.2, 120.0);
    let desired = u32::from(syncing);
    let tasks = TaskCounts {
        running: desired - u32::from(interrupted),
        desired,
        pending: u32::from(interrupted),
    };
    let mut resources = vec![
        res(
            ResourceKind::Lambda,
            &format!("{n}-orchestrator"),
            &arn(region, a, &format!("lambda:{{r}}:{{a}}:function:{n}-orchestrator")),
            "Active",
            &[],
            &[(
                "memory",
                if size == HomebrewSize::Dev {
                    "256 MB".into()
                } else {
                    "512 MB".into()
                },
            )],
        ),
        res(
            ResourceKind::Lambda,
            &format!("{n}-sync"),
            &arn(region, a, &format!("lambda:{{r}}:{{a}}:function:{n}-sync")),
            "Active",
            &[],
            &[("memory", worker_mem.into())],
        ),
        res(
            ResourceKind::EcsCluster,
            &n,
            &arn(region, a, &format!("ecs:{{r}}:{{a}}:cluster/{n}")),
            "ACTIVE",
            &z,
            &[("Fargate Spot", spot.into())],
        ),
        service(
            &format!("{n}-sync-worker"),
            &arn(region, a, &format!("ecs:{{r}}:{{a}}:service/{n}/{n}-sync-worker")),
            &z,
            tasks,
            &[
                ("cpu / memory", cpu_mem.into()),
                ("runs", "large downloads (> size threshold)".into()),
            ],
        ),
        res(
            ResourceKind::S3Bucket,
            &format!("{n}-bottles"),
            &format!("arn:aws:s3:::{n}-bottles"),
            "versioned",
            &[],
            &[(
                "lifecycle",
                if size == HomebrewSize::Prod {
                    "90 days".into()
                } else {
                    "30 days".into()
                },
            )],
        ),
        res(
            ResourceKind::EventBridgeRule,
            &format!("{n}-schedule"),
            &arn(region, a, &format!("events:{{r}}:{{a}}:rule/{n}-schedule")),
            "ENABLED",
            &[],
            &[("schedule", schedule.into())],
        ),
    ];
    if size == HomebrewSize::Prod {
        resources.push(res(
            ResourceKind::BackupVault,
            &format!("{n}-vault"),
            &arn(region, a, &format!("backup:{{r}}:{{a}}:backup-vault:{n}-vault")),
            "available",
            &[],
            &[],
        ));
        resources.push(res(
            ResourceKind::BackupPlan,
            &format!("{n}-daily"),
            "plan-homebrew-prod",
            "active",
            &[],
            &[
                ("schedule", "daily 05:00".into()),
                ("retention", "120 days, cold after 30".into()),
            ],
        ));
    }
    let (err_threshold, dur_threshold) = match size {
        HomebrewSize::Prod => (3.0, 180.0),
        _ => (5.0, 300.0),
    };
    let readings = vec![
        reading(
            "Orchestrator invocations",
            if syncing { sim.wave(4.0, 12.0, 300.0, 0.0) } else { 0.0 },
            "per 5 min",
        ),
        Reading {
            label: "Sync errors",
            // Errors happen only while syncing, and rarely.
            value: if syncing {
                sim.wave(0.0, 1.15, 5400.0, 1.0).floor()
            } else {
                0.0
            },
            unit: "count",
            alarm: Some(AlarmSpec {
                suffix: "lambda-errors",
                threshold: err_threshold,
                above: true,
                condition: if size == HomebrewSize::Prod {
                    "≥ 3 errors"
                } else {
                    "≥ 5 errors"
                },
                flip_period: 5400.0,
                resource: Some("-sync"),
            }),
        },
        Reading {
            label: "Sync duration",
            value: sim.wave(40.0, 150.0, 1800.0, 0.3),
            unit: "s",
            alarm: Some(AlarmSpec {
                suffix: "lambda-duration",
                threshold: dur_threshold,
                above: true,
                condition: if size == HomebrewSize::Prod {
                    "> 3 min"
                } else {
                    "> 5 min"
                },
                flip_period: 1800.0,
                resource: Some("-sync"),
            }),
        },
        reading(
            "ECS CPU",
            if syncing { sim.wave(40.0, 80.0, 700.0, 0.0) } else { 0.0 },
            "%",
        ),
        reading("Bucket size", 1800.0 + (sim.t / 86400.0).rem_euclid(30.0) * 4.0, "GB"),
        Reading {
            label: "Monthly cost",
            value: sim.wave(60.0, 85.0, 86400.0, 0.0),
            unit: "USD",
            alarm: Some(AlarmSpec {
                suffix: "cost",
                threshold: 100.0,
                above: true,
                condition: "> $100",
                flip_period: 86400.0,
                resource: None,
            }),
        },
    ];
    (resources, readings)
}
