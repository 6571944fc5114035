//! Integration tests against the AWS peer (moto, started and seeded by scripts/test.sh): the
//! real AWS SDK for the reads, grants and rollbacks, in one test binary.

// Tests may fail loudly: unwrap, expect and panic are how a test says what went wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;
mod fixtures;

mod moto;
mod moto_access;
mod moto_activity;
mod moto_incidents;
mod moto_kinds;
mod moto_rollbacks;
mod moto_scope;
mod moto_slow;
