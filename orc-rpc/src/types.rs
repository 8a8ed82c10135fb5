//! Named SPS structures of the LLVM 22.1 protocol: symbol definitions, allocation groups,
//! wrapper-function calls, alloc actions and finalize requests.
//!
//! Layouts come from the 22.1 headers under `llvm/include/llvm/ExecutionEngine/Orc/Shared/`:
//! `ExecutorSymbolDef.h`, `MemoryFlags.h`, `WrapperFunctionUtils.h`, `AllocationActions.h`,
//! `TargetProcessControlTypes.h`.

use std::borrow::Cow;

use crate::ExecutorAddr;
use crate::addr::ExecutorAddrRange;
use crate::sps::{DecodeError, SpsDecode, SpsEncode, SpsReader};

/// Implements SPS for a struct encoded as the tuple of its fields, in declaration order.
macro_rules! sps_struct {
    ($name:ident { $($field:ident : $ty:ty),+ $(,)? }) => {
        impl SpsEncode for $name {
            fn sps_size(&self) -> usize {
                0 $(+ self.$field.sps_size())+
            }
            fn sps_encode(&self, out: &mut Vec<u8>) {
                $(self.$field.sps_encode(out);)+
            }
        }
        impl<'de> SpsDecode<'de> for $name {
            const MIN_SIZE: usize = 0 $(+ <$ty as SpsDecode<'de>>::MIN_SIZE)+;
            fn sps_decode(r: &mut SpsReader<'de>) -> Result<Self, DecodeError> {
                Ok($name { $($field: <$ty>::sps_decode(r)?),+ })
            }
        }
    };
    ($name:ident<$lt:lifetime> { $($field:ident : $ty:ty),+ $(,)? }) => {
        impl<$lt> SpsEncode for $name<$lt> {
            fn sps_size(&self) -> usize {
                0 $(+ self.$field.sps_size())+
            }
            fn sps_encode(&self, out: &mut Vec<u8>) {
                $(self.$field.sps_encode(out);)+
            }
        }
        impl<$lt> SpsDecode<$lt> for $name<$lt> {
            const MIN_SIZE: usize = 0 $(+ <$ty as SpsDecode<$lt>>::MIN_SIZE)+;
            fn sps_decode(r: &mut SpsReader<$lt>) -> Result<Self, DecodeError> {
                Ok($name { $($field: <$ty>::sps_decode(r)?),+ })
            }
        }
    };
}
pub(crate) use sps_struct;

sps_struct!(ExecutorAddrRange { start: ExecutorAddr, end: ExecutorAddr });

/// `SPSJITSymbolFlags`: `(u8 flags, u8 target_flags)`; bits from `llvm::JITSymbolFlags`
/// (`llvm/include/llvm/ExecutionEngine/JITSymbol.h`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct JitSymbolFlags {
    /// Generic flags: see the associated constants.
    pub flags: u8,
    /// Target-specific flags (e.g. ARM Thumb); 0 on x86-64 and AArch64.
    pub target_flags: u8,
}

impl JitSymbolFlags {
    /// The symbol is an error placeholder.
    pub const HAS_ERROR: u8 = 0x01;
    /// Weak definition.
    pub const WEAK: u8 = 0x02;
    /// Common symbol.
    pub const COMMON: u8 = 0x04;
    /// Absolute (not relocatable) address.
    pub const ABSOLUTE: u8 = 0x08;
    /// Visible outside its JITDylib.
    pub const EXPORTED: u8 = 0x10;
    /// Refers to a function.
    pub const CALLABLE: u8 = 0x20;
    /// Exists only for materialization side effects.
    pub const MATERIALIZATION_SIDE_EFFECTS_ONLY: u8 = 0x40;

    /// The flags 22.1's `llvm-jitlink-executor` reports for every process symbol it finds.
    pub const EXPORTED_ONLY: JitSymbolFlags = JitSymbolFlags { flags: Self::EXPORTED, target_flags: 0 };
}

sps_struct!(JitSymbolFlags { flags: u8, target_flags: u8 });

/// `SPSExecutorSymbolDef`: an address and its flags (10 bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ExecutorSymbolDef {
    /// Where the symbol is, in the executor.
    pub addr: ExecutorAddr,
    /// Its linkage flags.
    pub flags: JitSymbolFlags,
}

sps_struct!(ExecutorSymbolDef { addr: ExecutorAddr, flags: JitSymbolFlags });

/// `SPSRemoteAllocGroup`: one byte of memory protections plus a lifetime bit.
///
/// Bits (from `MemoryFlags.h` / `SimpleRemoteEPCUtils`): read `0x01`, write `0x02`, exec
/// `0x04`, finalize lifetime `0x08` (memory released right after finalize actions run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RemoteAllocGroup(pub u8);

impl RemoteAllocGroup {
    /// Readable.
    pub const READ: u8 = 0x01;
    /// Writable.
    pub const WRITE: u8 = 0x02;
    /// Executable.
    pub const EXEC: u8 = 0x04;
    /// Finalize lifetime (memory can go away after the finalize actions ran).
    pub const FINALIZE_LIFETIME: u8 = 0x08;

    /// `R--`.
    pub const R: RemoteAllocGroup = RemoteAllocGroup(Self::READ);
    /// `RW-`.
    pub const RW: RemoteAllocGroup = RemoteAllocGroup(Self::READ | Self::WRITE);
    /// `R-X`.
    pub const RX: RemoteAllocGroup = RemoteAllocGroup(Self::READ | Self::EXEC);

    /// Readable?
    pub fn read(self) -> bool {
        self.0 & Self::READ != 0
    }
    /// Writable?
    pub fn write(self) -> bool {
        self.0 & Self::WRITE != 0
    }
    /// Executable?
    pub fn exec(self) -> bool {
        self.0 & Self::EXEC != 0
    }
    /// Finalize-lifetime allocation?
    pub fn finalize_lifetime(self) -> bool {
        self.0 & Self::FINALIZE_LIFETIME != 0
    }

    /// The protections as `rwx` text, e.g. `r-x`.
    pub fn prot_str(self) -> String {
        let c = |set, ch| if set { ch } else { '-' };
        [c(self.read(), 'r'), c(self.write(), 'w'), c(self.exec(), 'x')].iter().collect()
    }
}

impl SpsEncode for RemoteAllocGroup {
    fn sps_size(&self) -> usize {
        1
    }
    fn sps_encode(&self, out: &mut Vec<u8>) {
        self.0.sps_encode(out)
    }
}

impl<'de> SpsDecode<'de> for RemoteAllocGroup {
    const MIN_SIZE: usize = 1;
    fn sps_decode(r: &mut SpsReader<'de>) -> Result<Self, DecodeError> {
        u8::sps_decode(r).map(RemoteAllocGroup)
    }
}

/// `SPSWrapperFunctionCall`: a wrapper function in the executor and its SPS-encoded argument
/// bytes. A *null* call has `fn_addr == 0` and empty arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WrapperFunctionCall<'a> {
    /// Executor address of a function with the wrapper ABI
    /// (`CWrapperFunctionBuffer fn(const char *ArgData, size_t ArgSize)`).
    pub fn_addr: ExecutorAddr,
    /// The argument list, SPS-encoded as for a CallWrapper payload.
    pub arg_data: Cow<'a, [u8]>,
}

impl WrapperFunctionCall<'_> {
    /// True for the null call (nothing to run).
    pub fn is_null(&self) -> bool {
        self.fn_addr.is_null()
    }

    /// A copy that owns its argument bytes.
    pub fn into_owned(self) -> WrapperFunctionCall<'static> {
        WrapperFunctionCall { fn_addr: self.fn_addr, arg_data: Cow::Owned(self.arg_data.into_owned()) }
    }
}

sps_struct!(WrapperFunctionCall<'a> { fn_addr: ExecutorAddr, arg_data: Cow<'a, [u8]> });

/// `SPSAllocActionCallPair`: run `finalize` when memory is initialized, `dealloc` (in reverse
/// order) when it is deinitialized or released. Either may be the null call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocActionCallPair<'a> {
    /// Runs at initialize, in list order.
    pub finalize: WrapperFunctionCall<'a>,
    /// Runs at deinitialize/release, in reverse list order.
    pub dealloc: WrapperFunctionCall<'a>,
}

sps_struct!(AllocActionCallPair<'a> {
    finalize: WrapperFunctionCall<'a>,
    dealloc: WrapperFunctionCall<'a>,
});

/// `SPSSegFinalizeRequest`: one segment of an initialize request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegFinalizeRequest<'a> {
    /// Protections (and lifetime) the segment gets.
    pub ag: RemoteAllocGroup,
    /// Executor address of the segment (inside a reserved slab).
    pub addr: ExecutorAddr,
    /// Segment size in bytes; bytes past `content` are zero-filled.
    pub size: u64,
    /// Initial content, at most `size` bytes.
    pub content: Cow<'a, [u8]>,
}

sps_struct!(SegFinalizeRequest<'a> {
    ag: RemoteAllocGroup,
    addr: ExecutorAddr,
    size: u64,
    content: Cow<'a, [u8]>,
});

/// `SPSFinalizeRequest`: segments plus the alloc actions to run after they are in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinalizeRequest<'a> {
    /// Segments to copy and protect.
    pub segments: Vec<SegFinalizeRequest<'a>>,
    /// Alloc actions, in order.
    pub actions: Vec<AllocActionCallPair<'a>>,
}

sps_struct!(FinalizeRequest<'a> {
    segments: Vec<SegFinalizeRequest<'a>>,
    actions: Vec<AllocActionCallPair<'a>>,
});

/// `SPSSharedMemorySegFinalizeRequest`: a segment whose content is already in shared memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedMemorySegFinalizeRequest {
    /// Protections (and lifetime).
    pub ag: RemoteAllocGroup,
    /// Executor address of the segment.
    pub addr: ExecutorAddr,
    /// Size in bytes.
    pub size: u64,
}

sps_struct!(SharedMemorySegFinalizeRequest { ag: RemoteAllocGroup, addr: ExecutorAddr, size: u64 });

/// `SPSSharedMemoryFinalizeRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedMemoryFinalizeRequest<'a> {
    /// Segments to protect.
    pub segments: Vec<SharedMemorySegFinalizeRequest>,
    /// Alloc actions, in order.
    pub actions: Vec<AllocActionCallPair<'a>>,
}

sps_struct!(SharedMemoryFinalizeRequest<'a> {
    segments: Vec<SharedMemorySegFinalizeRequest>,
    actions: Vec<AllocActionCallPair<'a>>,
});

/// `SPSRemoteSymbolLookupSetElement`: a symbol name and whether it must be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSymbolLookupSetElement<'a> {
    /// Symbol name as the loader sees it (no Mach-O leading underscore stripping is done by the
    /// wire; the executor does it).
    pub name: Cow<'a, [u8]>,
    /// Whether a missing symbol is an error (22.1 controllers always send `false`).
    pub required: bool,
}

sps_struct!(RemoteSymbolLookupSetElement<'a> { name: Cow<'a, [u8]>, required: bool });
