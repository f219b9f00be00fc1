//! Keeping the forwarder under test and the load generator on separate
//! cores (`--pin`). Unpinned, on a small machine they take turns on the
//! same cores, and a run's figure depends on how the scheduler interleaved
//! them (run-to-run spread of ±15 % here). Pinned, Troupe (or the bare
//! floor forwarder) has core 0 to itself and the sender and sinks the
//! rest: one core for the SFU, as in issue 17's harness, so a fan-out split
//! over helper threads gains nothing there.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::OnceLock;

/// The core the forwarder under test gets.
const FORWARDER_CORE: usize = 0;

static PINNED: OnceLock<bool> = OnceLock::new();

/// Pins the calling thread (the bench's main thread, whose later threads
/// inherit it) to every core but the forwarder's. Call before any thread
/// is started.
pub fn enable() -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        return Err("--pin needs at least two cores".into());
    }
    pin_calling_thread((0..cores).filter(|c| *c != FORWARDER_CORE))?;
    let _ = PINNED.set(true);
    Ok(())
}

fn pinned() -> bool {
    PINNED.get().copied().unwrap_or(false)
}

/// Puts the calling thread on the forwarder's core, if pinning is on (the
/// floor's forwarder thread).
pub fn pin_forwarder_thread() -> Result<(), String> {
    if pinned() {
        pin_calling_thread(std::iter::once(FORWARDER_CORE))?;
    }
    Ok(())
}

/// Makes `command` start on the forwarder's core, if pinning is on (the
/// `troupe` process; all its threads inherit it).
pub fn pin_forwarder_process(command: &mut Command) {
    if pinned() {
        // SAFETY: the closure runs in the child between fork and exec and
        // makes one system call on the child's own thread, which is
        // async-signal-safe; it touches no memory shared with the parent.
        unsafe {
            command.pre_exec(|| {
                let set = cpu_set(std::iter::once(FORWARDER_CORE));
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }
}

fn cpu_set(cores: impl Iterator<Item = usize>) -> libc::cpu_set_t {
    // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET writes within
    // it for any core below CPU_SETSIZE, which `filter` ensures.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for core in cores.filter(|c| *c < libc::CPU_SETSIZE as usize) {
            libc::CPU_SET(core, &mut set);
        }
        set
    }
}

fn pin_calling_thread(cores: impl Iterator<Item = usize>) -> Result<(), String> {
    let set = cpu_set(cores);
    // SAFETY: `set` is a valid cpu_set_t of the size given; 0 is the
    // calling thread.
    let result =
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if result == 0 {
        Ok(())
    } else {
        Err(format!(
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed_cores() -> Vec<usize> {
        // SAFETY: a zeroed set is valid; sched_getaffinity fills it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            assert_eq!(
                libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set),
                0
            );
            (0..64).filter(|c| libc::CPU_ISSET(*c, &set)).collect()
        }
    }

    #[test]
    fn a_pinned_thread_runs_only_on_its_cores() {
        std::thread::spawn(|| {
            pin_calling_thread(std::iter::once(FORWARDER_CORE)).unwrap();
            assert_eq!(allowed_cores(), [FORWARDER_CORE]);
        })
        .join()
        .unwrap();
    }
}
