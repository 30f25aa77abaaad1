use clap::Parser;

fn main() {
    let cli = liveboot::Cli::parse();
    if let Err(f) = liveboot::run(cli) {
        eprintln!("error: {}", f.message);
        std::process::exit(f.code);
    }
}
