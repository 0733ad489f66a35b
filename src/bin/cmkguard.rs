//! The `cmkguard` command line (see `cmkguard::cli`).

use clap::Parser;

fn main() {
    let cli = cmkguard::cli::Cli::parse();
    std::process::exit(cmkguard::cli::run(cli));
}
