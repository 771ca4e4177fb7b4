// Explains why a problem has no plan, in terms a user can act on.
//
// Thread-safety: pure function.
#ifndef TESSERA_PARTITIONER_DIAGNOSE_H_
#define TESSERA_PARTITIONER_DIAGNOSE_H_

#include "absl/status/status.h"
#include "partitioner/order_search.h"
#include "partitioner/problem.h"

namespace tessera::partitioner {

// REQUIRES: the search found no plan for `problem`. Returns (never OK):
//  - ResourceExhausted when even the smallest formats exceed the cluster's
//    total memory: how many bytes are missing, and what would make it fit
//    (that much more memory; a smaller KV cache when that is enough);
//  - ResourceExhausted when memory suffices only beyond the quality budget:
//    the quality cost of a plan that fits, i.e. the budget that would do;
//  - FailedPrecondition otherwise (no link between devices that must be
//    chained, or stages whose fixed needs exceed every device).
absl::Status DiagnoseNoPlan(const Problem& problem, const CostGrid& grid,
                            const SearchOptions& options);

}  // namespace tessera::partitioner

#endif  // TESSERA_PARTITIONER_DIAGNOSE_H_
