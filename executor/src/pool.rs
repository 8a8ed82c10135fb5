//! Worker threads for calls from the controller.
//!
//! Every CallWrapper runs on its own thread, as in LLVM 22.1's executor, so a long-running call
//! (`main`, a blocking jit-dispatch) never holds up another. Threads are kept for reuse instead
//! of being created per call: the pool grows whenever no worker is idle and shrinks after a
//! minute without work.

use std::collections::VecDeque;
use std::sync::{Condvar, LazyLock, Mutex};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Stack size of a worker in bytes. JIT'd `main` functions expect roughly what a native main
/// thread gets on Linux (8 MiB); it is address space, committed only as used.
const STACK_SIZE: usize = 8 << 20;
const IDLE_EXIT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Idle workers not yet claimed by a queued job.
    idle: usize,
}

struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

static POOL: LazyLock<Pool> = LazyLock::new(|| Pool { state: Mutex::default(), work: Condvar::new() });

/// Runs `job` on a worker thread.
pub fn spawn(job: impl FnOnce() + Send + 'static) {
    let job: Job = Box::new(job);
    let mut st = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
    if st.idle > 0 {
        st.idle -= 1;
        st.queue.push_back(job);
        drop(st);
        POOL.work.notify_one();
        return;
    }
    drop(st);
    // The job moves into the closure; if the thread cannot be created, get it back and run it
    // here rather than dropping the controller's call.
    let slot = std::sync::Arc::new(Mutex::new(Some(job)));
    let theirs = slot.clone();
    let spawned =
        std::thread::Builder::new().name("orc-call".into()).stack_size(STACK_SIZE).spawn(move || {
            if let Some(job) = theirs.lock().unwrap_or_else(|e| e.into_inner()).take() {
                job();
            }
            worker_loop();
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start a worker thread ({e}); running the call on the reader thread");
        if let Some(job) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
            job();
        }
    }
}

fn worker_loop() {
    loop {
        let mut st = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
        st.idle += 1;
        let job = loop {
            if let Some(job) = st.queue.pop_front() {
                break job;
            }
            let (guard, timeout) = POOL.work.wait_timeout(st, IDLE_EXIT).unwrap_or_else(|e| e.into_inner());
            st = guard;
            if timeout.timed_out() && st.queue.is_empty() {
                st.idle -= 1;
                return;
            }
        };
        drop(st);
        job();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn calls_run_concurrently() {
        // Ten jobs that each wait for the next one to start can only finish if all run at once.
        let (tx, rx) = mpsc::channel();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(10));
        for i in 0..10 {
            let (tx, b) = (tx.clone(), barrier.clone());
            spawn(move || {
                b.wait();
                tx.send(i).unwrap();
            });
        }
        let mut got: Vec<i32> = (0..10).map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap()).collect();
        got.sort();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
    }
}
