//! Curriculum Alignment: one CloudFormation stack of Lambda functions, API Gateway, S3 and
//! DynamoDB. It keeps one alarm firing so the console shows what that looks like.

use super::sim::{Reading, Sim, alarmed, arn, reading, res};
use crate::model::{Resource, ResourceKind};

pub(super) fn curriculum(sim: &Sim) -> (Vec<Resource>, Vec<Reading>) {
    let (r, a, n) = ("eu-central-1", "345678901234", "curriculum-alignment-prod");
    let lambda = |f: &str| {
        res(
            ResourceKind::Lambda,
            &format!("{n}-{f}"),
            &arn(r, a, &format!("lambda:{{r}}:{{a}}:function:{n}-{f}")),
            "Active",
            &[],
            &[],
        )
    };
    let resources = vec![
        res(
            ResourceKind::CloudFormationStack,
            n,
            &arn(r, a, &format!("cloudformation:{{r}}:{{a}}:stack/{n}/1")),
            "UPDATE_COMPLETE",
            &[],
            &[],
        ),
        res(
            ResourceKind::ApiGateway,
            &format!("{n}-api"),
            "api-curriculum",
            "deployed",
            &[],
            &[("stage", "prod, rate limited and cached".into())],
        ),
        lambda("coordinator"),
        lambda("web-search"),
        lambda("document-processing"),
        lambda("semantic-search"),
        res(
            ResourceKind::S3Bucket,
            &format!("{n}-documents"),
            &format!("arn:aws:s3:::{n}-documents"),
            "versioned",
            &[],
            &[],
        ),
        res(
            ResourceKind::S3Bucket,
            "curriculum-alignment-backups-prod",
            "arn:aws:s3:::curriculum-alignment-backups-prod",
            "versioned",
            &[],
            &[],
        ),
        res(
            ResourceKind::DynamoDb,
            &format!("{n}-programs"),
            &arn(r, a, &format!("dynamodb:{{r}}:{{a}}:table/{n}-programs")),
            "ACTIVE",
            &[],
            &[("backup", "PITR".into())],
        ),
        res(
            ResourceKind::BackupPlan,
            &format!("{n}-backup"),
            "plan-curriculum",
            "active",
            &[],
            &[
                ("schedule", "full daily 02:00, incremental every 4 h".into()),
                ("RPO / RTO", "4 h / 2 h".into()),
            ],
        ),
    ];
    let readings = vec![
        reading("Lambda invocations", sim.wave(200.0, 900.0, 3600.0, 0.0), "per 5 min"),
        // Always above 1 %: the demo keeps one alarm firing so the console shows what that looks like.
        alarmed(
            "Lambda error rate",
            sim.wave(1.2, 2.1, 1500.0, 0.0),
            "%",
            "lambda-error-rate",
            1.0,
            "> 1 %",
            Some("-document-processing"),
        ),
        alarmed(
            "API 5xx",
            sim.wave(0.0, 0.4, 1900.0, 0.0),
            "%",
            "api-5xx",
            1.0,
            "> 1 % for 5 min",
            Some("-api"),
        ),
        reading("API latency p95", sim.wave(220.0, 480.0, 1900.0, 0.3), "ms"),
    ];
    (resources, readings)
}
