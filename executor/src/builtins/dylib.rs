//! `SimpleExecutorDylibManager` wrappers.

use orc_rpc::ExecutorAddr;
use orc_rpc::services::{DylibOpen, DylibResolve};
use orc_rpc::sps::SpsExpected;
use orc_rpc::types::{ExecutorSymbolDef, RemoteSymbolLookupSetElement};

use super::Builtin;
use crate::services::SessionServices;

impl Builtin for DylibOpen {
    fn handle(
        cx: &SessionServices,
        (inst, path, mode): (ExecutorAddr, String, u64),
    ) -> Result<SpsExpected<ExecutorAddr>, String> {
        let r = if inst == cx.dylib_instance() {
            cx.dylibs.open(&path, mode)
        } else {
            let e = format!("{inst} is not a dylib manager instance of this session");
            tracing::warn!("session {}: {e}", cx.id);
            Err(e)
        };
        Ok(r.into())
    }
}

impl Builtin for DylibResolve {
    fn handle(
        cx: &SessionServices,
        (handle, names): (ExecutorAddr, Vec<RemoteSymbolLookupSetElement<'_>>),
    ) -> Result<SpsExpected<Vec<Option<ExecutorSymbolDef>>>, String> {
        let names: Vec<(&[u8], bool)> = names.iter().map(|e| (&*e.name, e.required)).collect();
        let r = cx.dylibs.resolve(handle, &names);
        if let Err(e) = &r {
            tracing::warn!("session {}: {e}", cx.id);
        }
        Ok(r.into())
    }
}
