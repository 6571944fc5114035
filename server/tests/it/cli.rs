//! The binary as operators and scripts use it: config errors, audit verify / export.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ops-console"));
    c.env_remove("OPS_CONSOLE_CONFIG")
        .env_remove("LEPTOS_SITE_ADDR")
        .env("OPS_CONSOLE_AUDIT_KEY", "cli-test-key-0123456789");
    c
}

fn write_config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("console.toml");
    std::fs::write(
        &path,
        format!("database_url = \"sqlite://{}/c.db\"\n{extra}", dir.display()),
    )
    .expect("write");
    path
}

#[test]
fn a_bad_config_stops_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), "[auth]\nmode = \"dev\"\nmystery = true\n");
    let out = bin().arg("migrate").arg("--config").arg(&path).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("mystery") && lines[0].contains("line 4"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn audit_verify_prints_the_head_and_catches_tampering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), "");
    // --config before the subcommand works as well as after it.
    let out = bin()
        .arg("--config")
        .arg(&path)
        .args(["audit", "verify"])
        .output()
        .expect("verify");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ok: 0 entries; head seq=0 mac={}", app::ssr::audit::GENESIS_MAC)
    );

    // Write entries through the store, as the console does.
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let url = format!("sqlite://{}/c.db", dir.path().display());
    rt.block_on(async {
        use app::ssr::store::{AuditStore, SqlStore};
        let s = SqlStore::connect(&url)
            .await
            .expect("connect")
            .with_audit_key(b"cli-test-key-0123456789".to_vec());
        for i in 0..3 {
            let e = app::ssr::audit::NewAuditEntry::new("alice", "login", "console", "ok", serde_json::json!({"i": i}));
            s.audit_append(e).await.expect("append");
        }
    });
    let out = bin()
        .args(["audit", "verify", "--config"])
        .arg(&path)
        .output()
        .expect("verify");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("ok: 3 entries; head seq=3 mac="), "{stdout}");

    let out = bin()
        .args(["audit", "export", "--format", "csv", "--config"])
        .arg(&path)
        .output()
        .expect("csv");
    let csv = String::from_utf8_lossy(&out.stdout);
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.starts_with("seq,ts,actor,action"));
    let out = bin()
        .args(["audit", "export", "--since", "2999-01-01T00:00:00Z", "--config"])
        .arg(&path)
        .output()
        .expect("jsonl");
    assert_eq!(out.stdout.len(), 0);
    let out = bin()
        .args(["audit", "export", "--since", "yesterday", "--config"])
        .arg(&path)
        .output()
        .expect("bad since");
    assert_eq!(out.status.code(), Some(2));

    // Verifying with another key fails: the chain cannot be recomputed without the key.
    let out = bin()
        .env("OPS_CONSOLE_AUDIT_KEY", "a-different-key-0123456789")
        .args(["audit", "verify", "--config"])
        .arg(&path)
        .output()
        .expect("verify");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("TAMPERED: entry 1"));
}

#[test]
fn dev_auth_off_loopback_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), "");
    let out = bin()
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .env("LEPTOS_SITE_ADDR", "0.0.0.0:0")
        .output()
        .expect("serve");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused on a non-loopback address"));
}

/// `audit head` prints SEQ:MAC; `verify --expect-head` with it passes while the log holds that
/// head and fails (exit 1, naming the cut) once the log is cut back to an earlier head.
#[test]
fn audit_verify_with_an_expected_head_catches_a_cut_back_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), "");
    let url = format!("sqlite://{}/c.db", dir.path().display());
    let rt = tokio::runtime::Runtime::new().expect("rt");
    rt.block_on(async {
        use app::ssr::store::{AuditStore, SqlStore, Store};
        let s = SqlStore::connect(&url)
            .await
            .expect("connect")
            .with_audit_key(b"cli-test-key-0123456789".to_vec());
        s.migrate().await.expect("migrate");
        for i in 0..4 {
            let e = app::ssr::audit::NewAuditEntry::new("alice", "login", "console", "ok", serde_json::json!({"i": i}));
            s.audit_append(e).await.expect("append");
        }
    });
    let out = bin()
        .args(["audit", "head", "--config"])
        .arg(&path)
        .output()
        .expect("head");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let head = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(head.starts_with("4:") && head.len() == 2 + 64, "{head}");

    let verify = |expect: &str| {
        bin()
            .args(["audit", "verify", "--expect-head", expect, "--config"])
            .arg(&path)
            .output()
            .expect("verify")
    };
    assert_eq!(verify(&head).status.code(), Some(0));

    rt.block_on(async {
        use sqlx::Connection;
        let mut raw = sqlx::AnyConnection::connect(&url).await.expect("raw");
        sqlx::query("DROP TRIGGER audit_entries_no_delete")
            .execute(&mut raw)
            .await
            .expect("drop trigger");
        sqlx::query("DELETE FROM audit_entries WHERE seq > 2")
            .execute(&mut raw)
            .await
            .expect("cut back");
    });
    let plain = bin()
        .args(["audit", "verify", "--config"])
        .arg(&path)
        .output()
        .expect("verify");
    assert_eq!(plain.status.code(), Some(0), "what is left verifies on its own");
    let out = verify(&head);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("TAMPERED: the recorded head 4:") && stdout.contains("ends at entry 2"),
        "{stdout}"
    );
    let bad = verify("four");
    assert_eq!(bad.status.code(), Some(2), "a malformed head is an error, not a pass");
}

/// `audit rekey` hands the log over to a new key: the console started with the new key verifies
/// the whole log without the old one, and a rekey with a key that is not in force is refused.
#[test]
fn audit_rekey_hands_the_log_over_to_a_new_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), "");
    let old = dir.path().join("old.key");
    let new = dir.path().join("new.key");
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&old, "cli-test-key-0123456789\n").expect("old key");
    std::fs::write(&new, "cli-new-key-0123456789").expect("new key");
    std::fs::write(&wrong, "cli-wrong-key-0123456789").expect("wrong key");
    let url = format!("sqlite://{}/c.db", dir.path().display());
    let rt = tokio::runtime::Runtime::new().expect("rt");
    rt.block_on(async {
        use app::ssr::store::{AuditStore, SqlStore, Store};
        let s = SqlStore::connect(&url)
            .await
            .expect("connect")
            .with_audit_key(b"cli-test-key-0123456789".to_vec());
        s.migrate().await.expect("migrate");
        for i in 0..3 {
            let e = app::ssr::audit::NewAuditEntry::new("alice", "login", "console", "ok", serde_json::json!({"i": i}));
            s.audit_append(e).await.expect("append");
        }
    });
    let head_before = bin()
        .args(["audit", "head", "--config"])
        .arg(&path)
        .output()
        .expect("head");
    let head_before = String::from_utf8_lossy(&head_before.stdout).trim().to_string();

    let rekey = |old: &std::path::Path| {
        bin()
            .args(["audit", "rekey", "--old-key-file"])
            .arg(old)
            .arg("--new-key-file")
            .arg(&new)
            .arg("--config")
            .arg(&path)
            .output()
            .expect("rekey")
    };
    let refused = rekey(&wrong);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stdout)
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("rekey refused"));
    let out = rekey(&old);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok: entry 4 hands the log over"));

    // The console's key is now the new one; the old key is not needed to verify, and the head
    // recorded before the rotation still holds.
    let out = bin()
        .env("OPS_CONSOLE_AUDIT_KEY", "cli-new-key-0123456789")
        .args(["audit", "verify", "--expect-head", &head_before, "--config"])
        .arg(&path)
        .output()
        .expect("verify");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("ok: 4 entries; head seq=4"), "{stdout}");
    // With the old key configured, the entries after the rotation are not verifiable...
    let out = bin()
        .args(["audit", "verify", "--config"])
        .arg(&path)
        .output()
        .expect("verify");
    assert_eq!(out.status.code(), Some(1));
    // ... unless the new key is given as well.
    let out = bin()
        .args(["audit", "verify", "--key-file"])
        .arg(&new)
        .arg("--config")
        .arg(&path)
        .output()
        .expect("verify");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

/// A rolling deploy of the console itself: on SIGTERM `/readyz` answers 503 while requests are
/// still served, the jobs give their leases back at once (another replica takes them without
/// waiting for them to lapse), a request in flight finishes, and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_gives_the_leases_back_and_finishes_what_is_in_flight() {
    use crate::common::eventually;
    use std::time::Duration;
    // An AWS endpoint that accepts and never answers: a page of it takes the part timeout (4 s).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(
        dir.path(),
        &format!(
            "[http]\nshutdown_drain_seconds = 2\nshutdown_grace_seconds = 10\n[jobs]\noutbox_seconds = 1\n\
             [[environments]]\nname = \"silent\"\ntier = \"dev\"\nregion = \"us-east-1\"\nendpoint_url = \"http://{silent_addr}\"\n"
        ),
    );
    let stderr = std::fs::File::create(dir.path().join("serve.log")).expect("log");
    let mut child = bin()
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("serve");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ready = |http: reqwest::Client, base: String| async move {
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16())
    };
    eventually(Duration::from_secs(60), || {
        let (h, b) = (http.clone(), base.clone());
        async move { (ready(h, b).await == Some(200)).then_some(()) }
    })
    .await
    .expect("ready");
    let db = format!("sqlite://{}/c.db", dir.path().display());
    let pool = sqlx::SqlitePool::connect(&db).await.expect("db");
    let held = |pool: sqlx::SqlitePool| async move {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM job_leases WHERE holder <> ''")
            .fetch_one(&pool)
            .await
            .unwrap_or(0)
    };
    eventually(Duration::from_secs(30), || {
        let p = pool.clone();
        async move { (held(p).await >= 4).then_some(()) }
    })
    .await
    .expect("the four jobs hold their leases");

    // A page that takes a few seconds is in flight when SIGTERM comes.
    let in_flight = tokio::spawn({
        let (h, b) = (http.clone(), base.clone());
        async move {
            let r = h.get(format!("{b}/env/silent")).send().await?;
            let status = r.status().as_u16();
            Ok::<_, reqwest::Error>((status, r.text().await?))
        }
    });
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    eventually(Duration::from_secs(2), || {
        let (h, b) = (http.clone(), base.clone());
        async move { (ready(h, b).await == Some(503)).then_some(()) }
    })
    .await
    .expect("/readyz answers 503 while draining");
    eventually(Duration::from_secs(5), || {
        let p = pool.clone();
        async move { (held(p).await == 0).then_some(()) }
    })
    .await
    .expect("every lease given back at once, not left to lapse");
    let (status, page) = in_flight.await.expect("task").expect("the request in flight finished");
    assert_eq!(status, 200);
    assert!(
        page.contains("Could not read this environment"),
        "the whole page arrived: {page}"
    );
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
}
