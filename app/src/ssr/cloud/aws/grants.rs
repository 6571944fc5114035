//! Grants: STS AssumeRole for a person's temporary credentials, and revocation by an inline deny
//! policy on the profile's role scoped to one role session (`aws:userid` ends with
//! `:SESSION_NAME`) for tokens issued before now (`aws:TokenIssueTime`).

use super::err_text;
use crate::ssr::cloud::{DenyWritten, REVOCATION_SKEW_MS, TempCredentials};

/// The inline policy the console keeps its revocations in.
pub const POLICY_NAME: &str = "ops-console-revocations";
/// IAM's limit on all of a role's inline policies together (10,240 characters, whitespace not
/// counted): the console's policy gets what the role's other inline policies leave.
pub const POLICY_LIMIT: usize = 10_240;
/// A role session lasts at most 12 h (AWS's ceiling for any role), so a token issued before a
/// cut-off has expired 12 h after it...
const MAX_SESSION_MS: i64 = 12 * 3_600_000;
/// ...plus this margin for clock skew between the console and AWS: only then is a statement
/// dropped. Younger statements are never dropped, whatever the size.
const PRUNE_MARGIN_MS: i64 = 15 * 60_000;
const SID_PREFIX: &str = "OpsConsoleRevoke";
const ROLE_WIDE_SID: &str = "OpsConsoleRevokeAllBefore";

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

/// `ms` as IAM's date, rounded up to the next whole second: a cut-off never falls before the
/// instant it stands for (a token issued at 10:00:00.700 is not "before 10:00:00").
fn iso(ms: i64) -> String {
    let up = ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0);
    chrono::DateTime::from_timestamp(up, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn parse_iso(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// The cut-off of one of the console's statements (tokens issued before it are denied).
fn cutoff_of(s: &serde_json::Value) -> Option<i64> {
    s.pointer("/Condition/DateLessThan/aws:TokenIssueTime")
        .and_then(|v| v.as_str())
        .and_then(parse_iso)
}

/// A statement the console wrote and understands: its Sid, a deny of everything, a cut-off.
/// Anything else in the policy (someone's hand edit included) is kept exactly as it is.
fn ours(s: &serde_json::Value) -> bool {
    s.get("Sid")
        .and_then(|v| v.as_str())
        .is_some_and(|v| v.starts_with(SID_PREFIX))
        && s.get("Effect").and_then(|v| v.as_str()) == Some("Deny")
        && cutoff_of(s).is_some()
}

/// The one statement that stops every session of the role issued before `cutoff_ms`.
fn role_wide(cutoff_ms: i64) -> serde_json::Value {
    serde_json::json!({
        "Sid": format!("{ROLE_WIDE_SID}{}", cutoff_ms.div_euclid(1000)),
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": iso(cutoff_ms)}}
    })
}

fn is_role_wide(s: &serde_json::Value) -> bool {
    ours(s) && s.pointer("/Condition/StringLike").is_none()
}

/// The statements of a policy document (one statement or a list), none when it is unreadable.
fn statements_of(doc: Option<&str>) -> Vec<serde_json::Value> {
    doc.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .and_then(|v| v.get("Statement").cloned())
        .and_then(|s| match s {
            serde_json::Value::Array(a) => Some(a),
            one @ serde_json::Value::Object(_) => Some(vec![one]),
            _ => None,
        })
        .unwrap_or_default()
}

fn document(statements: &[serde_json::Value]) -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// The size IAM counts of a policy document: its characters without whitespace (a document
/// that is JSON is measured compacted, which removes exactly the whitespace between tokens).
pub fn policy_size(doc: &str) -> usize {
    match serde_json::from_str::<serde_json::Value>(doc) {
        Ok(v) => v.to_string().chars().count(),
        Err(_) => doc.chars().filter(|c| !c.is_whitespace()).count(),
    }
}

/// The new deny policy and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Revised {
    pub doc: String,
    /// The statement this revocation added, to be found again when the policy is read back.
    pub added: serde_json::Value,
    /// True when the console's statements no longer fitted and one role-wide deny took over.
    pub role_wide: bool,
    /// The cut-off written: tokens issued before it are denied.
    pub cutoff_ms: i64,
}

/// The policy after adding a deny for `session_name` on tokens issued before `issued_before_ms`,
/// with `room` characters left for it by the role's other inline policies.
///
/// The console's statements are dropped only when every token they could match has expired
/// (cut-off older than the longest role session plus a margin). When the new statement does not
/// fit beside the others, all of the console's statements give way to one role-wide deny of
/// every session of the role issued before `role_wide_before_ms` (now plus the skew margin):
/// every token those statements stopped was issued before now, so it stays stopped. Statements
/// that are not the console's are kept as they are. Err when not even that fits.
pub fn with_revocation(
    existing: Option<&str>,
    room: usize,
    session_name: &str,
    issued_before_ms: i64,
    role_wide_before_ms: i64,
    now_ms: i64,
) -> Result<Revised, String> {
    let mut statements = statements_of(existing);
    let live = |s: &serde_json::Value| cutoff_of(s).is_some_and(|c| c >= now_ms - MAX_SESSION_MS - PRUNE_MARGIN_MS);
    statements.retain(|s| !ours(s) || live(s));
    let sid: String = format!("{SID_PREFIX}{session_name}{}", issued_before_ms.div_euclid(1000))
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let added = serde_json::json!({
        "Sid": sid,
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "StringLike": {"aws:userid": format!("*:{session_name}")},
            "DateLessThan": {"aws:TokenIssueTime": iso(issued_before_ms)}
        }
    });
    let mut with_new = statements.clone();
    with_new.retain(|s| s.get("Sid") != added.get("Sid"));
    with_new.push(added.clone());
    let doc = document(&with_new);
    if policy_size(&doc) <= room {
        return Ok(Revised {
            doc,
            added,
            role_wide: false,
            cutoff_ms: issued_before_ms,
        });
    }
    // Full: one role-wide deny takes the place of every statement of the console's, never
    // earlier than a role-wide deny already there.
    let cutoff = statements
        .iter()
        .filter(|s| is_role_wide(s))
        .filter_map(cutoff_of)
        .fold(role_wide_before_ms, i64::max);
    let added = role_wide(cutoff);
    statements.retain(|s| !ours(s));
    statements.push(added.clone());
    let doc = document(&statements);
    if policy_size(&doc) <= room {
        Ok(Revised {
            doc,
            added,
            role_wide: true,
            cutoff_ms: cutoff,
        })
    } else {
        Err(format!(
            "the role's other inline policies leave {room} of IAM's {POLICY_LIMIT} characters, too few for a deny"
        ))
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

/// The characters the role's inline policies other than the console's take.
async fn other_inline_size(iam: &aws_sdk_iam::Client, role: &str) -> Result<usize, String> {
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = iam
            .list_role_policies()
            .role_name(role)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| err_text("IAM ListRolePolicies", &e))?;
        names.extend(out.policy_names().iter().filter(|n| *n != POLICY_NAME).cloned());
        match out.marker() {
            Some(m) if out.is_truncated() => marker = Some(m.to_string()),
            _ => break,
        }
    }
    let mut size = 0;
    for name in names {
        let out = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(&name)
            .send()
            .await
            .map_err(|e| err_text("IAM GetRolePolicy", &e))?;
        size += policy_size(&decode_policy(out.policy_document()));
    }
    Ok(size)
}

/// The console's deny policy on `role`, None when there is none yet.
async fn read_policy(iam: &aws_sdk_iam::Client, role: &str) -> Result<Option<String>, String> {
    match iam
        .get_role_policy()
        .role_name(role)
        .policy_name(POLICY_NAME)
        .send()
        .await
    {
        Ok(out) => Ok(Some(decode_policy(out.policy_document()))),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => Ok(None),
        Err(e) => Err(err_text("IAM GetRolePolicy", &e)),
    }
}

/// Adds the deny for `session_name` to the role's policy (see `with_revocation`), then reads the
/// policy back: Err unless it holds the statement just written. The caller holds the role's
/// revocation lock, so no other console writes the policy meanwhile.
pub async fn deny_session(
    iam: &aws_sdk_iam::Client,
    role_arn: &str,
    session_name: &str,
    issued_before_ms: i64,
    now_ms: i64,
) -> Result<DenyWritten, String> {
    let role = role_name(role_arn).ok_or_else(|| format!("{role_arn} is not a role ARN"))?;
    let others = other_inline_size(iam, role).await?;
    let existing = read_policy(iam, role).await?;
    let revised = with_revocation(
        existing.as_deref(),
        POLICY_LIMIT.saturating_sub(others),
        session_name,
        issued_before_ms,
        now_ms + REVOCATION_SKEW_MS,
        now_ms,
    )?;
    iam.put_role_policy()
        .role_name(role)
        .policy_name(POLICY_NAME)
        .policy_document(&revised.doc)
        .send()
        .await
        .map_err(|e| err_text("IAM PutRolePolicy", &e))?;
    let back = read_policy(iam, role).await?;
    if !statements_of(back.as_deref()).contains(&revised.added) {
        return Err(format!(
            "read back after the write, {POLICY_NAME} on {role} does not hold the new deny (another writer?)"
        ));
    }
    Ok(DenyWritten {
        policy_chars: policy_size(&revised.doc) + others,
        role_wide: revised.role_wide,
        cutoff_ms: revised.cutoff_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const MIN: i64 = 60_000;

    fn add(existing: Option<&str>, room: usize, session: &str, at: i64) -> Revised {
        with_revocation(
            existing,
            room,
            session,
            at + REVOCATION_SKEW_MS,
            at + REVOCATION_SKEW_MS,
            at,
        )
        .expect("fits")
    }

    /// Whether `doc` stops a token of `session` issued at `issued_ms` (IAM's rules for the
    /// statements the console writes).
    fn denies(doc: &str, session: &str, issued_ms: i64) -> bool {
        statements_of(Some(doc)).iter().any(|s| {
            let who = s.pointer("/Condition/StringLike/aws:userid").and_then(|v| v.as_str());
            s["Effect"] == "Deny"
                && who.is_none_or(|w| w == format!("*:{session}"))
                && cutoff_of(s).is_some_and(|c| c > issued_ms)
        })
    }

    #[test]
    fn a_revocation_denies_one_session_issued_before_now() -> Result<(), serde_json::Error> {
        let doc: serde_json::Value = serde_json::from_str(&add(None, POLICY_LIMIT, "req-42-alice", NOW).doc)?;
        let s = &doc["Statement"][0];
        assert_eq!(s["Effect"], "Deny");
        assert_eq!(s["Condition"]["StringLike"]["aws:userid"], "*:req-42-alice");
        assert_eq!(
            s["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            iso(NOW + REVOCATION_SKEW_MS)
        );
        Ok(())
    }

    /// Item 6: IAM compares whole seconds; a cut-off floored to the second let a token issued
    /// earlier in that same second through.
    #[test]
    fn a_cut_off_is_never_rounded_down_below_the_instant_it_stands_for() {
        assert_eq!(iso(NOW + 700), iso(NOW + 1000));
        assert_eq!(iso(NOW), "2027-01-15T08:00:00Z");
        let r = with_revocation(None, POLICY_LIMIT, "req-1-a", NOW + 900, NOW + 900, NOW + 900).expect("fits");
        assert!(denies(&r.doc, "req-1-a", NOW + 700), "{}", r.doc);
    }

    #[test]
    fn stale_statements_are_pruned_and_foreign_ones_kept() -> Result<(), serde_json::Error> {
        let old = add(None, POLICY_LIMIT, "req-1-bob", NOW - 13 * 3_600_000).doc;
        let mut v: serde_json::Value = serde_json::from_str(&old)?;
        let statements = v["Statement"].as_array_mut();
        assert!(statements.is_some(), "Statement is an array: {old}");
        statements.into_iter().for_each(|a| {
            a.push(serde_json::json!({"Sid": "SomeoneElse", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}))
        });
        let doc = add(Some(&v.to_string()), POLICY_LIMIT, "req-42-alice", NOW).doc;
        assert!(
            !doc.contains("req-1-bob"),
            "older than any session plus the margin: pruned"
        );
        assert!(doc.contains("SomeoneElse") && doc.contains("req-42-alice"));
        // Eleven hours on, the statement may still match a live 12 h token: kept.
        let doc = add(Some(&doc), POLICY_LIMIT, "req-43-carol", NOW + 11 * 3_600_000).doc;
        assert!(doc.contains("req-42-alice"), "{doc}");
        Ok(())
    }

    /// Item 5: a grantee takes and revokes grant after grant to push the deny of their own first
    /// (still live) session out of the policy. It never goes; at worst a role-wide deny takes over.
    #[test]
    fn a_grantee_cannot_push_out_the_deny_of_their_own_revoked_session() {
        let mut doc = add(None, POLICY_LIMIT, "req-1-mallory", NOW).doc;
        let mut role_wide_seen = false;
        for i in 2..120 {
            let r = add(Some(&doc), POLICY_LIMIT, &format!("req-{i}-mallory"), NOW + i * MIN);
            doc = r.doc;
            role_wide_seen |= r.role_wide;
            assert!(policy_size(&doc) <= POLICY_LIMIT, "{}", doc.len());
            assert!(
                denies(&doc, "req-1-mallory", NOW - 1),
                "after {i} revocations the first session is still denied: {doc}"
            );
            assert!(denies(&doc, &format!("req-{i}-mallory"), NOW + i * MIN - 1));
        }
        assert!(role_wide_seen, "the policy filled up");
    }

    #[test]
    fn when_full_one_role_wide_deny_takes_over_and_says_so() -> Result<(), serde_json::Error> {
        let mut doc = String::new();
        let mut last = None;
        for i in 0..60 {
            let existing = (i > 0).then_some(doc.as_str());
            let r = add(existing, POLICY_LIMIT, &format!("req-{i}-someone"), NOW + i * 1000);
            doc = r.doc.clone();
            if r.role_wide {
                last = Some(r);
                break;
            }
        }
        let r = last.expect("the policy filled up within 60 revocations");
        let v: serde_json::Value = serde_json::from_str(&r.doc)?;
        let statements = v["Statement"].as_array().cloned().unwrap_or_default();
        assert_eq!(statements.len(), 1, "{}", r.doc);
        assert!(
            statements[0].pointer("/Condition/StringLike").is_none(),
            "role-wide: no session condition"
        );
        assert_eq!(r.added, statements[0]);
        // The next revocation adds its own statement beside the role-wide one.
        let next = add(Some(&r.doc), POLICY_LIMIT, "req-99-x", NOW + 100_000);
        assert!(!next.role_wide && next.doc.contains("req-99-x") && next.doc.contains(ROLE_WIDE_SID));
        Ok(())
    }

    /// Item 5: the role's other inline policies take their share of the 10,240 characters.
    #[test]
    fn other_inline_policies_leave_less_room() {
        let room = 600;
        let first = add(None, room, "req-1-a", NOW);
        assert!(!first.role_wide);
        let second = add(Some(&first.doc), room, "req-2-b", NOW + 1000);
        let third = add(Some(&second.doc), room, "req-3-c", NOW + 2000);
        assert!(
            third.role_wide || second.role_wide,
            "no more than two fit in 600 characters"
        );
        assert!(policy_size(&third.doc) <= room);
        assert!(
            with_revocation(None, 50, "req-4-d", NOW, NOW, NOW).is_err(),
            "no room at all"
        );
    }

    #[test]
    fn sizes_are_counted_as_iam_counts_them() {
        assert_eq!(policy_size("{ \"a\" : [ 1, 2 ] }"), "{\"a\":[1,2]}".len());
        assert_eq!(policy_size("not json  at all"), "notjsonatall".len());
    }

    #[test]
    fn role_names_and_encoded_documents() {
        assert_eq!(role_name("arn:aws:iam::1:role/prod-readonly"), Some("prod-readonly"));
        assert_eq!(role_name("arn:aws:iam::1:role/team/x/prod-admin"), Some("prod-admin"));
        assert_eq!(role_name("arn:aws:iam::1:user/bob"), None);
        assert_eq!(decode_policy("%7B%22a%22%3A1%7D"), "{\"a\":1}");
    }
}
