//! Errors of the schema module. Every error names where it happened.
use serde::{Deserialize, Serialize};
use std::fmt;

/// A schema that is not valid Avro (the registry answers 422 / 42201).
///
/// `location` is a JSON pointer into the schema document (`/fields/2/type`, `/` for the root),
/// or `line L column C` for JSON syntax errors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaError {
    pub location: String,
    pub message: String,
}

impl SchemaError {
    pub(crate) fn at(location: impl Into<String>, message: impl Into<String>) -> Self {
        SchemaError { location: location.into(), message: message.into() }
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for SchemaError {}

/// What went wrong while encoding or decoding a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireErrorKind {
    /// The JSON value does not fit the schema (encoding).
    InvalidValue,
    /// The first byte is not Confluent's magic byte 0.
    UnknownMagicByte,
    /// Fewer than 5 bytes: no room for magic byte and schema id.
    TooShort,
    /// The schema id is not known to the registry / lookup.
    UnknownSchemaId,
    /// The Avro body does not decode with the writer schema (truncated, bad length, bad index).
    Malformed,
    /// Bytes remain after the value was fully decoded.
    TrailingBytes,
    /// A size limit of this module was hit (see `schema::limits`).
    LimitExceeded,
    /// Data written with the writer schema cannot be read with the reader schema.
    Resolution,
}

/// An encoding or decoding error. `path` is a JSON pointer into the value (`/total_amount`),
/// `offset` the byte offset in the message when the error is about bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    pub kind: WireErrorKind,
    pub path: String,
    pub offset: Option<usize>,
    pub message: String,
}

impl WireError {
    pub(crate) fn new(kind: WireErrorKind, path: impl Into<String>, message: impl Into<String>) -> Self {
        WireError { kind, path: path.into(), offset: None, message: message.into() }
    }

    pub(crate) fn at_offset(mut self, offset: usize) -> Self {
        self.offset = Some(offset);
        self
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "/" } else { &self.path };
        match self.offset {
            Some(offset) => write!(f, "{} (value {path}, byte {offset})", self.message),
            None => write!(f, "{} (value {path})", self.message),
        }
    }
}

impl std::error::Error for WireError {}

/// An error answered by the schema registry, with the real registry's HTTP status and
/// `error_code` (Confluent `Errors.java`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryError {
    pub http_status: u16,
    pub error_code: u32,
    pub message: String,
}

impl RegistryError {
    pub const SUBJECT_NOT_FOUND: u32 = 40401;
    pub const VERSION_NOT_FOUND: u32 = 40402;
    pub const SCHEMA_NOT_FOUND: u32 = 40403;
    pub const SUBJECT_SOFT_DELETED: u32 = 40404;
    pub const SUBJECT_NOT_SOFT_DELETED: u32 = 40405;
    pub const VERSION_SOFT_DELETED: u32 = 40406;
    pub const VERSION_NOT_SOFT_DELETED: u32 = 40407;
    pub const INCOMPATIBLE_SCHEMA: u32 = 40901;
    pub const INVALID_SCHEMA: u32 = 42201;
    pub const INVALID_VERSION: u32 = 42202;
    pub const INVALID_COMPATIBILITY_LEVEL: u32 = 42203;

    pub(crate) fn subject_not_found(subject: &str) -> Self {
        RegistryError {
            http_status: 404,
            error_code: Self::SUBJECT_NOT_FOUND,
            message: format!("Subject '{subject}' not found."),
        }
    }

    pub(crate) fn version_not_found(version: impl fmt::Display) -> Self {
        RegistryError {
            http_status: 404,
            error_code: Self::VERSION_NOT_FOUND,
            message: format!("Version {version} not found."),
        }
    }

    pub(crate) fn schema_not_found(id: Option<u32>) -> Self {
        RegistryError {
            http_status: 404,
            error_code: Self::SCHEMA_NOT_FOUND,
            message: match id {
                Some(id) => format!("Schema {id} not found"),
                None => "Schema not found".to_string(),
            },
        }
    }

    pub(crate) fn invalid_schema(err: &SchemaError) -> Self {
        RegistryError {
            http_status: 422,
            error_code: Self::INVALID_SCHEMA,
            message: format!("Invalid schema of type AVRO, details: {err}"),
        }
    }

    pub(crate) fn incompatible(subject: &str, messages: &[String]) -> Self {
        RegistryError {
            http_status: 409,
            error_code: Self::INCOMPATIBLE_SCHEMA,
            message: format!(
                "Schema being registered is incompatible with an earlier schema for subject \
                 \"{subject}\", details: [{}]",
                messages.join(", ")
            ),
        }
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {}, error code {})", self.message, self.http_status, self.error_code)
    }
}

impl std::error::Error for RegistryError {}
