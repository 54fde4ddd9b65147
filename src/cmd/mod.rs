//! One module per subcommand.
pub mod partition;
