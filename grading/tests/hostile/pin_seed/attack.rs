// HOSTILE TEST CASE: (must not compile) a #[no_mangle] getenv that answers "42" for LAB_SEED, pinning every run to one known seed.
//
// The test binary's own getenv interposes libc's, so std::env::var("LAB_SEED") sees "42" whatever the
// grader passes; a student then only has to pass that one seed. Stopped by: #![forbid(unsafe_code)] in
// raft/src/lib.rs (no_mangle, the extern block and the unsafe blocks are all unsafe code).
unsafe extern "C" {
    /// glibc's getenv under another name, for every variable but LAB_SEED.
    fn secure_getenv(name: *const std::ffi::c_char) -> *mut std::ffi::c_char;
}

/// Replaces libc's getenv in the whole test binary.
#[unsafe(no_mangle)]
pub extern "C" fn getenv(name: *const std::ffi::c_char) -> *mut std::ffi::c_char {
    if !name.is_null() && unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes() == b"LAB_SEED" {
        return c"42".as_ptr().cast_mut();
    }
    unsafe { secure_getenv(name) }
}
