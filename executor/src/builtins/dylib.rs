//! `SimpleExecutorDylibManager` wrappers.

use orc_rpc::ExecutorAddr;
use orc_rpc::services::{DylibOpen, DylibResolve};
use orc_rpc::sps::SpsExpected;
use orc_rpc::types::{ExecutorSymbolDef, RemoteSymbolLookupSetElement};

use super::Builtin;
use crate::registry;

impl Builtin for DylibOpen {
    fn handle((inst, path, mode): (ExecutorAddr, String, u64)) -> Result<SpsExpected<ExecutorAddr>, String> {
        let r = registry::by_dylib_instance(inst)
            .ok_or_else(|| {
                let e = format!("{inst} is not a dylib manager instance of a live session");
                tracing::warn!("{e}");
                e
            })
            .and_then(|s| s.dylibs.open(&path, mode));
        Ok(r.into())
    }
}

impl Builtin for DylibResolve {
    fn handle(
        (handle, names): (ExecutorAddr, Vec<RemoteSymbolLookupSetElement<'_>>),
    ) -> Result<SpsExpected<Vec<Option<ExecutorSymbolDef>>>, String> {
        let names: Vec<(&[u8], bool)> = names.iter().map(|e| (&*e.name, e.required)).collect();
        let r = registry::all()
            .into_iter()
            .find(|s| s.dylibs.owns(handle))
            .ok_or_else(|| {
                let e = format!("resolve: {handle} is not a handle returned by open");
                tracing::warn!("{e}");
                e
            })
            .and_then(|s| s.dylibs.resolve(handle, &names));
        Ok(r.into())
    }
}
