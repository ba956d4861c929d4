/*
 * <gmp.h> for the wasm64 runtime: GMP's own mini-gmp (mini-gmp.h from Debian's gmp source package,
 * which `cargo xtask build` fetches, hash-checks and puts on the include path after this folder).
 *
 * Why GMP at all: an .olean file stores bignums in the layout of the runtime that wrote it and
 * says which in its header; the official v4.28.0 toolchain is GMP-built, so the runtime must be
 * built with LEAN_USE_GMP to load its .olean files. mini-gmp has GMP's mpz API and mpz_t layout,
 * and its limb is `unsigned long`: 64 bits on wasm64, as on x86_64 (docs/design.md, "Bignums").
 */
#ifndef XLEAN_STUB_GMP_H
#define XLEAN_STUB_GMP_H
#include "mini-gmp.h"
#endif
