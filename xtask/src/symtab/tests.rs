//! Tests with the real toolchain (emcc, emar, node).
