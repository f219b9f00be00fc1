//! Real media tools as peers: ffmpeg and GStreamer from Debian, started as
//! child processes that are always stopped (and reaped) at the end.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};

/// A child process killed when dropped.
pub struct Tool {
    pub child: Child,
    pub name: String,
}

impl Tool {
    pub fn spawn(command: &mut Command, name: &str) -> Tool {
        assert!(
            which(command.get_program().to_str().unwrap()),
            "{name} is missing: run scripts/test.sh, which installs it"
        );
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Tool {
            child,
            name: name.to_string(),
        }
    }

    /// Waits for the process to end; panics with its stderr if it failed.
    pub fn wait_success(mut self) {
        let output = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap())
            .wait_with_output()
            .unwrap();
        assert!(
            output.status.success(),
            "{} failed: {}",
            self.name,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One ffprobe answer about `file`, as CSV values without keys.
pub fn ffprobe(file: &str, args: &[&str]) -> String {
    let output = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .args(["-of", "csv=p=0", file])
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

pub fn which(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The last output's RTP destination (SRTP with `key`), RTCP on the same
/// port.
fn rtp_output(command: &mut Command, key: Option<&str>, port: u16) {
    let scheme = match key {
        Some(key) => {
            command.args([
                "-srtp_out_suite",
                "AES_CM_128_HMAC_SHA1_80",
                "-srtp_out_params",
                key,
            ]);
            "srtp"
        }
        None => "rtp",
    };
    command.args([
        "-f",
        "rtp",
        &format!("{scheme}://127.0.0.1:{port}?rtcpport={port}&pkt_size=1200"),
    ]);
}

/// An ffmpeg test pattern (VP8 320x240 30 fps with key frames every second,
/// and an Opus sine) sent as RTP to two ports for `seconds`.
pub fn ffmpeg_sender(
    video: (u16, u8, u32),
    audio: (u16, u8, u32),
    seconds: u32,
    srtp: Option<&str>,
) -> Tool {
    let (video_port, video_pt, video_ssrc) = video;
    let (audio_port, audio_pt, audio_ssrc) = audio;
    let mut command = Command::new("ffmpeg");
    command.args(["-hide_banner", "-loglevel", "error", "-re"]);
    command.args([
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc=size=320x240:rate=30:duration={seconds}"),
    ]);
    command.args([
        "-f",
        "lavfi",
        "-i",
        &format!("sine=frequency=440:sample_rate=48000:duration={seconds}"),
    ]);
    command.args([
        "-map",
        "0:v",
        "-c:v",
        "libvpx",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-b:v",
        "400k",
    ]);
    command.args([
        "-g",
        "30",
        "-keyint_min",
        "30",
        "-payload_type",
        &video_pt.to_string(),
        "-ssrc",
        &video_ssrc.to_string(),
    ]);
    rtp_output(&mut command, srtp, video_port);
    command.args(["-map", "1:a", "-c:a", "libopus", "-ac", "2", "-b:a", "64k"]);
    command.args([
        "-payload_type",
        &audio_pt.to_string(),
        "-ssrc",
        &audio_ssrc.to_string(),
    ]);
    rtp_output(&mut command, srtp, audio_port);
    Tool::spawn(&mut command, "ffmpeg sender")
}
