//! mediasoup as the forwarder under test (`--mediasoup`): `fanout.mjs`
//! (in `bench/mediasoup`, run with node) builds the same room in a
//! mediasoup worker that the bench builds in Troupe, and the worker's
//! process is measured as Troupe's is. Pinned, node starts on the
//! forwarder's core and the worker inherits it.

use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

use crate::process::ProcessStats;

pub struct Mediasoup {
    child: Child,
    /// Closing it ends the room and the worker.
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    pub worker: ProcessStats,
}

/// The room's ingest, as the sender needs it.
pub struct MediasoupRoom {
    pub producer_port: u16,
    pub payload_type: u8,
}

impl Mediasoup {
    /// Starts node on `script` and waits for its worker.
    pub fn start(script: &str) -> Result<Mediasoup, String> {
        let mut command = Command::new("node");
        crate::pinning::pin_forwarder_process(&mut command);
        let mut child = command
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start node {script}: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut mediasoup = Mediasoup {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            worker: ProcessStats { pid: 0 },
        };
        let started = mediasoup.next_message()?;
        mediasoup.worker.pid = started["workerPid"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(|| format!("{script} gave no worker pid: {started}"))?;
        Ok(mediasoup)
    }

    /// Builds the room: a comedia producer sending as `ssrc`, and a plain
    /// consumer connected to each of `sink_ports`, with RTX if `rtx`.
    pub fn room(
        &mut self,
        sink_ports: &[u16],
        ssrc: u32,
        rtx: bool,
    ) -> Result<MediasoupRoom, String> {
        let stdin = self.stdin.as_mut().ok_or("the room is closed")?;
        writeln!(
            stdin,
            "{}",
            json!({"sinkPorts": sink_ports, "ssrc": ssrc, "rtx": rtx})
        )
        .map_err(|e| format!("cannot describe the room to fanout.mjs: {e}"))?;
        let built = self.next_message()?;
        let producer_port = built["producerPort"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| format!("no producer port: {built}"))?;
        let payload_type = built["payloadType"]
            .as_u64()
            .and_then(|p| u8::try_from(p).ok())
            .ok_or_else(|| format!("no payload type: {built}"))?;
        Ok(MediasoupRoom {
            producer_port,
            payload_type,
        })
    }

    fn next_message(&mut self) -> Result<Value, String> {
        let line = self
            .lines
            .next()
            .ok_or("fanout.mjs exited (is mediasoup installed in bench/mediasoup?)")?
            .map_err(|e| e.to_string())?;
        serde_json::from_str(&line).map_err(|e| format!("fanout.mjs said {line:?}: {e}"))
    }
}

impl Drop for Mediasoup {
    fn drop(&mut self) {
        // node closes the worker when its stdin ends; a worker whose node
        // is gone also exits, as its control pipe closes.
        self.stdin.take();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Speaks fanout.mjs's protocol without a worker: its own pid as the
    /// worker's, and the room it is asked for echoed in the port.
    const STAND_IN: &str = r#"
        const readline = require('node:readline');
        process.stdout.write(JSON.stringify({ workerPid: process.pid }) + '\n');
        const lines = readline.createInterface({ input: process.stdin });
        let described = false;
        lines.on('line', (line) => {
            if (described) return;
            described = true;
            const { sinkPorts, ssrc } = JSON.parse(line);
            process.stdout.write(JSON.stringify({
                producerPort: sinkPorts.length + 40000, payloadType: ssrc % 128 }) + '\n');
        });
    "#;

    #[test]
    fn the_room_is_described_and_its_ingest_read_back_then_closed_with_stdin() {
        let dir = std::env::temp_dir().join(format!("troupe-bench-ms-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("stand-in.cjs");
        std::fs::write(&script, STAND_IN).unwrap();

        let mut mediasoup = Mediasoup::start(script.to_str().unwrap()).unwrap();
        assert_eq!(mediasoup.worker.pid, mediasoup.child.id());
        assert!(mediasoup.worker.rss_bytes().unwrap() > 0);
        let room = mediasoup.room(&[5000, 5002, 5004], 101, false).unwrap();
        assert_eq!(room.producer_port, 40003);
        assert_eq!(room.payload_type, 101);

        let started = std::time::Instant::now();
        drop(mediasoup);
        // The stand-in exits when its stdin ends, well before the kill.
        assert!(started.elapsed() < std::time::Duration::from_secs(4));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_script_that_dies_is_an_error_not_a_hang() {
        let error = Mediasoup::start("/nonexistent/fanout.mjs").err().unwrap();
        assert!(error.contains("fanout.mjs exited"), "{error}");
    }
}
