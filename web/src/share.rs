//! Share links live in the core (`sandbox_core::share`) so the fragment parser is fuzzed and
//! tested natively; the app uses them from here.
pub use sandbox_core::share::*;
