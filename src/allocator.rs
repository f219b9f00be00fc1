//! The process's allocator: mimalloc rather than glibc's malloc.
//!
//! A consumer on a WebRTC transport with bandwidth estimation holds
//! 133–154 KiB under mimalloc rather than 176–191 KiB under glibc
//! (resident memory over 100 consumers, at no more CPU per forwarded copy;
//! plain fan-outs cost about the same: docs/benchmarks.md, 2026-11-27).
//!
//! Its arenas are committed on demand and freed memory is handed back at
//! once: with its defaults (an arena committed up front, purges delayed)
//! a WebRTC consumer's resident memory was 343 KiB.

use libmimalloc_sys::{mi_option_set, mi_option_t};

/// mimalloc 3's option numbers (`mi_option_e` in its `mimalloc.h`), which
/// the bindings leave unnamed: look again when libmimalloc-sys is updated.
const ARENA_EAGER_COMMIT: mi_option_t = 4;
const PURGE_DELAY: mi_option_t = 15;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sets the allocator's options before its first allocation: run from
/// the process's constructors, ahead of Rust's runtime, which allocates
/// before `main` (mimalloc reserves its first arena then, with the options
/// of that moment). Only this thread exists yet, as mimalloc's option
/// setter needs.
extern "C" fn tune() {
    // SAFETY: plain stores into mimalloc's option table, made while only
    // this thread runs.
    unsafe {
        mi_option_set(ARENA_EAGER_COMMIT, 0);
        mi_option_set(PURGE_DELAY, 0);
    }
}

#[used]
#[link_section = ".init_array"]
static TUNE_AT_LOAD: extern "C" fn() = tune;

#[cfg(test)]
mod tests {
    use super::*;
    use libmimalloc_sys::mi_option_get;

    #[test]
    fn the_options_are_set_when_the_process_loads() {
        // SAFETY: reads of mimalloc's option table.
        let options = unsafe {
            (
                mi_option_get(ARENA_EAGER_COMMIT),
                mi_option_get(PURGE_DELAY),
            )
        };
        assert_eq!(options, (0, 0));
    }
}
