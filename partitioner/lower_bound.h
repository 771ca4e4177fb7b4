// A lower bound on the objective of every plan of a problem, whatever the
// devices chosen and their order; used to report the gap of the heuristic
// order search on large clusters.
//
//  - Request latency, a sum over layers: Lagrangian
//    relaxation of the assignment of layers to devices, with multipliers on
//    each device's memory and on the quality budget, maximised by projected
//    subgradient ascent (every iterate is a valid bound by weak duality).
//    Contiguity, links and the embedding/head memory are relaxed, except that
//    the fewest stages that memory allows (largest devices first) each pay
//    the cheapest link and step overhead, plus one token return.
//  - Bottleneck (busy ms per request, prefill included; problem.h): the
//    smallest B such that the devices, each running at most
//    (B - G * overhead) / (its fastest layer's lat_ms) layers and at most as
//    many as its memory holds in the smallest format, can cover every layer;
//    with two or more stages, at least the least busy link.
//
// Thread-safety: pure function.
#ifndef TESSERA_PARTITIONER_LOWER_BOUND_H_
#define TESSERA_PARTITIONER_LOWER_BOUND_H_

#include "partitioner/problem.h"

namespace tessera::partitioner {

// REQUIRES: ValidateProblem(problem).ok(), grid built from it.
double ObjectiveLowerBound(const Problem& problem, const CostGrid& grid);

}  // namespace tessera::partitioner

#endif  // TESSERA_PARTITIONER_LOWER_BOUND_H_
