//! The `troupe` binary's library: command line, telemetry, and the HTTP/WS
//! API over the cluster layer.

pub mod api;
pub mod cli;
pub mod https;
pub mod metrics_bridge;
pub mod room_tokens;
pub mod server;
pub mod telemetry;

pub use server::{start, RunningServer};
