//! Server-only domain code: compiled with the `ssr` feature, never into the wasm build.
//! The layout and its rules are in docs/ARCHITECTURE.md.

pub mod access;
pub mod activity;
pub mod audit;
pub mod audit_log;
pub mod auth;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod environments;
pub mod incidents;
pub mod jobs;
pub mod kernel;
pub mod links;
pub mod oidc;
pub mod prelogin;
pub mod prometheus;
pub mod rollbacks;
pub mod sessions;
pub mod slack;
pub mod state;
pub mod status;
pub mod store;
pub mod tokens;
