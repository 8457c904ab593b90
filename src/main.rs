//! `warp`: one binary that runs a node and talks to it.

mod cli;
mod recon_cmd;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match args.command {
        cli::Command::Recon(opts) => recon_cmd::run(&opts),
    }
}
