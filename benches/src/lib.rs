//! Criterion benchmarks of the tinymlp kernels live in `benches/`.
