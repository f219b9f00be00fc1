//! Recording: producers of a room written to a file by ffmpeg. Troupe makes
//! a plain transport and a paused consumer per producer, writes the SDP,
//! starts ffmpeg, waits until it listens, then resumes the consumers so the
//! file starts on a key frame. Stopping sends one SIGINT and an RTCP BYE per
//! stream (what ffmpeg 5.1 needs to finalize a file), then waits for exit.

use std::collections::VecDeque;
use std::net::{IpAddr, UdpSocket};
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;
use utoipa::ToSchema;

use crate::context::Ctx;
use crate::error::{ActorError, ActorResult};
use crate::rtp_parameters::{RtpCodecParameters, RtpParameters};
use crate::topology::ObjectKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecordingFormat {
    Webm,
    Mkv,
}

impl RecordingFormat {
    fn muxer(&self) -> &'static str {
        match self {
            RecordingFormat::Webm => "webm",
            RecordingFormat::Mkv => "matroska",
        }
    }
    fn extension(&self) -> &'static str {
        match self {
            RecordingFormat::Webm => "webm",
            RecordingFormat::Mkv => "mkv",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecordingState {
    Recording,
    Stopping,
    Stopped,
    Failed,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordingInfo {
    pub id: String,
    pub router_id: String,
    /// Absolute path of the file.
    pub path: String,
    pub format: RecordingFormat,
    pub state: RecordingState,
    pub producer_ids: Vec<String>,
    /// Milliseconds since the Unix epoch.
    pub started_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The end of ffmpeg's stderr when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One recorded stream: its consumer, transport, and where ffmpeg listens.
#[derive(Debug, Clone)]
pub struct RecordedStream {
    pub transport_id: String,
    pub consumer_id: String,
    pub consumer_ssrc: u32,
    pub rtp_parameters: RtpParameters,
    pub ffmpeg_port: u16,
}

/// Two adjacent free UDP ports (RTP, RTCP) for ffmpeg to listen on; ffmpeg
/// takes RTCP on port+1 whatever the SDP says.
pub fn free_port_pair(ip: IpAddr) -> ActorResult<u16> {
    for _ in 0..50 {
        let first = UdpSocket::bind((ip, 0))
            .map_err(|e| ActorError::Unavailable(format!("no free port: {e}")))?;
        let port = first
            .local_addr()
            .map_err(|e| ActorError::Internal(e.to_string()))?
            .port();
        if port % 2 == 0 && port < u16::MAX && UdpSocket::bind((ip, port + 1)).is_ok() {
            return Ok(port);
        }
    }
    Err(ActorError::Unavailable(
        "no pair of free ports for ffmpeg".into(),
    ))
}

/// Resolves a requested path inside the recordings directory; anything
/// that would leave it is refused.
pub fn resolve_path(
    dir: &Path,
    requested: Option<&str>,
    id: &str,
    format: RecordingFormat,
) -> ActorResult<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| {
        ActorError::Unavailable(format!(
            "cannot create the recordings directory {}: {e}",
            dir.display()
        ))
    })?;
    let dir = dir
        .canonicalize()
        .map_err(|e| ActorError::Unavailable(format!("recordings directory: {e}")))?;
    let relative = match requested {
        None => PathBuf::from(format!("{id}.{}", format.extension())),
        Some(p) => {
            let path = Path::new(p);
            let relative = if path.is_absolute() {
                path.strip_prefix(&dir)
                    .map_err(|_| {
                        ActorError::invalid(
                            "path",
                            format!("must be inside the recordings directory {}", dir.display()),
                        )
                    })?
                    .to_path_buf()
            } else {
                path.to_path_buf()
            };
            if relative
                .components()
                .any(|c| !matches!(c, Component::Normal(_)))
                || relative.as_os_str().is_empty()
            {
                return Err(ActorError::invalid(
                    "path",
                    "must be a plain path inside the recordings directory",
                ));
            }
            relative
        }
    };
    let full = dir.join(relative);
    if full.exists() {
        return Err(ActorError::WrongState(format!(
            "{} already exists",
            full.display()
        )));
    }
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ActorError::invalid("path", e.to_string()))?;
    }
    Ok(full)
}

fn codec_line(codec: &RtpCodecParameters) -> String {
    let name = codec
        .mime_type
        .split_once('/')
        .map(|(_, n)| n)
        .unwrap_or("");
    match codec.channels {
        Some(channels) if channels > 1 => format!("{name}/{}/{channels}", codec.clock_rate),
        _ => format!("{name}/{}", codec.clock_rate),
    }
}

/// The SDP ffmpeg reads: one m-line per stream, on its port.
pub fn sdp(streams: &[RecordedStream]) -> String {
    let mut sdp = String::from(
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=Troupe recording\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n",
    );
    for stream in streams {
        let Some(codec) = stream.rtp_parameters.codecs.iter().find(|c| !c.is_rtx()) else {
            continue;
        };
        let kind = codec.mime_type.split('/').next().unwrap_or("video");
        sdp.push_str(&format!(
            "m={kind} {} RTP/AVP {}\r\n",
            stream.ffmpeg_port, codec.payload_type
        ));
        sdp.push_str(&format!(
            "a=rtpmap:{} {}\r\n",
            codec.payload_type,
            codec_line(codec)
        ));
        let fmtp: Vec<String> = codec
            .parameters
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                )
            })
            .collect();
        if !fmtp.is_empty() {
            sdp.push_str(&format!(
                "a=fmtp:{} {}\r\n",
                codec.payload_type,
                fmtp.join(";")
            ));
        }
        sdp.push_str("a=recvonly\r\n");
    }
    sdp
}

/// Whether some process listens on UDP `port` (from /proc/net/udp*).
fn udp_port_bound(port: u16) -> bool {
    let needle = format!(":{port:04X} ");
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .any(|table| {
            table.lines().skip(1).any(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|local| format!("{local} ").ends_with(&needle))
            })
        })
}

/// Lines kept from ffmpeg's stderr for error reports.
const STDERR_TAIL: usize = 20;

pub struct FfmpegProcess {
    pid: u32,
    exit: watch::Receiver<Option<i32>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl FfmpegProcess {
    /// Starts ffmpeg on `sdp_path` writing `output`, and waits until it
    /// listens on `first_port` (or fails).
    pub async fn start(
        ffmpeg: &str,
        sdp_path: &Path,
        output: &Path,
        format: RecordingFormat,
        first_port: u16,
    ) -> ActorResult<Self> {
        let mut child = tokio::process::Command::new(ffmpeg)
            .args([
                "-hide_banner",
                "-loglevel",
                "warning",
                "-nostdin",
                "-protocol_whitelist",
                "file,udp,rtp",
            ])
            .args(["-fflags", "+genpts", "-i"])
            .arg(sdp_path)
            .args(["-map", "0", "-c", "copy", "-f", format.muxer(), "-y"])
            .arg(output)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(false)
            .spawn()
            .map_err(|e| {
                ActorError::Unavailable(format!(
                    "cannot start ffmpeg {ffmpeg:?} (config field `ffmpeg`): {e}"
                ))
            })?;
        let pid = child.id().unwrap_or_default();
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(pipe) = child.stderr.take() {
            let tail = stderr.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut tail) = tail.lock() {
                        if tail.len() == STDERR_TAIL {
                            tail.pop_front();
                        }
                        tail.push_back(line);
                    }
                }
            });
        }
        let (sender, exit) = watch::channel(None);
        tokio::spawn(async move {
            // A signal counts as 128 + its number, as shells report it.
            let code = child
                .wait()
                .await
                .ok()
                .and_then(|s| {
                    use std::os::unix::process::ExitStatusExt;
                    s.code().or_else(|| s.signal().map(|signal| 128 + signal))
                })
                .unwrap_or(-1);
            let _ = sender.send(Some(code));
        });
        let process = FfmpegProcess { pid, exit, stderr };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(code) = *process.exit.borrow() {
                return Err(ActorError::Unavailable(format!(
                    "ffmpeg exited at once (status {code}): {}",
                    process.stderr_tail()
                )));
            }
            if udp_port_bound(first_port) {
                return Ok(process);
            }
            if Instant::now() > deadline {
                process.kill();
                return Err(ActorError::Unavailable(
                    "ffmpeg did not start listening within 10 s".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stderr_tail(&self) -> String {
        self.stderr
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    pub fn exit_code(&self) -> Option<i32> {
        *self.exit.borrow()
    }

    fn signal(&self, signal: i32) {
        if self.pid != 0 && self.exit_code().is_none() {
            // SAFETY: kill(2) on the pid of a child we started and have not
            // reaped (its waiter holds it until it exits).
            unsafe {
                libc::kill(self.pid as i32, signal);
            }
        }
    }

    pub fn interrupt(&self) {
        self.signal(libc::SIGINT);
    }

    pub fn kill(&self) {
        self.signal(libc::SIGKILL);
    }

    /// Waits for exit up to `timeout`.
    pub async fn wait(&self, timeout: Duration) -> Option<i32> {
        let mut exit = self.exit.clone();
        let _ = tokio::time::timeout(timeout, exit.wait_for(|c| c.is_some())).await;
        self.exit_code()
    }
}

pub enum RecordingMsg {
    Status(RpcReplyPort<RecordingInfo>),
    Stop(RpcReplyPort<RecordingInfo>),
    Tick,
}

pub struct RecordingArgs {
    pub ctx: Ctx,
    pub info: RecordingInfo,
    pub streams: Vec<RecordedStream>,
    /// Streams already ended with a BYE (their producer closed).
    pub ended: Vec<bool>,
    pub ffmpeg: FfmpegProcess,
    pub sdp_path: PathBuf,
}

pub struct Recording;

impl RecordingArgs {
    /// SIGINT, a BYE per stream, then wait; a hung ffmpeg is killed.
    async fn stop(&mut self, reason: &str) {
        if matches!(
            self.info.state,
            RecordingState::Stopped | RecordingState::Failed
        ) {
            return;
        }
        self.info.state = RecordingState::Stopping;
        self.ffmpeg.interrupt();
        for stream in &self.streams {
            send_goodbye(&self.ctx, stream);
        }
        if self.ffmpeg.wait(Duration::from_secs(10)).await.is_none() {
            tracing::warn!(recording_id = %self.info.id, "ffmpeg did not finish within 10 s; killing it");
            self.ffmpeg.kill();
            self.ffmpeg.wait(Duration::from_secs(2)).await;
        }
        self.info.exit_code = self.ffmpeg.exit_code();
        // ffmpeg ends with 255 after SIGINT; anything else deserves a look.
        if !matches!(self.info.exit_code, Some(0) | Some(255)) {
            self.info.error = Some(self.ffmpeg.stderr_tail());
        }
        self.info.state = RecordingState::Stopped;
        self.close_streams();
        let _ = std::fs::remove_file(&self.sdp_path);
        self.ctx.events.emit(
            "recordingstop",
            ObjectKind::Recording,
            &self.info.id,
            Some(&self.info.router_id),
            json!({"reason": reason, "path": self.info.path, "exitCode": self.info.exit_code}),
        );
        self.ctx.topology.finish_recording(&self.info);
    }

    fn close_streams(&self) {
        for stream in &self.streams {
            crate::close::close_object(
                &self.ctx,
                ObjectKind::Transport,
                &stream.transport_id,
                crate::topology::CloseCause::Closed,
            );
        }
    }
}

/// Tells ffmpeg a stream ended: an RTCP BYE on the stream's transport.
fn send_goodbye(ctx: &Ctx, stream: &RecordedStream) {
    if let Ok(entry) = ctx.topology.transport(&stream.transport_id) {
        if let Some(plain) = entry.media {
            use crate::media::transport_core::MediaTransport;
            plain.send_rtcp(&troupe_transports::rtcp_feedback::goodbye(
                stream.consumer_ssrc,
            ));
        }
    }
}

impl Actor for Recording {
    type Msg = RecordingMsg;
    type State = RecordingArgs;
    type Arguments = RecordingArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: RecordingArgs,
    ) -> Result<RecordingArgs, ActorProcessingErr> {
        tracing::info!(recording_id = %args.info.id, path = %args.info.path, "recording started");
        myself.send_interval(Duration::from_millis(500), || RecordingMsg::Tick);
        Ok(args)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut RecordingArgs,
    ) -> Result<(), ActorProcessingErr> {
        // Stopped by a cascade (the router closed): let ffmpeg finish the file.
        if state.info.state == RecordingState::Recording {
            state.ffmpeg.interrupt();
            for stream in &state.streams {
                send_goodbye(&state.ctx, stream);
            }
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: RecordingMsg,
        state: &mut RecordingArgs,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RecordingMsg::Status(reply) => {
                let _ = reply.send(state.info.clone());
            }
            RecordingMsg::Stop(reply) => {
                state.stop("stopped on request").await;
                let _ = reply.send(state.info.clone());
                myself.stop(None);
            }
            RecordingMsg::Tick => {
                if state.info.state != RecordingState::Recording {
                    return Ok(());
                }
                if let Some(code) = state.ffmpeg.exit_code() {
                    let tail = state.ffmpeg.stderr_tail();
                    tracing::warn!(recording_id = %state.info.id, code, "ffmpeg exited during the recording");
                    state.info.state = RecordingState::Failed;
                    state.info.exit_code = Some(code);
                    state.info.error = Some(tail.clone());
                    state.close_streams();
                    state.ctx.events.emit(
                        "recordingfailed",
                        ObjectKind::Recording,
                        &state.info.id,
                        Some(&state.info.router_id),
                        json!({"exitCode": code, "stderr": tail}),
                    );
                    state.ctx.topology.finish_recording(&state.info);
                    myself.stop(None)
                } else {
                    // A producer that closed ends its track with a BYE; when
                    // every one has, the file ends here.
                    for (i, stream) in state.streams.iter().enumerate() {
                        if !state.ended[i]
                            && state.ctx.topology.consumer(&stream.consumer_id).is_err()
                        {
                            state.ended[i] = true;
                            send_goodbye(&state.ctx, stream);
                        }
                    }
                    if state.ended.iter().all(|e| *e) {
                        state.stop("producers closed").await;
                        myself.stop(None);
                    }
                }
            }
        }
        Ok(())
    }
}
