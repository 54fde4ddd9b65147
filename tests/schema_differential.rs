//! Our Avro encoder, decoder and canonical form checked against the `apache-avro` crate on
//! random schemas and values.
mod schema_common;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value as Apache;
use apache_avro::writer::datum::GenericDatumWriter;
use proptest::prelude::*;
use sandbox_core::schema::model::{NodeId, NodeKind};
use sandbox_core::schema::{wire, AvroSchema, AvroValue};
use schema_common::*;
use std::collections::HashMap;

fn to_apache(schema: &AvroSchema, id: NodeId, v: &AvroValue) -> Apache {
    match (schema.kind(id), v) {
        (_, AvroValue::Null) => Apache::Null,
        (_, AvroValue::Boolean(b)) => Apache::Boolean(*b),
        (_, AvroValue::Int(i)) => Apache::Int(*i),
        (_, AvroValue::Long(l)) => Apache::Long(*l),
        (_, AvroValue::Float(f)) => Apache::Float(*f),
        (_, AvroValue::Double(d)) => Apache::Double(*d),
        (_, AvroValue::Bytes(b)) => Apache::Bytes(b.clone()),
        (_, AvroValue::String(s)) => Apache::String(s.clone()),
        (_, AvroValue::Fixed(b)) => Apache::Fixed(b.len(), b.clone()),
        (_, AvroValue::Enum { index, symbol }) => Apache::Enum(*index, symbol.clone()),
        (NodeKind::Array { items }, AvroValue::Array(xs)) => {
            Apache::Array(xs.iter().map(|x| to_apache(schema, *items, x)).collect())
        }
        (NodeKind::Map { values }, AvroValue::Map(es)) => {
            Apache::Map(es.iter().map(|(k, x)| (k.clone(), to_apache(schema, *values, x))).collect::<HashMap<_, _>>())
        }
        (NodeKind::Record(r), AvroValue::Record(fs)) => Apache::Record(
            fs.iter().zip(&r.fields).map(|((n, x), f)| (n.clone(), to_apache(schema, f.schema, x))).collect(),
        ),
        (NodeKind::Union { branches }, AvroValue::Union { branch, value }) => {
            Apache::Union(*branch, Box::new(to_apache(schema, branches[*branch as usize], value)))
        }
        (k, v) => panic!("value {v:?} does not fit {k:?}"),
    }
}

fn from_apache(schema: &AvroSchema, id: NodeId, v: Apache) -> AvroValue {
    match (schema.kind(id), v) {
        (_, Apache::Null) => AvroValue::Null,
        (_, Apache::Boolean(b)) => AvroValue::Boolean(b),
        (_, Apache::Int(i)) => AvroValue::Int(i),
        (_, Apache::Long(l)) => AvroValue::Long(l),
        (_, Apache::Float(f)) => AvroValue::Float(f),
        (_, Apache::Double(d)) => AvroValue::Double(d),
        (_, Apache::Bytes(b)) => AvroValue::Bytes(b),
        (_, Apache::String(s)) => AvroValue::String(s),
        (_, Apache::Fixed(_, b)) => AvroValue::Fixed(b),
        (_, Apache::Enum(index, symbol)) => AvroValue::Enum { index, symbol },
        (NodeKind::Array { items }, Apache::Array(xs)) => {
            AvroValue::Array(xs.into_iter().map(|x| from_apache(schema, *items, x)).collect())
        }
        (NodeKind::Map { values }, Apache::Map(es)) => {
            let mut es: Vec<(String, AvroValue)> =
                es.into_iter().map(|(k, x)| (k, from_apache(schema, *values, x))).collect();
            es.sort_by(|a, b| a.0.cmp(&b.0));
            AvroValue::Map(es)
        }
        (NodeKind::Record(r), Apache::Record(fs)) => AvroValue::Record(
            fs.into_iter().zip(&r.fields).map(|((n, x), f)| (n, from_apache(schema, f.schema, x))).collect(),
        ),
        (NodeKind::Union { branches }, Apache::Union(i, x)) => {
            AvroValue::Union { branch: i, value: Box::new(from_apache(schema, branches[i as usize], *x)) }
        }
        (k, v) => panic!("apache value {v:?} does not fit {k:?}"),
    }
}

/// Map entries sorted by key (apache-avro keeps maps in a HashMap).
fn sorted_maps(v: AvroValue) -> AvroValue {
    match v {
        AvroValue::Map(mut es) => {
            es.sort_by(|a, b| a.0.cmp(&b.0));
            AvroValue::Map(es.into_iter().map(|(k, x)| (k, sorted_maps(x))).collect())
        }
        AvroValue::Array(xs) => AvroValue::Array(xs.into_iter().map(sorted_maps).collect()),
        AvroValue::Record(fs) => AvroValue::Record(fs.into_iter().map(|(k, x)| (k, sorted_maps(x))).collect()),
        AvroValue::Union { branch, value } => AvroValue::Union { branch, value: Box::new(sorted_maps(*value)) },
        other => other,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn apache_avro_decodes_our_bytes_to_the_same_value((schema, value) in arb_schema_and_value()) {
        let theirs = apache_avro::Schema::parse_str(schema.canonical()).unwrap();
        let body = wire::encode_body(&schema, &value).unwrap();
        let decoded = GenericDatumReader::builder(&theirs)
            .build()
            .unwrap()
            .read_value(&mut &body[..])
            .unwrap();
        prop_assert_eq!(from_apache(&schema, schema.root(), decoded), sorted_maps(value));
    }

    #[test]
    fn we_decode_apache_avro_bytes_to_the_same_value((schema, value) in arb_schema_and_value()) {
        let theirs = apache_avro::Schema::parse_str(schema.canonical()).unwrap();
        let bytes = GenericDatumWriter::builder(&theirs)
            .build()
            .unwrap()
            .write_value_to_vec(to_apache(&schema, schema.root(), &value))
            .unwrap();
        let decoded = wire::decode_body(&schema, &bytes, 0).unwrap();
        prop_assert_eq!(sorted_maps(decoded), sorted_maps(value.clone()));
        // Without maps of several entries (whose order apache-avro does not keep) the bytes
        // are identical.
        let ours = wire::encode_body(&schema, &sorted_maps(value)).unwrap();
        if ours.len() == bytes.len() && !schema.canonical().contains("\"map\"") {
            prop_assert_eq!(ours, bytes);
        }
    }

    #[test]
    fn our_parsing_canonical_form_is_apache_avros(t in arb_named_type()) {
        let schema = to_schema(&t);
        let theirs = apache_avro::Schema::parse_str(schema.canonical()).unwrap();
        prop_assert_eq!(schema.parsing_canonical_form(), theirs.canonical_form());
        let fp = theirs.fingerprint::<apache_avro::rabin::Rabin>();
        prop_assert_eq!(schema.fingerprint().to_le_bytes().to_vec(), fp.bytes);
    }
}
