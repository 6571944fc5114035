//! The blue/green production service: a VPC over two zones with a NAT each, an ALB with a live
//! and a standby target group, an ECS service deployed by CodeDeploy, and DocumentDB ×2.

use super::sim::{Reading, Sim, alarmed, arn, reading, res, service};
use crate::model::{Resource, ResourceKind, TaskCounts};

pub(super) fn bluegreen(sim: &Sim) -> (Vec<Resource>, Vec<Reading>) {
    let (r, a, n) = ("us-east-1", "210987654321", "docdb-bluegreen-prod");
    let az = ["us-east-1a", "us-east-1b"];
    let desired = (sim.wave(2.0, 6.5, 3600.0, 0.7).round() as u32).clamp(2, 8);
    let tasks = TaskCounts {
        running: desired,
        desired,
        pending: 0,
    };
    let resources = vec![
        res(
            ResourceKind::CloudFront,
            &format!("{n}-cdn"),
            "E1BLUEGREEN",
            "Deployed",
            &[],
            &[("origins", "S3 site, ALB (API) via OAC".into())],
        ),
        res(
            ResourceKind::S3Bucket,
            &format!("{n}-site"),
            &format!("arn:aws:s3:::{n}-site"),
            "private",
            &[],
            &[],
        ),
        res(
            ResourceKind::Vpc,
            &format!("{n}-vpc"),
            "vpc-0bg1",
            "available",
            &az,
            &[("cidr", "10.1.0.0/16".into())],
        ),
        res(
            ResourceKind::NatGateway,
            &format!("{n}-nat-a"),
            "nat-0bga",
            "available",
            &["us-east-1a"],
            &[],
        ),
        res(
            ResourceKind::NatGateway,
            &format!("{n}-nat-b"),
            "nat-0bgb",
            "available",
            &["us-east-1b"],
            &[],
        ),
        res(
            ResourceKind::LoadBalancer,
            &format!("{n}-alb"),
            &arn(
                r,
                a,
                &format!("elasticloadbalancing:{{r}}:{{a}}:loadbalancer/app/{n}-alb/1"),
            ),
            "active",
            &az,
            &[("listeners", "HTTPS :443 (HTTP redirects), test listener :8443".into())],
        ),
        res(
            ResourceKind::TargetGroup,
            &format!("{n}-blue"),
            &arn(
                r,
                a,
                &format!("elasticloadbalancing:{{r}}:{{a}}:targetgroup/{n}-blue/1"),
            ),
            "healthy",
            &az,
            &[
                ("role", "live (production listener)".into()),
                ("targets", format!("{desired} healthy")),
            ],
        ),
        res(
            ResourceKind::TargetGroup,
            &format!("{n}-green"),
            &arn(
                r,
                a,
                &format!("elasticloadbalancing:{{r}}:{{a}}:targetgroup/{n}-green/1"),
            ),
            "unused",
            &az,
            &[("role", "standby (test listener)".into()), ("targets", "0".into())],
        ),
        res(
            ResourceKind::EcsCluster,
            n,
            &arn(r, a, &format!("ecs:{{r}}:{{a}}:cluster/{n}")),
            "ACTIVE",
            &az,
            &[],
        ),
        service(
            &format!("{n}-app"),
            &arn(r, a, &format!("ecs:{{r}}:{{a}}:service/{n}/{n}-app")),
            &az,
            tasks,
            &[
                ("deployment", "blue/green (CodeDeploy)".into()),
                ("autoscaling", "2-8 tasks, CPU target tracking".into()),
            ],
        ),
        res(
            ResourceKind::DocDbCluster,
            &format!("{n}-docdb"),
            &arn(r, a, &format!("rds:{{r}}:{{a}}:cluster:{n}-docdb")),
            "available",
            &az,
            &[
                ("backup retention", "14 days".into()),
                ("log exports", "audit, profiler".into()),
            ],
        ),
        res(
            ResourceKind::DocDbInstance,
            &format!("{n}-docdb-1"),
            &arn(r, a, &format!("rds:{{r}}:{{a}}:db:{n}-docdb-1")),
            "available",
            &["us-east-1a"],
            &[("role", "writer".into())],
        ),
        res(
            ResourceKind::DocDbInstance,
            &format!("{n}-docdb-2"),
            &arn(r, a, &format!("rds:{{r}}:{{a}}:db:{n}-docdb-2")),
            "available",
            &["us-east-1b"],
            &[("role", "reader".into())],
        ),
        res(
            ResourceKind::Ecr,
            &format!("{n}-app"),
            &arn(r, a, &format!("ecr:{{r}}:{{a}}:repository/{n}-app")),
            "scan on push",
            &[],
            &[],
        ),
    ];
    let readings = vec![
        reading("Requests/s", sim.wave(80.0, 260.0, 3600.0, 0.7), "req/s"),
        alarmed(
            "Target 5xx",
            sim.wave(0.0, 0.6, 2000.0, 0.1),
            "%",
            "alb-5xx",
            1.0,
            "> 1 % for 5 min",
            Some("-alb"),
        ),
        alarmed(
            "CPU",
            sim.wave(30.0, 75.0, 3600.0, 0.7),
            "%",
            "ecs-cpu-high",
            85.0,
            "> 85 % for 10 min",
            Some("-app"),
        ),
        reading("DocumentDB connections", sim.wave(40.0, 90.0, 3600.0, 0.7), "count"),
    ];
    (resources, readings)
}
