//! Access benchmark (not a test), run by scripts/bench.sh against moto:
//! 1. approve → credentials issued: an approver's decision plus the requester's activation (STS
//!    AssumeRole against moto, the store on SQLite), 100 runs, in process (no HTTP);
//! 2. audit append latency with 8 concurrent writers on SQLite, and how many failed with
//!    SQLITE_BUSY (the goal is none).

use app::model::Role;
use app::ssr::audit::NewAuditEntry;
use app::ssr::auth::Caller;
use app::ssr::config::Config;
use app::ssr::kernel::input::{Minutes, Reason};
use app::ssr::store::{SqlStore, Store};
use std::time::{Duration, Instant};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn person(subject: &str, role: Role, group: &str) -> Caller {
    Caller {
        subject: subject.into(),
        name: subject.into(),
        roles: vec![role],
        groups: vec![group.into()],
        anonymous: false,
        fresh_mfa: true,
        token: false,
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = arg("--endpoint").ok_or("--endpoint URL")?;
    let runs: usize = arg("--runs").and_then(|r| r.parse().ok()).unwrap_or(100);
    let dir = tempfile::tempdir()?;
    // The profile's role must exist for revocation (IAM PutRolePolicy).
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .load()
        .await;
    let role = format!("bench-readonly-{:08x}", rand::random::<u32>());
    aws_sdk_iam::Client::new(&aws)
        .create_role()
        .role_name(&role)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await?;
    let text = format!(
        r#"database_url = "sqlite://{db}/bench.db"
demo = false
[jobs]
outbox_seconds = 3600
[[environments]]
name = "bench"
tier = "prod"
region = "us-east-1"
endpoint_url = "{endpoint}"
[[environments.access_profiles]]
name = "prod-readonly"
role_arn = "arn:aws:iam::123456789012:role/{role}"
requester_groups = ["oncall"]
approver_groups = ["tech-leads"]
"#,
        db = dir.path().display()
    );
    let vars = vec![(
        "OPS_CONSOLE_AUDIT_KEY".to_string(),
        "bench-audit-key-0123456789".to_string(),
    )];
    let config = Config::from_toml_with_overrides(&text, "bench", &vars)?;
    let state = server::build_state(config).await?;
    let alice = person("alice", Role::Responder, "oncall");
    let bob = person("bob", Role::Approver, "tech-leads");
    let mut took = Vec::with_capacity(runs);
    for i in 0..runs {
        let q = app::ssr::access::NewRequest {
            environment: "bench".into(),
            profile: "prod-readonly".into(),
            reason: Reason::parse(&format!("bench run {i}"))?,
            ticket: None,
            incident_id: 0,
            minutes: Minutes::parse(30)?,
            extends_id: 0,
        };
        let id = app::ssr::access::request(&state, &alice, q).await?;
        let start = Instant::now();
        app::ssr::access::decide(&state, &bob, id, true, None, "").await?;
        let creds = app::ssr::access::activate(&state, &alice, id).await?;
        took.push(start.elapsed());
        assert!(!creds.access_key_id.is_empty());
        app::ssr::access::revoke(&state, &alice, id, None).await?;
    }
    took.sort();
    println!(
        "| approve → credentials issued ({runs} runs, moto STS, SQLite) | p50 {:.1} ms | p99 {:.1} ms | max {:.1} ms |",
        pct(&took, 0.5),
        pct(&took, 0.99),
        pct(&took, 1.0)
    );

    // Audit appends on a fresh SQLite file: 1 writer, then 8 writers at once.
    for writers in [1usize, 8] {
        let store = SqlStore::connect(&format!("sqlite://{}/audit-{writers}.db", dir.path().display()))
            .await?
            .with_audit_key(b"bench-audit-key-0123456789".to_vec());
        store.migrate().await?;
        let store = store.into_arc();
        let per_writer = 2000 / writers;
        let mut tasks = Vec::new();
        for w in 0..writers {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per_writer);
                let (mut busy, mut other) = (0usize, 0usize);
                for n in 0..per_writer {
                    let e =
                        NewAuditEntry::new(&format!("w{w}"), "bench.append", "x", "ok", serde_json::json!({"n": n}));
                    let t = Instant::now();
                    match s.audit_append(e).await {
                        Ok(_) => lat.push(t.elapsed()),
                        Err(e) if e.to_string().to_lowercase().contains("busy") || e.to_string().contains("locked") => {
                            busy += 1
                        }
                        Err(_) => other += 1,
                    }
                }
                (lat, busy, other)
            }));
        }
        let started = Instant::now();
        let (mut lat, mut busy, mut other) = (Vec::new(), 0, 0);
        for t in tasks {
            let (l, b, o) = t.await?;
            lat.extend(l);
            busy += b;
            other += o;
        }
        let elapsed = started.elapsed();
        lat.sort();
        let all = store.audit_all(None).await?;
        let verified = app::ssr::audit::verify(b"bench-audit-key-0123456789", &all).is_ok();
        println!(
            "| audit append, {writers} concurrent writer(s) × {per_writer} (SQLite) | p50 {:.2} ms | p99 {:.2} ms | {:.0} appends/s; SQLITE_BUSY {busy}, other errors {other}, chain verifies: {verified} |",
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            all.len() as f64 / elapsed.as_secs_f64()
        );
    }
    Ok(())
}
