//! Structural diff of two BTFs (to be written).
