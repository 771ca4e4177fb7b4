// Compile-time dispatch shared by the per-ISA kernel files: a kernel
// templated on the weight format and on the number of activation rows is
// called through one switch here instead of one in every file; the decode
// kernels' row order is ForDecodeRows.
//
//   ForQuantFormat(w.format, [&](auto q4) {
//     ForMatVecRows(x.rows, [&](auto na) {
//       MatVecRows<decltype(q4)::value, decltype(na)::value>(...);
//     });
//   });
#ifndef TESSERA_KERNELS_CPU_OPS_DISPATCH_H_
#define TESSERA_KERNELS_CPU_OPS_DISPATCH_H_

#include <cstdint>
#include <type_traits>

#include "kernels/cpu_ops_kernels.h"

namespace tessera::kernels {

// fn(std::true_type) for Q4_0 weights, fn(std::false_type) for Q8_0.
template <typename Fn>
inline void ForQuantFormat(GgmlType format, Fn&& fn) {
  if (format == GgmlType::kQ4_0) {
    fn(std::true_type());
  } else {
    fn(std::false_type());
  }
}

// fn(std::integral_constant<int, NA>) with NA = rows for rows in
// 1..kMaxMatVecRows (larger counts get kMaxMatVecRows).
template <typename Fn>
inline void ForMatVecRows(int64_t rows, Fn&& fn) {
  static_assert(kMaxMatVecRows == 4, "one case per row count");
  switch (rows) {
    case 1:
      return fn(std::integral_constant<int, 1>());
    case 2:
      return fn(std::integral_constant<int, 2>());
    case 3:
      return fn(std::integral_constant<int, 3>());
    default:
      return fn(std::integral_constant<int, 4>());
  }
}

// The rows of a decode work item [r0, r1) in two-stream order (see
// cpu_ops_avx512.h): fn(rows) with rows = int64_t[2] {r0 + i, r0 + half + i}
// for each row i of the item's first half, then with an int64_t[1] for the
// row left over. Without kPaired, fn gets an int64_t[1] for every row.
template <bool kPaired, typename Fn>
inline void ForDecodeRows(int64_t r0, int64_t r1, Fn&& fn) {
  int64_t r = r0;
  if constexpr (kPaired) {
    const int64_t half = (r1 - r0) / 2;
    for (int64_t i = 0; i < half; ++i) {
      const int64_t pair[2] = {r0 + i, r0 + half + i};
      fn(pair);
    }
    r = r0 + 2 * half;
  }
  for (; r < r1; ++r) {
    const int64_t one[1] = {r};
    fn(one);
  }
}

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_CPU_OPS_DISPATCH_H_
