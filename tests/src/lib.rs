//! Shared helpers for btfkit's integration tests.
