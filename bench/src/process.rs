//! The `troupe` process under test, and what /proc says about a process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Troupe {
    child: Child,
    pub url: String,
}

impl Troupe {
    pub fn start(binary: &str) -> Result<Troupe, String> {
        let mut command = Command::new(binary);
        crate::pinning::pin_forwarder_process(&mut command);
        let mut child = command
            .args([
                "--http-listen",
                "127.0.0.1:0",
                "--webrtc-port",
                "0",
                "--log",
                "warn",
            ])
            .env_remove("TROUPE_API_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e}"))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().ok_or("no stdout")?)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let url = line
            .trim()
            .strip_prefix("troupe listening on ")
            .ok_or_else(|| format!("troupe did not start: {line:?}"))?
            .to_string();
        Ok(Troupe { child, url })
    }

    pub fn stats(&self) -> ProcessStats {
        ProcessStats {
            pid: self.child.id(),
        }
    }
}

impl Drop for Troupe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The forwarder's process as /proc sees it.
#[derive(Clone, Copy)]
pub struct ProcessStats {
    pub pid: u32,
}

impl ProcessStats {
    fn proc_file(&self, name: &str) -> Result<String, String> {
        std::fs::read_to_string(format!("/proc/{}/{name}", self.pid)).map_err(|e| e.to_string())
    }

    /// User plus system CPU time of all of the process's threads.
    pub fn cpu_time(&self) -> Result<Duration, String> {
        let stat = self.proc_file("stat")?;
        // Fields after the ")" that ends the command name; utime and stime
        // are fields 14 and 15 of the whole line.
        let after = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .ok_or("bad stat")?;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .ok_or("bad stat field")
        };
        let total = ticks(11)? + ticks(12)?;
        // SAFETY: sysconf is a plain query.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Ok(Duration::from_micros(total * 1_000_000 / per_second))
    }

    pub fn rss_bytes(&self) -> Result<u64, String> {
        let status = self.proc_file("status")?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| "no VmRSS".into())
    }
}
