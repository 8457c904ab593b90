//! `warp`: one binary that runs a node and talks to it.

use warp::cli::{flow, gate, map, offers, peers, ping, recon, speed, status};
use warp::{cli, home, identity, node};

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    if !matches!(args.command, cli::Command::Node(_)) {
        // A command whose output goes to a closed pipe (`warp offers | head`) ends
        // quietly, as cat and grep do, instead of panicking on the failed print. The node
        // keeps Rust's default (ignored), as it writes to sockets whose peers may vanish.
        // SAFETY: setting a signal's disposition to the default; no handler runs.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match args.command {
        cli::Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut cli::Cli::command(),
                "warp",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        cli::Command::Man => {
            use clap::CommandFactory;
            match clap_mangen::Man::new(cli::Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("warp: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        cli::Command::Recon(opts) => recon::run(&opts),
        cli::Command::Id { json } => with_home(|dir| {
            let id =
                identity::Identity::load_or_create(&dir).map_err(|e| format!("identity: {e}"))?;
            match json {
                true => println!("{}", serde_json::json!({ "id": id.peer_id().to_string() })),
                false => println!("{}", id.peer_id()),
            }
            Ok(ExitCode::SUCCESS)
        }),
        cli::Command::Page { print } => {
            with_home(|dir| runtime()?.block_on(cli::page::run(&dir, print)))
        }
        cli::Command::Status { json } => {
            with_home(|dir| runtime()?.block_on(status::run(&dir, json)))
        }
        cli::Command::Map(opts) => with_home(|dir| {
            logs();
            node_runtime(None)?.block_on(map::run(&dir, opts))
        }),
        cli::Command::Node(opts) => with_home(|dir| {
            logs();
            let config = opts.config.unwrap_or_else(|| dir.join("warp.toml"));
            // The file's [node] settings, under the flags. A file that does not parse is
            // reported by the node, which keeps the hub closed; its settings are not used.
            let file = match std::fs::metadata(&config) {
                Ok(_) => warp::config::load(&config)
                    .map(|c| c.node)
                    .unwrap_or_default(),
                Err(_) => Default::default(),
            };
            let in_file =
                |what: &str, e: String| format!("{} [node] {what}: {e}", config.display());
            let api = match (opts.api, &file.api) {
                (Some(a), _) => a.0,
                (None, Some(s)) => cli::parse_api(s).map_err(|e| in_file("api", e))?.0,
                (None, None) => Some(node::DEFAULT_API),
            };
            let ws = match (opts.ws, &file.ws) {
                (Some(a), _) => a.0,
                (None, Some(s)) => cli::parse_ws(s).map_err(|e| in_file("ws", e))?.0,
                (None, None) => warp::links::DEFAULT_ADDR.parse().ok(),
            };
            let listen = opts.listen.or(file.listen).unwrap_or(node::DEFAULT_LISTEN);
            let incoming = opts
                .incoming
                .or(file.incoming)
                .unwrap_or_else(|| dir.join("incoming"));
            node_runtime(opts.threads.or(file.threads))?
                .block_on(node::run(
                    dir,
                    node::NodeOptions {
                        listen,
                        impair: opts.impair,
                        interfaces: match opts.interfaces.is_empty() {
                            true => file.interfaces.clone(),
                            false => opts.interfaces,
                        },
                        config,
                        incoming,
                        api,
                        ws,
                        ws_public: opts.ws_public || file.ws_public.unwrap_or(false),
                        unknown: opts.unknown,
                        lan: !opts.no_lan && file.lan.unwrap_or(true),
                        maps: opts.maps,
                    },
                ))
                .map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }),
        cli::Command::Peers(opts) => with_home(|dir| runtime()?.block_on(peers::run(&dir, opts))),
        cli::Command::Speed(opts) => with_home(|dir| runtime()?.block_on(speed::run(&dir, opts))),
        // Sharing and accepting may run a node of their own (when none runs), on the
        // node's runtime.
        cli::Command::Share(opts) => {
            with_home(|dir| node_runtime(None)?.block_on(offers::share(&dir, opts)))
        }
        cli::Command::Receive(opts) => {
            with_home(|dir| node_runtime(None)?.block_on(offers::receive(&dir, opts)))
        }
        cli::Command::Offers(opts) => {
            with_home(|dir| node_runtime(None)?.block_on(offers::run(&dir, opts)))
        }
        cli::Command::Flow(opts) => with_home(|dir| runtime()?.block_on(flow::run(&dir, opts))),
        cli::Command::Gate(opts) => with_home(|dir| runtime()?.block_on(gate::run(&dir, opts))),
        cli::Command::Ping(opts) => with_home(|dir| runtime()?.block_on(ping::run(&dir, opts))),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))
}

/// The node's runtime: `threads` workers, by default half the machine's cores (at least
/// one). On a 2-core machine one worker carried 1.3–1.6× the bytes of two through the
/// tunnel and a gate, because every hand-off between workers costs a wake-up, and the
/// node shares the cores with the applications it serves (docs/benchmarks.md).
fn node_runtime(threads: Option<usize>) -> Result<tokio::runtime::Runtime, String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.unwrap_or(cores / 2).max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))
}

/// Logs to standard error, `info` unless `RUST_LOG` says otherwise.
fn logs() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,quinn=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Runs a command that needs the data directory; prints its error and exits 2 on failure.
fn with_home(f: impl FnOnce(std::path::PathBuf) -> Result<ExitCode, String>) -> ExitCode {
    let result = home::data_dir()
        .map_err(|e| format!("data directory: {e}"))
        .and_then(f);
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("warp: {e}");
            ExitCode::from(2)
        }
    }
}
