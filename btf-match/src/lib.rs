//! `btf-match`: part of btfkit, to be filled by a later issue. It builds on the [`btf`] core crate.
