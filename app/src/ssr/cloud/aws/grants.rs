//! Grants: STS AssumeRole for a person's temporary credentials, and revocation by an inline deny
//! policy on the profile's role scoped to one role session (`aws:userid` ends with
//! `:SESSION_NAME`) for tokens issued before now (`aws:TokenIssueTime`).

use super::err_text;
use crate::ssr::cloud::TempCredentials;

/// The inline policy the console keeps its revocations in.
pub const POLICY_NAME: &str = "ops-console-revocations";
/// Inline role policies are limited to 10,240 characters.
pub const POLICY_LIMIT: usize = 10_240;
/// A role session lasts at most 12 h, so a deny for tokens issued earlier than that matches none.
const MAX_SESSION_MS: i64 = 12 * 3_600_000;
const SID_PREFIX: &str = "OpsConsoleRevoke";

pub async fn assume_role(
    sts: &aws_sdk_sts::Client,
    role_arn: &str,
    session_name: &str,
    duration_s: i32,
    source_identity: &str,
    tags: &[(String, String)],
) -> Result<TempCredentials, String> {
    let mut call = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session_name)
        .duration_seconds(duration_s)
        .source_identity(source_identity);
    for (k, v) in tags {
        call = call.tags(
            aws_sdk_sts::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| format!("session tag {k}: {e}"))?,
        );
    }
    let out = call.send().await.map_err(|e| err_text("STS AssumeRole", &e))?;
    let c = out
        .credentials()
        .ok_or_else(|| "STS AssumeRole: no credentials in the answer".to_string())?;
    Ok(TempCredentials {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: c.secret_access_key().to_string(),
        session_token: c.session_token().to_string(),
        expires_ms: super::secs_to_ms(c.expiration()),
    })
}

/// The role name of a role ARN (`arn:aws:iam::1:role/path/name` → `name`).
pub fn role_name(role_arn: &str) -> Option<&str> {
    role_arn
        .split_once(":role/")
        .map(|(_, rest)| rest.rsplit('/').next().unwrap_or(rest))
        .filter(|n| !n.is_empty())
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn parse_iso(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// The policy after adding a deny for `session_name` issued before `issued_before_ms`: the
/// console's statements whose cut-off is older than the longest role session are dropped (they
/// can match no live token), then the oldest of the rest while the document is over the limit.
/// Statements that are not the console's are kept as they are.
pub fn with_revocation(existing: Option<&str>, session_name: &str, issued_before_ms: i64, now_ms: i64) -> String {
    let mut statements: Vec<serde_json::Value> = existing
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .and_then(|v| v.get("Statement").cloned())
        .and_then(|s| match s {
            serde_json::Value::Array(a) => Some(a),
            one @ serde_json::Value::Object(_) => Some(vec![one]),
            _ => None,
        })
        .unwrap_or_default();
    let cutoff_of = |s: &serde_json::Value| -> Option<i64> {
        s.pointer("/Condition/DateLessThan/aws:TokenIssueTime")
            .and_then(|v| v.as_str())
            .and_then(parse_iso)
    };
    let ours = |s: &serde_json::Value| {
        s.get("Sid")
            .and_then(|v| v.as_str())
            .is_some_and(|v| v.starts_with(SID_PREFIX))
    };
    statements.retain(|s| !ours(s) || cutoff_of(s).is_some_and(|c| c > now_ms - MAX_SESSION_MS));
    let sid: String = format!("{SID_PREFIX}{}{issued_before_ms}", session_name)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    statements.push(serde_json::json!({
        "Sid": sid,
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "StringLike": {"aws:userid": format!("*:{session_name}")},
            "DateLessThan": {"aws:TokenIssueTime": iso(issued_before_ms)}
        }
    }));
    loop {
        let doc = serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string();
        if doc.len() <= POLICY_LIMIT {
            return doc;
        }
        // Over the limit: drop the oldest of the console's statements (never the new one).
        let oldest = statements
            .iter()
            .enumerate()
            .take(statements.len().saturating_sub(1))
            .filter(|(_, s)| ours(s))
            .min_by_key(|(_, s)| cutoff_of(s).unwrap_or(0))
            .map(|(i, _)| i);
        match oldest {
            Some(i) => {
                statements.remove(i);
            }
            None => return doc,
        }
    }
}

pub fn decode_policy(doc: &str) -> String {
    // IAM answers policy documents URL-encoded.
    if doc.trim_start().starts_with('{') {
        doc.to_string()
    } else {
        url::form_urlencoded::parse(format!("d={doc}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    }
}

pub async fn deny_session(
    iam: &aws_sdk_iam::Client,
    role_arn: &str,
    session_name: &str,
    issued_before_ms: i64,
    now_ms: i64,
) -> Result<String, String> {
    let role = role_name(role_arn).ok_or_else(|| format!("{role_arn} is not a role ARN"))?;
    let existing = match iam
        .get_role_policy()
        .role_name(role)
        .policy_name(POLICY_NAME)
        .send()
        .await
    {
        Ok(out) => Some(decode_policy(out.policy_document())),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => None,
        Err(e) => return Err(err_text("IAM GetRolePolicy", &e)),
    };
    let doc = with_revocation(existing.as_deref(), session_name, issued_before_ms, now_ms);
    iam.put_role_policy()
        .role_name(role)
        .policy_name(POLICY_NAME)
        .policy_document(&doc)
        .send()
        .await
        .map_err(|e| err_text("IAM PutRolePolicy", &e))?;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn a_revocation_denies_one_session_issued_before_now() -> Result<(), serde_json::Error> {
        let doc: serde_json::Value = serde_json::from_str(&with_revocation(None, "req-42-alice", NOW, NOW))?;
        let s = &doc["Statement"][0];
        assert_eq!(s["Effect"], "Deny");
        assert_eq!(s["Condition"]["StringLike"]["aws:userid"], "*:req-42-alice");
        assert_eq!(s["Condition"]["DateLessThan"]["aws:TokenIssueTime"], iso(NOW));
        Ok(())
    }

    #[test]
    fn stale_statements_are_pruned_and_foreign_ones_kept() -> Result<(), serde_json::Error> {
        let old = with_revocation(None, "req-1-bob", NOW - 13 * 3_600_000, NOW - 13 * 3_600_000);
        let mut v: serde_json::Value = serde_json::from_str(&old)?;
        let statements = v["Statement"].as_array_mut();
        assert!(statements.is_some(), "Statement is an array: {old}");
        statements.into_iter().for_each(|a| {
            a.push(serde_json::json!({"Sid": "SomeoneElse", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}))
        });
        let doc = with_revocation(Some(&v.to_string()), "req-42-alice", NOW, NOW);
        assert!(!doc.contains("req-1-bob"), "older than any session: pruned");
        assert!(doc.contains("SomeoneElse") && doc.contains("req-42-alice"));
        Ok(())
    }

    #[test]
    fn the_document_stays_under_the_inline_policy_limit() {
        let mut doc = String::new();
        for i in 0..200 {
            let existing = (i > 0).then_some(doc.as_str());
            doc = with_revocation(existing, &format!("req-{i}-someone-with-a-long-name"), NOW + i, NOW + i);
        }
        assert!(doc.len() <= POLICY_LIMIT, "{}", doc.len());
        assert!(doc.contains("req-199-"), "the newest is kept");
        assert!(!doc.contains("req-0-someone"), "the oldest went first");
    }

    #[test]
    fn role_names_and_encoded_documents() {
        assert_eq!(role_name("arn:aws:iam::1:role/prod-readonly"), Some("prod-readonly"));
        assert_eq!(role_name("arn:aws:iam::1:role/team/x/prod-admin"), Some("prod-admin"));
        assert_eq!(role_name("arn:aws:iam::1:user/bob"), None);
        assert_eq!(decode_policy("%7B%22a%22%3A1%7D"), "{\"a\":1}");
    }
}
