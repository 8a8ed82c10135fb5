//! `SimpleExecutorMemoryManager` and `ExecutorSharedMemoryMapperService` wrappers.

use orc_rpc::services::{
    MemDeinitialize, MemInitialize, MemRelease, MemReserve, MemReserveLow, ShmDeinitialize, ShmInitialize,
    ShmRelease, ShmReserve,
};
use orc_rpc::sps::{SpsError, SpsExpected};
use orc_rpc::{ExecutorAddr, ExecutorAddrRange};

use super::Builtin;
use crate::memory::Segment;
use crate::services::SessionServices;

impl Builtin for MemReserve {
    fn handle(
        cx: &SessionServices,
        (inst, size): (ExecutorAddr, u64),
    ) -> Result<SpsExpected<ExecutorAddr>, String> {
        Ok(cx.check_memory_instance(inst, false).and_then(|()| cx.memory.reserve(size)).into())
    }
}

impl Builtin for MemReserveLow {
    fn handle(
        cx: &SessionServices,
        (inst, size): (ExecutorAddr, u64),
    ) -> Result<SpsExpected<ExecutorAddr>, String> {
        Ok(cx.check_memory_instance(inst, false).and_then(|()| cx.memory.reserve_in(size, true)).into())
    }
}

impl Builtin for MemInitialize {
    fn handle(
        cx: &SessionServices,
        (inst, req): (ExecutorAddr, orc_rpc::types::FinalizeRequest<'_>),
    ) -> Result<SpsExpected<ExecutorAddr>, String> {
        let r = cx.check_memory_instance(inst, false).and_then(|()| {
            let segs: Vec<Segment<'_>> = req
                .segments
                .iter()
                .map(|g| Segment { ag: g.ag, addr: g.addr, size: g.size, content: Some(&g.content) })
                .collect();
            cx.memory.initialize(&segs, &req.actions, &|c| cx.run_action(c))
        });
        if let Err(e) = &r {
            tracing::warn!("session {}: initialize failed: {e}", cx.id);
        }
        Ok(r.into())
    }
}

impl Builtin for MemDeinitialize {
    fn handle(
        cx: &SessionServices,
        (inst, keys): (ExecutorAddr, Vec<ExecutorAddr>),
    ) -> Result<SpsError, String> {
        Ok(cx
            .check_memory_instance(inst, false)
            .and_then(|()| cx.memory.deinitialize(&keys, &|c| cx.run_action(c)))
            .into())
    }
}

impl Builtin for MemRelease {
    fn handle(
        cx: &SessionServices,
        (inst, bases): (ExecutorAddr, Vec<ExecutorAddr>),
    ) -> Result<SpsError, String> {
        Ok(cx
            .check_memory_instance(inst, false)
            .and_then(|()| cx.memory.release(&bases, &|c| cx.run_action(c)))
            .into())
    }
}

impl Builtin for ShmReserve {
    fn handle(
        cx: &SessionServices,
        (inst, size): (ExecutorAddr, u64),
    ) -> Result<SpsExpected<(ExecutorAddr, String)>, String> {
        Ok(cx
            .check_memory_instance(inst, true)
            .and_then(|()| {
                let name = cx.next_shm_name();
                cx.memory.reserve_shared(size, &name).map(|base| (base, name))
            })
            .into())
    }
}

impl Builtin for ShmInitialize {
    fn handle(
        cx: &SessionServices,
        (inst, reservation, req): (
            ExecutorAddr,
            ExecutorAddr,
            orc_rpc::types::SharedMemoryFinalizeRequest<'_>,
        ),
    ) -> Result<SpsExpected<ExecutorAddr>, String> {
        let r = cx.check_memory_instance(inst, true).and_then(|()| {
            let segs: Vec<Segment<'_>> = req
                .segments
                .iter()
                .map(|g| Segment { ag: g.ag, addr: g.addr, size: g.size, content: None })
                .collect();
            let first = segs.first().map_or(reservation, |g| g.addr);
            let reserved = ExecutorAddrRange { start: reservation, end: first };
            if first < reservation || !cx.memory.contains(&reserved) {
                return Err(format!("segments at {first} are not in the reservation at {reservation}"));
            }
            cx.memory.initialize(&segs, &req.actions, &|c| cx.run_action(c))
        });
        Ok(r.into())
    }
}

impl Builtin for ShmDeinitialize {
    fn handle(
        cx: &SessionServices,
        (inst, keys): (ExecutorAddr, Vec<ExecutorAddr>),
    ) -> Result<SpsError, String> {
        Ok(cx
            .check_memory_instance(inst, true)
            .and_then(|()| cx.memory.deinitialize(&keys, &|c| cx.run_action(c)))
            .into())
    }
}

impl Builtin for ShmRelease {
    fn handle(
        cx: &SessionServices,
        (inst, bases): (ExecutorAddr, Vec<ExecutorAddr>),
    ) -> Result<SpsError, String> {
        Ok(cx
            .check_memory_instance(inst, true)
            .and_then(|()| cx.memory.release(&bases, &|c| cx.run_action(c)))
            .into())
    }
}
