//! orcbridge's stdio extension: a controller asks for the process's output and feeds its
//! input ([`crate::stdio`], `docs/protocol.md` §11).

use std::borrow::Cow;

use orc_rpc::ExecutorAddr;
use orc_rpc::services::{StdinWrite, StdioForward};
use orc_rpc::sps::SpsError;

use super::Builtin;
use crate::services::SessionServices;

fn offered(cx: &SessionServices) -> Result<(), String> {
    if cx.forward_stdio {
        Ok(())
    } else {
        Err("this executor does not forward its stdio (ExecutorBuilder::forward_stdio)".into())
    }
}

impl Builtin for StdioForward {
    fn handle(cx: &SessionServices, (tag, stdin): (ExecutorAddr, bool)) -> Result<SpsError, String> {
        offered(cx)?;
        let taken = if stdin { crate::stdio::take_stdin(cx.id) } else { Ok(()) };
        Ok(SpsError(taken.and_then(|()| crate::stdio::forward(cx.id, tag, &cx.dispatch))))
    }
}

impl Builtin for StdinWrite {
    fn handle(cx: &SessionServices, (bytes,): (Cow<'_, [u8]>,)) -> Result<SpsError, String> {
        offered(cx)?;
        Ok(SpsError(crate::stdio::write_stdin(cx.id, &bytes)))
    }
}
