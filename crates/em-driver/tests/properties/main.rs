//! Every property test of em-driver (`cargo test -p em-driver --test
//! properties`; `cargo xtask props` runs those of the whole workspace).

#[path = "../common/mod.rs"]
mod common;
mod model_files;
mod models;
