//! The tokio codec against split reads, EOF and size limits.

use bytes::BytesMut;
use orc_rpc::{EncodedFrame, ExecutorAddr, FrameCodec, FrameError, Opcode, Raw};
use tokio_util::codec::{Decoder, Encoder};

fn encoded(seq: u64, payload: &[u8]) -> EncodedFrame {
    EncodedFrame::new(Opcode::CallWrapper, seq, ExecutorAddr(0xabc), &Raw(payload))
}

#[test]
fn frames_split_at_every_byte_boundary_decode_identically() {
    let mut stream = Vec::new();
    let payloads: [&[u8]; 3] = [b"", b"hello", &[7u8; 300]];
    for (i, p) in payloads.iter().enumerate() {
        stream.extend_from_slice(encoded(i as u64, p).as_bytes());
    }
    for chunk in [1usize, 2, 5, 31, 32, 33, 64, stream.len()] {
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in stream.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(f) = codec.decode(&mut buf).unwrap() {
                out.push(f);
            }
        }
        assert!(codec.decode_eof(&mut buf).unwrap().is_none());
        assert_eq!(out.len(), 3, "chunk size {chunk}");
        for (i, f) in out.iter().enumerate() {
            assert_eq!(f.seq_no, i as u64);
            assert_eq!(f.tag_addr, ExecutorAddr(0xabc));
            assert_eq!(&f.payload[..], payloads[i]);
        }
    }
}

#[test]
fn eof_inside_a_frame_is_an_error() {
    let f = encoded(1, b"abcdef");
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::from(&f.as_bytes()[..36]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(matches!(codec.decode_eof(&mut buf), Err(FrameError::Truncated { expected: 38, got: 36 })));
}

#[test]
fn limits_apply_in_both_directions() {
    let mut codec = FrameCodec::new(64);
    let mut dst = BytesMut::new();
    assert!(matches!(
        codec.encode(encoded(0, &[0; 40]), &mut dst),
        Err(FrameError::TooLarge { size: 72, max: 64 })
    ));
    let mut src = BytesMut::from(encoded(0, &[0; 40]).as_bytes());
    assert!(matches!(codec.decode(&mut src), Err(FrameError::TooLarge { size: 72, max: 64 })));
    let mut tiny = BytesMut::from(&[8u8, 0, 0, 0, 0, 0, 0, 0][..]);
    tiny.extend_from_slice(&[0; 24]);
    assert!(matches!(FrameCodec::default().decode(&mut tiny), Err(FrameError::TooSmall { size: 8 })));
}

#[tokio::test]
async fn framed_over_a_duplex_pipe() {
    use futures::{SinkExt, StreamExt};
    let (a, b) = tokio::io::duplex(16);
    let mut tx = tokio_util::codec::FramedWrite::new(a, FrameCodec::default());
    let mut rx = tokio_util::codec::FramedRead::new(b, FrameCodec::default());
    let send = tokio::spawn(async move {
        for i in 0..10u64 {
            tx.send(encoded(i, &vec![i as u8; (i * 37) as usize])).await.unwrap();
        }
    });
    for i in 0..10u64 {
        let f = rx.next().await.unwrap().unwrap();
        assert_eq!(f.seq_no, i);
        assert_eq!(f.payload.len(), (i * 37) as usize);
    }
    send.await.unwrap();
    assert!(rx.next().await.is_none());
}
