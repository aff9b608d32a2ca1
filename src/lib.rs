//! runner: a config-driven experiment runner for denoising autoencoders.
//!
//! The crate is split by concept so that a reader finds a behaviour by its name:
//! `config` (parse, validate, expand), `data` (datasets and their sources),
//! `model` (the autoencoder and its optimizer on dfdx), `train` (one run),
//! `schedule` (many runs), `report` (CSV, PNG, plots); `kernels` holds the hand-written
//! CPU kernels the model and the noise run on.

pub mod app;
pub mod cli;
pub mod config;
pub mod data;
pub mod device;
pub mod error;
pub mod kernels;
pub mod layout;
pub mod model;
pub mod report;
pub mod schedule;
pub mod search;
pub mod signals;
pub mod train;
pub mod verify;
