//! `rotdiag --generate man|complete-SHELL`: the man page and the shell completions, generated
//! from the clap definition of the command line (as ripgrep does), so they never drift from it.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Args, Generate};

/// Writes what `kind` asks for to `out`.
pub fn write(kind: Generate, out: &mut dyn Write) -> io::Result<()> {
    let mut cmd = Args::command();
    let shell = match kind {
        Generate::Man => return clap_mangen::Man::new(cmd).render(out),
        Generate::CompleteBash => Shell::Bash,
        Generate::CompleteZsh => Shell::Zsh,
        Generate::CompleteFish => Shell::Fish,
        Generate::CompletePowershell => Shell::PowerShell,
        Generate::CompleteElvish => Shell::Elvish,
    };
    clap_complete::generate(shell, &mut cmd, "rotdiag", out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_generates_something_that_names_the_options() {
        for kind in [
            Generate::Man,
            Generate::CompleteBash,
            Generate::CompleteZsh,
            Generate::CompleteFish,
            Generate::CompletePowershell,
            Generate::CompleteElvish,
        ] {
            let mut out = Vec::new();
            write(kind, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("timeline"), "{kind:?}");
            assert!(
                text.contains("fail-on") || text.contains("fail\\-on"),
                "{kind:?}"
            );
        }
    }
}
