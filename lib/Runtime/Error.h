//===- Error.h - error messages of the runtime's C API ------------*- C++
//-*-===//
#ifndef SEQMIX_LIB_RUNTIME_ERROR_H
#define SEQMIX_LIB_RUNTIME_ERROR_H

#include <cstdlib>
#include <cstring>
#include <string>

namespace seqmix_runtime {

/// Stores a malloc'ed copy of `msg` in `*error` (the caller releases it with
/// seqmix_free_error) when `error` is not NULL.
inline void setError(char **error, const std::string &msg) {
  if (!error)
    return;
  *error = static_cast<char *>(std::malloc(msg.size() + 1));
  if (*error)
    std::memcpy(*error, msg.c_str(), msg.size() + 1);
}

} // namespace seqmix_runtime

#endif // SEQMIX_LIB_RUNTIME_ERROR_H
