//! The library part of the `emfit` program's crate: its small SVG plotting
//! module, shared by the program (`emfit demo --plots`) and the workspace's
//! benchmark tools (the scaling plot). The program itself is `src/main.rs`.

pub mod plot;
