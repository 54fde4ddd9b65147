#![no_main]
//! Any text as an Avro schema, and any bytes decoded with the course's ride schema as writer
//! and reader: errors, never panics (deeply nested or huge input included).
use libfuzzer_sys::fuzz_target;
use sandbox_core::schema::{deserialize, taxi, AvroSchema};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(schema) = AvroSchema::parse(text) {
            let _ = schema.canonical();
        }
    }
    if let Ok(ride) = AvroSchema::parse(taxi::RIDE_VALUE_V1) {
        let reader = AvroSchema::parse(taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT).ok();
        let _ = deserialize(data, reader.as_ref(), |_| Some(&ride));
    }
});
