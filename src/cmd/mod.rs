//! One module per subcommand.
pub mod partition;
pub mod schema;
