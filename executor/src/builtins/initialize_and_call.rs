//! orcbridge's `initialize_and_call`: `initialize` and a call of a wrapper function in one
//! request, so that a REPL input whose code must run costs one round trip
//! (`docs/protocol.md` §11).
//!
//! The two halves are the existing services, not copies: the initialize is
//! [`MemInitialize`]'s handler, and the call is [`SessionServices::call_for_controller`], the
//! path a CallWrapper from the controller takes (the same `is_callable` check, crash guard,
//! crash report kept for `take_crash_report`, stdio flush). The Result of the whole request is
//! sent by the session after its output has been synced, as for any call.

use std::borrow::Cow;

use orc_rpc::ExecutorAddr;
use orc_rpc::services::{MemInitialize, MemInitializeAndCall};
use orc_rpc::sps::SpsExpected;
use orc_rpc::types::FinalizeRequest;

use super::Builtin;
use crate::services::SessionServices;

impl Builtin for MemInitializeAndCall {
    fn handle(
        cx: &SessionServices,
        (inst, req, f, args): (ExecutorAddr, FinalizeRequest<'_>, ExecutorAddr, Cow<'_, [u8]>),
    ) -> Result<SpsExpected<(ExecutorAddr, Option<Cow<'static, [u8]>>)>, String> {
        let SpsExpected(initialized) = <MemInitialize as Builtin>::handle(cx, (inst, req))?;
        Ok(SpsExpected(initialized.map(|key| {
            let called = cx.call_for_controller(f, &args);
            if let Err(e) = &called {
                // As a failed CallWrapper is logged (session.rs); the region stays initialized.
                tracing::warn!("session {}: the call to {f} after initialize {key} failed: {e}", cx.id);
            }
            (key, called.ok().map(Cow::Owned))
        })))
    }
}
