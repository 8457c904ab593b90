//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// warp: reach people and machines by name and key, and move data between them.
#[derive(Debug, Parser)]
#[command(name = "warp", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read Recon and print it back: compact (default), --pretty, or --json.
    ///
    /// Handy to check a file or to read a WARP frame. Exits 1 with `file:line:col: message`
    /// on bad input.
    Recon(ReconArgs),
}

/// Options of `warp recon`.
#[derive(Debug, Args)]
pub struct ReconArgs {
    /// The file to read; standard input when absent or `-`.
    pub file: Option<PathBuf>,
    /// Indent records that do not fit on a line (with --json: indented JSON).
    #[arg(long)]
    pub pretty: bool,
    /// Print JSON instead of Recon (the mapping is in docs/recon.md).
    #[arg(long)]
    pub json: bool,
}
