// Code completion for REPL input.
//
// clang-repl completes by parsing the line in a second compiler instance whose AST imports the
// running interpreter's top-level declarations. That importer only looks at the translation
// unit's own names, so `std::vec` and members of imported classes are out of its reach, and
// its member filter keeps methods only. Here the second instance's AST has an external source
// (InterpreterSource) that fills every declaration context, namespaces, classes and
// template specializations included, from the interpreter's when Sema looks into it: what
// completion needs after `::`, `.` and `->`.

#include "complete.h"

#include "clang/AST/ASTImporter.h"
#include "clang/AST/ASTImporterSharedState.h"
#include "clang/AST/DeclLookups.h"
#include "clang/AST/DeclTemplate.h"
#include "clang/AST/ExternalASTSource.h"
#include "clang/Basic/CharInfo.h"
#include "clang/Basic/Diagnostic.h"
#include "clang/Frontend/FrontendActions.h"
#include "clang/Lex/MacroInfo.h"
#include "clang/Lex/Preprocessor.h"
#include "clang/Lex/PreprocessorOptions.h"
#include "clang/Sema/CodeCompleteConsumer.h"
#include "clang/Sema/ExternalSemaSource.h"
#include "clang/Sema/Lookup.h"
#include "clang/Sema/Sema.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <optional>

using namespace clang;
using llvm::StringRef;

namespace orcbridge {
namespace {

// Where the completion buffer lives in the second instance's file manager (virtual file).
constexpr const char *CompletionFile = "input_line_[completion]";

// Names the standard library reserves for itself (`__x`, `_X`); offered only when the user
// has started typing one.
bool reservedName(StringRef Name) {
  return Name.starts_with("__") || (Name.size() > 1 && Name[0] == '_' && Name[1] >= 'A' && Name[1] <= 'Z');
}

class CandidateCollector final : public CodeCompleteConsumer {
  std::shared_ptr<GlobalCodeCompletionAllocator> Allocator =
      std::make_shared<GlobalCodeCompletionAllocator>();
  CodeCompletionTUInfo TUInfo{Allocator};
  const Preprocessor &ParentPP;
  Completion &Out;

  static CodeCompleteOptions options() {
    CodeCompleteOptions Opts;
    Opts.IncludeMacros = true;
    Opts.IncludeGlobals = true;
    Opts.IncludeCodePatterns = false;
    Opts.IncludeBriefComments = false;
    return Opts;
  }

  void add(StringRef Name) {
    if (Name.empty() || !Name.starts_with(Out.Prefix))
      return;
    if (reservedName(Name) && !StringRef(Out.Prefix).starts_with("_"))
      return;
    Out.Candidates.push_back(Name.str());
  }

public:
  CandidateCollector(const Preprocessor &ParentPP, Completion &Out)
      : CodeCompleteConsumer(options()), ParentPP(ParentPP), Out(Out) {}

  CodeCompletionAllocator &getAllocator() override { return *Allocator; }
  CodeCompletionTUInfo &getCodeCompletionTUInfo() override { return TUInfo; }

  void ProcessCodeCompleteResults(Sema &S, CodeCompletionContext Context,
                                  CodeCompletionResult *Results, unsigned N) override {
    Out.Prefix = S.getPreprocessor().getCodeCompletionFilter().str();
    auto Kind = Context.getKind();
    bool Member = Kind == CodeCompletionContext::CCC_DotMemberAccess ||
                  Kind == CodeCompletionContext::CCC_ArrowMemberAccess;
    auto Scope = Context.getCXXScopeSpecifier();
    bool Qualified = Scope && *Scope && (*Scope)->isNotEmpty();
    for (unsigned I = 0; I < N; ++I) {
      const CodeCompletionResult &R = Results[I];
      switch (R.Kind) {
      case CodeCompletionResult::RK_Declaration:
        if (R.Hidden || R.Availability == CXAvailability_NotAccessible ||
            R.Availability == CXAvailability_NotAvailable ||
            !R.Declaration->getDeclName().isIdentifier())
          break;
        // After `.`/`->`, Sema also offers the class and its bases as qualifiers
        // (`p.Point::x`); a REPL user wants the members.
        if (Member && isa<TypeDecl>(R.Declaration))
          break;
        add(R.Declaration->getName());
        break;
      case CodeCompletionResult::RK_Keyword:
        if (!Member && !Qualified)
          add(R.Keyword);
        break;
      case CodeCompletionResult::RK_Pattern:
        // A header or directory name after `#include <` (`vector>`, `bits/`).
        if (Kind == CodeCompletionContext::CCC_IncludedFile)
          if (const char *Name = R.Pattern->getTypedText())
            add(Name);
        break;
      case CodeCompletionResult::RK_Macro:
        break; // macros come from the interpreter's preprocessor below
      }
    }
    if (Member || Qualified || Kind == CodeCompletionContext::CCC_IncludedFile)
      return;
    // The second instance preprocesses only the completion buffer: the macros of earlier
    // inputs and their headers (INT_MAX, EXIT_SUCCESS, the user's own) live in the
    // interpreter's preprocessor.
    for (const auto &M : ParentPP.macros(/*IncludeExternalMacros=*/false)) {
      const MacroDirective *MD = M.second.getLatest();
      if (MD && MD->getKind() == MacroDirective::MD_Define && !MD->getMacroInfo()->isBuiltinMacro())
        add(M.first->getName());
    }
  }
};

// The interpreter's declarations, imported on demand into the completion parser's AST.
//
// One minimal ASTImporter copies from the interpreter's AST; nothing is ever imported the
// other way (ExternalASTMerger's reverse importer would add declarations, and a copy of this
// parser's source files, to the interpreter every time). Contexts are mapped back to their
// origin by what was imported, and names between the two ASTs by their spelling.
//  * Namespaces and the translation unit answer lookups by name (FindExternalVisibleDecls-
//    ByName) and list their names for completion (completeVisibleDeclsMap), only those that
//    begin with the prefix being completed: the interpreter's std alone declares thousands.
//  * Classes and enums load all their members at once, when Sema first looks into them
//    (FindExternalLexicalDecls, CompleteType).
class InterpreterSource final : public ExternalASTSource {
  class Importer final : public ASTImporter {
    InterpreterSource &Source;

  public:
    Importer(InterpreterSource &Source, ASTContext &To, FileManager &ToFM, ASTContext &From,
             FileManager &FromFM)
        : ASTImporter(To, ToFM, From, FromFM, /*MinimalImport=*/true,
                      std::make_shared<ASTImporterSharedState>(*To.getTranslationUnitDecl())),
          Source(Source) {}

    void Imported(Decl *From, Decl *To) override {
      auto *ToDC = dyn_cast<DeclContext>(To);
      if (!ToDC)
        return;
      Source.Origins[ToDC->getPrimaryContext()] = cast<DeclContext>(From)->getPrimaryContext();
      if (auto *Tag = dyn_cast<TagDecl>(To)) {
        Tag->setHasExternalLexicalStorage();
        Tag->getPrimaryContext()->setMustBuildLookupTable();
      } else if (isa<NamespaceDecl>(To)) {
        ToDC->setHasExternalVisibleStorage();
      }
    }
  };

  ASTContext &Parent;
  std::string Prefix;
  llvm::DenseMap<const DeclContext *, DeclContext *> Origins; // ours → the interpreter's
  std::unique_ptr<Importer> Import;

  DeclContext *origin(const DeclContext *DC) {
    return Origins.lookup(const_cast<DeclContext *>(DC)->getPrimaryContext());
  }

  // The interpreter's spelling of Name; an empty name for kinds namespaces do not declare.
  DeclarationName parentName(DeclarationName Name) {
    switch (Name.getNameKind()) {
    case DeclarationName::Identifier:
      return DeclarationName(&Parent.Idents.get(Name.getAsIdentifierInfo()->getName()));
    case DeclarationName::CXXOperatorName:
      return Parent.DeclarationNames.getCXXOperatorName(Name.getCXXOverloadedOperator());
    case DeclarationName::CXXLiteralOperatorName:
      return Parent.DeclarationNames.getCXXLiteralOperatorName(
          &Parent.Idents.get(Name.getCXXLiteralIdentifier()->getName()));
    default:
      return DeclarationName();
    }
  }

  // Imports D; a declaration the importer cannot copy is left out, not reported: completion
  // offers the rest.
  NamedDecl *imported(Decl *D) {
    llvm::Expected<Decl *> To = Import->Import(D);
    if (!To) {
      llvm::consumeError(To.takeError());
      return nullptr;
    }
    return dyn_cast_or_null<NamedDecl>(*To);
  }

public:
  InterpreterSource(CompilerInstance &CI, CompilerInstance &ParentCI, std::string Prefix)
      : Parent(ParentCI.getASTContext()), Prefix(std::move(Prefix)),
        Import(std::make_unique<Importer>(*this, CI.getASTContext(), CI.getFileManager(), Parent,
                                          ParentCI.getFileManager())) {
    Origins[CI.getASTContext().getTranslationUnitDecl()] = Parent.getTranslationUnitDecl();
  }

  bool FindExternalVisibleDeclsByName(const DeclContext *DC, DeclarationName Name,
                                      const DeclContext *) override {
    DeclContext *From = origin(DC);
    DeclarationName FromName = parentName(Name);
    if (!From || !FromName)
      return false;
    llvm::SmallVector<NamedDecl *, 4> Found;
    for (NamedDecl *D : From->lookup(FromName)) {
      NamedDecl *To = imported(D);
      if (!To)
        continue;
      Found.push_back(To);
      // A template's specializations are reached from the template only once imported;
      // the interpreter's (std::vector<int> of an earlier input) are then reused.
      if (auto *CT = dyn_cast<ClassTemplateDecl>(D))
        for (auto *Spec : CT->specializations())
          imported(Spec);
    }
    SetExternalVisibleDeclsForName(DC, Name, Found);
    return !Found.empty();
  }

  void completeVisibleDeclsMap(const DeclContext *DC) override {
    DeclContext *From = origin(DC);
    if (!From)
      return;
    // Names first: importing may extend the interpreter's lookup table being walked.
    std::vector<std::string> Names;
    auto Lookups = From->lookups();
    for (auto I = Lookups.begin(), E = Lookups.end(); I != E; ++I) {
      DeclarationName Name = I.getLookupName();
      if (Name.isIdentifier() && Name.getAsIdentifierInfo()->getName().starts_with(Prefix))
        Names.push_back(Name.getAsIdentifierInfo()->getName().str());
    }
    IdentifierTable &Idents = cast<Decl>(DC)->getASTContext().Idents;
    for (const std::string &Name : Names)
      FindExternalVisibleDeclsByName(DC, DeclarationName(&Idents.get(Name)), DC);
  }

  void FindExternalLexicalDecls(const DeclContext *DC, llvm::function_ref<bool(Decl::Kind)> IsKindWeWant,
                                llvm::SmallVectorImpl<Decl *> &) override {
    // The importer adds what it imports to its context itself.
    if (DeclContext *From = origin(DC))
      for (Decl *D : From->decls())
        if (IsKindWeWant(D->getKind()))
          imported(D);
  }

  void CompleteType(TagDecl *Tag) override {
    auto *From = dyn_cast_or_null<TagDecl>(origin(Tag));
    if (!From || !From->getDefinition())
      return;
    if (llvm::Error E = Import->ImportDefinition(From))
      llvm::consumeError(std::move(E));
  }
};

// C looks a name up through the scopes only, never through the AST's external source: offer
// the interpreter's file-scope declarations when that finds nothing.
class FileScopeNames final : public ExternalSemaSource {
  ASTContext &Ctx;

public:
  explicit FileScopeNames(ASTContext &Ctx) : Ctx(Ctx) {}

  bool LookupUnqualified(LookupResult &R, Scope *) override {
    bool Found = false;
    for (NamedDecl *D : Ctx.getTranslationUnitDecl()->lookup(R.getLookupName()))
      if (D->isInIdentifierNamespace(R.getIdentifierNamespace())) {
        R.addDecl(D);
        Found = true;
      }
    if (Found)
      R.resolveKind();
    return Found;
  }
};

// Parses the completion buffer with the interpreter's declarations visible.
class CompletionAction final : public SyntaxOnlyAction {
  CompilerInstance &Parent;
  std::string Prefix;

  void ExecuteAction() override {
    CompilerInstance &CI = getCompilerInstance();
    CI.getASTContext().setExternalSource(llvm::makeIntrusiveRefCnt<InterpreterSource>(CI, Parent, Prefix));
    CI.getASTContext().getTranslationUnitDecl()->setHasExternalVisibleStorage();
    if (!CI.getLangOpts().CPlusPlus) {
      CI.createSema(getTranslationUnitKind(), &CI.getCodeCompletionConsumer());
      CI.getSema().addExternalSource(llvm::makeIntrusiveRefCnt<FileScopeNames>(CI.getASTContext()));
    }
    SyntaxOnlyAction::ExecuteAction();
  }

public:
  CompletionAction(CompilerInstance &Parent, std::string Prefix)
      : Parent(Parent), Prefix(std::move(Prefix)) {}
};

// Whether Line is an #include (#include_next, #import) directive; if so, where its file name
// starts (after `<` or `"`, or npos if not yet typed) and where it ends (at the closing
// delimiter, or npos).
bool includeDirective(StringRef Line, size_t &NameStart, size_t &NameEnd) {
  StringRef Rest = Line.ltrim();
  if (!Rest.consume_front("#"))
    return false;
  Rest = Rest.ltrim();
  if (!Rest.consume_front("include_next") && !Rest.consume_front("include") &&
      !Rest.consume_front("import"))
    return false;
  Rest = Rest.ltrim();
  NameStart = NameEnd = StringRef::npos;
  if (Rest.empty() || (Rest[0] != '<' && Rest[0] != '"'))
    return true;
  NameStart = Line.size() - Rest.size() + 1;
  NameEnd = Line.find(Rest[0] == '<' ? '>' : '"', NameStart);
  return true;
}

// Whether Pos is inside a comment or a string or character literal of Code. Nothing is
// completed there (and clang 22's parser can loop forever on a completion point in a string
// inside a class).
bool inCommentOrLiteral(StringRef Code, size_t Pos) {
  size_t I = 0;
  while (I < Pos) {
    char C = Code[I];
    size_t NameStart, NameEnd;
    if ((I == 0 || Code[I - 1] == '\n') &&
        includeDirective(Code.slice(I, Code.find('\n', I)), NameStart, NameEnd)) {
      // The file name of an #include is no literal (completionBuffer decides there).
      size_t End = Code.find('\n', I);
      if (End == StringRef::npos || End >= Pos)
        return false;
      I = End + 1;
    } else if (C == '/' && I + 1 < Code.size() && Code[I + 1] == '/') {
      size_t End = Code.find('\n', I);
      if (End == StringRef::npos || End >= Pos)
        return true;
      I = End + 1;
    } else if (C == '/' && I + 1 < Code.size() && Code[I + 1] == '*') {
      size_t End = Code.find("*/", I + 2);
      if (End == StringRef::npos || End + 2 > Pos)
        return true;
      I = End + 2;
    } else if (C == '"' && I > 0 && Code[I - 1] == 'R') {
      // A raw string: R"delim( ... )delim".
      size_t Open = Code.find('(', I);
      if (Open == StringRef::npos)
        return true;
      std::string Close = ")" + Code.slice(I + 1, Open).str() + "\"";
      size_t End = Code.find(Close, Open);
      if (End == StringRef::npos || End + Close.size() > Pos)
        return true;
      I = End + Close.size();
    } else if (C == '"' || (C == '\'' && !(I > 0 && isDigit(Code[I - 1])))) {
      // `'` after a digit separates digits (1'000).
      size_t J = I + 1;
      while (J < Code.size() && Code[J] != C && Code[J] != '\n')
        J += Code[J] == '\\' ? 2 : 1;
      if (J >= Pos)
        return true;
      I = J + 1;
    } else {
      ++I;
    }
  }
  return false;
}

// The completion buffer: Code with its #include lines blanked out (the interpreter has read
// those headers already, and declarations parsed again next to imported ones confuse Sema),
// except the one being typed if the point is in its file name. None if the point is in an
// include line but not in its file name, or in a comment or literal.
std::optional<std::string> completionBuffer(StringRef Code, size_t Pos) {
  if (inCommentOrLiteral(Code, Pos))
    return std::nullopt;
  std::string Out;
  size_t Start = 0;
  while (Start <= Code.size()) {
    size_t End = std::min(Code.find('\n', Start), Code.size());
    StringRef Line = Code.slice(Start, End);
    size_t NameStart, NameEnd;
    if (includeDirective(Line, NameStart, NameEnd)) {
      bool HasPoint = Start <= Pos && Pos <= End;
      if (HasPoint && (NameStart == StringRef::npos || Pos < Start + NameStart ||
                       (NameEnd != StringRef::npos && Pos > Start + NameEnd)))
        return std::nullopt;
      Out.append(HasPoint ? Line.str() : std::string(Line.size(), ' '));
    } else {
      Out.append(Line.str());
    }
    if (End < Code.size())
      Out.push_back('\n');
    Start = End + 1;
  }
  return Out;
}

// The identifier characters that end at Pos.
std::string prefixAt(StringRef Code, size_t Pos) {
  size_t Start = Pos;
  while (Start > 0 && (isAsciiIdentifierContinue(Code[Start - 1], /*AllowDollar=*/true)))
    --Start;
  return Code.slice(Start, Pos).str();
}

} // namespace

llvm::Expected<Completion> complete(CompilerInstance &Parent, StringRef Code, size_t Pos) {
  if (Pos > Code.size())
    return llvm::createStringError("completion point is past the input");
  unsigned Line = unsigned(std::count(Code.begin(), Code.begin() + Pos, '\n')) + 1;
  size_t LineStart = Code.substr(0, Pos).rfind('\n');
  unsigned Column = unsigned(Pos - (LineStart == StringRef::npos ? 0 : LineStart + 1)) + 1;

  std::optional<std::string> Buffer = completionBuffer(Code, Pos);
  if (!Buffer)
    return Completion{};

  // The interpreter's own options (language, target, include paths, -D), with the completion
  // buffer as the one input.
  auto Inv = std::make_shared<CompilerInvocation>(Parent.getInvocation());
  FrontendOptions &FO = Inv->getFrontendOpts();
  InputKind Kind(Parent.getLangOpts().CPlusPlus ? Language::CXX : Language::C);
  FO.Inputs.assign(1, FrontendInputFile(CompletionFile, Kind));
  FO.CodeCompletionAt.FileName = CompletionFile;
  FO.CodeCompletionAt.Line = Line;
  FO.CodeCompletionAt.Column = Column;
  FO.ProgramAction = frontend::ParseSyntaxOnly;
  Inv->getLangOpts().SpellChecking = false;
  Inv->getDiagnosticOpts().IgnoreWarnings = true;
  PreprocessorOptions &PPO = Inv->getPreprocessorOpts();
  PPO.clearRemappedFiles();
  PPO.RetainRemappedFileBuffers = false; // the instance owns the buffer below
  PPO.addRemappedFile(CompletionFile,
                      llvm::MemoryBuffer::getMemBufferCopy(*Buffer, CompletionFile).release());
  PPO.DetailedRecord = false;

  CompilerInstance CI(std::move(Inv));
  CI.setVirtualFileSystem(Parent.getVirtualFileSystemPtr());
  CI.createDiagnostics(new IgnoringDiagConsumer(), /*ShouldOwnClient=*/true);
  if (!CI.createTarget())
    return llvm::createStringError("the completion parser could not set up the target");
  Completion Out;
  CI.setCodeCompletionConsumer(new CandidateCollector(Parent.getPreprocessor(), Out));
  // Not CI.ExecuteAction: that counts the errors of the (unfinished) line on stderr.
  CompletionAction Act(Parent, prefixAt(Code, Pos));
  if (!Act.BeginSourceFile(CI, CI.getFrontendOpts().Inputs[0]))
    return llvm::createStringError("the completion parser could not start");
  llvm::Error E = Act.Execute();
  Act.EndSourceFile();
  if (E)
    return std::move(E);
  return Out;
}

} // namespace orcbridge
