//! Giving freed memory back between REPL turns.

/// Returns the allocator's free pages to the kernel. Each turn copies the whole
/// history several times on its way across the plugin boundary and into the request;
/// glibc's malloc keeps the freed space of those copies in its heaps, so without this a
/// long REPL session's resident memory grows with every turn although what it holds
/// grows far less. `malloc_trim` also releases free pages in the middle of a heap, which
/// the automatic trimming at the heap's top does not. A few milliseconds at most, once a
/// turn, while the user reads the answer.
pub fn release_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only walks and trims the allocator's own arenas, under their
    // locks; it may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
