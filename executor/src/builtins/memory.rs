//! `SimpleExecutorMemoryManager` and `ExecutorSharedMemoryMapperService` wrappers.

use orc_rpc::services::{
    MemDeinitialize, MemInitialize, MemRelease, MemReserve, MemReserveLow, ShmDeinitialize, ShmInitialize,
    ShmRelease, ShmReserve,
};
use orc_rpc::sps::{SpsError, SpsExpected};
use orc_rpc::{ExecutorAddr, ExecutorAddrRange};

use super::Builtin;
use crate::memory::Segment;
use crate::registry;
use crate::services::SessionServices;

fn session(inst: ExecutorAddr, shm: bool) -> Result<std::sync::Arc<SessionServices>, String> {
    let found = if shm { registry::by_shm_instance(inst) } else { registry::by_memory_instance(inst) };
    found.ok_or_else(|| {
        let e = format!("{inst} is not a memory manager instance of a live session");
        tracing::warn!("{e}");
        e
    })
}

impl Builtin for MemReserve {
    fn handle((inst, size): (ExecutorAddr, u64)) -> Result<SpsExpected<ExecutorAddr>, String> {
        Ok(session(inst, false).and_then(|s| s.memory.reserve(size)).into())
    }
}

impl Builtin for MemReserveLow {
    fn handle((inst, size): (ExecutorAddr, u64)) -> Result<SpsExpected<ExecutorAddr>, String> {
        Ok(session(inst, false).and_then(|s| s.memory.reserve_in(size, true)).into())
    }
}

impl Builtin for MemInitialize {
    fn handle(
        (inst, req): (ExecutorAddr, orc_rpc::types::FinalizeRequest<'_>),
    ) -> Result<SpsExpected<ExecutorAddr>, String> {
        let r = session(inst, false).and_then(|s| {
            let segs: Vec<Segment<'_>> = req
                .segments
                .iter()
                .map(|g| Segment { ag: g.ag, addr: g.addr, size: g.size, content: Some(&g.content) })
                .collect();
            s.memory.initialize(&segs, &req.actions, &|c| s.run_action(c))
        });
        if let Err(e) = &r {
            tracing::warn!("initialize failed: {e}");
        }
        Ok(r.into())
    }
}

impl Builtin for MemDeinitialize {
    fn handle((inst, keys): (ExecutorAddr, Vec<ExecutorAddr>)) -> Result<SpsError, String> {
        Ok(session(inst, false).and_then(|s| s.memory.deinitialize(&keys, &|c| s.run_action(c))).into())
    }
}

impl Builtin for MemRelease {
    fn handle((inst, bases): (ExecutorAddr, Vec<ExecutorAddr>)) -> Result<SpsError, String> {
        Ok(session(inst, false).and_then(|s| s.memory.release(&bases, &|c| s.run_action(c))).into())
    }
}

impl Builtin for ShmReserve {
    fn handle((inst, size): (ExecutorAddr, u64)) -> Result<SpsExpected<(ExecutorAddr, String)>, String> {
        Ok(session(inst, true)
            .and_then(|s| {
                let name = s.next_shm_name();
                s.memory.reserve_shared(size, &name).map(|base| (base, name))
            })
            .into())
    }
}

impl Builtin for ShmInitialize {
    fn handle(
        (inst, reservation, req): (
            ExecutorAddr,
            ExecutorAddr,
            orc_rpc::types::SharedMemoryFinalizeRequest<'_>,
        ),
    ) -> Result<SpsExpected<ExecutorAddr>, String> {
        let r = session(inst, true).and_then(|s| {
            let segs: Vec<Segment<'_>> = req
                .segments
                .iter()
                .map(|g| Segment { ag: g.ag, addr: g.addr, size: g.size, content: None })
                .collect();
            let first = segs.first().map_or(reservation, |g| g.addr);
            let reserved = ExecutorAddrRange { start: reservation, end: first };
            if first < reservation || !s.memory.contains(&reserved) {
                return Err(format!("segments at {first} are not in the reservation at {reservation}"));
            }
            s.memory.initialize(&segs, &req.actions, &|c| s.run_action(c))
        });
        Ok(r.into())
    }
}

impl Builtin for ShmDeinitialize {
    fn handle((inst, keys): (ExecutorAddr, Vec<ExecutorAddr>)) -> Result<SpsError, String> {
        Ok(session(inst, true).and_then(|s| s.memory.deinitialize(&keys, &|c| s.run_action(c))).into())
    }
}

impl Builtin for ShmRelease {
    fn handle((inst, bases): (ExecutorAddr, Vec<ExecutorAddr>)) -> Result<SpsError, String> {
        Ok(session(inst, true).and_then(|s| s.memory.release(&bases, &|c| s.run_action(c))).into())
    }
}
