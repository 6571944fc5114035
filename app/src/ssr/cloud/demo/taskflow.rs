//! TaskFlow production: CloudFront and WAF in front of an ALB over two zones, an ECS service
//! that scales with the request rate (2-20 tasks), RDS with a standby and a read replica, Redis.

use super::sim::{Reading, Sim, alarmed, arn, reading, res, service};
use crate::model::{Resource, ResourceKind, TaskCounts};

pub(super) fn taskflow(sim: &Sim) -> (Vec<Resource>, Vec<Reading>) {
    let (r, a) = ("us-east-1", "987654321098");
    let az = ["us-east-1a", "us-east-1b"];
    // Desired count follows the request rate (target tracking, 2-20 tasks); one task is replaced
    // for a minute every 15 minutes, so running dips below desired now and then.
    let rps = sim.wave(300.0, 620.0, 3600.0, 0.0);
    let desired = ((rps / 110.0).ceil() as u32).clamp(2, 20);
    let replacing = sim.window(900.0, 1.0 / 15.0, 0.0);
    let tasks = TaskCounts {
        running: desired - u32::from(replacing),
        desired,
        pending: u32::from(replacing),
    };
    let cpu = sim.wave(38.0, 91.0, 1200.0, 1.0);
    let resources = vec![
        res(
            ResourceKind::CloudFront,
            "taskflow.app",
            "E2TASKFLOWPROD",
            "Deployed",
            &[],
            &[
                ("origins", "ALB (API), S3 (static)".into()),
                ("price class", "PriceClass_All".into()),
            ],
        ),
        res(
            ResourceKind::Waf,
            "taskflow-production-acl",
            &arn(r, a, "wafv2:{r}:{a}:global/webacl/taskflow-production-acl"),
            "Enabled",
            &[],
            &[(
                "rules",
                "Common, KnownBadInputs, SQLi, RateLimit 2000/5 min, GeoBlock KP IR".into(),
            )],
        ),
        res(
            ResourceKind::LoadBalancer,
            "taskflow-production-alb",
            &arn(
                r,
                a,
                "elasticloadbalancing:{r}:{a}:loadbalancer/app/taskflow-production-alb/1",
            ),
            "active",
            &az,
            &[("listener", "HTTPS :443".into())],
        ),
        res(
            ResourceKind::TargetGroup,
            "taskflow-api-production-tg",
            &arn(
                r,
                a,
                "elasticloadbalancing:{r}:{a}:targetgroup/taskflow-api-production-tg/1",
            ),
            "healthy",
            &az,
            &[
                ("targets", format!("{} healthy", tasks.running)),
                ("port", "3001".into()),
            ],
        ),
        res(
            ResourceKind::EcsCluster,
            "taskflow-production",
            &arn(r, a, "ecs:{r}:{a}:cluster/taskflow-production"),
            "ACTIVE",
            &az,
            &[],
        ),
        service(
            "taskflow-api-production",
            &arn(r, a, "ecs:{r}:{a}:service/taskflow-production/taskflow-api-production"),
            &az,
            tasks,
            &[
                ("task definition", "taskflow-api-production:42".into()),
                ("cpu / memory", "1024 / 2048 MB".into()),
                ("autoscaling", "2-20 tasks, CPU 70 %, memory 80 %".into()),
            ],
        ),
        res(
            ResourceKind::RdsInstance,
            "taskflow-production",
            &arn(r, a, "rds:{r}:{a}:db:taskflow-production"),
            "available",
            &az,
            &[
                ("engine", "postgres 15.4".into()),
                ("class", "db.r6g.large".into()),
                ("multi-AZ", "primary us-east-1a, standby us-east-1b".into()),
                ("backup retention", "30 days".into()),
            ],
        ),
        res(
            ResourceKind::RdsInstance,
            "taskflow-production-replica-1",
            &arn(r, a, "rds:{r}:{a}:db:taskflow-production-replica-1"),
            "available",
            &["us-east-1b"],
            &[("engine", "postgres 15.4 read replica".into())],
        ),
        res(
            ResourceKind::ElastiCache,
            "taskflow-production-redis",
            &arn(r, a, "elasticache:{r}:{a}:replicationgroup:taskflow-production-redis"),
            "available",
            &az,
            &[
                ("engine", "redis 7.0, cluster mode".into()),
                ("nodes", "2 shards × (1 primary + 1 replica), cache.r6g.large".into()),
            ],
        ),
        res(
            ResourceKind::S3Bucket,
            "taskflow-production-static",
            "arn:aws:s3:::taskflow-production-static",
            "versioned",
            &[],
            &[],
        ),
        res(
            ResourceKind::NatGateway,
            "taskflow-production-nat-a",
            "nat-0a1",
            "available",
            &["us-east-1a"],
            &[],
        ),
        res(
            ResourceKind::NatGateway,
            "taskflow-production-nat-b",
            "nat-0b2",
            "available",
            &["us-east-1b"],
            &[],
        ),
    ];
    let readings = vec![
        reading("Requests/s", rps, "req/s"),
        reading("P50 latency", sim.wave(38.0, 60.0, 1800.0, 0.5), "ms"),
        alarmed(
            "P95 latency",
            sim.wave(150.0, 320.0, 1800.0, 0.5),
            "ms",
            "p95-latency",
            500.0,
            "> 500 ms for 5 min",
            Some("-alb"),
        ),
        reading("P99 latency", sim.wave(380.0, 720.0, 1800.0, 0.5), "ms"),
        alarmed(
            "Error rate",
            sim.wave(0.01, 0.09, 2400.0, 2.0),
            "%",
            "error-rate",
            1.0,
            "> 1 % for 5 min",
            Some("-alb"),
        ),
        alarmed(
            "Unhealthy tasks",
            f64::from(tasks.desired - tasks.running),
            "tasks",
            "service-down",
            0.0,
            "any task unhealthy",
            None,
        ),
        alarmed("CPU", cpu, "%", "cpu-high", 85.0, "> 85 % for 10 min", None),
        alarmed(
            "Memory",
            sim.wave(55.0, 70.0, 3000.0, 0.2),
            "%",
            "memory-high",
            90.0,
            "> 90 % for 10 min",
            None,
        ),
        alarmed(
            "DB connections",
            sim.wave(35.0, 60.0, 2000.0, 1.5),
            "% of max",
            "db-connections",
            80.0,
            "> 80 % for 5 min",
            None,
        ),
        alarmed("Disk space", 41.0, "%", "disk-space", 80.0, "> 80 %", None),
    ];
    (resources, readings)
}
