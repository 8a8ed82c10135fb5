//! orcbridge's stdio extension: a controller asks for the process's output and feeds its
//! input ([`crate::stdio`], `docs/protocol.md` §11).

use std::borrow::Cow;

use orc_rpc::ExecutorAddr;
use orc_rpc::services::{STDIO_LINE_BUFFERED, STDIO_STDIN, StdinWrite, StdioForward};
use orc_rpc::sps::SpsError;

use super::Builtin;
use crate::services::SessionServices;

impl Builtin for StdioForward {
    fn handle(cx: &SessionServices, (tag, flags): (ExecutorAddr, u32)) -> Result<SpsError, String> {
        let known = STDIO_STDIN | STDIO_LINE_BUFFERED;
        if flags & !known != 0 {
            return Ok(SpsError::failure(format!("unknown stdio_forward flags {:#x}", flags & !known)));
        }
        let taken = if flags & STDIO_STDIN != 0 { crate::stdio::take_stdin(cx.id) } else { Ok(()) };
        let forwarding =
            taken.and_then(|()| crate::stdio::forward(cx.id, tag, &cx.dispatch, cx.max_frame_size));
        if forwarding.is_ok() && flags & STDIO_LINE_BUFFERED != 0 {
            crate::cstdio::buffer_stdio_as_on_a_terminal();
        }
        Ok(SpsError(forwarding))
    }
}

impl Builtin for StdinWrite {
    fn handle(cx: &SessionServices, (bytes,): (Cow<'_, [u8]>,)) -> Result<SpsError, String> {
        Ok(SpsError(crate::stdio::write_stdin(cx.id, &bytes)))
    }
}
