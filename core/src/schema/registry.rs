//! A Confluent Schema Registry as a pure, deterministic state machine.
//!
//! What it reproduces (Confluent `KafkaSchemaRegistry`):
//! * global schema ids from 1, shared across subjects: registering a schema the registry
//!   already has (same canonical string) under another subject reuses its id;
//! * registering a schema already live under the subject returns its id, no new version;
//! * versions per subject count up from 1 and never reuse a soft-deleted number (the next
//!   version is one more than the highest ever, deleted or not);
//! * compatibility checked on registration against live versions only (soft-deleted ones are
//!   ignored), with the subject's level or else the global one (default BACKWARD); refusal is
//!   HTTP 409 with Confluent's message;
//! * soft delete of versions and subjects, permanent delete only after a soft delete; when a
//!   subject loses its last live version its own compatibility setting is dropped;
//! * errors with Confluent's HTTP status, error code and message text.
//!
//! Not modelled: schema references, contexts, modes (READONLY/IMPORT), metadata and rule sets,
//! `normalize.schemas`. Ids only grow (Confluent may hand out an id again after a permanent
//! delete of the highest one).
use super::compat::{check_against_previous, CompatibilityLevel, LevelCheck, PreviousVersion};
use super::error::{RegistryError, SchemaError};
use super::model::AvroSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Which version of a subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VersionSelector {
    /// The highest live version (`latest` or `-1` in the REST API).
    Latest,
    Number(u32),
}

impl fmt::Display for VersionSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionSelector::Latest => f.write_str("latest"),
            VersionSelector::Number(n) => write!(f, "{n}"),
        }
    }
}

impl FromStr for VersionSelector {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, RegistryError> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("latest") || s == "-1" {
            return Ok(VersionSelector::Latest);
        }
        match s.parse::<u32>() {
            Ok(n) if (1..=i32::MAX as u32).contains(&n) => Ok(VersionSelector::Number(n)),
            _ => Err(RegistryError {
                http_status: 422,
                error_code: RegistryError::INVALID_VERSION,
                message: format!(
                    "The specified version '{s}' is not a valid version id. Allowed values are \
                     between [1, 2^31-1] and the string \"latest\""
                ),
            }),
        }
    }
}

/// How the serializer derives the subject (`key.subject.name.strategy` /
/// `value.subject.name.strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value` (the default).
    #[default]
    TopicNameStrategy,
    /// The record's full name.
    RecordNameStrategy,
    /// `<topic>-<record full name>`.
    TopicRecordNameStrategy,
}

impl SubjectNameStrategy {
    /// The subject for a topic's key or value with this schema.
    pub fn subject(self, topic: &str, is_key: bool, schema: &AvroSchema) -> Result<String, String> {
        let record = || {
            schema.record_full_name().ok_or_else(|| {
                format!(
                    "{self:?} needs a record schema to name the subject; this schema is a {}",
                    schema.root_kind().avro_type_name()
                )
            })
        };
        Ok(match self {
            SubjectNameStrategy::TopicNameStrategy => {
                format!("{topic}-{}", if is_key { "key" } else { "value" })
            }
            SubjectNameStrategy::RecordNameStrategy => record()?,
            SubjectNameStrategy::TopicRecordNameStrategy => format!("{topic}-{}", record()?),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct VersionEntry {
    id: u32,
    deleted: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Subject {
    versions: BTreeMap<u32, VersionEntry>,
    compatibility: Option<CompatibilityLevel>,
}

impl Subject {
    fn live(&self) -> impl DoubleEndedIterator<Item = (u32, &VersionEntry)> {
        self.versions.iter().filter(|(_, e)| !e.deleted).map(|(v, e)| (*v, e))
    }
    fn has_live(&self) -> bool {
        self.live().next().is_some()
    }
}

/// Result of a registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub id: u32,
    pub version: u32,
    /// False when the schema was already live under the subject (nothing changed).
    pub created: bool,
}

/// One version of a subject, as `GET /subjects/{subject}/versions/{version}` returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub schema: Arc<AvroSchema>,
}

/// The registry. Cheap to clone (schemas are shared).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchemaRegistry {
    compatibility: CompatibilityLevel,
    next_id: u32,
    schemas: BTreeMap<u32, Arc<AvroSchema>>,
    subjects: BTreeMap<String, Subject>,
}

impl Default for SchemaRegistry {
    fn default() -> Self {
        SchemaRegistry {
            compatibility: CompatibilityLevel::Backward,
            next_id: 1,
            schemas: BTreeMap::new(),
            subjects: BTreeMap::new(),
        }
    }
}

fn parse_schema(text: &str) -> Result<AvroSchema, RegistryError> {
    AvroSchema::parse(text).map_err(|e: SchemaError| RegistryError::invalid_schema(&e))
}

impl SchemaRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    // ---- configuration --------------------------------------------------------------------

    /// The global compatibility level (`GET /config`).
    pub fn global_compatibility(&self) -> CompatibilityLevel {
        self.compatibility
    }

    /// `PUT /config`.
    pub fn set_global_compatibility(&mut self, level: CompatibilityLevel) {
        self.compatibility = level;
    }

    /// `PUT /config/{subject}`.
    pub fn set_subject_compatibility(&mut self, subject: &str, level: CompatibilityLevel) {
        self.subjects.entry(subject.to_string()).or_default().compatibility = Some(level);
    }

    /// `DELETE /config/{subject}`: back to the global level.
    pub fn clear_subject_compatibility(&mut self, subject: &str) {
        if let Some(s) = self.subjects.get_mut(subject) {
            s.compatibility = None;
        }
    }

    /// Subjects with a level of their own (`GET /config/{subject}?defaultToGlobal=false`
    /// for each), including subjects that have no live version yet.
    pub fn compatibility_overrides(&self) -> Vec<(String, CompatibilityLevel)> {
        self.subjects.iter().filter_map(|(n, s)| s.compatibility.map(|l| (n.clone(), l))).collect()
    }

    /// The level in force for a subject: its own, else the global one.
    pub fn compatibility(&self, subject: &str) -> CompatibilityLevel {
        self.subjects.get(subject).and_then(|s| s.compatibility).unwrap_or(self.compatibility)
    }

    // ---- registration ---------------------------------------------------------------------

    /// `POST /subjects/{subject}/versions` with schema text.
    pub fn register(&mut self, subject: &str, schema_text: &str) -> Result<Registered, RegistryError> {
        let schema = parse_schema(schema_text)?;
        self.register_schema(subject, Arc::new(schema))
    }

    /// Registers an already parsed schema.
    pub fn register_schema(&mut self, subject: &str, schema: Arc<AvroSchema>) -> Result<Registered, RegistryError> {
        let existing_id = self.id_of(&schema);
        if let (Some(id), Some(s)) = (existing_id, self.subjects.get(subject)) {
            if let Some((version, _)) = s.live().find(|(_, e)| e.id == id) {
                return Ok(Registered { id, version, created: false });
            }
        }
        let check = self.check_candidate(subject, &schema, None);
        if !check.compatible {
            return Err(RegistryError::incompatible(subject, &check.messages));
        }
        let exhausted = || RegistryError {
            http_status: 500,
            error_code: 50001,
            message: "Error while registering the schema: no more ids or versions".into(),
        };
        let version = match self.subjects.get(subject) {
            Some(s) => match s.versions.keys().next_back() {
                Some(v) => v.checked_add(1).ok_or_else(exhausted)?,
                None => 1,
            },
            None => 1,
        };
        let id = match existing_id {
            Some(id) => id,
            None => {
                let id = self.next_id;
                self.next_id = id.checked_add(1).ok_or_else(exhausted)?;
                self.schemas.insert(id, schema);
                id
            }
        };
        let entry = self.subjects.entry(subject.to_string()).or_default();
        // Older soft-deleted versions holding the same id are dropped (Confluent tombstones them).
        entry.versions.retain(|_, e| !(e.deleted && e.id == id));
        entry.versions.insert(version, VersionEntry { id, deleted: false });
        Ok(Registered { id, version, created: true })
    }

    fn id_of(&self, schema: &AvroSchema) -> Option<u32> {
        self.schemas.iter().find(|(_, s)| s.canonical() == schema.canonical()).map(|(id, _)| *id)
    }

    fn live_versions(&self, subject: &str) -> Vec<(u32, Arc<AvroSchema>)> {
        self.subjects
            .get(subject)
            .map(|s| s.live().filter_map(|(v, e)| self.schemas.get(&e.id).map(|schema| (v, schema.clone()))).collect())
            .unwrap_or_default()
    }

    /// The compatibility check of a registration (or of `POST /compatibility/...`):
    /// `only` restricts it to one version, else the level decides (latest or all).
    fn check_candidate(&self, subject: &str, candidate: &AvroSchema, only: Option<u32>) -> LevelCheck {
        let level = self.compatibility(subject);
        let versions = self.live_versions(subject);
        let previous: Vec<PreviousVersion<'_>> = versions
            .iter()
            .filter(|(v, _)| only.is_none_or(|o| o == *v))
            .map(|(v, s)| PreviousVersion { version: Some(*v), schema: s })
            .collect();
        check_against_previous(level, &previous, candidate)
    }

    /// `POST /compatibility/subjects/{subject}/versions[/{version}]?verbose=true`: would this
    /// schema be accepted? `against` is one version, or `None` for what the level checks.
    pub fn check_compatibility(
        &self,
        subject: &str,
        schema_text: &str,
        against: Option<VersionSelector>,
    ) -> Result<LevelCheck, RegistryError> {
        let candidate = parse_schema(schema_text)?;
        let only = match against {
            None => None,
            Some(selector) => match self.subjects.get(subject) {
                Some(s) if s.has_live() => Some(self.resolve_version(subject, s, selector)?),
                _ if selector == VersionSelector::Latest => None,
                _ => return Err(RegistryError::subject_not_found(subject)),
            },
        };
        Ok(self.check_candidate(subject, &candidate, only))
    }

    // ---- lookups --------------------------------------------------------------------------

    /// `GET /schemas/ids/{id}`.
    pub fn schema_by_id(&self, id: u32) -> Result<Arc<AvroSchema>, RegistryError> {
        self.schemas.get(&id).cloned().ok_or_else(|| RegistryError::schema_not_found(Some(id)))
    }

    /// `GET /schemas/ids/{id}/versions`: (subject, version) pairs using this id, live only.
    pub fn versions_of_id(&self, id: u32) -> Result<Vec<(String, u32)>, RegistryError> {
        if !self.schemas.contains_key(&id) {
            return Err(RegistryError::schema_not_found(Some(id)));
        }
        Ok(self
            .subjects
            .iter()
            .flat_map(|(name, s)| s.live().filter(move |(_, e)| e.id == id).map(move |(v, _)| (name.clone(), v)))
            .collect())
    }

    /// `GET /subjects`: subjects with at least one live version.
    pub fn subjects(&self) -> Vec<String> {
        self.subjects.iter().filter(|(_, s)| s.has_live()).map(|(n, _)| n.clone()).collect()
    }

    /// `GET /subjects/{subject}/versions`: live version numbers.
    pub fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        match self.subjects.get(subject) {
            Some(s) if s.has_live() => Ok(s.live().map(|(v, _)| v).collect()),
            _ => Err(RegistryError::subject_not_found(subject)),
        }
    }

    fn resolve_version(&self, subject: &str, s: &Subject, selector: VersionSelector) -> Result<u32, RegistryError> {
        match selector {
            VersionSelector::Latest => {
                s.live().next_back().map(|(v, _)| v).ok_or_else(|| RegistryError::subject_not_found(subject))
            }
            VersionSelector::Number(n) => match s.versions.get(&n) {
                Some(e) if !e.deleted => Ok(n),
                _ => Err(RegistryError::version_not_found(n)),
            },
        }
    }

    /// `GET /subjects/{subject}/versions/{version}` (live versions only).
    pub fn version(&self, subject: &str, selector: VersionSelector) -> Result<SubjectVersion, RegistryError> {
        let s = match self.subjects.get(subject) {
            Some(s) if s.has_live() => s,
            _ => return Err(RegistryError::subject_not_found(subject)),
        };
        let version = self.resolve_version(subject, s, selector)?;
        let id = s.versions[&version].id;
        Ok(SubjectVersion { subject: subject.to_string(), version, id, schema: self.schema_by_id(id)? })
    }

    /// `POST /subjects/{subject}`: is this schema registered (live) under the subject?
    pub fn lookup(&self, subject: &str, schema_text: &str) -> Result<SubjectVersion, RegistryError> {
        let schema = parse_schema(schema_text)?;
        self.lookup_schema(subject, &schema)
    }

    /// [`lookup`](Self::lookup) with a parsed schema.
    pub fn lookup_schema(&self, subject: &str, schema: &AvroSchema) -> Result<SubjectVersion, RegistryError> {
        let s = match self.subjects.get(subject) {
            Some(s) if s.has_live() => s,
            _ => return Err(RegistryError::subject_not_found(subject)),
        };
        let id = self.id_of(schema).ok_or_else(|| RegistryError::schema_not_found(None))?;
        let (version, _) = s.live().find(|(_, e)| e.id == id).ok_or_else(|| RegistryError::schema_not_found(None))?;
        Ok(SubjectVersion { subject: subject.to_string(), version, id, schema: self.schema_by_id(id)? })
    }

    // ---- deletion -------------------------------------------------------------------------

    /// `DELETE /subjects/{subject}/versions/{version}[?permanent=true]`. Returns the version.
    pub fn delete_version(
        &mut self,
        subject: &str,
        selector: VersionSelector,
        permanent: bool,
    ) -> Result<u32, RegistryError> {
        let s = match self.subjects.get(subject) {
            Some(s) if !s.versions.is_empty() => s,
            _ => return Err(RegistryError::subject_not_found(subject)),
        };
        let version = match selector {
            VersionSelector::Latest => {
                s.live().next_back().map(|(v, _)| v).ok_or_else(|| RegistryError::subject_not_found(subject))?
            }
            VersionSelector::Number(n) => n,
        };
        let Some(entry) = s.versions.get(&version) else {
            return Err(RegistryError::version_not_found(version));
        };
        match (permanent, entry.deleted) {
            (false, true) => {
                return Err(RegistryError {
                    http_status: 404,
                    error_code: RegistryError::VERSION_SOFT_DELETED,
                    message: format!(
                        "Subject '{subject}' Version {version} was soft deleted.Set \
                         permanent=true to delete permanently"
                    ),
                })
            }
            (true, false) => {
                return Err(RegistryError {
                    http_status: 404,
                    error_code: RegistryError::VERSION_NOT_SOFT_DELETED,
                    message: format!(
                        "Subject '{subject}' Version {version} was not deleted first before \
                         being permanently deleted"
                    ),
                })
            }
            _ => {}
        }
        let s = self.subjects.entry(subject.to_string()).or_default();
        if permanent {
            s.versions.remove(&version);
        } else if let Some(e) = s.versions.get_mut(&version) {
            e.deleted = true;
        }
        if !s.has_live() {
            s.compatibility = None;
        }
        self.collect_garbage();
        Ok(version)
    }

    /// `DELETE /subjects/{subject}[?permanent=true]`. Returns the versions deleted.
    pub fn delete_subject(&mut self, subject: &str, permanent: bool) -> Result<Vec<u32>, RegistryError> {
        let s = match self.subjects.get(subject) {
            Some(s) if !s.versions.is_empty() => s,
            _ => return Err(RegistryError::subject_not_found(subject)),
        };
        if !permanent && !s.has_live() {
            return Err(RegistryError {
                http_status: 404,
                error_code: RegistryError::SUBJECT_SOFT_DELETED,
                message: format!("Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"),
            });
        }
        if permanent && s.has_live() {
            return Err(RegistryError {
                http_status: 404,
                error_code: RegistryError::SUBJECT_NOT_SOFT_DELETED,
                message: format!("Subject '{subject}' was not deleted first before being permanently deleted"),
            });
        }
        let deleted: Vec<u32>;
        if permanent {
            deleted = s.versions.keys().copied().collect();
            self.subjects.remove(subject);
        } else {
            deleted = s.live().map(|(v, _)| v).collect();
            let s = self.subjects.entry(subject.to_string()).or_default();
            for e in s.versions.values_mut() {
                e.deleted = true;
            }
            s.compatibility = None;
        }
        self.collect_garbage();
        Ok(deleted)
    }

    /// Forgets schemas no version refers to any more (after permanent deletes).
    fn collect_garbage(&mut self) {
        let used: std::collections::BTreeSet<u32> =
            self.subjects.values().flat_map(|s| s.versions.values().map(|e| e.id)).collect();
        self.schemas.retain(|id, _| used.contains(id));
        self.subjects.retain(|_, s| !s.versions.is_empty() || s.compatibility.is_some());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::taxi;

    const SUBJECT: &str = "rides-value";

    #[test]
    fn ids_are_global_and_versions_per_subject() {
        let mut r = SchemaRegistry::new();
        let a = r.register(SUBJECT, taxi::RIDE_VALUE_V1).unwrap();
        assert_eq!(a, Registered { id: 1, version: 1, created: true });
        let k = r.register("rides-key", taxi::RIDE_KEY).unwrap();
        assert_eq!((k.id, k.version), (2, 1));
        let b = r.register(SUBJECT, taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT).unwrap();
        assert_eq!((b.id, b.version), (3, 2));
        // Same schema, other subject: same global id, version 1 there.
        let c = r.register("rides_v2-value", taxi::RIDE_VALUE_V1).unwrap();
        assert_eq!((c.id, c.version, c.created), (1, 1, true));
        assert_eq!(r.subjects(), ["rides-key", "rides-value", "rides_v2-value"]);
        assert_eq!(r.versions_of_id(1).unwrap(), [("rides-value".to_string(), 1), ("rides_v2-value".to_string(), 1)]);
    }

    #[test]
    fn identical_reregistration_returns_the_existing_id() {
        let mut r = SchemaRegistry::new();
        r.register(SUBJECT, taxi::RIDE_VALUE_V1).unwrap();
        r.register(SUBJECT, taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT).unwrap();
        // Whitespace and key order do not matter: the canonical string decides.
        let respaced = taxi::RIDE_VALUE_V1.replace('\n', " ");
        let again = r.register(SUBJECT, &respaced).unwrap();
        assert_eq!(again, Registered { id: 1, version: 1, created: false });
        assert_eq!(r.versions(SUBJECT).unwrap(), [1, 2]);
    }

    #[test]
    fn incompatible_schema_is_refused_with_409() {
        let mut r = SchemaRegistry::new();
        r.register(SUBJECT, taxi::RIDE_VALUE_V1).unwrap();
        let e = r.register(SUBJECT, taxi::RIDE_VALUE_V2_TOTAL_AMOUNT_STRING).unwrap_err();
        assert_eq!((e.http_status, e.error_code), (409, 40901));
        assert!(e.message.starts_with(
            "Schema being registered is incompatible with an earlier schema for subject \"rides-value\", details: [{errorType:'TYPE_MISMATCH'"
        ), "{}", e.message);
        assert!(e.message.ends_with("{validateFields: 'false', compatibility: 'BACKWARD'}]"));
        assert_eq!(r.versions(SUBJECT).unwrap(), [1], "nothing registered");
        // NONE lets it through.
        r.set_subject_compatibility(SUBJECT, CompatibilityLevel::None);
        assert_eq!(r.register(SUBJECT, taxi::RIDE_VALUE_V2_TOTAL_AMOUNT_STRING).unwrap().version, 2);
    }

    #[test]
    fn overrides_list_subjects_with_a_level_of_their_own() {
        let mut r = SchemaRegistry::new();
        r.register(SUBJECT, taxi::RIDE_VALUE_V1).unwrap();
        assert!(r.compatibility_overrides().is_empty());
        // A level of its own, even one equal to the global level or on a subject with no version.
        r.set_subject_compatibility(SUBJECT, CompatibilityLevel::Backward);
        r.set_subject_compatibility("empty-value", CompatibilityLevel::Full);
        assert_eq!(
            r.compatibility_overrides(),
            [
                ("empty-value".to_string(), CompatibilityLevel::Full),
                (SUBJECT.to_string(), CompatibilityLevel::Backward)
            ]
        );
        r.clear_subject_compatibility(SUBJECT);
        assert_eq!(r.compatibility_overrides().len(), 1);
    }

    #[test]
    fn invalid_schema_is_422() {
        let mut r = SchemaRegistry::new();
        let e =
            r.register(SUBJECT, r#"{"type":"record","name":"R","fields":[{"name":"a","type":"nope"}]}"#).unwrap_err();
        assert_eq!((e.http_status, e.error_code), (422, 42201));
        assert!(e.message.contains("/fields/0/type"), "{}", e.message);
    }

    #[test]
    fn transitive_levels_check_all_live_versions() {
        let mut r = SchemaRegistry::new();
        r.register(SUBJECT, taxi::RIDE_VALUE_V1).unwrap();
        r.register(SUBJECT, taxi::RIDE_VALUE_V2_CONGESTION_SURCHARGE).unwrap();
        r.set_subject_compatibility(SUBJECT, CompatibilityLevel::BackwardTransitive);
        let e = r.register(SUBJECT, taxi::RIDE_VALUE_V3_CONGESTION_SURCHARGE_REQUIRED).unwrap_err();
        assert!(e.message.contains("{oldSchemaVersion: 1}"), "{}", e.message);
        // Soft-deleting v1 takes it out of the check.
        r.delete_version(SUBJECT, VersionSelector::Number(1), false).unwrap();
        assert_eq!(r.register(SUBJECT, taxi::RIDE_VALUE_V3_CONGESTION_SURCHARGE_REQUIRED).unwrap().version, 3);
        // Plain BACKWARD would have accepted it from the start.
        let mut plain = SchemaRegistry::new();
        plain.register(SUBJECT, taxi::RIDE_VALUE_V1).unwrap();
        plain.register(SUBJECT, taxi::RIDE_VALUE_V2_CONGESTION_SURCHARGE).unwrap();
        assert!(plain.register(SUBJECT, taxi::RIDE_VALUE_V3_CONGESTION_SURCHARGE_REQUIRED).is_ok());
    }

    #[test]
    fn compatibility_levels_global_and_per_subject() {
        let mut r = SchemaRegistry::new();
        assert_eq!(r.compatibility(SUBJECT), CompatibilityLevel::Backward);
        r.set_global_compatibility(CompatibilityLevel::Full);
        assert_eq!(r.compatibility(SUBJECT), CompatibilityLevel::Full);
        r.set_subject_compatibility(SUBJECT, CompatibilityLevel::Forward);
        assert_eq!(r.compatibility(SUBJECT), CompatibilityLevel::Forward);
        assert_eq!(r.compatibility("other"), CompatibilityLevel::Full);
        r.clear_subject_compatibility(SUBJECT);
        assert_eq!(r.compatibility(SUBJECT), CompatibilityLevel::Full);
    }

    #[test]
    fn lookups_and_their_404s() {
        let mut r = SchemaRegistry::new();
        let e = r.version(SUBJECT, VersionSelector::Latest).unwrap_err();
        assert_eq!((e.error_code, e.message.as_str()), (40401, "Subject 'rides-value' not found."));
        r.register(SUBJECT, taxi::RIDE_VALUE_V1).unwrap();
        r.register(SUBJECT, taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT).unwrap();
        assert_eq!(r.version(SUBJECT, VersionSelector::Latest).unwrap().version, 2);
        let e = r.version(SUBJECT, VersionSelector::Number(9)).unwrap_err();
        assert_eq!((e.error_code, e.message.as_str()), (40402, "Version 9 not found."));
        let e = r.schema_by_id(42).unwrap_err();
        assert_eq!((e.http_status, e.error_code, e.message.as_str()), (404, 40403, "Schema 42 not found"));
        assert_eq!(r.lookup(SUBJECT, taxi::RIDE_VALUE_V1).unwrap().version, 1);
        let e = r.lookup(SUBJECT, taxi::RIDE_KEY).unwrap_err();
        assert_eq!((e.error_code, e.message.as_str()), (40403, "Schema not found"));
        assert_eq!("latest".parse::<VersionSelector>().unwrap(), VersionSelector::Latest);
        assert_eq!("0".parse::<VersionSelector>().unwrap_err().error_code, 42202);
    }

    #[test]
    fn soft_then_permanent_delete() {
        let mut r = SchemaRegistry::new();
        r.register(SUBJECT, taxi::RIDE_VALUE_V1).unwrap();
        r.register(SUBJECT, taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT).unwrap();
        r.set_subject_compatibility(SUBJECT, CompatibilityLevel::Full);
        let e = r.delete_version(SUBJECT, VersionSelector::Number(2), true).unwrap_err();
        assert_eq!(e.error_code, 40407);
        assert_eq!(r.delete_version(SUBJECT, VersionSelector::Latest, false).unwrap(), 2);
        assert_eq!(r.delete_version(SUBJECT, VersionSelector::Number(2), false).unwrap_err().error_code, 40406);
        assert_eq!(r.version(SUBJECT, VersionSelector::Latest).unwrap().version, 1);
        // The id stays readable (old records still carry it).
        assert!(r.schema_by_id(2).is_ok());
        // Next version number skips the soft-deleted one.
        let v = r.register(SUBJECT, taxi::RIDE_VALUE_V2_ADD_PICKUP_LOCATION);
        assert!(v.is_err(), "FULL still in force");
        // Deleting the last live version drops the subject's own level.
        r.delete_version(SUBJECT, VersionSelector::Number(1), false).unwrap();
        assert_eq!(r.compatibility(SUBJECT), CompatibilityLevel::Backward);
        assert_eq!(r.versions(SUBJECT).unwrap_err().error_code, 40401);
        let again = r.register(SUBJECT, taxi::RIDE_VALUE_V2_ADD_PICKUP_LOCATION).unwrap();
        assert_eq!(again.version, 3);
        // Re-registering a soft-deleted schema reuses its id under a new version.
        // (BACKWARD: v1 reads pickup-location data by skipping the extra field.)
        let back = r.register(SUBJECT, taxi::RIDE_VALUE_V1).unwrap();
        assert_eq!((back.id, back.version), (1, 4));
        // Permanent delete of a subject requires a soft delete first.
        assert_eq!(r.delete_subject(SUBJECT, true).unwrap_err().error_code, 40405);
        assert_eq!(r.delete_subject(SUBJECT, false).unwrap(), vec![3, 4]);
        assert_eq!(r.delete_subject(SUBJECT, false).unwrap_err().error_code, 40404);
        assert_eq!(r.delete_subject(SUBJECT, true).unwrap(), vec![2, 3, 4]);
        assert_eq!(r.schema_by_id(1).unwrap_err().error_code, 40403);
        assert!(r.subjects().is_empty());
    }

    #[test]
    fn check_compatibility_without_registering() {
        let mut r = SchemaRegistry::new();
        r.register(SUBJECT, taxi::RIDE_VALUE_V1).unwrap();
        let c = r
            .check_compatibility(SUBJECT, taxi::RIDE_VALUE_V2_TOTAL_AMOUNT_STRING, Some(VersionSelector::Latest))
            .unwrap();
        assert!(!c.compatible);
        assert!(r.check_compatibility(SUBJECT, taxi::RIDE_VALUE_V2_ADD_TIP_AMOUNT, None).unwrap().compatible);
        assert_eq!(r.versions(SUBJECT).unwrap(), [1]);
        assert_eq!(
            r.check_compatibility(SUBJECT, taxi::RIDE_VALUE_V1, Some(VersionSelector::Number(5)))
                .unwrap_err()
                .error_code,
            40402
        );
    }

    #[test]
    fn subject_name_strategies() {
        let value = AvroSchema::parse(taxi::RIDE_VALUE_V1).unwrap();
        let s = SubjectNameStrategy::TopicNameStrategy;
        assert_eq!(s.subject("rides", false, &value).unwrap(), "rides-value");
        assert_eq!(s.subject("rides", true, &value).unwrap(), "rides-key");
        assert_eq!(
            SubjectNameStrategy::RecordNameStrategy.subject("rides", false, &value).unwrap(),
            "com.datatalksclub.taxi.RideRecord"
        );
        assert_eq!(
            SubjectNameStrategy::TopicRecordNameStrategy.subject("rides", false, &value).unwrap(),
            "rides-com.datatalksclub.taxi.RideRecord"
        );
        let string = AvroSchema::parse("\"string\"").unwrap();
        assert!(SubjectNameStrategy::RecordNameStrategy.subject("t", false, &string).is_err());
    }

    #[test]
    fn registry_round_trips_through_serde_and_clones_share_schemas() {
        let mut r = SchemaRegistry::new();
        r.register(SUBJECT, taxi::RIDE_VALUE_V1).unwrap();
        r.register("rides-key", taxi::RIDE_KEY).unwrap();
        r.delete_version("rides-key", VersionSelector::Latest, false).unwrap();
        let text = serde_json::to_string(&r).unwrap();
        let back: SchemaRegistry = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        let c = r.clone();
        assert!(Arc::ptr_eq(&c.schema_by_id(1).unwrap(), &r.schema_by_id(1).unwrap()));
    }
}
