//! `kafka-sandbox schema`: Avro compatibility checks and the Confluent wire format.
use crate::cli::{read_input, CliError, CliResult};
use sandbox_core::schema::{self, annotate, check_request, limits, AvroSchema, CheckOutcome, SchemaError};
use serde_json::{json, Value as Json};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Check schema compatibility the way Avro Java and the Confluent registry do.
    ///
    /// Input (a file, or - for standard input) is either
    ///   {"reader": <schema>, "writer": <schema>}
    /// which prints
    ///   {"compatible": bool, "incompatibilities": [{"type", "location", "message"}]}
    /// (Avro's SchemaCompatibility: can the reader read the writer's data?), or
    ///   {"level": "<LEVEL>", "previous": [<schema>, ... oldest first], "candidate": <schema>}
    /// which prints
    ///   {"compatible": bool, "messages": [...]}
    /// as the registry answers a registration (non-transitive levels compare with the latest
    /// version only; LEVEL is NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD,
    /// FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE).
    /// A schema is a JSON schema, or a string holding schema text.
    ///
    /// Exit codes: 0 when a verdict was computed, compatible or not (add
    /// --fail-on-incompatible to exit 1 on an incompatible verdict); 2 when the input or a
    /// schema is invalid (the message names the location, e.g. /candidate/fields/2/type).
    #[command(verbatim_doc_comment)]
    Check {
        /// The request file, or - for standard input.
        #[arg(long)]
        input: String,
        /// Exit 1 when the verdict is "incompatible" (for scripts and CI).
        #[arg(long)]
        fail_on_incompatible: bool,
    },
    /// Encode one JSON value with a schema into Confluent's wire format, printed in hex with
    /// a label for every byte range.
    ///
    /// Unions take {"<branch type>": value}, null, or a bare value; bytes are strings of
    /// characters U+0000..U+00FF. Exit 2 when the schema or value is invalid.
    Encode {
        /// The Avro schema file (.avsc).
        #[arg(long)]
        schema: String,
        /// The schema id written after the magic byte.
        #[arg(long, default_value_t = 1)]
        id: u32,
        /// The value as JSON text.
        #[arg(long, conflicts_with = "value_file")]
        value: Option<String>,
        /// A file holding the value as JSON (- for standard input).
        #[arg(long)]
        value_file: Option<String>,
    },
    /// Decode Confluent wire bytes (hex) with the writer schema, optionally reading them
    /// through another reader schema (defaults filled in, promotions applied).
    ///
    /// Exit 2 when the bytes are malformed or the reader cannot read them (the message names
    /// the byte offset and the field).
    Decode {
        /// The writer's schema file (used for whatever schema id the header carries).
        #[arg(long)]
        schema: String,
        /// A reader schema file (the consumer's schema).
        #[arg(long)]
        reader: Option<String>,
        /// The message bytes in hex (spaces and colons allowed).
        #[arg(long)]
        hex: String,
    },
}

pub fn run(args: Args) -> CliResult {
    match args.action {
        Action::Check { input, fail_on_incompatible } => check(&input, fail_on_incompatible),
        Action::Encode { schema, id, value, value_file } => encode(&schema, id, value, value_file),
        Action::Decode { schema, reader, hex } => decode(&schema, reader.as_deref(), &hex),
    }
}

fn bad_schema(file: &str, e: &SchemaError) -> CliError {
    CliError::BadInput(format!("{file}: {}: {}", e.location, e.message))
}

fn load_schema(path: &str) -> Result<AvroSchema, CliError> {
    let text = read_input(path)?;
    AvroSchema::parse(&text).map_err(|e| bad_schema(path, &e))
}

fn check(input: &str, fail_on_incompatible: bool) -> CliResult {
    let text = read_input(input)?;
    if text.len() > 16 * limits::MAX_SCHEMA_TEXT_BYTES {
        return Err(CliError::BadInput(format!("{input}: {} bytes is more than a check request may hold", text.len())));
    }
    // The request nests schemas one or two levels deep; keep the same depth rule.
    let json: Json = serde_json::from_str(&text).map_err(|e| {
        CliError::BadInput(format!("{input}: line {} column {}: not valid JSON: {e}", e.line(), e.column()))
    })?;
    let outcome = check_request(&json).map_err(|e| bad_schema(input, &e))?;
    let compatible = match &outcome {
        CheckOutcome::ReaderWriter(r) => r.compatible,
        CheckOutcome::Level(l) => l.compatible,
    };
    crate::cli::print_json(&outcome)?;
    if fail_on_incompatible && !compatible {
        return Err(CliError::CheckFailed(String::new()));
    }
    Ok(())
}

fn encode(schema_path: &str, id: u32, value: Option<String>, value_file: Option<String>) -> CliResult {
    let schema = load_schema(schema_path)?;
    let (origin, text) = match (value, value_file) {
        (Some(text), None) => ("--value".to_string(), text),
        (None, Some(path)) => (path.clone(), read_input(&path)?),
        _ => return Err(CliError::BadInput("give the value with --value JSON or --value-file FILE".into())),
    };
    if text.len() > limits::MAX_VALUE_TEXT_BYTES {
        return Err(CliError::BadInput(format!(
            "{origin}: value is {} bytes; the limit is {}",
            text.len(),
            limits::MAX_VALUE_TEXT_BYTES
        )));
    }
    let json: Json = serde_json::from_str(&text).map_err(|e| {
        CliError::BadInput(format!("{origin}: line {} column {}: not valid JSON: {e}", e.line(), e.column()))
    })?;
    let bytes = schema::serialize(&schema, id, &json).map_err(|e| {
        let path = if e.path.is_empty() { "/" } else { &e.path };
        CliError::BadInput(format!("{origin}: {path}: {}", e.message))
    })?;
    let annotation = annotate(&bytes, |_| Some(&schema));
    crate::cli::print_json(&json!({
        "schema_id": id,
        "hex": to_hex(&bytes),
        "length": bytes.len(),
        "spans": annotation.spans,
    }))
}

fn decode(schema_path: &str, reader_path: Option<&str>, hex: &str) -> CliResult {
    let writer = load_schema(schema_path)?;
    let reader = reader_path.map(load_schema).transpose()?;
    let bytes = parse_hex(hex)?;
    let decoded = schema::deserialize(&bytes, reader.as_ref(), |_| Some(&writer))
        .map_err(|e| CliError::BadInput(format!("--hex: {e}")))?;
    let shown = reader.as_ref().unwrap_or(&writer);
    let annotation = annotate(&bytes, |_| Some(&writer));
    crate::cli::print_json(&json!({
        "schema_id": decoded.schema_id,
        "value": shown.value_to_json(&decoded.value),
        "spans": annotation.spans,
    }))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

fn parse_hex(text: &str) -> Result<Vec<u8>, CliError> {
    let text = text.trim();
    let text = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    let digits: Vec<char> = text.chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
    if digits.len() > 2 * limits::MAX_MESSAGE_BYTES {
        return Err(CliError::BadInput(format!("--hex: more than {} bytes", limits::MAX_MESSAGE_BYTES)));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(CliError::BadInput(format!("--hex: odd number of hex digits ({})", digits.len())));
    }
    digits
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            let s: String = pair.iter().collect();
            u8::from_str_radix(&s, 16).map_err(|_| CliError::BadInput(format!("--hex: '{s}' (byte {i}) is not hex")))
        })
        .collect()
}
