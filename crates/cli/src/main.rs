use clap::Parser;

fn main() {
    let cli = liveboot::Cli::parse();
    if let Err(f) = liveboot::run(cli) {
        use std::io::Write;
        // An empty message: the command has printed its report already (`kickstart check`).
        if !f.message.is_empty() {
            let _ = writeln!(std::io::stderr(), "error: {}", f.message);
        }
        std::process::exit(f.code);
    }
}
