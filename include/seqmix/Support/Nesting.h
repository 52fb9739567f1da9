//===- Nesting.h - bound the nesting of text before a recursive parser ----===//
//
// llvm::json and MLIR's parser recurse once per nesting level; text nested
// tens of thousands deep overflows the stack. Both inputs are scanned for
// their depth first, so that such text is an error with a position.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_SUPPORT_NESTING_H
#define SEQMIX_SUPPORT_NESTING_H

#include "llvm/ADT/StringRef.h"

#include <algorithm>
#include <optional>

namespace seqmix {

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
      for (++i; i < text.size() && text[i] != '"';)
        i += text[i] == '\\' ? 2 : 1;
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

} // namespace seqmix

#endif // SEQMIX_SUPPORT_NESTING_H
