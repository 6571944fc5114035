//! API Gateway: REST APIs (GetRestApis) and HTTP/WebSocket APIs (apigatewayv2 GetApis), each under
//! the ARN the tagging API uses. Both return their tags, so a selector narrows them here. Their
//! CloudWatch metrics are keyed differently: REST by `ApiName` (the name, not the id), HTTP by
//! `ApiId` (scope.rs `dims_of`).

use super::{err_text, row};
use crate::model::{Health, Resource, ResourceKind};
use crate::ssr::config::Selector;

pub async fn read(
    rest: &aws_sdk_apigateway::Client,
    http: &aws_sdk_apigatewayv2::Client,
    region: &str,
    selector: Option<&Selector>,
) -> Result<Vec<Resource>, String> {
    let rest_apis: Vec<_> = rest
        .get_rest_apis()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("API Gateway GetRestApis", &e))?;
    let mut out = Vec::new();
    for a in rest_apis {
        let tags = a.tags().into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()));
        if !super::carries(selector, tags) {
            continue;
        }
        let id = a.id().unwrap_or_default();
        let types: Vec<&str> = a
            .endpoint_configuration()
            .map(|e| e.types().iter().map(|t| t.as_str()).collect())
            .unwrap_or_default();
        out.push(row(
            ResourceKind::ApiGateway,
            a.name().unwrap_or(id),
            &format!("arn:aws:apigateway:{region}::/restapis/{id}"),
            "available",
            Health::Healthy,
            vec![
                ("protocol".into(), "REST".into()),
                ("API id".into(), id.to_string()),
                ("endpoint".into(), types.join(", ")),
            ],
        ));
    }
    let mut token: Option<String> = None;
    loop {
        let page = http
            .get_apis()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| err_text("API Gateway GetApis", &e))?;
        for a in page.items() {
            let tags = a.tags().into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()));
            if !super::carries(selector, tags) {
                continue;
            }
            let id = a.api_id().unwrap_or_default();
            out.push(row(
                ResourceKind::ApiGateway,
                a.name().unwrap_or(id),
                &format!("arn:aws:apigateway:{region}::/apis/{id}"),
                "available",
                Health::Healthy,
                vec![
                    (
                        "protocol".into(),
                        a.protocol_type().map(|p| p.as_str().to_string()).unwrap_or_default(),
                    ),
                    ("API id".into(), id.to_string()),
                    ("endpoint".into(), a.api_endpoint().unwrap_or_default().to_string()),
                ],
            ));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}
