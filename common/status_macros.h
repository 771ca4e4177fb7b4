// Status propagation macros, spelled like Abseil's upcoming ones so they can be
// swapped out when the Debian Abseil grows them.
//
//   TESSERA_RETURN_IF_ERROR(DoThing());
//   TESSERA_ASSIGN_OR_RETURN(auto file, GgufFile::Open(path));
//
// Both evaluate their argument exactly once. Thread-safe (no state).
#ifndef TESSERA_COMMON_STATUS_MACROS_H_
#define TESSERA_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#define TESSERA_RETURN_IF_ERROR(expr)                       \
  do {                                                      \
    ::absl::Status tessera_status_ = (expr);                \
    if (!tessera_status_.ok()) return tessera_status_;      \
  } while (0)

#define TESSERA_STATUS_CONCAT_INNER_(a, b) a##b
#define TESSERA_STATUS_CONCAT_(a, b) TESSERA_STATUS_CONCAT_INNER_(a, b)

#define TESSERA_ASSIGN_OR_RETURN(lhs, rexpr)                                 \
  TESSERA_ASSIGN_OR_RETURN_IMPL_(                                            \
      TESSERA_STATUS_CONCAT_(tessera_statusor_, __LINE__), lhs, rexpr)

#define TESSERA_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();   \
  lhs = std::move(statusor).value()

namespace tessera {

// Returns `status` with `context: ` prepended to its message; OK stays OK.
// Used to add one layer of context per component ("load shard 3: ...").
inline absl::Status Annotate(const absl::Status& status,
                             absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(context, ": ", status.message()));
}

}  // namespace tessera

// Like TESSERA_RETURN_IF_ERROR, but prefixes the message with `context`.
#define TESSERA_RETURN_IF_ERROR_CTX(expr, context)                       \
  do {                                                                   \
    ::absl::Status tessera_status_ = (expr);                             \
    if (!tessera_status_.ok())                                           \
      return ::tessera::Annotate(tessera_status_, (context));            \
  } while (0)

#endif  // TESSERA_COMMON_STATUS_MACROS_H_
