//! Benchmarks printed as tables against the peer tool, measured in the same run.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use liveboot_publish::write_batch;
use liveboot_seed::{seed_file_name, Seed, SeedRenderer};

#[derive(Subcommand)]
pub enum Bench {
    /// NoCloud seed images per second: liveboot in-process against cloud-localds.
    Seeds {
        /// Seeds liveboot writes (per variant).
        #[arg(long, default_value_t = 3000)]
        count: usize,
        /// Seeds cloud-localds writes (it starts a shell script and genisoimage per seed).
        #[arg(long, default_value_t = 150)]
        peer_count: usize,
        /// Folder both tools write into. Default: /dev/shm (tmpfs), so that the table measures
        /// the tools rather than the disk; on this project's VMs creating a file on ext4 costs
        /// about 1.5 ms whatever writes it.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// squashfs writers on one root filesystem: time, size, peak memory, xattrs.
    Squashfs {
        /// The tree to compress [default: the newest customized root in the stage cache].
        #[arg(long, value_name = "DIR")]
        tree: Option<std::path::PathBuf>,
        /// zstd level.
        #[arg(long, default_value_t = 3)]
        level: u32,
    },
    /// The package step of a kickstart build against `dnf --installroot` by hand, same repository.
    Dnf {
        /// Measured rounds (after one that warms the package cache), alternating who goes first.
        #[arg(long, default_value_t = 4)]
        rounds: usize,
    },
    /// Remastering an ISO: `liveboot remaster --kernel-args` against xorriso's replay by hand.
    Remaster {
        /// Size of the ISO in MiB.
        #[arg(long, default_value_t = 300)]
        size_mib: usize,
        /// Measured rounds per tool (alternating who goes first).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// The Debian KIWI description built by liveboot and by kiwi-ng itself: cold, and a rebuild
    /// with one package added (about 45 minutes: kiwi-ng's two builds dominate).
    Kiwi,
    /// HTTP throughput: `liveboot serve` against nginx, 32 concurrent Range readers (as BMCs read ISOs).
    Serve {
        /// Size of the served file in MiB.
        #[arg(long, default_value_t = 512)]
        size_mib: u64,
        /// Size of each Range request in KiB.
        #[arg(long, default_value_t = 1024)]
        chunk_kib: u64,
        /// Concurrent readers.
        #[arg(long, default_value_t = 32)]
        readers: usize,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 5)]
        secs: u64,
        /// Measurements per server (alternating).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
}

pub fn run(what: Bench) -> Result<()> {
    if cfg!(debug_assertions) {
        // Measure optimised code: run this same command from a release build of xtask.
        let args: Vec<String> = std::env::args().skip(1).collect();
        return crate::run(
            std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["run", "--quiet", "--release", "--locked", "-p", "xtask", "--"])
                .args(args),
        );
    }
    crate::deps::install()?;
    match what {
        Bench::Seeds { count, peer_count, dir } => seeds(count, peer_count, dir),
        Bench::Squashfs { tree, level } => crate::squashfs::bench(tree, level),
        Bench::Dnf { rounds } => crate::dnf_bench::bench(rounds),
        Bench::Remaster { size_mib, rounds } => crate::remaster_bench::bench(size_mib, rounds),
        Bench::Kiwi => crate::kiwi_bench::bench(),
        Bench::Serve { size_mib, chunk_kib, readers, secs, rounds } => {
            crate::serve_bench::bench(size_mib, chunk_kib, readers, secs, rounds)
        }
    }
}

struct Row {
    tool: &'static str,
    what: &'static str,
    seeds: usize,
    time: Duration,
}

fn seeds(count: usize, peer_count: usize, dir: Option<std::path::PathBuf>) -> Result<()> {
    let root = crate::root();
    let inv = liveboot_inventory::load(&root.join("examples/inventory.yaml")).map_err(|d| anyhow::anyhow!("{d}"))?;
    let renderer = SeedRenderer::new(&root.join("templates")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let nodes: Vec<String> = inv.slices.values().flat_map(|s| s.nodes.clone()).collect();
    let dir = dir.unwrap_or_else(|| if Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() });
    let work = tempfile::tempdir_in(&dir).with_context(|| format!("cannot make a folder in {}", dir.display()))?;
    let fs = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(&dir)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("seeds written to {} ({fs}); inputs: the {} nodes of examples/inventory.yaml, in turn", dir.display(), nodes.len());

    // The same inputs for both tools: each example node's rendered files, on disk.
    let mut inputs = Vec::new();
    for n in &nodes {
        let seed = renderer.render_node(&inv, n).map_err(|e| anyhow::anyhow!("{e}"))?;
        let dir = work.path().join("in").join(n);
        std::fs::create_dir_all(&dir)?;
        for (name, data) in seed.files() {
            std::fs::write(dir.join(name), data)?;
        }
        inputs.push((n.clone(), dir));
    }

    let mut rows = Vec::new();

    // cloud-localds, one process per seed as people use it.
    let out = work.path().join("localds");
    std::fs::create_dir_all(&out)?;
    let start = Instant::now();
    for i in 0..peer_count {
        let (n, dir) = &inputs[i % inputs.len()];
        let mut cmd = Command::new("cloud-localds");
        if dir.join("network-config").exists() {
            cmd.arg("-N").arg(dir.join("network-config"));
        }
        if dir.join("vendor-data").exists() {
            cmd.arg("-V").arg(dir.join("vendor-data"));
        }
        let status = cmd
            .arg(out.join(format!("{i}-{n}.iso")))
            .arg(dir.join("user-data"))
            .arg(dir.join("meta-data"))
            .status()
            .context("cannot run cloud-localds")?;
        if !status.success() {
            bail!("cloud-localds failed: {status}");
        }
    }
    rows.push(Row { tool: "cloud-localds", what: "files -> ISO on disk", seeds: peer_count, time: start.elapsed() });

    // liveboot from the same files: read, build the ISO in-process, write as `liveboot seed` does
    // (temporary files, one flush, renames).
    let out = work.path().join("liveboot-files");
    std::fs::create_dir_all(&out)?;
    let start = Instant::now();
    let mut batch = Vec::with_capacity(count);
    for i in 0..count {
        let (n, dir) = &inputs[i % inputs.len()];
        let seed = seed_from_files(n, dir)?;
        batch.push((out.join(format!("{i}-{}", seed_file_name(n, liveboot_seed::Format::Iso))), seed.to_iso()));
    }
    write_batch(&batch)?;
    rows.push(Row { tool: "liveboot", what: "files -> ISO on disk", seeds: count, time: start.elapsed() });

    // liveboot end to end: render from the inventory and templates, then the same.
    let out = work.path().join("liveboot-render");
    std::fs::create_dir_all(&out)?;
    let start = Instant::now();
    let mut batch = Vec::with_capacity(count);
    for i in 0..count {
        let n = &nodes[i % nodes.len()];
        let seed = renderer.render_node(&inv, n).map_err(|e| anyhow::anyhow!("{e}"))?;
        batch.push((out.join(format!("{i}-{}", seed_file_name(n, liveboot_seed::Format::Iso))), seed.to_iso()));
    }
    write_batch(&batch)?;
    rows.push(Row { tool: "liveboot", what: "render + ISO on disk", seeds: count, time: start.elapsed() });

    let peer = rows[0].seeds as f64 / rows[0].time.as_secs_f64();
    println!("{:<14} {:<22} {:>7} {:>9} {:>10} {:>9}", "tool", "work", "seeds", "seconds", "seeds/s", "vs peer");
    for r in &rows {
        let rate = r.seeds as f64 / r.time.as_secs_f64();
        println!("{:<14} {:<22} {:>7} {:>9.3} {:>10.0} {:>8.1}x", r.tool, r.what, r.seeds, r.time.as_secs_f64(), rate, rate / peer);
    }
    Ok(())
}

fn seed_from_files(node: &str, dir: &Path) -> Result<Seed> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name));
    let meta_data = read("meta-data")?;
    let instance_id = meta_data.lines().next().and_then(|l| l.strip_prefix("instance-id: ")).unwrap_or_default().to_string();
    Ok(Seed {
        node: node.to_string(),
        user_data: read("user-data")?,
        meta_data,
        network_config: read("network-config").ok(),
        vendor_data: read("vendor-data").ok(),
        instance_id,
    })
}
