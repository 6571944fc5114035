//! What the moto tests of the live kinds create, the same way each time: a function, a stack,
//! metric data.

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use serde_json::Value;

/// An empty zip archive: moto keeps a function's code without running it.
pub const EMPTY_ZIP: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

/// A role Lambda may assume: its ARN.
pub async fn lambda_role(aws: &aws_config::SdkConfig, name: &str) -> String {
    aws_sdk_iam::Client::new(aws)
        .create_role()
        .role_name(name)
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("CreateRole")
        .role()
        .map(|r| r.arn().to_string())
        .expect("role arn")
}

/// A Python function of 256 MB and 30 s carrying `Environment = tag`.
pub async fn function(aws: &aws_config::SdkConfig, name: &str, role: &str, tag: &str) {
    aws_sdk_lambda::Client::new(aws)
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .role(role)
        .handler("index.handler")
        .memory_size(256)
        .timeout(30)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types::Blob::new(EMPTY_ZIP.to_vec()))
                .build(),
        )
        .tags("Environment", tag)
        .send()
        .await
        .expect("CreateFunction");
}

/// A stack of one topic carrying `Environment = tag`.
pub async fn stack(aws: &aws_config::SdkConfig, name: &str, tag: &str) {
    aws_sdk_cloudformation::Client::new(aws)
        .create_stack()
        .stack_name(name)
        .template_body(r#"{"Resources":{"Alerts":{"Type":"AWS::SNS::Topic"}}}"#)
        .tags(
            aws_sdk_cloudformation::types::Tag::builder()
                .key("Environment")
                .value(tag)
                .build(),
        )
        .send()
        .await
        .expect("CreateStack");
}

/// `per_minute` of a metric, one datapoint a minute over the last ten minutes.
pub async fn put(cw: &aws_sdk_cloudwatch::Client, namespace: &str, metric: &str, dim: (&str, &str), per_minute: f64) {
    let now = chrono::Utc::now().timestamp() / 60 * 60;
    let data: Vec<MetricDatum> = (1..=10)
        .map(|i| {
            MetricDatum::builder()
                .metric_name(metric)
                .dimensions(Dimension::builder().name(dim.0).value(dim.1).build())
                .timestamp(aws_smithy_types::DateTime::from_secs(now - i * 60))
                .value(per_minute)
                .build()
        })
        .collect();
    cw.put_metric_data()
        .namespace(namespace)
        .set_metric_data(Some(data))
        .send()
        .await
        .expect("PutMetricData");
}

/// One check of a status report, by id.
pub fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
        .expect(id)
}

/// `console.toml` in `dir`: `toml` with a SQLite database beside it, for `ops-console status`.
pub fn config_file(dir: &std::path::Path, toml: &str) -> std::path::PathBuf {
    let path = dir.join("console.toml");
    let db = format!("database_url = \"sqlite://{}/c.db\"\n", dir.display());
    std::fs::write(&path, format!("{db}{toml}")).expect("config");
    path
}

/// An ECS cluster carrying `Environment = tag`.
pub async fn tagged_cluster(ecs: &aws_sdk_ecs::Client, name: &str, tag: &str) {
    ecs.create_cluster()
        .cluster_name(name)
        .tags(aws_sdk_ecs::types::Tag::builder().key("Environment").value(tag).build())
        .send()
        .await
        .expect("CreateCluster");
}
