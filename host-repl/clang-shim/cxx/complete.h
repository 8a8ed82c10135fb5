// Code completion for REPL input, internal to the shim (complete.cpp).
#pragma once

#include "clang/Frontend/CompilerInstance.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace orcbridge {

struct Completion {
  std::string Prefix;                  // identifier characters before the point
  std::vector<std::string> Candidates; // whole identifiers starting with Prefix, unsorted
};

// Completes at byte Pos of Code (the text of one REPL input up to and past the point) with
// clang's code completion. A separate compiler instance, configured as Parent, parses Code;
// Parent's declarations (earlier inputs, included headers) are imported into it on demand,
// so Parent is only read.
llvm::Expected<Completion> complete(clang::CompilerInstance &Parent, llvm::StringRef Code,
                                    size_t Pos);

} // namespace orcbridge
