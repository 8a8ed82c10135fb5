//! Reading the captured LLVM 22.1 sessions in `testdata/llvm22-captures/` (format described in
//! that folder's README: one line per frame, `<index> <C2E|E2C> <seconds> <frame hex>`).

use std::path::PathBuf;

use orc_rpc::{FRAME_HEADER_SIZE, FrameHeader};

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Controller to executor.
    C2E,
    /// Executor to controller.
    E2C,
}

/// One captured frame.
#[derive(Debug, Clone)]
pub struct CapturedFrame {
    /// Frame number in the session.
    pub index: usize,
    /// Direction.
    pub dir: Dir,
    /// Parsed header.
    pub header: FrameHeader,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// The whole frame as captured.
    pub raw: Vec<u8>,
}

/// The captures folder.
pub fn dir() -> PathBuf {
    crate::workspace_root().join("testdata/llvm22-captures")
}

/// Names of all captures (`hello_pipe`, …).
pub fn names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir())
        .expect("captures folder")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".frames.txt").map(str::to_owned))
        .collect();
    v.sort();
    v
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex digit")).collect()
}

/// Loads capture `name`.
pub fn load(name: &str) -> Vec<CapturedFrame> {
    let text = std::fs::read_to_string(dir().join(format!("{name}.frames.txt"))).expect("capture file");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split_whitespace();
            let index = f.next().and_then(|s| s.parse().ok()).expect("index");
            let dir = match f.next() {
                Some("C2E") => Dir::C2E,
                Some("E2C") => Dir::E2C,
                d => panic!("bad direction {d:?} in {name}"),
            };
            let raw = hex(f.nth(1).expect("frame hex"));
            let mut h = [0u8; FRAME_HEADER_SIZE];
            h.copy_from_slice(&raw[..FRAME_HEADER_SIZE]);
            let header = FrameHeader::parse(&h);
            CapturedFrame { index, dir, header, payload: raw[FRAME_HEADER_SIZE..].to_vec(), raw }
        })
        .collect()
}
