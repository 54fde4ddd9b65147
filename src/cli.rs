//! Shared plumbing for commands: errors with exit codes, input reading, JSON printing.
use std::process::ExitCode;

/// Why a command stopped. Each maps to one exit code.
#[derive(Debug)]
pub enum CliError {
    /// Exit 2: the input was bad (file, JSON, scenario, flag). The message says where.
    BadInput(String),
    /// Exit 1: the run completed but an expectation or invariant failed.
    CheckFailed(String),
}

pub type CliResult = Result<(), CliError>;

pub fn finish(result: CliResult) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::CheckFailed(msg)) => {
            if !msg.is_empty() {
                eprintln!("{msg}");
            }
            ExitCode::from(1)
        }
        Err(CliError::BadInput(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// Reads a file, or standard input when `path` is `-`.
pub fn read_input(path: &str) -> Result<String, CliError> {
    if path == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| CliError::BadInput(format!("<stdin>: {e}")))?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).map_err(|e| CliError::BadInput(format!("{path}: {e}")))
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> CliResult {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::BadInput(format!("cannot encode output as JSON: {e}")))?;
    out(&text);
    Ok(())
}

/// Prints one line on stdout. A closed pipe (`| head`) ends the program quietly, as Unix
/// tools do, instead of panicking.
pub fn out(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{line}").is_err() {
        std::process::exit(0);
    }
}
