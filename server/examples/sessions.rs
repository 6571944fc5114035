//! Signed-in sessions for the load benchmark (not a test), run by scripts/bench.sh before the
//! console starts: writes `--count` sessions into the database of `--config`, half of them a
//! viewer's and half a signed-in person's without any role, and prints one cookie value per line.
//!
//! `cargo run -p server --example sessions -- --config FILE --count 200 > cookies.txt`

use app::model::Role;
use app::ssr::config::Config;
use app::ssr::sessions::{DbSessionStore, SessionUser, USER_KEY};
use std::collections::HashMap;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(arg("--config").as_deref().map(std::path::Path::new))?;
    let count: usize = arg("--count").unwrap_or_else(|| "200".into()).parse()?;
    let state = server::build_state(config).await?;
    let store = DbSessionStore::new(state.store.clone());
    let now = app::ssr::clock::now_secs();
    for i in 0..count {
        let with_role = i % 2 == 0;
        let user = SessionUser {
            subject: format!("load-{i}"),
            name: format!("Load viewer {i}"),
            email: format!("load-{i}@example.com"),
            roles: if with_role { vec![Role::Viewer] } else { Vec::new() },
            groups: Vec::new(),
            method: "dev".into(),
            auth_time: None,
            amr: Vec::new(),
            login_at: now,
        };
        let mut record = Record {
            id: Id::default(),
            data: HashMap::from([(USER_KEY.to_string(), serde_json::to_value(&user)?)]),
            expiry_date: tower_sessions::cookie::time::OffsetDateTime::now_utc()
                + tower_sessions::cookie::time::Duration::hours(8),
        };
        store.create(&mut record).await?;
        println!("{}", record.id);
    }
    Ok(())
}
