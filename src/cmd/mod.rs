//! One module per subcommand.
pub mod check;
pub mod partition;
pub mod run;
