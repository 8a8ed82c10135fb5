//! An application that embeds the orcbridge executor.
//!
//! It keeps doing its own work on the main thread while a background thread accepts
//! controllers (`llvm-jitlink -oop-executor-connect`, orcbridge's `repl`) on loopback. It
//! publishes two bootstrap symbols of its own next to LLVM's: a wrapper function a controller
//! can call (`app_status_wrapper`, returns a string) and the address of a counter.
//!
//! ```text
//! embedded-app 127.0.0.1:20000
//! llvm-jitlink -oop-executor-connect=127.0.0.1:20000 hello.o
//! ```

use std::ffi::c_char;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use orc_executor::{CWrapperFunctionBuffer, Executor, ExecutorAddr};

/// Ticks of the application's own main loop; published so a controller can read it.
static TICKS: AtomicU64 = AtomicU64::new(0);

/// A wrapper function (SPS signature `String()`): the application's status line.
///
/// # Safety
/// Called with the wrapper-function ABI; ignores its arguments.
unsafe extern "C" fn app_status_wrapper(_data: *const c_char, _size: usize) -> CWrapperFunctionBuffer {
    let status = format!("embedded-app alive, {} ticks", TICKS.load(Ordering::Relaxed));
    CWrapperFunctionBuffer::from_result(Ok(orc_rpc::sps::to_bytes(&status)))
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&addr)?;
    let executor = Executor::builder()
        .bootstrap_symbol("app_status_wrapper", ExecutorAddr::from_ptr(app_status_wrapper as *const ()))
        .bootstrap_symbol("app_ticks", ExecutorAddr::from_ptr(&TICKS))
        .build();
    eprintln!("embedded-app: executor listening on {}", listener.local_addr()?);
    let _server = executor.spawn_listener(listener)?;
    loop {
        TICKS.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(10));
    }
}
