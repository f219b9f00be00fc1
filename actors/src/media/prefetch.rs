//! Asking the CPU to start loading memory the packet path will touch soon.
//! A fan-out visits hundreds of consumers whose state went cold since the
//! previous packet; the send of one copy takes microseconds in the kernel,
//! long enough for the next consumer's lines to arrive meanwhile.

/// Starts loading the cache line holding `address`. Never faults, whatever
/// the address: a prefetch is only a hint.
#[inline(always)]
pub fn prefetch<T: ?Sized>(address: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch does not access memory architecturally; any
    // address is allowed.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(address as *const u8 as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}
