//! Tests on the fixture tree `tests/fixtures/lean4-mini` (added with the fixture).
