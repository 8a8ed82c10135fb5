//! LLVM IR (text `.ll` or bitcode `.bc`) compiled in process with LLVM 22's code generator
//! (through inkwell), for the executor's target triple, position-independent.

use std::path::Path;

use inkwell::OptimizationLevel;
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::targets::{CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetTriple};

/// Compiles the IR module in `path` to an object for `triple`. `opt` is 0-3 (`-O` level of
/// code generation; the IR itself is not re-optimized).
///
/// # Errors
/// The file cannot be read or parsed, or LLVM has no target for `triple`.
pub fn compile(path: &Path, triple: &str, opt: u8) -> Result<Vec<u8>, String> {
    Target::initialize_all(&InitializationConfig::default());
    let name = path.display();
    let buf = MemoryBuffer::create_from_file(path).map_err(|e| format!("{name}: {e}"))?;
    let ctx = Context::create();
    let module =
        ctx.create_module_from_ir(buf).map_err(|e| format!("{name}: {}", e.to_string().trim_end()))?;
    let tt = TargetTriple::create(triple);
    let target = Target::from_triple(&tt).map_err(|e| format!("{name}: no LLVM target for {triple}: {e}"))?;
    let level = match opt {
        0 => OptimizationLevel::None,
        1 => OptimizationLevel::Less,
        2 => OptimizationLevel::Default,
        _ => OptimizationLevel::Aggressive,
    };
    let tm = target
        .create_target_machine(&tt, "generic", "", level, RelocMode::PIC, CodeModel::Default)
        .ok_or_else(|| format!("{name}: cannot create a code generator for {triple}"))?;
    module.set_triple(&tt);
    module.set_data_layout(&tm.get_target_data().get_data_layout());
    module.verify().map_err(|e| format!("{name}: invalid IR: {}", e.to_string().trim_end()))?;
    let obj = tm.write_to_memory_buffer(&module, FileType::Object).map_err(|e| format!("{name}: {e}"))?;
    Ok(obj.as_slice().to_vec())
}
