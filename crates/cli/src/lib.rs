//! The guanxi command line: configuration and the demo data generator, shared by the binary
//! and the benchmarks.

pub mod seed;
