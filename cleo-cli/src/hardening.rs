//! Process hardening for a program that holds secrets in memory.

/// Makes this process non-dumpable: no core file is written if it crashes, and
/// other processes of the same user cannot attach to it or read its memory. A
/// program started by `cleo exec` is dumpable again (the kernel resets the flag at
/// exec), so this never changes the child's behaviour.
pub fn disable_core_dumps() {
    #[cfg(target_os = "linux")]
    {
        if let Err(e) = nix::sys::prctl::set_dumpable(false) {
            eprintln!("warning: cannot disable core dumps: {e}");
        }
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        use nix::sys::resource::{Resource, setrlimit};
        if let Err(e) = setrlimit(Resource::RLIMIT_CORE, 0, 0) {
            eprintln!("warning: cannot disable core dumps: {e}");
        }
    }
}

/// Whether this process is dumpable (for the test that checks the flag).
#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn the_process_is_not_dumpable_after_hardening() {
        super::disable_core_dumps();
        assert!(!nix::sys::prctl::get_dumpable().unwrap());
    }
}
