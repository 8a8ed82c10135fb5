//! A TCP relay between a controller and an executor that delays what it forwards, as a link
//! with that one-way latency would, and counts the controller's calls on the way.
//!
//! Each direction has a reader thread, which reads whole frames (`orc_rpc::frame::FrameReader`)
//! and queues each with the time it may leave, and a writer thread, which sends them in order
//! at that time: every frame is late by the same delay, and a burst is not held up frame after
//! frame. Plain sessions only (an authenticated session's frames are encrypted).
//!
//! Counted: CallWrapper frames from the controller (its calls), and round trips: calls sent
//! while none of the controller's calls was waiting for its Result (calls sent together, like
//! a lookup and a reserve, share one). The executor's own calls (jit-dispatch, forwarded
//! output) and their Results are not counted.

use std::collections::HashSet;
use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orc_rpc::frame::{FrameReader, Opcode};
use orc_rpc::{EncodedFrame, Raw};

/// How long the relay keeps trying to reach the executor when a controller connects (it may
/// not be listening yet).
const CONNECT_LIMIT: Duration = Duration::from_secs(20);

/// What the relay counted so far.
#[derive(Debug, Default)]
struct Counts {
    calls: AtomicU64,
    round_trips: AtomicU64,
    /// Sequence numbers of the controller's calls not answered yet.
    waiting: Mutex<HashSet<u64>>,
}

impl Counts {
    fn call(&self, seq_no: u64) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if waiting.is_empty() {
            self.round_trips.fetch_add(1, Ordering::SeqCst);
        }
        waiting.insert(seq_no);
    }

    fn result(&self, seq_no: u64) {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(&seq_no);
    }
}

/// A relay from a local port to an executor's port, delaying each direction.
#[derive(Debug)]
pub struct DelayProxy {
    port: u16,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    /// Every socket the relay opened, shut down when it is dropped.
    sockets: Arc<Mutex<Vec<TcpStream>>>,
}

impl DelayProxy {
    /// Listens on a free loopback port; each controller that connects is relayed to
    /// `127.0.0.1:target` with `delay` added to each direction.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub fn start(target: u16, delay: Duration) -> DelayProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port for the relay");
        let port = listener.local_addr().expect("the relay's address").port();
        let proxy =
            DelayProxy { port, counts: Arc::default(), stop: Arc::default(), sockets: Arc::default() };
        let (counts, stop, sockets) = (proxy.counts.clone(), proxy.stop.clone(), proxy.sockets.clone());
        std::thread::spawn(move || {
            for controller in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(controller) = controller else { continue };
                let Some(executor) = connect(target, &stop) else {
                    let _ = controller.shutdown(Shutdown::Both);
                    continue;
                };
                relay(controller, executor, delay, &counts, &sockets);
            }
        });
        proxy
    }

    /// The port controllers connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// CallWrapper frames the controllers sent so far.
    pub fn calls(&self) -> u64 {
        self.counts.calls.load(Ordering::SeqCst)
    }

    /// Round trips so far: calls sent while none of the controller's calls was outstanding.
    pub fn round_trips(&self) -> u64 {
        self.counts.round_trips.load(Ordering::SeqCst)
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for s in self.sockets.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Connects to the executor, trying again while it refuses (not listening yet).
fn connect(target: u16, stop: &AtomicBool) -> Option<TcpStream> {
    let start = Instant::now();
    loop {
        match TcpStream::connect(("127.0.0.1", target)) {
            Ok(s) => return Some(s),
            Err(_) if start.elapsed() < CONNECT_LIMIT && !stop.load(Ordering::SeqCst) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => return None,
        }
    }
}

/// Starts relaying both directions between `controller` and `executor`.
fn relay(
    controller: TcpStream,
    executor: TcpStream,
    delay: Duration,
    counts: &Arc<Counts>,
    sockets: &Mutex<Vec<TcpStream>>,
) {
    for s in [&controller, &executor] {
        let _ = s.set_nodelay(true);
        if let Ok(c) = s.try_clone() {
            sockets.lock().unwrap_or_else(|e| e.into_inner()).push(c);
        }
    }
    let (Ok(controller2), Ok(executor2)) = (controller.try_clone(), executor.try_clone()) else {
        return;
    };
    direction(controller, executor2, delay, Side::Controller, counts.clone());
    direction(executor, controller2, delay, Side::Executor, counts.clone());
}

/// Who sends on a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Controller,
    Executor,
}

/// Relays `from` to `to`, each frame `delay` after it arrived; at the end of `from` (or a
/// frame that does not parse), shuts down the sending half of `to` once what came before has
/// been sent.
fn direction(from: TcpStream, mut to: TcpStream, delay: Duration, side: Side, counts: Arc<Counts>) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut frames = FrameReader::new(from);
        loop {
            let bytes = match frames.read_frame() {
                Ok(Some(f)) => {
                    match (side, f.opcode) {
                        (Side::Controller, Opcode::CallWrapper) => counts.call(f.seq_no),
                        (Side::Executor, Opcode::Result) => counts.result(f.seq_no),
                        _ => {}
                    }
                    EncodedFrame::new(f.opcode, f.seq_no, f.tag_addr, &Raw(&f.payload)).as_bytes().to_vec()
                }
                // An empty chunk is the end of the stream.
                Ok(None) | Err(_) => Vec::new(),
            };
            let end = bytes.is_empty();
            if tx.send((Instant::now() + delay, bytes)).is_err() || end {
                return;
            }
        }
    });
    std::thread::spawn(move || {
        while let Ok((due, chunk)) = rx.recv() {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if chunk.is_empty() || to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_sent_together_share_a_round_trip() {
        let c = Counts::default();
        c.call(0);
        c.call(1);
        c.result(0);
        c.result(1);
        c.call(2);
        c.result(2);
        assert_eq!((c.calls.load(Ordering::SeqCst), c.round_trips.load(Ordering::SeqCst)), (3, 2));
    }
}
