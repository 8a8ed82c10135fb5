; The bundled LLVM IR example: repl examples/scripts/hello.ll
@msg = private constant [27 x i8] c"hello from JIT'd LLVM IR!\0A\00"

declare i32 @printf(ptr, ...)

define i32 @main(i32 %argc, ptr %argv) {
  %n = call i32 (ptr, ...) @printf(ptr @msg)
  ret i32 0
}
