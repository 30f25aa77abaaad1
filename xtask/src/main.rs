//! `cargo xtask`: the project's chores, in Rust instead of shell scripts.
//!
//! - `deps`: install the host packages liveboot and its tests need (Debian 12, apt-get).
//! - `test`: `deps`, then the whole test suite (what CI and the README run).
//! - `run`: the main job on the default recipe (what the README's first command runs).
//! - `bench seeds|squashfs|dnf|remaster|serve|kiwi`: a table against the peer tool, measured in one run.
//! - `completions DIR` / `man DIR`: shell completions and the man page.

mod bench;
mod deps;
mod dnf_bench;
mod e2e;
mod fuzz;
mod kiwi_bench;
mod remaster_bench;
mod serve_bench;
mod squashfs;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Xtask {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install the host packages the project needs (idempotent; quick when all is there).
    Deps,
    /// Install what is needed, then run the whole test suite.
    Test {
        /// Extra arguments for `cargo test`.
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// The slow end-to-end tests: builds from scratch, QEMU boots (BIOS, UEFI, Secure Boot, USB;
    /// live-boot and dracut), the cache, reproducibility, interrupted builds, a virtual server
    /// booted through Redfish. CI's selection, or the whole matrix with --all. Needs root.
    E2e {
        /// Only the tests whose names contain this (run one after the other).
        filter: Option<String>,
        /// The whole matrix, not CI's selection (every boot of every medium and family).
        #[arg(long)]
        all: bool,
    },
    /// Build a recipe's image: the same as `liveboot build RECIPE`, with the host packages installed first.
    BuildImage {
        /// Recipe name.
        recipe: String,
        /// More arguments of `liveboot build` (--mirror URL, --json ...).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The main job on the default recipe: build debian12, boot it in QEMU, SSH in.
    Run {
        /// Recipe to plan.
        #[arg(default_value = "debian12")]
        recipe: String,
    },
    /// Fuzz every parser (recipe and inventory YAML, SSH keys, ISO reader, `serve`, Redfish
    /// client) for --seconds each, on the stable toolchain; fails on a panic, a slow input or a
    /// process that dies.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Only the targets whose names contain this.
        target: Option<String>,
    },
    /// Benchmarks against the peer tools, printed as a table.
    Bench {
        #[command(subcommand)]
        what: bench::Bench,
    },
    /// Internal: one writer of `bench squashfs`, in its own process.
    #[command(hide = true)]
    BenchSquashfsChild { writer: String, tree: PathBuf, out: PathBuf, level: u32 },
    /// Write shell completions (bash, zsh, fish, elvish, powershell) into DIR.
    Completions { dir: PathBuf },
    /// Write the man pages into DIR.
    Man { dir: PathBuf },
}

/// The workspace root (xtask's parent folder).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Runs a command in the workspace root, failing with its status.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: {cmd:?}");
    let status = cmd.current_dir(root()).status().with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// Prints a line; a closed pipe (`cargo xtask man DIR | head`) is not an error worth a panic.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Builds the liveboot binary (release) and returns its path.
pub fn release_liveboot() -> Result<PathBuf> {
    run(cargo().args(["build", "--quiet", "--release", "--locked", "-p", "liveboot"]))?;
    Ok(root().join("target/release/liveboot"))
}

fn main() -> Result<()> {
    match Xtask::parse().task {
        Task::Deps => deps::install(),
        Task::Test { args } => {
            deps::install()?;
            run(cargo().args(["test", "--workspace", "--locked"]).args(args))
        }
        Task::E2e { filter, all } => e2e::e2e(filter, all),
        Task::BuildImage { recipe, args } => {
            deps::install()?;
            let bin = release_liveboot()?;
            // liveboot's own exit status and message, nothing added.
            let status = Command::new(bin).args(["build", &recipe]).args(&args).current_dir(root()).status()?;
            std::process::exit(status.code().unwrap_or(1));
        }
        Task::Run { recipe } => {
            deps::install()?;
            let bin = release_liveboot()?;
            run(Command::new(&bin).args(["build", &recipe]))?;
            run(Command::new(&bin).args(["try", &recipe]))
        }
        Task::Fuzz { seconds, target } => fuzz::fuzz(seconds, target.as_deref()),
        Task::Bench { what } => bench::run(what),
        Task::BenchSquashfsChild { writer, tree, out, level } => squashfs::child(&writer, &tree, &out, level),
        Task::Completions { dir } => {
            std::fs::create_dir_all(&dir)?;
            for shell in [
                clap_complete::Shell::Bash,
                clap_complete::Shell::Zsh,
                clap_complete::Shell::Fish,
                clap_complete::Shell::Elvish,
                clap_complete::Shell::PowerShell,
            ] {
                let path = clap_complete::generate_to(shell, &mut liveboot::command(), "liveboot", &dir)?;
                println!("{}", path.display());
            }
            Ok(())
        }
        Task::Man { dir } => {
            std::fs::create_dir_all(&dir)?;
            clap_mangen::generate_to(liveboot::command(), &dir)?;
            for e in std::fs::read_dir(&dir)? {
                say(&e?.path().display().to_string());
            }
            Ok(())
        }
    }
}
