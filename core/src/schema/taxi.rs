//! The course's taxi ride schemas (namespace `com.datatalksclub.taxi`) and their evolutions,
//! the default example everywhere. The `.avsc` files live in `scenarios/schemas/`.
use serde::Serialize;

/// Topic the course produces rides to.
pub const TOPIC: &str = "rides";

pub const RIDE_KEY: &str = include_str!("../../../scenarios/schemas/ride_key.avsc");
pub const RIDE_VALUE_V1: &str = include_str!("../../../scenarios/schemas/ride_value_v1.avsc");
/// Adds `tip_amount` with a default: FULL compatible with v1.
pub const RIDE_VALUE_V2_ADD_TIP_AMOUNT: &str =
    include_str!("../../../scenarios/schemas/ride_value_v2_add_tip_amount.avsc");
/// `total_amount` float -> string: incompatible at every level but NONE.
pub const RIDE_VALUE_V2_TOTAL_AMOUNT_STRING: &str =
    include_str!("../../../scenarios/schemas/ride_value_v2_total_amount_string.avsc");
/// Adds `pickup_location_id` without a default: FORWARD compatible, not BACKWARD.
pub const RIDE_VALUE_V2_ADD_PICKUP_LOCATION: &str =
    include_str!("../../../scenarios/schemas/ride_value_v2_add_pickup_location.avsc");
/// Drops `payment_type`: BACKWARD compatible, not FORWARD (so not FULL).
pub const RIDE_VALUE_V2_DROP_PAYMENT_TYPE: &str =
    include_str!("../../../scenarios/schemas/ride_value_v2_drop_payment_type.avsc");
/// `passenger_count` int -> long: BACKWARD compatible (promotion), not FORWARD.
pub const RIDE_VALUE_V2_PASSENGER_COUNT_LONG: &str =
    include_str!("../../../scenarios/schemas/ride_value_v2_passenger_count_long.avsc");
/// Transitive trap step 2: adds `congestion_surcharge` with a default.
pub const RIDE_VALUE_V2_CONGESTION_SURCHARGE: &str =
    include_str!("../../../scenarios/schemas/ride_value_v2_congestion_surcharge.avsc");
/// Transitive trap step 3: `congestion_surcharge` without default. BACKWARD accepts it after
/// v2, BACKWARD_TRANSITIVE refuses it (cannot read v1).
pub const RIDE_VALUE_V3_CONGESTION_SURCHARGE_REQUIRED: &str =
    include_str!("../../../scenarios/schemas/ride_value_v3_congestion_surcharge_required.avsc");

/// A ride as the course's producer sends it (v1 value, JSON).
pub const SAMPLE_RIDE_VALUE: &str =
    r#"{"vendor_id": 2, "passenger_count": 1, "trip_distance": 1.72, "payment_type": 1, "total_amount": 17.8}"#;
/// The key of [`SAMPLE_RIDE_VALUE`].
pub const SAMPLE_RIDE_KEY: &str = r#"{"vendor_id": 2}"#;

/// One example schema with what it teaches.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ExampleSchema {
    /// Short id, also the file stem in `scenarios/schemas/`.
    pub name: &'static str,
    pub text: &'static str,
    pub lesson: &'static str,
}

/// All taxi example schemas, key first, then value v1 and its evolutions.
pub const EXAMPLES: [ExampleSchema; 9] = [
    ExampleSchema { name: "ride_key", text: RIDE_KEY, lesson: "the key schema: {vendor_id: int}" },
    ExampleSchema { name: "ride_value_v1", text: RIDE_VALUE_V1, lesson: "the value schema the course starts with" },
    ExampleSchema {
        name: "ride_value_v2_add_tip_amount",
        text: RIDE_VALUE_V2_ADD_TIP_AMOUNT,
        lesson: "adding a field with a default is BACKWARD, FORWARD and FULL compatible",
    },
    ExampleSchema {
        name: "ride_value_v2_total_amount_string",
        text: RIDE_VALUE_V2_TOTAL_AMOUNT_STRING,
        lesson: "float -> string is no promotion: the registry refuses it (409)",
    },
    ExampleSchema {
        name: "ride_value_v2_add_pickup_location",
        text: RIDE_VALUE_V2_ADD_PICKUP_LOCATION,
        lesson: "a new field without default: FORWARD compatible only",
    },
    ExampleSchema {
        name: "ride_value_v2_drop_payment_type",
        text: RIDE_VALUE_V2_DROP_PAYMENT_TYPE,
        lesson: "dropping a field without default: BACKWARD compatible only",
    },
    ExampleSchema {
        name: "ride_value_v2_passenger_count_long",
        text: RIDE_VALUE_V2_PASSENGER_COUNT_LONG,
        lesson: "int -> long is a promotion: BACKWARD compatible, not FORWARD",
    },
    ExampleSchema {
        name: "ride_value_v2_congestion_surcharge",
        text: RIDE_VALUE_V2_CONGESTION_SURCHARGE,
        lesson: "transitive trap, step 2: a new field with a default",
    },
    ExampleSchema {
        name: "ride_value_v3_congestion_surcharge_required",
        text: RIDE_VALUE_V3_CONGESTION_SURCHARGE_REQUIRED,
        lesson: "transitive trap, step 3: BACKWARD accepts, BACKWARD_TRANSITIVE refuses",
    },
];

/// The example schema with this name.
pub fn example(name: &str) -> Option<&'static ExampleSchema> {
    EXAMPLES.iter().find(|e| e.name == name)
}
