//! Integration tests that need no AWS peer: one test binary (one link of the server and its
//! dependencies) instead of one per file. The peers they do use (PostgreSQL, oidc-provider-mock)
//! are started by scripts/test.sh. The tests that talk to moto are in `tests/aws/`.

// Tests may fail loudly: unwrap, expect and panic are how a test says what went wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod access;
mod audit;
mod cli;
mod forms;
mod http;
mod id_token;
mod incident_store;
mod incidents;
mod input;
mod oidc;
mod replicas;
mod storage;
