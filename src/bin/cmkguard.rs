//! The `cmkguard` command line (see `cmkguard::cli`).

use clap::Parser;

fn main() {
    let cli = cmkguard::commands::Cli::parse();
    std::process::exit(cmkguard::commands::run(cli));
}
