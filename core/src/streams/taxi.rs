//! A seeded generator of synthetic NYC yellow-taxi rides with the course's columns, so the
//! course's Kafka examples run on data we generate ourselves.
//!
//! Distributions (modelled on the TLC yellow-taxi trip records of 2019–2021; rough, but with
//! the right shapes and consistent money columns):
//! - arrivals: a Poisson process, exponential gaps with mean `TaxiConfig::mean_gap_ms`.
//! - `VendorID`: 2 (VeriFone) 62 %, 1 (Creative Mobile) 38 %.
//! - `passenger_count`: 1 71 %, 2 14 %, 3 4 %, 4 2 %, 5 5 %, 6 4 %.
//! - `PULocationID`/`DOLocationID`: one of the 265 TLC zones; 70 % from a weighted list of busy
//!   Manhattan zones and the airports (237, 236, 161, 162, 230, 186, ... JFK 132, LaGuardia
//!   138), 29 % uniform over zones 1–263, 1 % the "Unknown" zones 264/265.
//! - `RatecodeID`: 2 (JFK flat fare) for 60 % of trips touching JFK; otherwise 1 standard
//!   97.5 %, 2 JFK 0.7 %, 5 negotiated 1 %, 3 Newark 0.5 %, 4 Nassau/Westchester 0.3 %.
//! - `trip_distance` (miles): log-normal, median 1.6 mi (sigma 0.75) in town and 11 mi
//!   (sigma 0.35) for airport trips, clamped to 0.1–60, two decimals.
//! - duration: distance over a speed of ~11 mph in town (~20 mph to airports), plus a minute.
//! - `fare_amount`: the meter, $2.50 + $2.50 per mile + $0.50 per slow minute, in 50-cent
//!   steps; $52 flat for JFK; Newark adds $17.50; Nassau doubles the distance part;
//!   negotiated fares are within ±20 % of the meter in whole dollars.
//! - `extra`: $0.50 overnight (20:00–06:00), $1.00 weekday rush (16:00–20:00); $4.50 rush
//!   surcharge on JFK flat fares. `mta_tax` $0.50, `improvement_surcharge` $0.30.
//! - `congestion_surcharge`: $2.50 for trips starting or ending in Manhattan's congestion
//!   zone from 2019-02-01 on, else 0.
//! - `tolls_amount`: $6.12 for 3 % of town trips and 40 % of airport trips.
//! - `payment_type`: 1 card 72 %, 2 cash 26 %, 3 no charge 1 %, 4 dispute 1 %.
//! - `tip_amount`: only recorded for card payments: 5 % tip nothing, else 20 %/25 %/30 % of
//!   the pre-tip total with probability 25 %/15 %/5 %, otherwise 10–22 %; cash tips are 0.
//! - `total_amount` = fare + extra + mta_tax + tip + tolls + improvement + congestion, summed
//!   in cents, so it is exactly consistent with its parts.
//! - `store_and_fwd_flag`: "Y" for 1 % of vendor-1 trips, otherwise "N".
//!
//! All arithmetic that shapes the numbers uses IEEE basic operations and our own `ln`/`exp`
//! (no platform libm), so a seed gives the same rides natively and in WASM.
use super::value::{format_datetime, parse_datetime, Value};
use crate::sim::rng::{SimRng, Stream};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One ride, with the course's column names and order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaxiRide {
    #[serde(rename = "VendorID")]
    pub vendor_id: i64,
    pub tpep_pickup_datetime: String,
    pub tpep_dropoff_datetime: String,
    pub passenger_count: i64,
    pub trip_distance: f64,
    #[serde(rename = "RatecodeID")]
    pub ratecode_id: i64,
    pub store_and_fwd_flag: String,
    #[serde(rename = "PULocationID")]
    pub pu_location_id: i64,
    #[serde(rename = "DOLocationID")]
    pub do_location_id: i64,
    pub payment_type: i64,
    pub fare_amount: f64,
    pub extra: f64,
    pub mta_tax: f64,
    pub tip_amount: f64,
    pub tolls_amount: f64,
    pub improvement_surcharge: f64,
    pub total_amount: f64,
    pub congestion_surcharge: f64,
}

impl TaxiRide {
    /// The pickup time in epoch milliseconds (UTC).
    pub fn pickup_ms(&self) -> i64 {
        parse_datetime(&self.tpep_pickup_datetime).unwrap_or(0)
    }

    /// The ride as a record value (a map of the columns).
    pub fn to_value(&self) -> Value {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        put("VendorID", Value::Int(self.vendor_id));
        put("tpep_pickup_datetime", Value::str(&self.tpep_pickup_datetime));
        put("tpep_dropoff_datetime", Value::str(&self.tpep_dropoff_datetime));
        put("passenger_count", Value::Int(self.passenger_count));
        put("trip_distance", Value::float(self.trip_distance));
        put("RatecodeID", Value::Int(self.ratecode_id));
        put("store_and_fwd_flag", Value::str(&self.store_and_fwd_flag));
        put("PULocationID", Value::Int(self.pu_location_id));
        put("DOLocationID", Value::Int(self.do_location_id));
        put("payment_type", Value::Int(self.payment_type));
        put("fare_amount", Value::float(self.fare_amount));
        put("extra", Value::float(self.extra));
        put("mta_tax", Value::float(self.mta_tax));
        put("tip_amount", Value::float(self.tip_amount));
        put("tolls_amount", Value::float(self.tolls_amount));
        put("improvement_surcharge", Value::float(self.improvement_surcharge));
        put("total_amount", Value::float(self.total_amount));
        put("congestion_surcharge", Value::float(self.congestion_surcharge));
        Value::Map(m)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxiConfig {
    /// Time of the first possible pickup (epoch ms). Default 2021-01-01 00:00:00 UTC.
    pub start_ms: i64,
    /// Mean time between pickups (ms). Default 2000.
    pub mean_gap_ms: i64,
}

impl Default for TaxiConfig {
    fn default() -> TaxiConfig {
        TaxiConfig { start_ms: 1_609_459_200_000, mean_gap_ms: 2000 }
    }
}

/// Zones of Manhattan's busiest pickups (and the airports), with relative weights.
#[rustfmt::skip]
const BUSY_ZONES: &[(i64, u32)] = &[
    (237, 90), (236, 85), (161, 80), (162, 70), (230, 65), (186, 60), (170, 55), (48, 55),
    (234, 55), (142, 50), (239, 50), (163, 48), (68, 45), (79, 45), (107, 42), (141, 40),
    (140, 38), (263, 38), (238, 35), (249, 35), (90, 34), (113, 32), (164, 32), (100, 30),
    (43, 28), (229, 26), (246, 26), (50, 24), (137, 24), (233, 22), (132, 40), (138, 30),
];
const JFK: i64 = 132;
const LAGUARDIA: i64 = 138;
const NEWARK: i64 = 1;
/// 2019-02-01 00:00:00 UTC, when the congestion surcharge started.
const CONGESTION_START_MS: i64 = 1_548_979_200_000;

fn in_congestion_zone(zone: i64) -> bool {
    zone != JFK && zone != LAGUARDIA && BUSY_ZONES.iter().any(|(z, _)| *z == zone)
}

fn is_airport(zone: i64) -> bool {
    zone == JFK || zone == LAGUARDIA || zone == NEWARK
}

/// exp(x) from IEEE basic operations only: reduce by powers of two, then a Taylor series.
pub fn det_exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 700.0 {
        return f64::MAX;
    }
    if x < -700.0 {
        return 0.0;
    }
    const LN2: f64 = std::f64::consts::LN_2;
    let k = (x / LN2).round();
    let r = x - k * LN2;
    let mut term = 1.0;
    let mut sum = 1.0;
    for i in 1..=25 {
        term = term * r / i as f64;
        sum += term;
    }
    let mut scale = 1.0;
    let (step, n) = if k >= 0.0 { (2.0, k as i64) } else { (0.5, -k as i64) };
    for _ in 0..n {
        scale *= step;
    }
    sum * scale
}

/// ln(x) for x > 0 from IEEE basic operations only: split off the binary exponent, then the
/// atanh series of the mantissa.
pub fn det_ln(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let mut m = x;
    let mut e = 0i64;
    while m >= 2.0 {
        m *= 0.5;
        e += 1;
    }
    while m < 1.0 {
        m *= 2.0;
        e -= 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    for i in 0..40 {
        sum += term / (2 * i + 1) as f64;
        term *= s2;
    }
    2.0 * sum + e as f64 * std::f64::consts::LN_2
}

/// Generates rides; an iterator that never ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaxiGenerator {
    rng: SimRng,
    clock_ms: i64,
    config: TaxiConfig,
}

impl TaxiGenerator {
    pub fn new(seed: u64, config: TaxiConfig) -> TaxiGenerator {
        TaxiGenerator { rng: SimRng::new(seed, Stream::Data), clock_ms: config.start_ms, config }
    }

    /// A uniform float in (0, 1).
    fn open_unit(&mut self) -> f64 {
        loop {
            let u = self.rng.unit();
            if u > 0.0 {
                return u;
            }
        }
    }

    /// A standard normal deviate (Marsaglia's polar method).
    fn normal(&mut self) -> f64 {
        loop {
            let u = 2.0 * self.rng.unit() - 1.0;
            let v = 2.0 * self.rng.unit() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * (-2.0 * det_ln(s) / s).sqrt();
            }
        }
    }

    fn pick<T: Copy>(&mut self, table: &[(T, u32)]) -> T {
        let total: u64 = table.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut x = self.rng.below(total.max(1));
        for (v, w) in table {
            let w = u64::from(*w);
            if x < w {
                return *v;
            }
            x -= w;
        }
        table[0].0
    }

    fn zone(&mut self) -> i64 {
        let r = self.rng.below(100);
        if r < 70 {
            self.pick(BUSY_ZONES)
        } else if r < 99 {
            1 + self.rng.below(263) as i64
        } else {
            264 + self.rng.below(2) as i64
        }
    }

    /// The next ride.
    pub fn next_ride(&mut self) -> TaxiRide {
        let gap = -det_ln(self.open_unit()) * self.config.mean_gap_ms as f64;
        self.clock_ms = self.clock_ms.saturating_add(gap.min(1.0e12) as i64);
        let pickup = self.clock_ms;

        let vendor_id = if self.rng.below(100) < 62 { 2 } else { 1 };
        let passenger_count = self.pick(&[(1i64, 71), (2, 14), (3, 4), (4, 2), (5, 5), (6, 4)]);
        let pu = self.zone();
        let mut dz = self.zone();
        let touches_jfk = pu == JFK || dz == JFK;
        let ratecode_id = if touches_jfk && self.rng.below(100) < 60 {
            2
        } else {
            self.pick(&[(1i64, 975), (2, 7), (5, 10), (3, 5), (4, 3)])
        };
        if ratecode_id == 2 && !touches_jfk {
            dz = JFK;
        }
        if ratecode_id == 3 {
            dz = NEWARK;
        }
        let airport = is_airport(pu) || is_airport(dz);

        let (median, sigma) = if airport { (11.0, 0.35) } else { (1.6, 0.75) };
        let miles = det_exp(det_ln(median) + sigma * self.normal()).clamp(0.1, 60.0);
        let distance_hundredths = (miles * 100.0).round() as i64;
        let miles = distance_hundredths as f64 / 100.0;

        let base_speed = if airport { 20.0 } else { 11.0 };
        let mph = (base_speed + 3.0 * self.normal()).max(3.0);
        let duration_s = (miles / mph * 3600.0 + 60.0).round() as i64;
        let dropoff = pickup + duration_s * 1000;
        // Minutes below 12 mph are charged by time on the meter.
        let slow_share = ((12.0 - mph) / 12.0 + 0.2).clamp(0.0, 1.0);
        let slow_minutes = (duration_s as f64 / 60.0 * slow_share).floor() as i64;

        // Money in cents.
        let meter = |miles_cents: i64| -> i64 {
            let raw = 250 + miles_cents + 50 * slow_minutes;
            // The meter moves in 50-cent steps.
            (raw + 49) / 50 * 50
        };
        let distance_part = (distance_hundredths * 250 + 50) / 100;
        let mut fare = match ratecode_id {
            2 => 5200,
            3 => meter(distance_part) + 1750,
            4 => meter(distance_part * 2),
            5 => {
                let factor = 0.8 + 0.4 * self.rng.unit();
                ((meter(distance_part) as f64 * factor / 100.0).round() as i64) * 100
            }
            _ => meter(distance_part),
        };
        fare = fare.max(250);

        let secs_of_day = pickup.rem_euclid(86_400_000) / 1000;
        let hour = secs_of_day / 3600;
        let weekday = (pickup.div_euclid(86_400_000) + 3).rem_euclid(7); // 0 = Monday
        let rush = weekday < 5 && (16..20).contains(&hour);
        let overnight = !(6..20).contains(&hour);
        let extra = if ratecode_id == 2 {
            if rush {
                450
            } else {
                0
            }
        } else if rush {
            100
        } else if overnight {
            50
        } else {
            0
        };
        let mta_tax = 50;
        let improvement = 30;
        let congestion =
            if pickup >= CONGESTION_START_MS && (in_congestion_zone(pu) || in_congestion_zone(dz)) { 250 } else { 0 };
        let toll_chance = if airport { 40 } else { 3 };
        let tolls = if self.rng.below(100) < toll_chance { 612 } else { 0 };
        let payment_type = self.pick(&[(1i64, 72), (2, 26), (3, 1), (4, 1)]);
        let pre_tip = fare + extra + mta_tax + improvement + congestion;
        let tip = if payment_type == 1 {
            let r = self.rng.below(100);
            let pct = if r < 5 {
                0.0
            } else if r < 30 {
                0.20
            } else if r < 45 {
                0.25
            } else if r < 50 {
                0.30
            } else {
                0.10 + 0.12 * self.rng.unit()
            };
            (pre_tip as f64 * pct).round() as i64
        } else {
            0
        };
        let total = fare + extra + mta_tax + tip + tolls + improvement + congestion;
        let store_and_fwd_flag = if vendor_id == 1 && self.rng.below(100) == 0 { "Y" } else { "N" };
        let money = |c: i64| c as f64 / 100.0;
        TaxiRide {
            vendor_id,
            tpep_pickup_datetime: format_datetime(pickup),
            tpep_dropoff_datetime: format_datetime(dropoff),
            passenger_count,
            trip_distance: miles,
            ratecode_id,
            store_and_fwd_flag: store_and_fwd_flag.to_string(),
            pu_location_id: pu,
            do_location_id: dz,
            payment_type,
            fare_amount: money(fare),
            extra: money(extra),
            mta_tax: money(mta_tax),
            tip_amount: money(tip),
            tolls_amount: money(tolls),
            improvement_surcharge: money(improvement),
            total_amount: money(total),
            congestion_surcharge: money(congestion),
        }
    }
}

impl Iterator for TaxiGenerator {
    type Item = TaxiRide;
    fn next(&mut self) -> Option<TaxiRide> {
        Some(self.next_ride())
    }
}

/// `count` rides for `seed`.
pub fn generate_rides(seed: u64, count: usize, config: TaxiConfig) -> Vec<TaxiRide> {
    TaxiGenerator::new(seed, config).take(count).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_math_is_accurate() {
        for &x in &[0.001, 0.5, 1.0, 1.6, 2.0, 10.0, 12345.678] {
            assert!((det_ln(x) - x.ln()).abs() < 1e-12, "ln {x}");
        }
        for &x in &[-20.0, -1.0, 0.0, 0.47, 1.0, 3.3, 50.0] {
            let rel = (det_exp(x) - x.exp()).abs() / x.exp();
            assert!(rel < 1e-13, "exp {x}");
        }
    }

    #[test]
    fn same_seed_same_rides() {
        let a = generate_rides(7, 50, TaxiConfig::default());
        let b = generate_rides(7, 50, TaxiConfig::default());
        assert_eq!(a, b);
        assert_ne!(a, generate_rides(8, 50, TaxiConfig::default()));
    }

    #[test]
    fn rides_are_consistent_and_plausible() {
        let rides = generate_rides(42, 5000, TaxiConfig::default());
        let mut last = 0;
        let mut ones = 0;
        let mut card_tips = 0;
        for r in &rides {
            let cents = |x: f64| (x * 100.0).round() as i64;
            let sum = cents(r.fare_amount)
                + cents(r.extra)
                + cents(r.mta_tax)
                + cents(r.tip_amount)
                + cents(r.tolls_amount)
                + cents(r.improvement_surcharge)
                + cents(r.congestion_surcharge);
            assert_eq!(sum, cents(r.total_amount), "{r:?}");
            assert!((1..=6).contains(&r.passenger_count));
            assert!((1..=265).contains(&r.pu_location_id));
            assert!((1..=265).contains(&r.do_location_id));
            assert!(r.vendor_id == 1 || r.vendor_id == 2);
            assert!(r.trip_distance >= 0.1 && r.trip_distance <= 60.0);
            let p = r.pickup_ms();
            assert!(p >= last);
            last = p;
            assert!(parse_datetime(&r.tpep_dropoff_datetime).unwrap() > p);
            if r.passenger_count == 1 {
                ones += 1;
            }
            if r.payment_type != 1 {
                assert_eq!(r.tip_amount, 0.0);
            } else if r.tip_amount > 0.0 {
                card_tips += 1;
            }
        }
        assert!(ones > 3000 && ones < 4000, "{ones}");
        assert!(card_tips > 3000, "{card_tips}");
        let value = rides[0].to_value();
        assert!(matches!(value.field("VendorID"), Value::Int(_)));
        let json = serde_json::to_string(&rides[0]).unwrap();
        assert!(json.starts_with("{\"VendorID\":"));
    }
}
