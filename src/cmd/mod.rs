//! One module per subcommand.
pub mod assign;
pub mod bench;
pub mod check;
pub mod configs;
pub mod export;
pub mod ksql;
pub mod lesson;
pub mod partition;
pub mod replay;
pub mod run;
pub mod schema;
pub mod streams;
pub mod sweep;
