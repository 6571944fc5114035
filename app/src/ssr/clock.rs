//! The one clock: milliseconds since the Unix epoch (UTC). Everything that stamps a row or
//! compares a deadline reads it from here (the kernel re-exports it as `kernel::clock`).

/// Now, in milliseconds since the epoch. Every timestamp the console stores comes from here.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Now, in whole seconds since the epoch (OIDC `auth_time`, login times).
pub fn now_secs() -> i64 {
    now() / 1000
}
