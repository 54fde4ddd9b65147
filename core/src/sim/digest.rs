//! A 64-bit digest that is stable across platforms, compilers and releases.
//!
//! `std`'s hashers are explicitly not stable, so we mix words ourselves (the SplitMix64/
//! MurmurHash3 finalizer on every word) and feed values through a small serde serializer
//! that writes a canonical form: integers as little-endian words, strings and bytes
//! length-prefixed, enum variants by NAME (so reordering variants in the source does not
//! change digests) and struct fields by position (field names are not hashed).
use serde::ser::{self, Serialize};
use std::fmt;

/// Stable streaming hasher over 64-bit words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StableHasher {
    state: u64,
    words: u64,
}

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher { state: 0x6a09_e667_f3bc_c908, words: 0 }
    }
}

#[inline]
fn fmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    z ^ (z >> 33)
}

impl StableHasher {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    pub fn write_u64(&mut self, w: u64) {
        self.words = self.words.wrapping_add(1);
        self.state = fmix64(self.state.rotate_left(23) ^ w.wrapping_add(self.words));
    }

    pub fn write_bytes(&mut self, bytes: &[u8]) {
        self.write_u64(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(buf));
        }
    }

    pub fn write_str(&mut self, s: &str) {
        self.write_bytes(s.as_bytes());
    }

    pub fn finish(&self) -> u64 {
        fmix64(self.state ^ self.words)
    }

    /// Feeds any serializable value in canonical form.
    pub fn write_value<T: Serialize + ?Sized>(&mut self, value: &T) {
        // The serializer below never fails; a failure would be a bug in a Serialize impl.
        if value.serialize(&mut *self).is_err() {
            self.write_u64(u64::MAX);
        }
    }
}

/// Digest of one serializable value.
pub fn digest_of<T: Serialize + ?Sized>(value: &T) -> u64 {
    let mut h = StableHasher::new();
    h.write_value(value);
    h.finish()
}

/// Formats a digest the way the CLI, the UI and scenario files spell it.
pub fn format_digest(d: u64) -> String {
    format!("{d:016x}")
}

/// Parses a digest written by [`format_digest`].
pub fn parse_digest(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.len() != 16 {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

#[derive(Debug)]
pub struct Never;
impl fmt::Display for Never {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("digest serializer error")
    }
}
impl std::error::Error for Never {}
impl ser::Error for Never {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Never
    }
}

// Type tags keep e.g. `Some(0u8)` and `0u64` apart.
const T_BOOL: u64 = 1;
const T_INT: u64 = 2;
const T_FLOAT: u64 = 3;
const T_STR: u64 = 4;
const T_BYTES: u64 = 5;
const T_NONE: u64 = 6;
const T_SOME: u64 = 7;
const T_UNIT: u64 = 8;
const T_VARIANT: u64 = 9;
const T_SEQ: u64 = 10;
const T_MAP: u64 = 11;
const T_STRUCT: u64 = 12;
const T_END: u64 = 13;

impl ser::Serializer for &mut StableHasher {
    type Ok = ();
    type Error = Never;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Result<(), Never> {
        self.write_u64(T_BOOL);
        self.write_u64(v as u64);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Never> {
        self.serialize_i64(v as i64)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Never> {
        self.serialize_i64(v as i64)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Never> {
        self.serialize_i64(v as i64)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Never> {
        self.write_u64(T_INT);
        self.write_u64(v as u64);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Never> {
        self.serialize_u64(v as u64)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Never> {
        self.serialize_u64(v as u64)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Never> {
        self.serialize_u64(v as u64)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Never> {
        self.write_u64(T_INT);
        self.write_u64(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Never> {
        self.serialize_f64(v as f64)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Never> {
        self.write_u64(T_FLOAT);
        // One NaN, one zero: equal values give equal digests.
        let bits = if v.is_nan() {
            f64::NAN.to_bits()
        } else if v == 0.0 {
            0
        } else {
            v.to_bits()
        };
        self.write_u64(bits);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Never> {
        self.serialize_u64(v as u64)
    }
    fn serialize_str(self, v: &str) -> Result<(), Never> {
        self.write_u64(T_STR);
        self.write_str(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Never> {
        self.write_u64(T_BYTES);
        self.write_bytes(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Never> {
        self.write_u64(T_NONE);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Never> {
        self.write_u64(T_SOME);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Never> {
        self.write_u64(T_UNIT);
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Never> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), Never> {
        self.write_u64(T_VARIANT);
        self.write_str(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), Never> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Never> {
        self.write_u64(T_VARIANT);
        self.write_str(variant);
        value.serialize(self)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self, Never> {
        self.write_u64(T_SEQ);
        Ok(self)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self, Never> {
        self.write_u64(T_SEQ);
        Ok(self)
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self, Never> {
        self.write_u64(T_STRUCT);
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self, Never> {
        self.write_u64(T_VARIANT);
        self.write_str(variant);
        Ok(self)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self, Never> {
        self.write_u64(T_MAP);
        Ok(self)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self, Never> {
        self.write_u64(T_STRUCT);
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self, Never> {
        self.write_u64(T_VARIANT);
        self.write_str(variant);
        Ok(self)
    }
}

macro_rules! compound {
    ($trait:ident, $method:ident $(, $key:ident)?) => {
        impl ser::$trait for &mut StableHasher {
            type Ok = ();
            type Error = Never;
            fn $method<T: Serialize + ?Sized>(&mut self, $($key: &'static str,)? value: &T) -> Result<(), Never> {
                $(let _ = $key;)?
                value.serialize(&mut **self)
            }
            fn end(self) -> Result<(), Never> {
                self.write_u64(T_END);
                Ok(())
            }
        }
    };
}
compound!(SerializeSeq, serialize_element);
compound!(SerializeTuple, serialize_element);
compound!(SerializeTupleStruct, serialize_field);
compound!(SerializeTupleVariant, serialize_field);
compound!(SerializeStruct, serialize_field, key);
compound!(SerializeStructVariant, serialize_field, key);

impl ser::SerializeMap for &mut StableHasher {
    type Ok = ();
    type Error = Never;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Never> {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Never> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Never> {
        self.write_u64(T_END);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    enum Ev {
        A { x: u32, s: String },
        B(Option<u8>),
    }

    #[test]
    fn digest_is_pinned_across_platforms_and_releases() {
        // If this golden value changes, every golden digest in scenarios/ changes too.
        let v = vec![Ev::A { x: 7, s: "orders-0".into() }, Ev::B(None), Ev::B(Some(0))];
        assert_eq!(format_digest(digest_of(&v)), GOLDEN);
    }
    const GOLDEN: &str = "473ca1073c64c7b6";

    #[test]
    fn distinguishes_none_from_zero_and_variant_names() {
        assert_ne!(digest_of(&Ev::B(None)), digest_of(&Ev::B(Some(0))));
        assert_ne!(digest_of(&Some(0u64)), digest_of(&0u64));
        assert_ne!(digest_of("ab"), digest_of(&("a", "b")));
    }

    #[test]
    fn digest_round_trips_through_text() {
        let d = digest_of(&123u64);
        assert_eq!(parse_digest(&format_digest(d)), Some(d));
        assert_eq!(parse_digest("xyz"), None);
    }
}
