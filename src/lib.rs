//! SecretZero: declare a project's secrets in a Secretfile, generate them, write them to every
//! target, and record what was done in a lockfile that holds hashes, never values.
//!
//! Data flows one way: load the Secretfile, render and validate it, plan against the lockfile
//! and the targets, apply, save the lockfile, report. Nothing below `engine` prints.

pub mod api;
pub mod cli;
pub mod drift;
pub mod engine;
pub mod generate;
pub mod git;
pub mod lockfile;
pub mod migrate;
pub mod policy;
pub mod provider;
pub mod report;
pub mod rotation;
pub mod secretfile;
pub mod target;
