//! `btf-dedup`.
