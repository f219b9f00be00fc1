//! Bandwidth estimation, sans-IO, in libwebrtc's parts: each gets plain
//! values (times, sizes) and returns plain values.

pub mod aimd_rate_control;
pub mod bitrate_window;
pub mod inter_arrival;
pub mod layer_allocation;
pub mod loss_based;
pub mod overuse_detector;
pub mod padding_pacer;
#[cfg(test)]
mod recorded_sequences;
pub mod remote_estimator;
pub mod send_history;
pub mod send_side;
pub mod trendline;
