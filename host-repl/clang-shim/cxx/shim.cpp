// orcbridge-clang's C++ shim over clang 22: the mechanisms behind the C ABI of shim.h. The
// policy (argument lists, which values may be rendered, the public API) is in src/lib.rs.
//
// * ojit_compile: the clang driver builds the cc1 invocation in process (as `clang -c`
//   would), then EmitObjAction writes the object into memory.
// * ojit_interp_*: clang::Interpreter made with Interpreter::create(CI, IEB) where IEB->IE is
//   CaptureExecutor. IncrementalExecutorBuilder::create returns a preset IE as is, so clang
//   never constructs OrcIncrementalExecutor or LLJIT; ojit_interp_create checks that the
//   executor clang uses is ours. Modules only reach CaptureExecutor::addModule, which takes
//   them; their value-capture calls are rewritten (Rewriter) and they are emitted with one
//   TargetMachine per interpreter. Nothing is JIT-linked or run in this process.
//
// Every entry point catches C++ exceptions (guarded); none crosses into Rust.

#include "shim.h"
#include "complete.h"

#include "clang/AST/ASTContext.h"
#include "clang/AST/ASTMutationListener.h"
#include "clang/AST/Decl.h"
#include "clang/AST/DeclContextInternals.h"
#include "clang/AST/ExprCXX.h"
#include "clang/AST/Mangle.h"
#include "clang/AST/RecordLayout.h"
#include "clang/Basic/TargetInfo.h"
#include "clang/CodeGen/CodeGenAction.h"
#include "clang/Driver/Compilation.h"
#include "clang/Driver/Driver.h"
#include "clang/Driver/Job.h"
#include "clang/Driver/Tool.h"
#include "clang/Frontend/CompilerInstance.h"
#include "clang/Frontend/TextDiagnosticPrinter.h"
#include "clang/Interpreter/IncrementalExecutor.h"
#include "clang/Interpreter/Interpreter.h"
#include "clang/Interpreter/PartialTranslationUnit.h"
#include "clang/Interpreter/Value.h"
#include "clang/Lex/PreprocessorOptions.h"
#include "clang/Sema/Sema.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h" // completes IncrementalExecutorBuilder's members
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Demangle/Demangle.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/DiagnosticPrinter.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Mangler.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/Transforms/Utils/Local.h"

#include <cfloat>
#include <cmath>
#include <functional>
#include <optional>
#include <deque>
#include <set>
#include <map>
#include <mutex>

using namespace llvm;
using clang::QualType;

namespace {

void put(ojit_sink *S, StringRef Str) {
  if (S && S->write && !Str.empty())
    S->write(S->ctx, Str.data(), Str.size());
}

void putU64(ojit_sink *S, uint64_t V) {
  char B[8];
  for (int I = 0; I < 8; ++I)
    B[I] = char(V >> (8 * I));
  put(S, StringRef(B, 8));
}

template <class Fn> ojit_status guarded(ojit_sink *Err, Fn &&F) noexcept {
  try {
    try {
      return F();
    } catch (const std::exception &E) {
      put(Err, std::string("internal error: C++ exception: ") + E.what() + "\n");
    } catch (...) {
      put(Err, "internal error: unknown C++ exception\n");
    }
  } catch (...) { // building the message threw
  }
  return OJIT_FAILURE;
}

void initLLVM() {
  static std::once_flag Once;
  std::call_once(Once, [] {
    InitializeAllTargetInfos();
    InitializeAllTargets();
    InitializeAllTargetMCs();
    InitializeAllAsmPrinters();
    InitializeAllAsmParsers(); // inline asm
  });
}

// Rendered diagnostics; outlives every printer writing to it.
struct DiagText {
  std::string Text;
  raw_string_ostream OS{Text};
  std::string take() { return std::exchange(Text, std::string()); }
};

// A definition clang refused because an earlier input made it (see
// ojit_interp::shadowRedefined): the name, and where the notes after the error put the earlier
// declaration.
struct Redefinition {
  clang::DeclarationName Name;
  std::vector<clang::SourceLocation> Previous;
  bool Retyped; // the new declaration has another type or kind
  clang::SourceLocation At; // the refused declaration's
};

// The errors by which clang refuses to declare a name of file scope again.
bool isRedefinitionError(unsigned ID) {
  namespace diag = clang::diag;
  switch (ID) {
  case diag::err_redefinition:
  case diag::err_redefinition_different_kind:
  case diag::err_redefinition_different_type:
  case diag::err_redefinition_different_typedef:
  case diag::err_redefinition_of_enumerator:
  case diag::err_redefinition_extern_inline:
  case diag::err_conflicting_types:
  case diag::err_ovl_diff_return_type:
  case diag::err_static_non_static:
  case diag::err_non_static_static:
    return true;
  default:
    return false;
  }
}

// The identifier at the start of Loc, "" if none (the name a redefinition error points at,
// whatever its arguments are).
StringRef identifierAt(const clang::Diagnostic &I) {
  if (!I.hasSourceManager() || !I.getLocation().isValid() || I.getLocation().isMacroID())
    return {};
  bool Invalid = false;
  const char *P = I.getSourceManager().getCharacterData(I.getLocation(), &Invalid);
  if (Invalid || !P || !(isalpha(static_cast<unsigned char>(*P)) || *P == '_'))
    return {};
  size_t N = 0;
  while (isalnum(static_cast<unsigned char>(P[N])) || P[N] == '_')
    ++N;
  return StringRef(P, N);
}

// Counts errors itself: IncrementalParser clears the consumer's counters on a failed parse.
// Also records the redefinitions among the errors, for the interpreter to shadow.
struct CountingPrinter : clang::TextDiagnosticPrinter {
  using TextDiagnosticPrinter::TextDiagnosticPrinter;
  size_t Errors = 0;
  size_t OtherErrors = 0; // errors that are not redefinitions
  std::vector<Redefinition> Redefined;
  clang::IdentifierTable *Idents = nullptr; // set once the interpreter exists
  bool InRedefinition = false; // the notes that follow belong to the last of Redefined
  void HandleDiagnostic(clang::DiagnosticsEngine::Level L, const clang::Diagnostic &I) override {
    TextDiagnosticPrinter::HandleDiagnostic(L, I);
    Errors += L >= clang::DiagnosticsEngine::Error;
    if (L == clang::DiagnosticsEngine::Note) {
      if (InRedefinition && I.getLocation().isValid())
        Redefined.back().Previous.push_back(I.getLocation());
      return;
    }
    InRedefinition = false;
    if (L < clang::DiagnosticsEngine::Error)
      return;
    StringRef Name = identifierAt(I);
    if (!Idents || !isRedefinitionError(I.getID()) || Name.empty()) {
      ++OtherErrors;
      return;
    }
    unsigned ID = I.getID();
    bool Retyped = ID == clang::diag::err_conflicting_types || ID == clang::diag::err_ovl_diff_return_type ||
                   ID == clang::diag::err_redefinition_different_type ||
                   ID == clang::diag::err_redefinition_different_kind;
    Redefined.push_back({clang::DeclarationName(&Idents->get(Name)), {}, Retyped, I.getLocation()});
    InRedefinition = true;
  }
  void reset() {
    Errors = OtherErrors = 0;
    Redefined.clear();
    InRedefinition = false;
  }
};

// LLVM diagnostics while emitting objects (e.g. bad inline asm). Without a handler,
// LLVMContext::diagnose exits the process on an error.
struct EmitDiagHandler : DiagnosticHandler {
  DiagText *Out;
  size_t *Errors;
  EmitDiagHandler(DiagText *Out, size_t *Errors) : Out(Out), Errors(Errors) {}
  bool handleDiagnostics(const DiagnosticInfo &DI) override {
    DiagnosticSeverity S = DI.getSeverity();
    if (S == DS_Remark)
      return true;
    *Errors += S == DS_Error;
    Out->OS << (S == DS_Error ? "error: " : S == DS_Warning ? "warning: " : "note: ");
    DiagnosticPrinterRawOStream DP(Out->OS);
    DI.print(DP);
    Out->OS << "\n";
    return true;
  }
};

// Runs the clang driver on Args (program name first) and finds its single cc1 job.
struct DriverJob {
  std::unique_ptr<clang::driver::Driver> Drv; // outlives C
  std::unique_ptr<clang::driver::Compilation> C;
  const clang::driver::Command *Cmd = nullptr;

  bool run(ArrayRef<const char *> Args, StringRef TT, bool InputsExist,
           clang::DiagnosticsEngine &Diags) {
    Drv = std::make_unique<clang::driver::Driver>(Args[0], TT, Diags);
    Drv->setCheckInputsExist(InputsExist);
    C.reset(Drv->BuildCompilation(Args));
    if (!C || C->containsError() || Diags.hasErrorOccurred())
      return false;
    const clang::driver::JobList &Jobs = C->getJobs();
    Cmd = Jobs.size() == 1 ? dyn_cast<clang::driver::Command>(&*Jobs.begin()) : nullptr;
    if (Cmd && StringRef(Cmd->getCreator().getName()) == "clang")
      return true;
    Cmd = nullptr;
    return false;
  }
};

const char *const kNoAlloc = "__clang_Interpreter_SetValueNoAlloc";
const char *const kWithAlloc = "__clang_Interpreter_SetValueWithAlloc";
const char *const kCopyArr = "__clang_Interpreter_SetValueCopyArr";

// orcbridge_clang::ValueKind.
enum Kind : uint32_t { K_Int, K_Double, K_LongDouble, K_Pointer, K_CString, K_Record, K_Bytes, K_Void };

// The largest C struct copied whole into a value (the runtime keeps at most 64 KiB of a value).
constexpr uint64_t kMaxRecordBytes = 65536;

struct Capture {
  uint64_t Ty;
  uint32_t Kind;
  uint64_t Size;
};

// The executor clang gets. Nothing executes in the host: it only collects modules.
class CaptureExecutor final : public clang::IncrementalExecutor {
public:
  std::map<const clang::PartialTranslationUnit *, uint64_t> Ids; // std::list nodes: stable
  std::vector<std::pair<uint64_t, std::unique_ptr<Module>>> Pending; // added, not yet taken
  std::vector<uint64_t> Removed; // by removeModule (Undo), newest first
  // Translation-unit parts of undone inputs and failed parses: their declarations are dead,
  // though still in redeclaration chains and part lists (and in C++ on Sema's identifier
  // chains: clang's clean-up takes them off only in C).
  std::set<const clang::TranslationUnitDecl *> DeadParts;
  // Modules kept unemitted until the host needs their definitions (ojit_interp_emit).
  std::map<uint64_t, std::unique_ptr<Module>> Deferred;
  uint64_t NextId = 0;

  uint64_t idFor(const clang::PartialTranslationUnit &P) {
    auto [It, New] = Ids.try_emplace(&P, NextId);
    NextId += New;
    return It->second;
  }
  Error addModule(clang::PartialTranslationUnit &PTU) override {
    Pending.emplace_back(idFor(PTU), std::move(PTU.TheModule)); // as clang's ORC executor
    return Error::success();
  }
  Error removeModule(clang::PartialTranslationUnit &PTU) override {
    DeadParts.insert(PTU.TUPart);
    if (auto It = Ids.find(&PTU); It != Ids.end()) {
      Removed.push_back(It->second);
      Deferred.erase(It->second); // before clang cleans the PTU's declarations up
      Ids.erase(It);
    }
    return Error::success();
  }
  // Initialisers run in the target, from each object's .init_array / __mod_init_func.
  Error runCtors() const override { return Error::success(); }
  Error cleanUp() override { return Error::success(); }
  // clang asks for addresses it would call here (Value.cpp: a held value's destructor, via
  // CompileDtorCall). Code lives in the target: never hand out an address, fail instead.
  Expected<orc::ExecutorAddr> getSymbolAddress(StringRef Name, SymbolNameKind) const override {
    return createStringError("orcbridge: '" + Name + "' lives in the target, not the host");
  }
  Error LoadDynamicLibrary(const char *) override {
    return createStringError("orcbridge: load libraries through the executor");
  }
};

// What clang's BackendUtil would use for the interpreter's options, always PIC and, on ELF,
// with .init_array (a default TargetOptions emits .ctors).
std::unique_ptr<TargetMachine> makeTargetMachine(const clang::CompilerInstance &CI,
                                                 std::string &Err) {
  const Triple &TT = CI.getTarget().getTriple();
  const Target *T = TargetRegistry::lookupTarget(TT, Err);
  if (!T)
    return nullptr;
  const clang::CodeGenOptions &CG = CI.getCodeGenOpts();
  TargetOptions O;
  O.UseInitArray = true;
  O.EmulatedTLS = CG.EmulatedTLS;
  O.MCOptions.ABIName = CI.getTargetOpts().ABI;
  O.FloatABIType = CG.FloatABI == "hard"   ? FloatABI::Hard
                   : CG.FloatABI.empty() ? FloatABI::Default
                                         : FloatABI::Soft;
  std::optional<CodeModel::Model> CM = StringSwitch<std::optional<CodeModel::Model>>(CG.CodeModel)
                                           .Case("tiny", CodeModel::Tiny)
                                           .Case("small", CodeModel::Small)
                                           .Case("kernel", CodeModel::Kernel)
                                           .Case("medium", CodeModel::Medium)
                                           .Case("large", CodeModel::Large)
                                           .Default(std::nullopt);
  auto Level = CodeGenOpt::getLevel(int(CG.OptimizationLevel));
  std::unique_ptr<TargetMachine> TM(
      T->createTargetMachine(TT, CI.getTargetOpts().CPU, join(CI.getTargetOpts().Features, ","),
                             O, Reloc::PIC_, CM, Level.value_or(CodeGenOptLevel::Default)));
  if (!TM)
    Err = "cannot create a TargetMachine for " + TT.str();
  return TM;
}

// ---------------------------------------------------------------------------------------
// Value capture: clang's SetValue* calls -> the __orcbridge_value_* hooks (src/lib.rs).

// The OpaqueType handles clang synthesised for an input's value printing, keyed as the IR
// holds them (truncated to the target's pointer width). Any other call to the interface is
// user code passing an arbitrary "type" pointer: the input is rejected.
using TypeHandles = std::map<uint64_t, uint64_t>;

const clang::CallExpr *callTo(const clang::Expr *E, StringRef Name) {
  auto *C = E ? dyn_cast<clang::CallExpr>(E->IgnoreImplicit()->IgnoreParenCasts()) : nullptr;
  const clang::FunctionDecl *F = C ? C->getDirectCallee() : nullptr;
  return F && F->getIdentifier() && F->getName() == Name ? C : nullptr;
}

std::optional<uint64_t> typeArg(const clang::CallExpr *C) {
  auto *L = C && C->getNumArgs() >= 3
                ? dyn_cast<clang::IntegerLiteral>(C->getArg(2)->IgnoreParenCasts())
                : nullptr;
  return L ? std::optional<uint64_t>(L->getValue().getZExtValue()) : std::nullopt;
}

// The shapes Interpreter::convertExprToValue (InterpreterValuePrinter.cpp) builds:
// NoAlloc(This, OutVal, Ty[, E]); CopyArr(E, WithAlloc(This, OutVal, Ty), N);
// new (WithAlloc(This, OutVal, Ty), __ci_newtag) T(E).
TypeHandles typeHandles(clang::TranslationUnitDecl *TU, unsigned PtrBits) {
  TypeHandles Out;
  uint64_t Mask = PtrBits >= 64 ? ~uint64_t(0) : (uint64_t(1) << PtrBits) - 1;
  if (!TU)
    return Out;
  for (clang::Decl *D : TU->decls()) {
    auto *TLSD = dyn_cast<clang::TopLevelStmtDecl>(D);
    auto *E = TLSD && TLSD->isSemiMissing() ? dyn_cast_or_null<clang::Expr>(TLSD->getStmt())
                                            : nullptr;
    if (!E)
      continue;
    std::optional<uint64_t> Ty = typeArg(callTo(E, kNoAlloc));
    if (auto *C = callTo(E, kCopyArr); C && C->getNumArgs() >= 2)
      Ty = typeArg(callTo(C->getArg(1), kWithAlloc));
    if (auto *N = dyn_cast<clang::CXXNewExpr>(E->IgnoreImplicit()->IgnoreParenCasts());
        N && N->getNumPlacementArgs() >= 1)
      Ty = typeArg(callTo(N->getPlacementArg(0), kWithAlloc));
    if (Ty)
      Out[*Ty & Mask] = *Ty;
  }
  return Out;
}

class Rewriter {
  Module &M;
  clang::ASTContext &Ctx;
  const TypeHandles &Handles;
  std::vector<Capture> &Out;
  std::string &Err;
  Type *I64 = Type::getInt64Ty(M.getContext());
  Type *Ptr = PointerType::getUnqual(M.getContext());
  Type *Void = Type::getVoidTy(M.getContext());
  Type *Double = Type::getDoubleTy(M.getContext());

public:
  Rewriter(Module &M, clang::ASTContext &Ctx, const TypeHandles &H, std::vector<Capture> &Out,
           std::string &Err)
      : M(M), Ctx(Ctx), Handles(H), Out(Out), Err(Err) {}

  bool run() {
    // 1. CopyArr(Src, WithAlloc(..Ty), N) -> value_bytes(Ty, Src, sizeof(T)). CopyArr is the
    //    C prelude's function or, in C++, a template instantiated in this module.
    std::vector<CallBase *> Copies;
    for (Function &F : M)
      if (F.getName().contains(kCopyArr))
        for (CallBase *CB : callsTo(&F))
          if (!CB->getFunction()->getName().contains(kCopyArr)) // not the template's own
            Copies.push_back(CB);
    for (CallBase *CB : Copies) {
      CallInst *C = asCall(CB);
      auto *W = C->arg_size() == 3 ? dyn_cast<CallBase>(C->getArgOperand(1)->stripPointerCasts())
                                   : nullptr;
      if (!W || !W->getCalledFunction() || W->getCalledFunction()->getName() != kWithAlloc)
        return fail("unexpected call to " + C->getCalledFunction()->getName());
      uint64_t Ty;
      QualType QT;
      if (!typeOf(W = asCall(W), Ty, QT))
        return false;
      IRBuilder<> B(C);
      B.CreateCall(hook("__orcbridge_value_bytes", Void, {I64, Ptr, I64}),
                   {B.getInt64(Ty), C->getArgOperand(0), B.getInt64(sizeOf(QT))});
      C->eraseFromParent();
      if (W->use_empty())
        W->eraseFromParent();
      Out.push_back({Ty, K_Bytes, sizeOf(QT)});
    }
    // 2. Other WithAlloc: record and member-pointer rvalues (constructed in the storage it
    //    returns) -> value_alloc; arrays whose copy got inlined (-O1 and up) -> a buffer in
    //    the frame, reported with value_bytes when the function returns.
    if (Function *WA = M.getFunction(kWithAlloc))
      for (CallBase *CB : callsTo(WA)) {
        CallInst *W = asCall(CB);
        uint64_t Ty;
        QualType QT;
        if (!typeOf(W, Ty, QT))
          return false;
        uint64_t Size = sizeOf(QT);
        bool Array = Ctx.getAsConstantArrayType(QT) != nullptr;
        W->replaceAllUsesWith(Array ? frameBuffer(W, Ty, QT, Size)
                                    : IRBuilder<>(W).CreateCall(
                                          hook("__orcbridge_value_alloc", Ptr, {I64, I64}),
                                          {ConstantInt::get(I64, Ty), ConstantInt::get(I64, Size)}));
        W->eraseFromParent();
        Out.push_back({Ty, Array ? K_Bytes : K_Record, Size});
      }
    // 3. NoAlloc(This, OutVal, Ty[, payload]) -> the hook for the payload's type.
    if (Function *NA = M.getFunction(kNoAlloc))
      for (CallBase *CB : callsTo(NA))
        if (!rewriteNoAlloc(asCall(CB)))
          return false;
    // 4. Drop the now unused CopyArr templates (they call each other), then check that
    //    nothing reaches the interface any more: it would receive host addresses.
    for (bool Erased = true; Erased;) {
      Erased = false;
      for (Function &F : make_early_inc_range(M))
        if (F.getName().contains(kCopyArr) && F.use_empty() &&
            (F.isDeclaration() || F.isDiscardableIfUnused())) {
          F.eraseFromParent();
          Erased = true;
        }
    }
    for (Function &F : make_early_inc_range(M)) {
      bool Interface = F.getName() == kNoAlloc || F.getName() == kWithAlloc;
      if ((Interface && !F.use_empty()) || (F.getName().contains(kCopyArr) && !callsTo(&F).empty()))
        return fail("the input uses " + F.getName() + " itself");
      if (Interface)
        F.eraseFromParent();
    }
    return true;
  }

private:
  bool fail(const Twine &Why) {
    Err = Why.str();
    return false;
  }

  FunctionCallee hook(StringRef Name, Type *Ret, ArrayRef<Type *> Params) {
    return M.getOrInsertFunction(Name, FunctionType::get(Ret, Params, false));
  }

  static std::vector<CallBase *> callsTo(Function *F) {
    std::vector<CallBase *> R;
    for (User *U : F->users())
      if (auto *CB = dyn_cast<CallBase>(U); CB && CB->getCalledFunction() == F)
        R.push_back(CB);
    return R;
  }

  // The hooks do not unwind: an invoke of the interface becomes a call.
  static CallInst *asCall(CallBase *CB) {
    auto *II = dyn_cast<InvokeInst>(CB);
    return II ? changeToCall(II) : cast<CallInst>(CB);
  }

  // Ty = the OpaqueType argument (constant inttoptr), which must be in Handles.
  bool typeOf(CallBase *C, uint64_t &Ty, QualType &QT) {
    auto *CE = C->arg_size() >= 3 ? dyn_cast<ConstantExpr>(C->getArgOperand(2)) : nullptr;
    auto *CI = CE && CE->getOpcode() == Instruction::IntToPtr
                   ? dyn_cast<ConstantInt>(CE->getOperand(0))
                   : nullptr;
    auto It = CI && CI->getBitWidth() <= 64 ? Handles.find(CI->getZExtValue()) : Handles.end();
    if (It == Handles.end())
      return fail("the input calls clang's value-printing interface (__clang_Interpreter_"
                  "SetValue*) itself; only values of top-level expressions can be captured");
    Ty = It->second;
    QT = QualType::getFromOpaquePtr(reinterpret_cast<void *>(uintptr_t(Ty)));
    return true;
  }

  uint64_t sizeOf(QualType QT) {
    QT = QT.getNonReferenceType();
    if (QT->isIncompleteType() || QT->isFunctionType() || QT->isDependentType())
      return 0;
    return uint64_t(Ctx.getTypeSizeInChars(QT).getQuantity());
  }

  Value *frameBuffer(CallInst *W, uint64_t Ty, QualType QT, uint64_t Size) {
    Function &F = *W->getFunction();
    IRBuilder<> B(&*F.getEntryBlock().getFirstInsertionPt());
    AllocaInst *Buf = B.CreateAlloca(ArrayType::get(B.getInt8Ty(), Size),
                                     M.getDataLayout().getAllocaAddrSpace(), nullptr);
    Buf->setAlignment(Align(Ctx.getTypeAlignInChars(QT).getQuantity()));
    for (BasicBlock &BB : F) {
      for (Instruction &I : BB)
        if (auto *CI = dyn_cast<CallInst>(&I); CI && CI->isTailCall() && !CI->isMustTailCall())
          CI->setTailCallKind(CallInst::TCK_None); // callees now see a frame address
      if (auto *RI = dyn_cast<ReturnInst>(BB.getTerminator()))
        IRBuilder<>(RI).CreateCall(hook("__orcbridge_value_bytes", Void, {I64, Ptr, I64}),
                                   {ConstantInt::get(I64, Ty), Buf, ConstantInt::get(I64, Size)});
    }
    return Buf;
  }

  bool rewriteNoAlloc(CallInst *C) {
    uint64_t Ty;
    QualType QT;
    if (!typeOf(C, Ty, QT))
      return false;
    IRBuilder<> B(C);
    Value *TyV = B.getInt64(Ty);
    Value *P = C->arg_size() > 3 ? C->getArgOperand(3) : nullptr;
    Type *PT = P ? P->getType() : Void;
    QualType NR = QT.getNonReferenceType().getCanonicalType();
    Kind K;
    if (!P) {
      B.CreateCall(hook("__orcbridge_value_void", Void, {I64}), {TyV});
      K = K_Void;
    } else if (PT->isIntegerTy() && PT->getIntegerBitWidth() <= 64) {
      // integers, bool, characters, enums: clang casts them to unsigned _BitInt(ptr width)
      B.CreateCall(hook("__orcbridge_value_int", Void, {I64, I64}), {TyV, B.CreateZExt(P, I64)});
      K = K_Int;
    } else if (PT->isFloatTy() || PT->isDoubleTy() || PT->isHalfTy() || PT->isBFloatTy()) {
      B.CreateCall(hook("__orcbridge_value_double", Void, {I64, Double}),
                   {TyV, B.CreateFPExt(P, Double)});
      K = K_Double;
    } else if (PT->isX86_FP80Ty() || PT->isFP128Ty() || PT->isPPC_FP128Ty()) {
      B.CreateCall(hook("__orcbridge_value_long_double", Void, {I64, PT}), {TyV, P});
      K = K_LongDouble;
    } else if (PT->isPointerTy() && !Ctx.getLangOpts().CPlusPlus && QT->isReferenceType() &&
               NR->isRecordType() && sizeOf(QT) <= kMaxRecordBytes) {
      // A C struct or union (an lvalue: clang passes its address): copy its bytes, so that
      // the host prints its fields; C has no user-defined printing, and no references.
      B.CreateCall(hook("__orcbridge_value_bytes", Void, {I64, Ptr, I64}), {TyV, P, B.getInt64(sizeOf(QT))});
      C->eraseFromParent();
      Out.push_back({Ty, K_Bytes, sizeOf(QT)});
      return true;
    } else if (PT->isPointerTy()) {
      K = NR->isPointerType() && NR->getPointeeType()->isCharType() ? K_CString : K_Pointer;
      B.CreateCall(hook(K == K_CString ? "__orcbridge_value_cstr" : "__orcbridge_value_ptr",
                        Void, {I64, Ptr}),
                   {TyV, P});
    } else {
      return fail("cannot capture a value of this type");
    }
    C->eraseFromParent();
    Out.push_back({Ty, K, sizeOf(QT)});
    return true;
  }
};

// A thread_local variable with dynamic initialisation or a destructor is reached through its
// wrapper `_ZTW<var>`, which calls the init function `_ZTH<var>` (it initialises the variable
// and registers its destructor, once per thread). clang's incremental code generation emits
// that call only in the input that defines the variable; a later input's wrapper goes
// straight to the storage, so on a thread that touches the variable there first it is never
// initialised and never destroyed. Give every wrapper without the call a call to the init
// function through a weak reference: 0 (skipped) when the variable needs none, idempotent
// (the init function has its own per-thread guard) otherwise.
void callThreadLocalInits(Module &M) {
  for (Function &W : M) {
    StringRef Name = W.getName();
    if (W.isDeclaration() || !Name.starts_with("_ZTW"))
      continue;
    std::string Init = ("_ZTH" + Name.drop_front(4)).str();
    bool Calls = any_of(instructions(W), [&](const Instruction &I) {
      auto *CB = dyn_cast<CallBase>(&I);
      return CB && CB->getCalledOperand()->stripPointerCasts()->getName() == Init;
    });
    if (Calls)
      continue;
    FunctionCallee Callee = M.getOrInsertFunction(Init, FunctionType::get(Type::getVoidTy(M.getContext()), false));
    auto *F = dyn_cast<Function>(Callee.getCallee());
    if (!F || !F->isDeclaration())
      continue;
    F->setLinkage(GlobalValue::ExternalWeakLinkage);
    BasicBlock &Entry = W.getEntryBlock();
    BasicBlock *Rest = Entry.splitBasicBlock(Entry.getFirstInsertionPt(), "tls.init.done");
    BasicBlock *Call = BasicBlock::Create(M.getContext(), "tls.init", &W, Rest);
    Entry.getTerminator()->eraseFromParent();
    IRBuilder<> B(&Entry);
    B.CreateCondBr(B.CreateIsNotNull(F), Call, Rest);
    IRBuilder<> C(Call);
    C.CreateCall(Callee);
    C.CreateBr(Rest);
  }
}

// On Darwin, clang gives a C++ thread_local variable with external linkage in the language
// internal linkage in IR, and makes its thread wrapper `_ZTW<var>` (and init function
// `_ZTH<var>`) the only way other translation units reach it. clang's incremental code
// generation, though, emits a wrapper in every input that uses the variable, referring to
// the variable by name: a later input then needs the defining input's variable and init
// function, which must be visible. So the variables an external wrapper refers to (and their
// init functions) become external; other internal thread-locals (C `static _Thread_local`,
// anonymous namespaces, function-local statics, the module's `__tls_guard`) stay as they are.
// Every such wrapper becomes a weak (ODR) definition, as on ELF, so the first one loaded
// serves the session.
void exposeDarwinThreadLocals(Module &M) {
  if (!M.getTargetTriple().isOSDarwin())
    return;
  for (Function &W : M) {
    if (W.isDeclaration() || !W.hasExternalLinkage() || !W.getName().starts_with("_ZTW"))
      continue;
    for (Instruction &I : instructions(W))
      for (Value *Op : I.operands())
        if (auto *GV = dyn_cast<GlobalVariable>(Op->stripPointerCasts());
            GV && GV->isThreadLocal() && GV->hasInternalLinkage() && !GV->isDeclaration() &&
            !GV->getName().starts_with("__tls_"))
          GV->setLinkage(GlobalValue::ExternalLinkage);
    if (auto *Init = M.getNamedAlias(("_ZTH" + W.getName().drop_front(4)).str()); Init && Init->hasInternalLinkage())
      Init->setLinkage(GlobalValue::ExternalLinkage);
    W.setLinkage(GlobalValue::WeakODRLinkage);
  }
}

// clang's incremental code generation can refer to the complete-object constructor or
// destructor (C1, D1) of a linkonce_odr class member from a top-level statement without ever
// emitting it: `std::vector<int>{1, 2, 3}` or `T{4}.get()` as an input refers to an undefined
// destructor (in clang-repl too). The complete-object variant does what the base-object one
// (C2, D2) does unless the class has virtual bases, and then the base-object variant takes
// the VTT as an extra parameter; so where a module defines the base-object variant with the
// same function type, it also gets a linkonce_odr definition of the complete-object one that
// calls it: a function in its own COMDAT group (an alias would live in the base variant's
// group and vanish with it where another unit already has that group). References no module
// could serve yet are remembered in `Unemitted`, name → type, for a later module (the REPL
// attaches one that emits the base variant; see ojit_structor_instantiation).

// The base-object variant's name for a complete-object constructor's or destructor's, or "".
std::string baseVariant(StringRef Name) {
  ItaniumPartialDemangler D;
  if (!Name.starts_with("_Z") || D.partialDemangle(Name.str().c_str()) || !D.isCtorOrDtor())
    return "";
  // The structor's code (C1E, D1E) follows the class name's last character, never a digit
  // (a length prefix of an identifier that happens to spell it).
  for (size_t At = Name.find("1E"); At != StringRef::npos; At = Name.find("1E", At + 1))
    if (At >= 2 && (Name[At - 1] == 'C' || Name[At - 1] == 'D') && !isDigit(Name[At - 2])) {
      std::string Base = Name.str();
      Base[At] = '2';
      return Base;
    }
  return "";
}

// Gives declaration F a linkonce_odr body calling Base, in a COMDAT group of its own.
void defineAsCallTo(Module &M, Function *F, Function *Base) {
  F->copyAttributesFrom(Base);
  F->setLinkage(GlobalValue::LinkOnceODRLinkage);
  F->setVisibility(GlobalValue::DefaultVisibility);
  F->setComdat(M.getOrInsertComdat(F->getName()));
  IRBuilder<> B(BasicBlock::Create(M.getContext(), "", F));
  SmallVector<Value *, 4> Args;
  for (Argument &A : F->args())
    Args.push_back(&A);
  CallInst *Call = B.CreateCall(Base, Args);
  Call->setCallingConv(Base->getCallingConv());
  Call->setTailCall();
  if (F->getReturnType()->isVoidTy())
    B.CreateRetVoid();
  else
    B.CreateRet(Call);
}

void defineCompleteStructors(Module &M, StringMap<FunctionType *> &Unemitted) {
  auto BaseIn = [&](StringRef Name, FunctionType *Ty) -> Function * {
    std::string BaseName = baseVariant(Name);
    Function *Base = BaseName.empty() ? nullptr : M.getFunction(BaseName);
    return Base && !Base->isDeclaration() && Base->getFunctionType() == Ty ? Base : nullptr;
  };
  SmallVector<Function *, 4> Declared;
  for (Function &F : M)
    if (F.isDeclaration() && F.getName().starts_with("_Z"))
      Declared.push_back(&F);
  for (Function *F : Declared) {
    if (Function *Base = BaseIn(F->getName(), F->getFunctionType())) {
      Unemitted.erase(F->getName());
      defineAsCallTo(M, F, Base);
    } else if (!baseVariant(F->getName()).empty()) {
      Unemitted[F->getName()] = F->getFunctionType();
    }
  }
  SmallVector<std::string, 2> Served;
  for (auto &[Name, Ty] : Unemitted)
    if (!M.getFunction(Name))
      if (Function *Base = BaseIn(Name, Ty)) {
        defineAsCallTo(M, Function::Create(Ty, GlobalValue::ExternalLinkage, Name, M), Base);
        Served.push_back(Name.str());
      }
  for (const std::string &Name : Served)
    Unemitted.erase(Name);
}

bool emitObject(TargetMachine &TM, Module &M, SmallVectorImpl<char> &Obj, std::string &Err) {
  raw_svector_ostream OS(Obj);
  legacy::PassManager PM;
  if (TM.addPassesToEmitFile(PM, OS, nullptr, CodeGenFileType::ObjectFile)) {
    Err = "the target cannot emit object files";
    return false;
  }
  PM.run(M);
  return true;
}

// ---------------------------------------------------------------------------------------
// Rendering: as Interpreter::ValueTypeToString / ValueDataToString, through clang::Value, but
// reading host memory only. Bytes are the value as the target stored it (little-endian);
// target addresses are printed, never read.

uint64_t loadLE(ArrayRef<uint8_t> D) {
  uint64_t V = 0;
  for (size_t I = 0; I < std::min(D.size(), size_t(8)); ++I)
    V |= uint64_t(D[I]) << (8 * I);
  return V;
}

std::string hex(uint64_t A) {
  std::string S;
  raw_string_ostream(S) << format_hex(A, 0);
  return S;
}

struct Renderer {
  const clang::Interpreter &In;
  clang::ASTContext &Ctx;

  // True if QT is a struct, union or enum, or points to or is an array of one.
  static bool mentionsTag(QualType QT) {
    const clang::Type *T = QT.getTypePtr();
    while (T) {
      if (T->getAs<clang::TagType>())
        return true;
      if (T->isPointerType())
        T = T->getPointeeType().getTypePtr();
      else if (T->isArrayType())
        T = T->getArrayElementTypeNoTypeQual();
      else
        return false;
    }
    return false;
  }

  // clang::Value(Interp, T) allocates storage and looks up T's destructor (through the
  // executor) for records, arrays and member pointers: name those through T& instead.
  std::string typeName(QualType QT) {
    if (!Ctx.getLangOpts().CPlusPlus && mentionsTag(QT.getNonReferenceType()))
      // C spells tags with their keyword (`struct P`, `enum E *`) and has no references:
      // clang's own C spelling of the type.
      return QT.getNonReferenceType().getAsString(Ctx.getPrintingPolicy());
    QualType C = QT.getCanonicalType();
    bool Allocates = !QT->isReferenceType() &&
                     (C->isRecordType() || C->isConstantArrayType() || C->isMemberPointerType());
    std::string S;
    raw_string_ostream OS(S);
    clang::Value(&In, (Allocates ? Ctx.getLValueReferenceType(QT) : QT).getAsOpaquePtr())
        .printType(OS);
    StringRef R(S);
    return Allocates && R.consume_back(" &") ? R.str() : S;
  }

  std::string data(QualType QT, ArrayRef<uint8_t> D) {
    QualType C = QT.getCanonicalType();
    uint64_t A = loadLE(D);
    if (C->isReferenceType()) // an lvalue record: its address
      return "@" + hex(A);
    if (const clang::ConstantArrayType *CAT = Ctx.getAsConstantArrayType(C)) {
      QualType ET = CAT->getElementType();
      uint64_t N = CAT->getZExtSize(), ES = Ctx.getTypeSizeInChars(ET).getQuantity();
      if (ES != 0 && D.size() / ES < N)
        return "<" + std::to_string(D.size()) + " bytes for " + std::to_string(N * ES) + ">";
      if (ET->isCharType() && N * ES > 0 && D[N * ES - 1] == 0) // NUL-terminated: a string
        return "\"" + std::string(reinterpret_cast<const char *>(D.data())) + "\"";
      std::string R = "{ ";
      for (uint64_t I = 0; I < N; ++I)
        R += data(ET, D.slice(I * ES, ES)) + (I + 1 < N ? ", " : "");
      return R + " }";
    }
    if (!Ctx.getLangOpts().CPlusPlus && C->isRecordType())
      return fields(C, D);
    if (C->isFunctionType() || C->isFunctionPointerType())
      return "Function @" + hex(A) + functionSource();
    if (C->isMemberFunctionPointerType())
      return "Function @" + hex(A);
    if (C->isNullPtrType())
      return "nullptr";
    if (C->isPointerType() && C->getPointeeType()->isCharType() && A != 0)
      return hex(A); // a target string: not readable here
    bool Int = C->isIntegralOrEnumerationType(), Float = C->isRealFloatingType();
    if (!Int && !Float && !C->isPointerType())
      return "[" + typeName(QT) + "]"; // e.g. records in arrays: no address to show
    if (Float)
      return floating(C, D);
    if (auto Special = otherBuiltin(C, A))
      return *Special;
    clang::Value V(&In, QT.getAsOpaquePtr()); // builtin, enum or pointer: no storage
    if (Int) {
      // Value::setRawBits takes BITS in clang 22.1 (memcpy(.., NBits / 8)), bytes in later
      // releases; the source is as large as Value's storage, so both stay in bounds.
      alignas(16) unsigned char Buf[sizeof(long double) * 8] = {};
      std::memcpy(Buf, &A, sizeof A);
      V.setRawBits(Buf, 64);
    } else {
      V.setPtr(reinterpret_cast<void *>(uintptr_t(A)));
    }
    std::string S;
    raw_string_ostream OS(S);
    V.printData(OS);
    return S;
  }

  // Builtin kinds clang 22's value printer does not know (it prints "{ error: unknown builtin
  // type }" or crashes): wide and Unicode characters as their literals, 128-bit integers
  // (of which the capture keeps the low 64 bits, sign-extended for __int128) in decimal.
  std::optional<std::string> otherBuiltin(QualType C, uint64_t A) {
    const auto *BT = C->getAs<clang::BuiltinType>();
    if (!BT)
      return std::nullopt;
    auto Char = [&](const char *Prefix) {
      uint32_t V = uint32_t(A & (Ctx.getTypeSize(C) >= 32 ? 0xffffffffu : (1u << Ctx.getTypeSize(C)) - 1));
      std::string S = Prefix;
      S += '\'';
      if (V >= 0x20 && V < 0x7f && V != '\'' && V != '\\')
        S += char(V);
      else {
        char Buf[16];
        std::snprintf(Buf, sizeof Buf, "\\x%x", V);
        S += Buf;
      }
      return S + '\'';
    };
    switch (BT->getKind()) {
    case clang::BuiltinType::WChar_S:
    case clang::BuiltinType::WChar_U:
      return Char("L");
    case clang::BuiltinType::Char8:
      return Char("u8");
    case clang::BuiltinType::Char16:
      return Char("u");
    case clang::BuiltinType::Char32:
      return Char("U");
    case clang::BuiltinType::Int128:
      return std::to_string(int64_t(A));
    case clang::BuiltinType::UInt128:
      return std::to_string(A);
    default:
      return std::nullopt;
    }
  }

  // float, double and long double as clang-repl formats them (InterpreterValuePrinter.cpp):
  // a whole number with one decimal, very small or large ones and floats with %#.6g, long
  // doubles with %#.12Lg, others with %#.8g; suffix f or L. Done here, with each type's own
  // printf conversion: clang 22.1 passes a long double where %f expects a double (1e6L
  // prints as 0.0L) and converts out-of-range values to int64_t.
  std::string floating(QualType C, ArrayRef<uint8_t> D) {
    const fltSemantics &Sem = Ctx.getFloatTypeSemantics(C);
    unsigned Bits = APFloat::getSizeInBits(Sem);
    if (D.size() * 8 < Bits)
      return "<" + std::to_string(D.size()) + " bytes>";
    SmallVector<uint64_t, 2> Words((Bits + 63) / 64, 0);
    for (unsigned I = 0; I < Bits / 8; ++I)
      Words[I / 8] |= uint64_t(D[I]) << (8 * (I % 8));
    APFloat F(Sem, APInt(Bits, Words));
    const auto *BT = C->getAs<clang::BuiltinType>();
    bool IsFloat = BT && BT->getKind() == clang::BuiltinType::Float;
    bool IsLong = BT && BT->getKind() == clang::BuiltinType::LongDouble;
    bool Lost;
    long double V;
    if (IsLong && &Sem != &APFloat::IEEEdouble()) {
      // To the host's long double (x87 or IEEE quad), by its own semantics.
      F.convert(LDBL_MANT_DIG == 64 ? APFloat::x87DoubleExtended() : LDBL_MANT_DIG == 113 ? APFloat::IEEEquad() : APFloat::IEEEdouble(),
                APFloat::rmNearestTiesToEven, &Lost);
      APInt B = F.bitcastToAPInt();
      V = 0;
      std::memcpy(&V, B.getRawData(), std::min(sizeof V, size_t(B.getBitWidth() / 8)));
    } else {
      F.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &Lost);
      V = F.convertToDouble();
    }
    const char *Suffix = IsFloat ? "f" : IsLong ? "L" : "";
    char Buf[128];
    if (std::isnan(V) || std::isinf(V))
      std::snprintf(Buf, sizeof Buf, "%Lg", V);
    else if (std::fabs(V) < 9.2e18L && V == (long double)(int64_t)V)
      std::snprintf(Buf, sizeof Buf, "%.1Lf", V);
    else if (std::fabs(V) < 1e-4L || std::fabs(V) > 1e6L || IsFloat)
      std::snprintf(Buf, sizeof Buf, "%#.6Lg", V);
    else if (IsLong)
      std::snprintf(Buf, sizeof Buf, "%#.12Lg", V);
    else
      std::snprintf(Buf, sizeof Buf, "%#.8Lg", V);
    return std::string(Buf) + Suffix;
  }

  // The source of the function an input's value names (clang-repl prints it after the
  // address): the callee of the last top-level statement's capture call, as clang does.
  std::string functionSource() {
    const clang::TopLevelStmtDecl *Last = nullptr;
    for (const clang::Decl *D : Ctx.getTranslationUnitDecl()->noload_decls())
      if (auto *T = dyn_cast<clang::TopLevelStmtDecl>(D))
        Last = T;
    const auto *Call = Last ? dyn_cast_or_null<clang::CallExpr>(Last->getStmt()) : nullptr;
    if (!Call || Call->getNumArgs() < 4)
      return "";
    const clang::Expr *Arg = Call->getArg(3)->IgnoreParenCasts();
    if (auto *U = dyn_cast<clang::UnaryOperator>(Arg); U && U->getOpcode() == clang::UO_AddrOf)
      Arg = U->getSubExpr()->IgnoreParenCasts();
    const auto *Ref = dyn_cast<clang::DeclRefExpr>(Arg);
    const auto *FD = Ref ? dyn_cast<clang::FunctionDecl>(Ref->getDecl()) : nullptr;
    const clang::FunctionDecl *Def = nullptr;
    if (!FD || !FD->hasBody(Def))
      return "";
    std::string S = "\n";
    raw_string_ostream OS(S);
    Def->print(OS);
    return StringRef(S).rtrim().str();
  }

  // A C struct or union from its bytes, as a designated initializer: `{ .x = 1, .y = 2.5 }`.
  // Bit-fields are taken from their bits; unnamed members (padding bit-fields) are left out.
  std::string fields(QualType C, ArrayRef<uint8_t> D) {
    const clang::RecordDecl *RD = C->getAsRecordDecl();
    RD = RD ? RD->getDefinition() : nullptr;
    if (!RD)
      return "[" + typeName(C) + "]";
    const clang::ASTRecordLayout &L = Ctx.getASTRecordLayout(RD);
    std::string R = "{";
    const char *Sep = " ";
    for (const clang::FieldDecl *F : RD->fields()) {
      uint64_t Bit = L.getFieldOffset(F->getFieldIndex());
      QualType FT = F->getType();
      std::string V;
      if (F->isBitField()) {
        unsigned W = F->getBitWidthValue();
        if (W == 0 || F->isUnnamedBitField())
          continue;
        uint64_t Raw = 0;
        for (unsigned I = 0; I < W && I < 64; ++I) {
          uint64_t At = Bit + I;
          if (At / 8 < D.size() && (D[At / 8] >> (At % 8)) & 1)
            Raw |= uint64_t(1) << I;
        }
        if (FT->isSignedIntegerOrEnumerationType() && W < 64 && (Raw >> (W - 1)) & 1)
          Raw |= ~uint64_t(0) << W; // sign-extend
        uint8_t Bytes[8];
        for (int I = 0; I < 8; ++I)
          Bytes[I] = uint8_t(Raw >> (8 * I));
        uint64_t Size = Ctx.getTypeSizeInChars(FT).getQuantity();
        V = data(FT, ArrayRef<uint8_t>(Bytes, std::min<uint64_t>(Size, 8)));
      } else {
        uint64_t Off = Bit / 8, Size = Ctx.getTypeSizeInChars(FT).getQuantity();
        if (Off + Size > D.size())
          return "<" + std::to_string(D.size()) + " bytes for " + typeName(C) + ">";
        V = data(FT, D.slice(Off, Size));
      }
      R += Sep;
      if (!F->getName().empty())
        R += "." + F->getName().str() + " = ";
      R += V;
      Sep = ", ";
    }
    return R + (R == "{" ? "}" : " }");
  }

  // "(T) data" like Value::print, without the newline; "" for void, as clang-repl prints.
  std::string render(QualType QT, uint32_t Kind, ArrayRef<uint8_t> D) {
    QualType NR = QT.getNonReferenceType().getCanonicalType();
    std::string Head = "(" + typeName(QT) + ") ";
    SmallVector<uint8_t, 16> Bytes;
    if (Kind == K_Void)
      return NR->isVoidType() ? std::string() : Head + "<no value>";
    if (Kind == K_Record) // a member pointer is captured as a record: clang-repl names it
      return Head + (NR->isMemberFunctionPointerType() ? "Function @" : "@") + hex(loadLE(D));
    if (Kind == K_CString) // the copied string, as clang's CharPtrToString prints it
      return Head + "\"" + std::string(D.begin(), std::find(D.begin(), D.end(), 0)) + "\"";
    if (Kind == K_Double && NR->isRealFloatingType()) { // widened by the hook: narrow back
      bool Lost;
      APFloat F(APFloat::IEEEdouble(), APInt(64, loadLE(D)));
      F.convert(Ctx.getFloatTypeSemantics(NR), APFloat::rmNearestTiesToEven, &Lost);
      APInt B = F.bitcastToAPInt();
      for (unsigned I = 0; I < B.getBitWidth() / 8; ++I)
        Bytes.push_back(uint8_t(B.extractBitsAsZExtValue(8, 8 * I)));
      D = Bytes;
    }
    // Bytes of an lvalue (a C struct copied whole) are the object itself, not its address.
    return Head + data(Kind == K_Bytes ? QT.getNonReferenceType() : QT, D);
  }
};

} // namespace

// ---------------------------------------------------------------------------------------
// Entry points.

extern "C" ojit_status ojit_compile(const char *const *argv, size_t argc, const char *buffer_name,
                                    const char *buffer, size_t buffer_len, ojit_sink *object,
                                    ojit_sink *diagnostics, size_t *num_errors) {
  if (num_errors)
    *num_errors = 0;
  return guarded(diagnostics, [&]() -> ojit_status {
    initLLVM();
    if (!argv || argc == 0 || (buffer && !buffer_name)) {
      put(diagnostics, "error: bad arguments to ojit_compile\n");
      return OJIT_FAILURE;
    }
    DiagText D;
    // The driver's own warnings follow -w and -Wno-... as with `clang` (e.g.
    // -Wno-unused-command-line-argument for an -I that an IR input does not use).
    std::unique_ptr<clang::DiagnosticOptions> DriverOpts = clang::CreateAndPopulateDiagOpts(ArrayRef(argv, argc));
    DriverOpts->ShowColors = false;
    CountingPrinter DriverPrinter(D.OS, *DriverOpts);
    DriverPrinter.setPrefix("clang");
    clang::DiagnosticsEngine Diags(clang::DiagnosticIDs::create(), *DriverOpts, &DriverPrinter,
                                   /*ShouldOwnClient=*/false);
    clang::ProcessWarningOptions(Diags, *DriverOpts, *vfs::getRealFileSystem(), /*ReportDiags=*/false);
    std::unique_ptr<CountingPrinter> CC1Printer;
    auto Finish = [&](ojit_status St) {
      size_t Errors = DriverPrinter.Errors + (CC1Printer ? CC1Printer->Errors : 0);
      if (St == OJIT_COMPILE_ERROR && Errors == 0)
        D.OS << "error: the arguments must make the driver run one compile job (clang -c "
                "with one input)\n";
      put(diagnostics, D.Text);
      if (num_errors)
        *num_errors = St == OJIT_OK ? 0 : std::max<size_t>(Errors, 1);
      return St;
    };

    DriverJob Job;
    if (!Job.run(ArrayRef(argv, argc), sys::getDefaultTargetTriple(), !buffer, Diags))
      return Finish(OJIT_COMPILE_ERROR);
    auto Inv = std::make_shared<clang::CompilerInvocation>();
    if (!clang::CompilerInvocation::CreateFromArgs(*Inv, Job.Cmd->getArguments(), Diags, argv[0]))
      return Finish(OJIT_COMPILE_ERROR);
    Inv->getFrontendOpts().DisableFree = false; // the driver asks cc1 to leak on exit
    Inv->getCodeGenOpts().DisableFree = false;
    Inv->getDiagnosticOpts().ShowColors = false;
    if (buffer)
      Inv->getPreprocessorOpts().addRemappedFile(
          buffer_name,
          MemoryBuffer::getMemBufferCopy(StringRef(buffer, buffer_len), buffer_name).release());

    // clang's code generation writes the object of an IR input to the output file, not to
    // the stream set below: give it a temporary file and read that back.
    SmallString<128> IROutput;
    std::unique_ptr<MemoryBuffer> IRBuffer; // outlives CI, which reads it
    auto &Inputs = Inv->getFrontendOpts().Inputs;
    bool IsIR = !Inputs.empty() && Inputs.front().getKind().getLanguage() == clang::Language::LLVM_IR;
    if (IsIR) {
      if (std::error_code EC = sys::fs::createTemporaryFile("orcbridge-ir", "o", IROutput)) {
        D.OS << "error: cannot create a temporary file for the object: " << EC.message() << "\n";
        return Finish(OJIT_FAILURE);
      }
      Inv->getFrontendOpts().OutputFile = std::string(IROutput);
      Inv->getFrontendOpts().UseTemporary = false;
      // A remapped file reaches clang through the preprocessor, which IR never meets: a copy
      // of the buffer is the input (NUL-terminated, as LLVM's IR parser needs).
      if (buffer) {
        IRBuffer = MemoryBuffer::getMemBufferCopy(StringRef(buffer, buffer_len), buffer_name);
        Inputs.front() = clang::FrontendInputFile(IRBuffer->getMemBufferRef(), Inputs.front().getKind());
      }
    }
    auto RemoveIROutput = llvm::make_scope_exit([&] {
      if (IsIR)
        sys::fs::remove(IROutput);
    });

    SmallVector<char, 0> Obj; // outlives CI, which may still own a stream writing into it
    clang::CompilerInstance CI(std::move(Inv));
    CC1Printer = std::make_unique<CountingPrinter>(D.OS, CI.getDiagnosticOpts());
    CI.createVirtualFileSystem(vfs::getRealFileSystem(), CC1Printer.get());
    CI.createDiagnostics(CC1Printer.get(), /*ShouldOwnClient=*/false);
    CI.setVerboseOutputStream(D.OS); // "N errors generated."
    CI.setOutputStream(std::make_unique<raw_svector_ostream>(Obj));
    clang::EmitObjAction Act;
    if (!CI.ExecuteAction(Act) || CC1Printer->Errors != 0)
      return Finish(OJIT_COMPILE_ERROR);
    if (IsIR) {
      auto File = MemoryBuffer::getFile(IROutput, /*IsText=*/false, /*RequiresNullTerminator=*/false);
      if (!File) {
        D.OS << "error: cannot read the object clang wrote: " << File.getError().message() << "\n";
        return Finish(OJIT_FAILURE);
      }
      put(object, (*File)->getBuffer());
      return Finish(OJIT_OK);
    }
    put(object, StringRef(Obj.data(), Obj.size()));
    return Finish(OJIT_OK);
  });
}

// clang 22 crashes mangling a lambda whose context is a top-level statement (`fp = [](int v)
// { ... };`, `std::sort(b, e, [](int a, int b) { ... });`, `[] { return 42; }()` with its value
// printed): since a TopLevelStmtDecl became a DeclContext, the Itanium mangler treats it as a
// named declaration (fixed upstream after 22.1, llvm-project PR 217041). Before such a lambda
// is mangled, Sema declares one of its implicit members or marks a member used; at that
// point the closure type is moved to the translation unit, a namespace-scope lambda, which
// mangles (with internal linkage, so lambdas of different inputs never clash).
struct LambdaContextFix final : clang::ASTMutationListener {
  static void fix(const clang::CXXRecordDecl *C) {
    auto *RD = const_cast<clang::CXXRecordDecl *>(C); // the listener only sees const decls
    if (RD && RD->isLambda() && isa<clang::TopLevelStmtDecl>(RD->getDeclContext()))
      RD->setDeclContext(RD->getDeclContext()->getParent());
  }
  void AddedCXXImplicitMember(const clang::CXXRecordDecl *RD, const clang::Decl *) override { fix(RD); }
  void CompletedImplicitDefinition(const clang::FunctionDecl *D) override {
    if (auto *M = dyn_cast<clang::CXXMethodDecl>(D))
      fix(M->getParent());
  }
  void DeclarationMarkedUsed(const clang::Decl *D) override {
    if (auto *M = dyn_cast<clang::CXXMethodDecl>(D))
      fix(M->getParent());
  }
};

struct ojit_interp {
  LambdaContextFix LambdaFix; // outlives Interp, whose ASTContext points to it
  DiagText Diags; // outlives Interp, whose DiagnosticsEngine owns a printer writing here
  CountingPrinter *Printer = nullptr; // owned by Interp's DiagnosticsEngine
  size_t EmitErrors = 0;
  bool EmitHandlerSet = false;
  std::unique_ptr<clang::Interpreter> Interp;
  CaptureExecutor *Exec = nullptr; // owned by Interp
  std::unique_ptr<TargetMachine> TM;
  std::deque<std::pair<uint64_t, SmallVector<char, 0>>> Startup;
  // The PTUs of each input parsed and not undone, oldest first: an input is one PTU and the
  // ones attached to it (ojit_interp_parse's `attach`). Undo counts inputs.
  std::vector<unsigned> InputPTUs;
  // Complete-object constructors and destructors referred to and not emitted yet, by name
  // (defineCompleteStructors).
  StringMap<FunctionType *> UnemittedStructors;

  // A declaration of file scope that a later input defined again, taken out of name lookup
  // for as long as that input is not undone. Where it was found, to put it back there.
  struct Shadowed {
    clang::NamedDecl *D;
    bool InTU, InExternC, Chained, InScope;
    bool Retyped; // by a declaration of another type or kind
    std::string IRName; // of a function or variable, taken before the renaming
    clang::DeclarationName Name; // D's own, given back when D is put back
  };
  // Per input in InputPTUs: the declarations it shadowed, in the order it shadowed them.
  std::vector<std::vector<Shadowed>> InputShadowed;

  // Takes the earlier declarations that the redefinitions R refer to out of name lookup, as
  // cling shadows the definitions of earlier inputs: the next parse of the input declares
  // them anew, and code compiled before keeps referring to the old ones (the linker rebinds
  // calls and GOT loads to the new definitions). A redefinition's notes say where the earlier
  // declaration is; without notes, every declaration of the name at file scope goes. Only
  // file scope (the names a REPL input declares): a redefinition in a namespace stays an
  // error.
  std::vector<Shadowed> shadowRedefined(const std::vector<Redefinition> &R) {
    clang::Sema &S = Interp->getCompilerInstance()->getSema();
    clang::ASTContext &Ctx = Interp->getASTContext();
    clang::DeclContext *TU = Ctx.getTranslationUnitDecl()->getPrimaryContext();
    clang::DeclContext *ExternC = Ctx.getExternCContextDecl();
    std::vector<Shadowed> Out;
    auto Listed = [](clang::DeclContext *DC, clang::NamedDecl *D) {
      clang::StoredDeclsMap *Map = DC->getPrimaryContext()->getLookupPtr();
      auto It = Map ? Map->find(D->getDeclName()) : clang::StoredDeclsMap::iterator();
      if (!Map || It == Map->end() || It->second.isNull())
        return false;
      auto Found = It->second.getLookupResult();
      if (std::find(Found.begin(), Found.end(), D) == Found.end())
        return false;
      It->second.remove(D);
      return true;
    };
    for (const Redefinition &Re : R)
      purgeDead(Re.Name);
    for (const Redefinition &Re : R) {
      std::vector<clang::NamedDecl *> Found = earlier(Re);
      for (clang::NamedDecl *F : Found) {
        std::vector<clang::NamedDecl *> All{F};
        for (clang::Decl *X : F->redecls())
          if (auto *N = dyn_cast<clang::NamedDecl>(X);
              N && N != F && !N->isInvalidDecl() && !Exec->DeadParts.count(N->getTranslationUnitDecl()))
            All.push_back(N);
        for (clang::NamedDecl *D : All) {
          if (std::any_of(Out.begin(), Out.end(), [&](const Shadowed &X) { return X.D == D; }))
            continue;
          Shadowed Sh{D, false, false, false, false, Re.Retyped, irName(D), D->getDeclName()};
          // The declaration the notes named is put back visible when the input is undone,
          // also if clang had lost it from its table.
          Sh.InTU = Listed(TU, D) || D == F;
          Sh.InExternC = ExternC && Listed(ExternC, D);
          // Unqualified lookup at file scope also walks the identifier's chain of Sema's
          // scopes. RemoveDecl of a declaration not on the chain is undefined: look first.
          Sh.Chained = chained(D);
          if (Sh.Chained)
            S.IdResolver.RemoveDecl(D);
          if (S.TUScope && S.TUScope->isDeclScope(D)) {
            Sh.InScope = true;
            S.TUScope->RemoveDecl(D);
          }
          // clang rebuilds the file scope's lookup table from all declarations of all parts
          // after some additions: under another name, D stays out of it. (Code generation
          // keeps the mangled name it gave D.)
          D->setDeclName(&Ctx.Idents.get(("__orcbridge_shadowed." + Re.Name.getAsString())));
          Out.push_back(Sh);
        }
      }
    }
    return Out;
  }

  // True if D is on its identifier's chain of Sema's scopes.
  bool chained(clang::NamedDecl *D) {
    clang::IdentifierResolver &Ids = Interp->getCompilerInstance()->getSema().IdResolver;
    return std::find(Ids.begin(D->getDeclName()), Ids.end(), D) != Ids.end();
  }

  // The earlier declarations a refused redefinition R refers to: the live ones whose
  // redeclarations include one where R's notes point (a note may point at a dead one: a
  // redeclaration refused earlier stays at the end of the chain), among those name lookup at
  // file scope finds, else among all (clang's tables may have lost it: the refused
  // redeclaration replaced it there, and the failed parse's clean-up removed that). Without
  // notes, all that lookup finds.
  std::vector<clang::NamedDecl *> earlier(const Redefinition &R) {
    clang::Sema &S = Interp->getCompilerInstance()->getSema();
    clang::ASTContext &Ctx = Interp->getASTContext();
    auto Live = [&](clang::NamedDecl *D) {
      return D && !D->isInvalidDecl() && D->getDeclName() == R.Name &&
             D->getDeclContext()->getRedeclContext()->isTranslationUnit() &&
             !Exec->DeadParts.count(D->getTranslationUnitDecl());
    };
    auto Noted = [&](clang::Decl *D) {
      return std::find(R.Previous.begin(), R.Previous.end(), D->getLocation()) != R.Previous.end();
    };
    std::vector<clang::NamedDecl *> Visible;
    auto Add = [](std::vector<clang::NamedDecl *> &To, clang::NamedDecl *D) {
      if (std::find(To.begin(), To.end(), D) == To.end())
        To.push_back(D);
    };
    for (clang::NamedDecl *D : Ctx.getTranslationUnitDecl()->getPrimaryContext()->lookup(R.Name))
      if (Live(D))
        Add(Visible, D);
    for (auto It = S.IdResolver.begin(R.Name); It != S.IdResolver.end(); ++It)
      if (Live(*It))
        Add(Visible, *It);
    if (R.Previous.empty())
      return Visible;
    std::vector<clang::NamedDecl *> Found;
    for (clang::NamedDecl *D : Visible)
      if (std::any_of(D->redecls_begin(), D->redecls_end(), Noted))
        Add(Found, D);
    if (!Found.empty())
      return Found;
    for (clang::TranslationUnitDecl *Part : Ctx.getTranslationUnitDecl()->redecls())
      for (clang::Decl *D : Part->decls())
        if (auto *ND = dyn_cast<clang::NamedDecl>(D);
            ND && Live(ND) && std::any_of(ND->redecls_begin(), ND->redecls_end(), Noted))
          Add(Found, ND);
    return Found;
  }

  // Takes the dead declarations of Name (see DeadParts) off Sema's identifier chain and TU
  // scope, where C++ lookup would still find them and take one for an earlier definition.
  void purgeDead(clang::DeclarationName Name) {
    clang::Sema &S = Interp->getCompilerInstance()->getSema();
    std::vector<clang::NamedDecl *> Dead;
    for (auto It = S.IdResolver.begin(Name); It != S.IdResolver.end(); ++It)
      if ((*It)->isInvalidDecl() || Exec->DeadParts.count((*It)->getTranslationUnitDecl()))
        Dead.push_back(*It);
    for (clang::NamedDecl *D : Dead) {
      S.IdResolver.RemoveDecl(D);
      if (S.TUScope)
        S.TUScope->RemoveDecl(D);
    }
    // A rebuild of the file scope's lookup table (clang makes one after some additions)
    // collects every declaration of every part, dead ones too: rename those out of the way.
    clang::ASTContext &Ctx = Interp->getASTContext();
    clang::DeclarationName Dead_(&Ctx.Idents.get(("__orcbridge_dead." + Name.getAsString())));
    for (clang::TranslationUnitDecl *Part : Ctx.getTranslationUnitDecl()->redecls())
      if (Exec->DeadParts.count(Part))
        for (clang::Decl *D : Part->decls())
          if (auto *ND = dyn_cast<clang::NamedDecl>(D); ND && ND->getDeclName() == Name)
            ND->setDeclName(Dead_);
  }

  // After a parse that failed with redefinitions R among its errors: makes the earlier
  // declarations visible again where clang's clean-up lost them (clang-repl 22.1 then says
  // `use of undeclared identifier` for a function that is still defined).
  void keepEarlier(const std::vector<Redefinition> &R) {
    clang::Sema &S = Interp->getCompilerInstance()->getSema();
    clang::DeclContext *TU = Interp->getASTContext().getTranslationUnitDecl()->getPrimaryContext();
    for (const Redefinition &Re : R)
      purgeDead(Re.Name);
    for (const Redefinition &Re : R)
      for (clang::NamedDecl *D : earlier(Re)) {
        auto Visible = TU->lookup(D->getDeclName());
        if (std::find(Visible.begin(), Visible.end(), D) != Visible.end())
          continue;
        TU->makeDeclVisibleInContext(D);
        if (!chained(D))
          S.IdResolver.AddDecl(D);
        if (S.TUScope && !S.TUScope->isDeclScope(D))
          S.TUScope->AddDecl(D);
      }
  }

  // Puts declarations shadowed by an input that is undone back where they were, newest first.
  void unshadow(const std::vector<Shadowed> &List) {
    clang::Sema &S = Interp->getCompilerInstance()->getSema();
    clang::ASTContext &Ctx = Interp->getASTContext();
    for (auto It = List.rbegin(); It != List.rend(); ++It) {
      if (Exec->DeadParts.count(It->D->getTranslationUnitDecl()))
        continue; // its input was undone too
      It->D->setDeclName(It->Name);
      if (It->InTU)
        Ctx.getTranslationUnitDecl()->getPrimaryContext()->makeDeclVisibleInContext(It->D);
      if (It->InExternC)
        Ctx.getExternCContextDecl()->makeDeclVisibleInContext(It->D);
      if (It->Chained)
        S.IdResolver.AddDecl(It->D);
      if (It->InScope)
        S.TUScope->AddDecl(It->D);
    }
  }

  // Parses Code as a new input. Names of file scope defined again shadow their earlier
  // declarations (shadowRedefined) and the input is parsed again, as long as every error
  // is such a redefinition (a few rounds: shadowing one name may reveal another). What was
  // shadowed is added to Shadows, and put back if the input fails in the end.
  llvm::Expected<clang::PartialTranslationUnit &> parseShadowing(StringRef Code,
                                                                std::vector<Shadowed> &Shadows) {
    constexpr int Rounds = 4;
    for (int Round = 0;; ++Round) {
      Printer->reset();
      clang::ASTContext &Ctx = Interp->getASTContext();
      clang::TranslationUnitDecl *Before = Ctx.getTranslationUnitDecl();
      auto PTU = Interp->Parse(Code);
      if (!PTU) // the part the parse made is dead, whether or not clang still points at it
        for (clang::TranslationUnitDecl *Part : {Ctx.getTranslationUnitDecl(), Before->getMostRecentDecl()})
          if (Part != Before)
            Exec->DeadParts.insert(Part);
      if (PTU || Round == Rounds || Printer->OtherErrors || Printer->Redefined.empty()) {
        if (!PTU) {
          unshadow(std::exchange(Shadows, {}));
          keepEarlier(Printer->Redefined);
        }
        return PTU;
      }
      std::vector<Shadowed> More = shadowRedefined(Printer->Redefined);
      if (More.empty()) {
        unshadow(std::exchange(Shadows, {}));
        keepEarlier(Printer->Redefined);
        return PTU;
      }
      consumeError(PTU.takeError());
      Diags.take(); // the refusals: the input is parsed again
      Shadows.insert(Shadows.end(), More.begin(), More.end());
    }
  }

  // Rewrites value capture in M and emits it. False: the reason is in Err and/or Diags.
  bool finish(Module &M, clang::TranslationUnitDecl *TU, std::vector<Capture> &Caps,
              SmallVectorImpl<char> &Obj, std::string &Err) {
    return rewrite(M, TU, Caps, Err) && emit(M, Obj, Err);
  }

  // Rewrites value capture in M. False: the reason is in Err.
  bool rewrite(Module &M, clang::TranslationUnitDecl *TU, std::vector<Capture> &Caps, std::string &Err) {
    if (!std::exchange(EmitHandlerSet, true)) // all modules share the interpreter's context
      M.getContext().setDiagnosticHandler(std::make_unique<EmitDiagHandler>(&Diags, &EmitErrors));
    // Objects are code for a shared object in the target (PIC, loaded anywhere), not for the
    // main executable: without this, a PIE default makes LLVM pick the initial- and
    // local-exec TLS models, which need the thread's static TLS block (R_X86_64_GOTTPOFF),
    // for `thread_local` variables of an input. As a shared object's, they are
    // general-dynamic, served by the session runtime's __tls_get_addr.
    if (M.getPIELevel() != PIELevel::Default)
      M.setModuleFlag(Module::Max, "PIE Level", uint32_t(PIELevel::Default)); // not an add: replace
    exposeDarwinThreadLocals(M);
    callThreadLocalInits(M);
    defineCompleteStructors(M, UnemittedStructors);
    if (TU)
      collectInternalNames(TU);
    shareInternals(M);
    // Only inputs that capture a value (or mention the interface) need the AST walk.
    if (!M.getFunction(kNoAlloc) && !M.getFunction(kWithAlloc) && !any_of(M, [](const Function &F) {
          return F.getName().contains(kCopyArr);
        }))
      return true;
    TypeHandles Handles = typeHandles(TU, M.getDataLayout().getPointerSizeInBits());
    return Rewriter(M, Interp->getASTContext(), Handles, Caps, Err).run();
  }

  // Internal-linkage entities the user declared at namespace scope (`static int s;`, a
  // function in an anonymous namespace, a variable of a lambda's type), by their IR names.
  // clang's incremental code generation gives every input that uses one its own copy, a
  // fresh definition in that input's module (clang-repl 22.1 prints 5 for `s` after
  // `static int s = 5;` and `s = 7;`). One entity must have one copy: see shareInternals.
  std::set<std::string> InternalNames;
  std::unique_ptr<clang::MangleContext> Mangler;

  void collectInternalNames(const clang::DeclContext *DC) {
    clang::ASTContext &Ctx = Interp->getASTContext();
    if (!Mangler)
      Mangler.reset(Ctx.createMangleContext());
    for (const clang::Decl *D : DC->decls()) {
      if (auto *NS = dyn_cast<clang::NamespaceDecl>(D)) {
        collectInternalNames(NS);
        continue;
      }
      const auto *ND = dyn_cast<clang::NamedDecl>(D);
      bool Wanted = false;
      if (auto *VD = dyn_cast<clang::VarDecl>(D))
        Wanted = VD->hasGlobalStorage() && !VD->isStaticLocal() && VD->getTLSKind() == clang::VarDecl::TLS_None;
      else if (auto *FD = dyn_cast<clang::FunctionDecl>(D))
        Wanted = !isa<clang::CXXMethodDecl>(FD) && !FD->isDependentContext();
      if (!Wanted || ND->isExternallyVisible() || !ND->getIdentifier())
        continue;
      InternalNames.insert(irName(ND));
    }
  }

  // The IR name of a function or variable declaration (its mangled name).
  std::string irName(const clang::NamedDecl *ND) {
    if (!Mangler)
      Mangler.reset(Interp->getASTContext().createMangleContext());
    if (!isa<clang::FunctionDecl>(ND) && !isa<clang::VarDecl>(ND))
      return {};
    std::string Name;
    raw_string_ostream OS(Name);
    if (Mangler->shouldMangleDeclName(ND))
      Mangler->mangleName(clang::GlobalDecl(ND), OS);
    else
      OS << ND->getName();
    return OS.str();
  }

  // Makes every copy of a user's internal entity in M one entity across the session: renamed
  // apart from any external name, linkonce_odr in a COMDAT group of its own (a section group
  // on ELF), so the first unit that defines it provides it and the copies later inputs carry
  // are dropped as duplicates by the linker, which resolves their uses to the first.
  void shareInternals(Module &M) {
    if (InternalNames.empty())
      return;
    bool Comdats = M.getTargetTriple().isOSBinFormatELF();
    for (GlobalValue &GV : M.global_values()) {
      if (!GV.hasLocalLinkage() || GV.isDeclaration() || !InternalNames.count(GV.getName().str()))
        continue;
      std::string Name = (GV.getName() + ".orcbridge.internal").str();
      GV.setName(Name);
      GV.setLinkage(GlobalValue::LinkOnceODRLinkage);
      GV.setVisibility(GlobalValue::DefaultVisibility);
      if (auto *GO = dyn_cast<GlobalObject>(&GV); GO && Comdats)
        GO->setComdat(M.getOrInsertComdat(Name));
    }
  }

  // Emits M as an object. False: the reason is in Err and/or Diags.
  bool emit(Module &M, SmallVectorImpl<char> &Obj, std::string &Err) {
    EmitErrors = 0;
    return emitObject(*TM, M, Obj, Err) && EmitErrors == 0;
  }
};

extern "C" ojit_status ojit_interp_create(const char *triple, const char *const *argv, size_t argc,
                                          ojit_interp_t **out, ojit_sink *error) {
  if (out)
    *out = nullptr;
  return guarded(error, [&]() -> ojit_status {
    initLLVM();
    if (!out || (argc && !argv)) {
      put(error, "bad arguments to ojit_interp_create");
      return OJIT_FAILURE;
    }
    std::string TT = triple && *triple ? triple : sys::getProcessTriple();
    std::vector<const char *> Args(argv, argv + argc);
    auto I = std::make_unique<ojit_interp>();
    {
      // IncrementalCompilerBuilder drops driver diagnostics and prints the others to
      // stderr: check the arguments and the target here first, the same way.
      clang::DiagnosticOptions Opts;
      Opts.ShowColors = false;
      CountingPrinter P(I->Diags.OS, Opts);
      P.setPrefix("clang");
      clang::DiagnosticsEngine Diags(clang::DiagnosticIDs::create(), Opts, &P, false);
      std::vector<const char *> Check{"clang", "-xc++"};
      Check.insert(Check.end(), Args.begin(), Args.end());
      Check.insert(Check.end(), {"-c", "input"});
      DriverJob Job;
      clang::CompilerInvocation Inv;
      if (!Job.run(Check, TT, false, Diags) ||
          !clang::CompilerInvocation::CreateFromArgs(Inv, Job.Cmd->getArguments(), Diags) ||
          !IntrusiveRefCntPtr<clang::TargetInfo>(
              clang::TargetInfo::CreateTargetInfo(Diags, Inv.getTargetOpts()))) {
        put(error, "invalid interpreter options:\n" + I->Diags.take());
        return OJIT_FAILURE;
      }
    }

    clang::IncrementalCompilerBuilder CB;
    CB.SetCompilerArgs(Args); // for C, Args has -xc, which wins over CreateCpp's -xc++
    CB.SetTargetTriple(TT);
    auto CI = CB.CreateCpp();
    if (!CI) {
      put(error, toString(CI.takeError()));
      return OJIT_FAILURE;
    }
    // Before Interpreter::create, whose action starts the diagnostics client.
    (*CI)->getDiagnosticOpts().ShowColors = false;
    // clang's backend runs once per input and flattens the whole cc1 command line into each
    // TargetMachine it creates there (a tenth of the time of a small input); the flattened
    // line only feeds -frecord-command-line and CodeView, which objects for an executor
    // never carry.
    (*CI)->getCodeGenOpts().CommandLineArgs.clear();
    I->Printer = new CountingPrinter(I->Diags.OS, (*CI)->getDiagnosticOpts());
    (*CI)->getDiagnostics().setClient(I->Printer, /*ShouldOwnClient=*/true);
    std::string Err;
    if (!(I->TM = makeTargetMachine(**CI, Err))) {
      put(error, Err);
      return OJIT_FAILURE;
    }
    auto IEB = std::make_unique<clang::IncrementalExecutorBuilder>();
    auto Exec = std::make_unique<CaptureExecutor>();
    I->Exec = Exec.get();
    IEB->IE = std::move(Exec);
    auto Interp = clang::Interpreter::create(std::move(*CI), std::move(IEB));
    if (!Interp) {
      put(error, toString(Interp.takeError()) + "\n" + I->Diags.take());
      return OJIT_FAILURE;
    }
    I->Interp = std::move(*Interp);
    I->Printer->Idents = &I->Interp->getASTContext().Idents;
    if (!I->Interp->getASTContext().getASTMutationListener())
      I->Interp->getASTContext().setASTMutationListener(&I->LambdaFix);
    auto EE = I->Interp->getExecutionEngine(); // no JIT here: clang's executor is ours
    if (!EE || &*EE != I->Exec) {
      consumeError(EE.takeError());
      put(error, "clang::Interpreter did not adopt the capture executor");
      return OJIT_FAILURE;
    }
    for (auto &[Id, M] : I->Exec->Pending) { // the runtime prelude, from Interpreter::create
      SmallVector<char, 0> Obj;
      std::vector<Capture> Caps;
      if (M && !I->finish(*M, nullptr, Caps, Obj, Err)) {
        put(error, "runtime prelude: " + Err + "\n" + I->Diags.take());
        return OJIT_FAILURE;
      }
      I->Startup.emplace_back(Id, std::move(Obj));
    }
    I->Exec->Pending.clear();
    I->Diags.take();
    *out = I.release();
    return OJIT_OK;
  });
}

extern "C" void ojit_interp_dispose(ojit_interp_t *interp) {
  guarded(nullptr, [&] {
    delete interp;
    return OJIT_OK;
  });
}

extern "C" int ojit_interp_next_startup(ojit_interp_t *interp, uint64_t *id, ojit_sink *object) {
  return guarded(nullptr, [&]() -> ojit_status {
           if (!interp || interp->Startup.empty())
             return OJIT_FAILURE;
           auto &[Id, Obj] = interp->Startup.front();
           *id = Id;
           put(object, StringRef(Obj.data(), Obj.size()));
           interp->Startup.pop_front();
           return OJIT_OK;
         }) == OJIT_OK;
}

// True if M runs code when loaded or at exit (constructors: top-level statements, dynamic
// initialisation; destructors: `__attribute__((destructor))`) and so cannot wait.
bool runsCode(const Module &M) {
  for (const char *Name : {"llvm.global_ctors", "llvm.global_dtors"})
    if (const GlobalVariable *G = M.getNamedGlobal(Name); G && !G->isDeclaration())
      return true;
  return false;
}

// Linker names of the symbols M defines for other modules.
void putDefines(const Module &M, ojit_sink *defines) {
  Mangler Mang;
  auto Put = [&](const GlobalValue &GV) {
    if (GV.isDeclaration() || GV.hasLocalLinkage() || GV.getName().starts_with("llvm."))
      return;
    SmallString<64> Name;
    Mang.getNameWithPrefix(Name, &GV, /*CannotUsePrivateLabel=*/false);
    Name.push_back('\0');
    put(defines, Name.str());
  };
  for (const GlobalValue &GV : M.global_values())
    Put(GV);
}

// Where the printed expression of an input of Len bytes is, as byte offsets [Begin, End) in
// it: the last top-level statement without `;`, which clang rewrote into a capture call that
// keeps the expression's locations. False if there is none or it is not spelled in the input
// (from a macro defined elsewhere).
bool valueRange(clang::TranslationUnitDecl *TU, const clang::SourceManager &SM,
                const clang::LangOptions &LO, size_t Len, uint64_t &Begin, uint64_t &End) {
  const clang::TopLevelStmtDecl *Last = nullptr;
  for (clang::Decl *D : TU->decls())
    if (auto *T = dyn_cast<clang::TopLevelStmtDecl>(D); T && T->isSemiMissing())
      Last = T;
  if (!Last || !Last->getStmt())
    return false;
  // The capture call's own parts (callee, `this`, the handle) have no locations: the first
  // part that has, in pre-order, is the user's expression.
  std::function<clang::SourceRange(const clang::Stmt *)> Spelled = [&](const clang::Stmt *S) {
    if (!S || S->getSourceRange().isValid())
      return S ? S->getSourceRange() : clang::SourceRange();
    for (const clang::Stmt *C : S->children())
      if (clang::SourceRange R = Spelled(C); R.isValid())
        return R;
    return clang::SourceRange();
  };
  clang::SourceRange R = Spelled(Last->getStmt());
  clang::SourceLocation B = SM.getExpansionLoc(R.getBegin());
  clang::SourceLocation E = clang::Lexer::getLocForEndOfToken(SM.getExpansionLoc(R.getEnd()), 0, SM, LO);
  if (B.isInvalid() || E.isInvalid())
    return false;
  auto [BF, BO] = SM.getDecomposedLoc(B);
  auto [EF, EO] = SM.getDecomposedLoc(E);
  // clang-repl's input buffer is the input and a newline.
  if (BF != EF || SM.getBufferData(BF).size() != Len + 1 || BO >= EO || EO > Len)
    return false;
  Begin = BO;
  End = EO;
  return true;
}

extern "C" ojit_status ojit_interp_parse(ojit_interp_t *interp, const char *code, size_t len,
                                         int allow_defer, int attach, uint64_t *id, int *deferred,
                                         ojit_sink *object, ojit_sink *defines,
                                         ojit_sink *retyped, ojit_sink *captures, uint64_t *value_range,
                                         ojit_sink *diagnostics, size_t *num_errors) {
  *num_errors = 0;
  *deferred = 0;
  value_range[0] = value_range[1] = UINT64_MAX;
  return guarded(diagnostics, [&]() -> ojit_status {
    if (!interp || (len && !code) || (attach && interp->InputPTUs.empty())) {
      put(diagnostics, "error: bad arguments to ojit_interp_parse\n");
      return OJIT_FAILURE;
    }
    ojit_interp &I = *interp;
    I.Diags.take();
    I.Printer->reset();
    I.EmitErrors = 0;
    std::vector<ojit_interp::Shadowed> Shadows;
    auto PutRetyped = [&](const Module &M) {
      Mangler Mang;
      for (const ojit_interp::Shadowed &Sh : Shadows) {
        const GlobalValue *GV = Sh.Retyped ? M.getNamedValue(Sh.IRName) : nullptr;
        if (!GV || GV->isDeclaration() || GV->hasLocalLinkage())
          continue;
        SmallString<64> Name;
        Mang.getNameWithPrefix(Name, GV, /*CannotUsePrivateLabel=*/false);
        Name.push_back('\0');
        put(retyped, Name.str());
      }
    };
    auto Fail = [&](ojit_status St, const std::string &Why) {
      std::string Text = I.Diags.take();
      if (!Why.empty() && Why != "Parsing failed.") // clang's diagnostics say more
        Text += "error: " + Why + "\n";
      put(diagnostics, Text);
      *num_errors = std::max<size_t>(I.Printer->Errors + I.EmitErrors, 1);
      return St;
    };

    auto PTU = I.parseShadowing(StringRef(code, len), Shadows);
    if (!PTU)
      return Fail(OJIT_COMPILE_ERROR, toString(PTU.takeError()));
    clang::PartialTranslationUnit &P = *PTU;
    if (P.TheModule)
      if (Error E = I.Interp->Execute(P)) // Exec->addModule(P), Exec->runCtors()
        return Fail(OJIT_FAILURE, toString(std::move(E)));
    uint64_t Id = I.Exec->idFor(P);
    std::unique_ptr<Module> M;
    for (auto &[PId, PM] : I.Exec->Pending)
      if (PId == Id)
        M = std::move(PM);
    I.Exec->Pending.clear();

    SmallVector<char, 0> Obj;
    std::vector<Capture> Caps;
    std::string Err;
    bool Ok = !M || I.rewrite(*M, P.TUPart, Caps, Err);
    if (Ok && M)
      PutRetyped(*M);
    if (Ok && M && allow_defer && Caps.empty() && !runsCode(*M)) {
      putDefines(*M, defines);
      I.Exec->Deferred[Id] = std::move(M);
      *deferred = 1;
    }
    Ok = Ok && (!M || I.emit(*M, Obj, Err));
    M.reset(); // it lives in the interpreter's LLVMContext: gone before any Undo
    if (!Ok) { // leave the interpreter as it was before this input
      if (Error E = I.Interp->Undo(1))
        Err += " (undo failed: " + toString(std::move(E)) + ")";
      else
        I.unshadow(Shadows);
      I.Exec->Removed.clear();
      return Fail(OJIT_COMPILE_ERROR, Err);
    }
    put(object, StringRef(Obj.data(), Obj.size()));
    for (const Capture &C : Caps) {
      putU64(captures, C.Ty);
      putU64(captures, C.Kind); // u32 kind + u32 zero
      putU64(captures, C.Size);
    }
    put(diagnostics, I.Diags.take()); // warnings
    if (!Caps.empty() && P.TUPart) {
      clang::CompilerInstance &CI = *I.Interp->getCompilerInstance();
      uint64_t B, E;
      if (valueRange(P.TUPart, CI.getSourceManager(), CI.getLangOpts(), len, B, E)) {
        value_range[0] = B;
        value_range[1] = E;
      }
    }
    if (attach) {
      I.InputPTUs.back()++;
      auto &Mine = I.InputShadowed.back();
      Mine.insert(Mine.end(), Shadows.begin(), Shadows.end());
    } else {
      I.InputPTUs.push_back(1);
      I.InputShadowed.push_back(std::move(Shadows));
    }
    *id = Id;
    return OJIT_OK;
  });
}

extern "C" ojit_status ojit_interp_emit(ojit_interp_t *interp, uint64_t id, ojit_sink *object,
                                        ojit_sink *error) {
  return guarded(error, [&]() -> ojit_status {
    auto It = interp->Exec->Deferred.find(id);
    if (It == interp->Exec->Deferred.end()) {
      put(error, "input " + std::to_string(id) + " has no deferred module");
      return OJIT_FAILURE;
    }
    std::unique_ptr<Module> M = std::move(It->second);
    interp->Exec->Deferred.erase(It);
    SmallVector<char, 0> Obj;
    std::string Err;
    interp->Diags.take();
    if (!interp->emit(*M, Obj, Err)) {
      put(error, Err + interp->Diags.take());
      return OJIT_FAILURE;
    }
    put(object, StringRef(Obj.data(), Obj.size()));
    return OJIT_OK;
  });
}

extern "C" ojit_status ojit_interp_undo(ojit_interp_t *interp, uint32_t n, ojit_sink *ids,
                                        ojit_sink *error) {
  return guarded(error, [&]() -> ojit_status {
    std::vector<unsigned> &Inputs = interp->InputPTUs;
    if (n > Inputs.size()) {
      put(error, "Operation failed. Too many undos");
      return OJIT_FAILURE;
    }
    unsigned PTUs = 0;
    for (size_t I = Inputs.size() - n; I < Inputs.size(); ++I)
      PTUs += Inputs[I];
    interp->Exec->Removed.clear();
    Error E = interp->Interp->Undo(PTUs);
    std::vector<uint64_t> Removed = std::exchange(interp->Exec->Removed, {});
    interp->Diags.take();
    if (E) {
      put(error, toString(std::move(E)));
      return OJIT_FAILURE;
    }
    Inputs.resize(Inputs.size() - n);
    for (size_t K = 0; K < n; ++K) {
      interp->unshadow(interp->InputShadowed.back());
      interp->InputShadowed.pop_back();
    }
    for (uint64_t Id : Removed)
      putU64(ids, Id);
    return OJIT_OK;
  });
}

extern "C" ojit_status ojit_interp_complete(ojit_interp_t *interp, const char *code, size_t len,
                                            size_t pos, ojit_sink *prefix, ojit_sink *results,
                                            ojit_sink *error) {
  return guarded(error, [&]() -> ojit_status {
    if (!interp || (len && !code) || pos > len) {
      put(error, "bad arguments to ojit_interp_complete");
      return OJIT_FAILURE;
    }
    auto Found = orcbridge::complete(*interp->Interp->getCompilerInstance(),
                                     StringRef(code, len), pos);
    if (!Found) {
      put(error, toString(Found.takeError()));
      return OJIT_FAILURE;
    }
    put(prefix, Found->Prefix);
    for (const std::string &C : Found->Candidates) {
      put(results, C);
      put(results, StringRef("\0", 1));
    }
    return OJIT_OK;
  });
}

extern "C" ojit_status ojit_structor_instantiation(const char *symbol, ojit_sink *code) {
  return guarded(nullptr, [&]() -> ojit_status {
    ItaniumPartialDemangler D;
    if (!symbol || D.partialDemangle(symbol) || !D.isCtorOrDtor())
      return OJIT_FAILURE;
    char *Text = itaniumDemangle(symbol);
    if (!Text)
      return OJIT_FAILURE;
    std::string Decl = Text; // `std::allocator<int>::~allocator()`, `T::~T()`, `X<int>::X(int)`
    std::free(Text);
    size_t Scope = Decl.rfind("::", Decl.find('('));
    if (Scope == std::string::npos)
      return OJIT_FAILURE;
    std::string Class = Decl.substr(0, Scope), Member = Decl.substr(Scope + 2);
    StringRef Name(symbol);
    if (Name.contains("D1E") && StringRef(Member).starts_with("~") && StringRef(Member).ends_with("()")) {
      // A complete-object destructor, of any class: a non-virtual call from a function that
      // is emitted (`used`) makes clang emit it.
      put(code, "[[gnu::used]] static void __orcbridge_define_" + Name.str() + "(" + Class +
                    " *p) { p->" + Class + "::" + Member + "; }");
      return OJIT_OK;
    }
    // Other constructors and destructors (not the deleting one, D0, which comes with the
    // vtable) of a class template specialization: an explicit instantiation.
    bool Variant = Name.contains("C1E") || Name.contains("C2E") || Name.contains("D2E");
    if (!Variant || Class.find('<') == std::string::npos)
      return OJIT_FAILURE;
    put(code, "template " + Decl + ";");
    return OJIT_OK;
  });
}

extern "C" ojit_status ojit_interp_value_class(ojit_interp_t *interp, uint64_t ty,
                                               ojit_sink *header, ojit_sink *std_template,
                                               ojit_sink *canonical) {
  return guarded(nullptr, [&]() -> ojit_status {
    clang::ASTContext &Ctx = interp->Interp->getASTContext();
    QualType QT = QualType::getFromOpaquePtr(reinterpret_cast<void *>(uintptr_t(ty)));
    QualType C = QT.getNonReferenceType().getCanonicalType();
    const auto *RD = C->getAsCXXRecordDecl();
    if (!RD)
      return OJIT_FAILURE;
    put(header, Renderer{*interp->Interp, Ctx}.typeName(QT));
    put(canonical, C.getAsString(Ctx.getPrintingPolicy()));
    // `std::NAME` of a class template specialization declared in std (or an inline
    // namespace of it: libstdc++'s __cxx11, libc++'s __1).
    const auto *Spec = dyn_cast<clang::ClassTemplateSpecializationDecl>(RD);
    const clang::DeclContext *DC = RD->getDeclContext();
    while (DC && DC->isInlineNamespace())
      DC = DC->getParent();
    const auto *NS = dyn_cast_or_null<clang::NamespaceDecl>(DC);
    if (Spec && NS && NS->getName() == "std" && NS->getParent()->getRedeclContext()->isTranslationUnit())
      put(std_template, "std::" + Spec->getSpecializedTemplate()->getNameAsString());
    return OJIT_OK;
  });
}

extern "C" ojit_status ojit_interp_render(ojit_interp_t *interp, uint64_t ty, uint32_t kind,
                                          const uint8_t *data, size_t len, ojit_sink *out) {
  return guarded(out, [&]() -> ojit_status {
    QualType QT = QualType::getFromOpaquePtr(reinterpret_cast<void *>(uintptr_t(ty)));
    Renderer R{*interp->Interp, interp->Interp->getASTContext()};
    put(out, R.render(QT, kind, ArrayRef<uint8_t>(data, len)));
    return OJIT_OK;
  });
}
