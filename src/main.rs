//! The `lockdev` binary: everything is in the library (`lockdev::cli`), so the tests
//! build exactly what this runs.

/// Requests allocate many small, short-lived buffers (headers, futures, rows, pages);
/// glibc's allocator spent an eighth of a page's CPU on them under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    lockdev::cli::main()
}
