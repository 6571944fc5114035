//! Two replicas on one PostgreSQL (issue 14, item 1): two `ops-console serve` processes on one
//! database and one public URL, as a load balancer in front of them would see them. A login on one
//! is a session on the other; Slack gets each message once, in the order written, whichever
//! replica wrote it; `kill -9` of the replica that holds every job lease, while messages wait and a
//! grant is about to expire, and the other one takes the jobs over once the leases lapse.

use crate::common::{self, SlackReceiver, eventually};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Jobs run every second here; a lease lapses max(3 rounds, 10 s) after its last renewal
/// (`jobs::spawn_leased`), read from `job_leases.until_ms` below.
const ROUND: Duration = Duration::from_secs(1);
/// The outbox posts at most one message a second to a webhook (Slack's limit).
const SLACK_SPACING: Duration = Duration::from_secs(1);
const JOBS: [&str; 4] = ["alarm-poll", "outbox", "access-expiry", "rollback-watch"];

struct Replica {
    child: Child,
    url: String,
}

impl Replica {
    fn start(config: &std::path::Path, port: u16, log: &std::path::Path) -> Replica {
        let child = Command::new(env!("CARGO_BIN_EXE_ops-console"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env_remove("OPS_CONSOLE_CONFIG")
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEPTOS_SITE_ROOT", common::site_root())
            .env("OPS_CONSOLE_AUDIT_KEY", common::TEST_AUDIT_KEY)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("log"))
            .spawn()
            .expect("serve");
        Replica {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn ready(&self) {
        let url = format!("{}/readyz", self.url);
        eventually(Duration::from_secs(60), || {
            let url = url.clone();
            async move {
                let r = reqwest::get(&url).await.ok()?;
                (r.status() == 200).then_some(())
            }
        })
        .await
        .expect("replica ready");
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The end of both replicas' logs, for a failure message.
fn logs(dir: &std::path::Path) -> String {
    ["a.log", "b.log"]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            format!("--- {f}\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A person's browser: one cookie jar for both replicas (cookies do not depend on the port), and
/// every write carries the public origin, as it would behind the load balancer.
struct Person {
    http: reqwest::Client,
    origin: String,
}

impl Person {
    async fn login(replica: &Replica, origin: &str, user: &str, role: &str) -> Person {
        Person {
            http: common::dev_session(&replica.url, origin, user, role).await,
            origin: origin.to_string(),
        }
    }

    async fn call(&self, replica: &Replica, endpoint: &str, form: &[(&str, &str)]) -> (u16, Value) {
        common::call_at(&self.http, &replica.url, Some(&self.origin), endpoint, form).await
    }
}

async fn leases(db: &sqlx::PgPool) -> Vec<(String, String)> {
    sqlx::query_as("SELECT name, holder FROM job_leases WHERE holder <> '' ORDER BY name")
        .fetch_all(db)
        .await
        .expect("leases")
}

/// The outbox keys in the order written, and whether each was delivered.
async fn outbox(db: &sqlx::PgPool) -> Vec<(String, bool)> {
    sqlx::query_as("SELECT idempotency_key, delivered_ms IS NOT NULL FROM outbox ORDER BY id")
        .fetch_all(db)
        .await
        .expect("outbox")
}

/// Replica A on `port_a`, once it holds every job lease, then replica B on another port.
async fn a_then_b(
    config: &std::path::Path,
    port_a: u16,
    dir: &std::path::Path,
    db: &sqlx::PgPool,
) -> (Replica, Replica) {
    let a = Replica::start(config, port_a, &dir.join("a.log"));
    a.ready().await;
    let a_holder = format!("{}-", a.pid());
    eventually(Duration::from_secs(30), || async {
        let l = leases(db).await;
        (l.len() == JOBS.len() && l.iter().all(|(_, h)| h.starts_with(&a_holder))).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("A holds the four job leases\n{}", logs(dir)));
    let b = Replica::start(config, free_port(), &dir.join("b.log"));
    b.ready().await;
    (a, b)
}

/// `kill -9` of a replica, waited for.
fn kill_9(mut replica: Replica) {
    let killed = Command::new("kill")
        .args(["-9", &replica.pid().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let _ = replica.child.wait();
}

/// When a job's lease lapses (`job_leases.until_ms`): another replica may take the job from then.
async fn lease_until(db: &sqlx::PgPool, job: &str) -> i64 {
    sqlx::query_scalar("SELECT until_ms FROM job_leases WHERE name = $1")
        .bind(job)
        .fetch_one(db)
        .await
        .expect("lease")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_sessions_send_each_message_once_in_order_and_survive_a_kill() {
    let db_url = common::fresh_postgres().await;
    let slack = SlackReceiver::start(0).await;
    let dir = tempfile::tempdir().expect("dir");
    let port_a = free_port();
    let public = format!("http://127.0.0.1:{port_a}");
    let config = dir.path().join("console.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{db_url}\"\npublic_url = \"{public}\"\n[slack]\nwebhook_url_file = \"{}\"\n\
             [jobs]\noutbox_seconds = {}\nalarm_poll_seconds = {}\n",
            slack.url_file(dir.path()).display(),
            ROUND.as_secs(),
            ROUND.as_secs()
        ),
    )
    .expect("config");
    let db = sqlx::PgPool::connect(&db_url).await.expect("db");

    let (a, b) = a_then_b(&config, port_a, dir.path(), &db).await;

    // A login on A is a session on B: alice (on call) declares on A and acknowledges on B; a
    // browser without her cookie is refused on B.
    let alice = Person::login(&a, &public, "alice", "responder").await;
    let bob = Person::login(&b, &public, "bob", "approver").await;
    let stranger = Person {
        http: reqwest::Client::new(),
        origin: public.clone(),
    };
    let (s, id) = alice
        .call(
            &a,
            "incidents/declare",
            &[
                ("environment", "taskflow-production"),
                ("title", "checkout 5xx"),
                ("severity", "1"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{id}");
    let id = id.as_i64().expect("id").to_string();
    let lower = [("id", id.as_str()), ("severity", "2"), ("reason", "one region only")];
    let (s, _) = stranger.call(&b, "incidents/severity", &lower).await;
    assert_eq!(s, 403, "no session, no change");
    let (s, body) = alice.call(&b, "incidents/severity", &lower).await;
    assert_eq!(s, 200, "alice's session from A works on B: {body}");
    let delivered = eventually(Duration::from_secs(15), || async {
        let m = slack.messages();
        (m.len() >= 2).then_some(m)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "both messages reached Slack; outbox: {:?}\n{}",
            slack.messages(),
            logs(dir.path())
        )
    });
    let keys: Vec<String> = delivered.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys[0], format!("incident-{id}-declared"));
    assert!(keys[1].starts_with(&format!("incident-{id}-sev-")), "{keys:?}");

    // A grant, requested on B, approved on A, activated on B, whose credentials expire a few
    // seconds after A dies.
    let form = [
        ("environment", "taskflow-production"),
        ("profile", "prod-readonly"),
        ("reason", "read the orders table for the incident"),
        ("minutes", "15"),
        ("ticket", "INC-1"),
    ];
    let (s, grant) = alice.call(&b, "access/request", &form).await;
    assert_eq!(s, 200, "{grant}");
    let grant = grant.as_i64().expect("id");
    let grant_id = grant.to_string();
    let (s, body) = bob
        .call(
            &a,
            "access/decide",
            &[("id", grant_id.as_str()), ("decision", "approve")],
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = alice.call(&b, "access/activate", &[("id", grant_id.as_str())]).await;
    assert_eq!(s, 200, "{body}");

    // Slack goes down; three messages are written, on both replicas, while it is.
    slack.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let (s, second) = alice
        .call(
            &a,
            "incidents/declare",
            &[
                ("environment", "taskflow-production"),
                ("title", "queue backlog"),
                ("severity", "3"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{second}");
    let second = second.as_i64().expect("id").to_string();
    let raise = [("id", second.as_str()), ("severity", "2"), ("reason", "growing")];
    let (s, _) = alice.call(&b, "incidents/severity", &raise).await;
    assert_eq!(s, 200);
    let resolve = [("id", id.as_str()), ("to", "resolved"), ("note", "fixed")];
    let (s, _) = alice.call(&a, "incidents/status", &resolve).await;
    assert_eq!(s, 200);
    eventually(Duration::from_secs(10), || async {
        (slack.refused.load(std::sync::atomic::Ordering::SeqCst) >= 2).then_some(())
    })
    .await
    .expect("A tried and Slack refused");
    let waiting: Vec<String> = outbox(&db)
        .await
        .into_iter()
        .filter(|(_, d)| !d)
        .map(|(k, _)| k)
        .collect();
    assert!(waiting.len() >= 3, "messages wait: {waiting:?}");

    // The grant's credentials expire 3 s from now; A, holding every lease, dies at once.
    let expires_ms = now_ms() + 3_000;
    sqlx::query("UPDATE access_grants SET expires_ms = $1 WHERE request_id = $2")
        .bind(expires_ms)
        .bind(grant)
        .execute(&db)
        .await
        .expect("expiry");
    kill_9(a);
    let killed_at = std::time::Instant::now();
    slack.down.store(false, std::sync::atomic::Ordering::SeqCst);
    // When A's leases lapse: B may take each job over from then on.
    let (outbox_lapse, expiry_lapse) = (
        lease_until(&db, "outbox").await,
        lease_until(&db, "access-expiry").await,
    );
    // Until `at_ms` plus the test's own polling (100 ms) and a second of slack for a busy machine.
    let until = |at_ms: i64| Duration::from_millis((at_ms - now_ms()).max(0) as u64) + Duration::from_millis(1_100);
    let three_rounds = (3 * ROUND).as_millis() as i64;

    // B takes the outbox once A's lease lapses and starts delivering what A left within three of
    // its rounds; the rest follow at Slack's pace (one message a second per webhook).
    let b_holder = format!("{}-", b.pid());
    let sent = |key: &String, o: &[(String, bool)]| o.iter().any(|(k, d)| k == key && *d);
    let first = eventually(until(outbox_lapse + three_rounds), || async {
        sent(&waiting[0], &outbox(&db).await).then_some(())
    })
    .await;
    let spacing = SLACK_SPACING.as_millis() as i64 * (waiting.len() as i64 - 1);
    let delivered = eventually(until(outbox_lapse + three_rounds + spacing), || async {
        let o = outbox(&db).await;
        waiting.iter().all(|w| sent(w, &o)).then_some(())
    })
    .await;
    if first.is_none() || delivered.is_none() {
        let l = leases(&db).await;
        let o = outbox(&db).await;
        panic!(
            "B did not start on {waiting:?} within three rounds of the lease lapsing (started: {}) or end at Slack's pace; leases {l:?}; outbox {o:?}\n{}",
            first.is_some(),
            logs(dir.path())
        );
    }
    let took = killed_at.elapsed();
    let l = leases(&db).await;
    assert!(
        l.iter().any(|(n, h)| n == "outbox" && h.starts_with(&b_holder)),
        "{l:?}"
    );

    // The grant expired on time: B's page says so the moment it passes, and B's expiry job
    // records it within three rounds of whichever comes later, the expiry or A's lease lapsing.
    eventually(until(expires_ms), || async {
        let (_, page) = alice.call(&b, "access/get", &[("id", grant_id.as_str())]).await;
        (page["request"]["status"] == "expired").then_some(())
    })
    .await
    .expect("shown expired");
    let due = expires_ms.max(expiry_lapse) + three_rounds;
    let ended: (String, Option<i64>) = eventually(until(due), || async {
        let row: (String, Option<i64>) = sqlx::query_as("SELECT status, ended_ms FROM access_requests WHERE id = $1")
            .bind(grant)
            .fetch_one(&db)
            .await
            .ok()?;
        (row.0 == "expired").then_some(row)
    })
    .await
    .expect("B's expiry job recorded it within three rounds");
    assert!(
        ended.1.is_some_and(|t| t <= due),
        "recorded at {:?}, due by {due}",
        ended.1
    );
    // Slack got every message once, in the order written, whichever replica wrote or sent it.
    let written = eventually(Duration::from_secs(10), || async {
        let o = outbox(&db).await;
        o.iter().all(|(_, d)| *d).then_some(o)
    })
    .await
    .expect("everything delivered");
    let written: Vec<String> = written.into_iter().map(|(k, _)| k).collect();
    let got: Vec<String> = slack.messages().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        got, written,
        "each once, in order (A's leftovers took {took:?} after the kill)"
    );
    let l = leases(&db).await;
    for job in JOBS {
        assert!(
            l.iter().any(|(n, h)| n == job && h.starts_with(&b_holder)),
            "B holds {job}: {l:?}"
        );
    }
}

/// The rollback watch across a kill (issue 14, item 1): a rolling rollback confirmed while A holds
/// the `rollback-watch` lease, A killed with `kill -9` before its timeout, and B watches it to its
/// end. moto never moves an ECS deployment (shared/DESIGN.md), so the end here is the timeout's
/// verdict with what was last seen; the confirmation time is set back so that it falls 4 s after
/// the kill instead of `rollback_timeout_minutes` (1) later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_rollback_is_watched_to_its_end_by_the_other_replica_after_a_kill() {
    let moto = common::moto_url();
    let ecs = aws_sdk_ecs::Client::new(&common::moto_sdk(&moto).await);
    let two = common::ecs_service_on_revision_2(&ecs, "replica").await;
    let db_url = common::fresh_postgres().await;
    let dir = tempfile::tempdir().expect("dir");
    let port_a = free_port();
    let public = format!("http://127.0.0.1:{port_a}");
    let config = dir.path().join("console.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{db_url}\"\npublic_url = \"{public}\"\ndemo = false\n\
             [jobs]\noutbox_seconds = {s}\nalarm_poll_seconds = {s}\nrollback_timeout_minutes = 1\n\
             [[environments]]\nname = \"shop-production\"\ntier = \"prod\"\nregion = \"us-east-1\"\n\
             endpoint_url = \"{moto}\"\noperator_role_arn = \"arn:aws:iam::123456789012:role/ops-console-operate\"\n",
            s = ROUND.as_secs()
        ),
    )
    .expect("config");
    let db = sqlx::PgPool::connect(&db_url).await.expect("db");
    let (a, b) = a_then_b(&config, port_a, dir.path(), &db).await;

    // alice (on call) declares and asks on A; bob confirms on B: UpdateService to revision 1.
    let alice = Person::login(&a, &public, "alice", "responder").await;
    let bob = Person::login(&b, &public, "bob", "approver").await;
    let svc = format!("{}/{}", two.cluster, two.service);
    let (s, incident) = alice
        .call(
            &a,
            "incidents/declare",
            &[
                ("environment", "shop-production"),
                ("title", "bad deploy"),
                ("severity", "2"),
                ("services", &svc),
            ],
        )
        .await;
    assert_eq!(s, 200, "{incident}");
    let incident = incident.as_i64().expect("incident id").to_string();
    let to = format!("{}:1", two.family);
    let (s, rid) = alice
        .call(
            &a,
            "rollbacks/request",
            &[
                ("environment", "shop-production"),
                ("cluster", &two.cluster),
                ("service", &two.service),
                ("to", &to),
                ("reason", "5xx since 1.5.0"),
                ("incident", &incident),
            ],
        )
        .await;
    assert_eq!(s, 200, "{rid}");
    let rid = rid.as_i64().expect("rollback id");
    let (s, view) = bob.call(&b, "rollbacks/confirm", &[("id", &rid.to_string())]).await;
    assert_eq!(s, 200, "{view}");
    let rollback = |db: sqlx::PgPool| async move {
        sqlx::query_as::<_, (String, String, Option<i64>)>(
            "SELECT status, progress, finished_ms FROM rollbacks WHERE id = $1",
        )
        .bind(rid)
        .fetch_one(&db)
        .await
        .expect("rollback")
    };
    // A's watch (A holds its lease) reports what it sees.
    let seen = eventually(Duration::from_secs(10), || async {
        let r = rollback(db.clone()).await;
        (r.0 == "rolling" && r.1.contains(&format!("service on {to}"))).then_some(r)
    })
    .await
    .unwrap_or_else(|| panic!("A's watch reports the rollout\n{}", logs(dir.path())));
    assert_eq!(seen.2, None, "still rolling");

    // The timeout falls 4 s from now; A dies at once, before it.
    let timeout_at = now_ms() + 4_000;
    sqlx::query("UPDATE rollbacks SET confirmed_ms = $1 WHERE id = $2")
        .bind(timeout_at - 60_000)
        .bind(rid)
        .execute(&db)
        .await
        .expect("confirmed_ms");
    kill_9(a);
    let killed_ms = now_ms();
    let lapse = lease_until(&db, "rollback-watch").await;

    // B takes the watch once A's lease lapses and ends the rollback within five of its rounds of
    // whichever comes later, the timeout or the lapse (a renewal A had in flight may still land:
    // one round more), with what it saw; one look at moto takes up to a round here.
    let due = timeout_at.max(lapse + ROUND.as_millis() as i64) + (5 * ROUND).as_millis() as i64;
    let wait = Duration::from_millis((due - now_ms()).max(0) as u64) + Duration::from_millis(1_100);
    let ended = eventually(wait, || async {
        let r = rollback(db.clone()).await;
        (r.0 != "rolling").then_some(r)
    })
    .await
    .unwrap_or_else(|| panic!("B ended the rollback by {due}\n{}", logs(dir.path())));
    assert_eq!(ended.0, "timed_out", "{ended:?}");
    assert!(ended.1.contains(&format!("service on {to}")), "{ended:?}");
    let finished = ended.2.expect("finished_ms");
    assert!(
        finished > killed_ms && finished <= due,
        "ended by B after the kill ({killed_ms}) and by {due}: {finished}"
    );
    let b_holder = format!("{}-", b.pid());
    let l = leases(&db).await;
    assert!(
        l.iter().any(|(n, h)| n == "rollback-watch" && h.starts_with(&b_holder)),
        "{l:?}"
    );
    // The incident's timeline, read on B, says how it ended.
    let (_, inc) = alice.call(&b, "incidents/get", &[("id", &incident)]).await;
    let line = format!("Rollback #{rid} of {svc} not stable after 1 min");
    assert!(inc.to_string().contains(&line), "{inc}");
}
