//! Server-only domain code: compiled with the `ssr` feature, never into the wasm build.

pub mod access;
pub mod audit;
pub mod auth;
pub mod cloud;
pub mod config;
pub mod incidents;
pub mod jobs;
pub mod links;
pub mod oidc;
pub mod prometheus;
pub mod sessions;
pub mod slack;
pub mod state;
pub mod status;
pub mod store;
pub mod tokens;
