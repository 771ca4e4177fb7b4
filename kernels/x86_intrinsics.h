// <immintrin.h> for the x86-64 kernel files, which are compiled with target
// attributes so that a portable build still carries every ISA (the ISA is
// chosen by CPUID at run time).
//
//   #include "kernels/x86_intrinsics.h"
//   #if TESSERA_X86_KERNELS
//   TESSERA_TARGET_PUSH("avx2,fma,f16c")
//   ... kernels ...
//   TESSERA_TARGET_POP()
//   #endif
#ifndef TESSERA_KERNELS_X86_INTRINSICS_H_
#define TESSERA_KERNELS_X86_INTRINSICS_H_

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TESSERA_X86_KERNELS 1
// GCC 12 warns falsely about _mm512_undefined_*() inside the intrinsics
// headers (GCC bug 105593); the suppression covers those headers only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#define TESSERA_PRAGMA(x) _Pragma(#x)
// Compiles the functions that follow for the target features `isa` (a
// string literal), until TESSERA_TARGET_POP().
#if defined(__clang__)
#define TESSERA_TARGET_PUSH(isa) \
  TESSERA_PRAGMA(                \
      clang attribute push(__attribute__((target(isa))), apply_to = function))
#define TESSERA_TARGET_POP() TESSERA_PRAGMA(clang attribute pop)
#else
#define TESSERA_TARGET_PUSH(isa) \
  TESSERA_PRAGMA(GCC push_options) TESSERA_PRAGMA(GCC target(isa))
#define TESSERA_TARGET_POP() TESSERA_PRAGMA(GCC pop_options)
#endif
#endif  // x86-64 with GCC or clang

#endif  // TESSERA_KERNELS_X86_INTRINSICS_H_
