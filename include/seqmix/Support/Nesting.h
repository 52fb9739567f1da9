//===- Nesting.h - bound the nesting of text before a recursive parser ----===//
//
// llvm::json and MLIR's parser recurse once per nesting level; text nested
// tens of thousands deep overflows the stack. Both inputs are scanned for
// their depth first, so that such text is an error with a position.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_SUPPORT_NESTING_H
#define SEQMIX_SUPPORT_NESTING_H

#include "seqmix/Support/Limits.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <algorithm>
#include <optional>

namespace seqmix {

/// Skips the string literal ("...", with backslash escapes) that opens at
/// text[i]; returns the offset of its closing quote (text.size() when it is
/// unterminated).
inline size_t skipStringLiteral(llvm::StringRef text, size_t i) {
  for (++i; i < text.size() && text[i] != '"';)
    i += text[i] == '\\' ? 2 : 1;
  return std::min(i, text.size());
}

/// The offset of the first opening bracket (a character of `open`) that is
/// more than `max` levels deep, or nullopt. String literals ("...", with
/// backslash escapes) are skipped, and so are `//` line comments when
/// `lineComments`.
inline std::optional<size_t> findTooDeep(llvm::StringRef text, unsigned max,
                                         llvm::StringRef open,
                                         llvm::StringRef close,
                                         bool lineComments) {
  unsigned depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') {
      i = skipStringLiteral(text, i);
    } else if (lineComments && c == '/' && text.substr(i).starts_with("//")) {
      i = std::min(text.find('\n', i), text.size());
    } else if (open.contains(c)) {
      if (++depth > max)
        return i;
    } else if (close.contains(c) && depth > 0 &&
               !(c == '>' && i > 0 && text[i - 1] == '-')) {
      --depth;
    }
  }
  return std::nullopt;
}

/// findTooDeep for MLIR text: every bracket kind MLIR's parser recurses on,
/// `//` comments skipped, at most kMaxIRNesting levels.
inline std::optional<size_t> findTooDeepIR(llvm::StringRef text) {
  return findTooDeep(text, kMaxIRNesting, "([{<", ")]}>",
                     /*lineComments=*/true);
}

/// False, after an error at the offending bracket naming `tool`, when
/// `buffer` nests too deeply for MLIR's (recursive) parser.
inline bool checkIRNesting(const llvm::MemoryBuffer &buffer,
                           llvm::StringRef tool) {
  std::optional<size_t> deep = findTooDeepIR(buffer.getBuffer());
  if (!deep)
    return true;
  llvm::SourceMgr sm;
  sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBuffer(
                            buffer.getBuffer(), buffer.getBufferIdentifier()),
                        llvm::SMLoc());
  sm.PrintMessage(llvm::SMLoc::getFromPointer(buffer.getBufferStart() + *deep),
                  llvm::SourceMgr::DK_Error,
                  "input nests deeper than " + llvm::Twine(kMaxIRNesting) +
                      " levels of brackets; " + tool +
                      " refuses it before parsing");
  return false;
}

} // namespace seqmix

#endif // SEQMIX_SUPPORT_NESTING_H
