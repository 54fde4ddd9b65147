//! The Schema Registry as a node of the simulated cluster: a server holding a
//! [`SchemaRegistry`](crate::schema::SchemaRegistry) and answering its REST API as messages.
//! It can crash, restart (its state survives, as Confluent's lives in the `_schemas` topic)
//! and be cut off by the network; clients then time out.
use crate::network::NodeId;
use crate::node::Io;
use crate::protocol::{Message, RegistryErrorInfo};
use crate::schema::{CompatibilityLevel, RegistryError, SchemaRegistry, VersionSelector};
use crate::trace::Effect;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SchemaRegistryServer {
    pub alive: bool,
    pub incarnation: u32,
    pub registry: SchemaRegistry,
}

fn info(e: RegistryError) -> RegistryErrorInfo {
    RegistryErrorInfo { http_status: e.http_status, error_code: e.error_code, message: e.message }
}

impl SchemaRegistryServer {
    pub fn new(compatibility: CompatibilityLevel) -> Self {
        let mut registry = SchemaRegistry::new();
        registry.set_global_compatibility(compatibility);
        SchemaRegistryServer { alive: true, incarnation: 0, registry }
    }

    /// Registers a schema (from a client or an admin action), tracing the outcome.
    pub fn register(&mut self, subject: &str, schema: &str, io: &mut Io) -> Result<(u32, String), RegistryErrorInfo> {
        match self.registry.register(subject, schema) {
            Ok(r) => {
                io.emit(Effect::SchemaRegistered { subject: subject.to_string(), id: r.id, version: r.version });
                let text = self.registry.schema_by_id(r.id).map(|s| s.canonical().to_string()).unwrap_or_default();
                Ok((r.id, text))
            }
            Err(e) => {
                io.emit(Effect::SchemaRefused {
                    subject: subject.to_string(),
                    http_status: e.http_status,
                    error_code: e.error_code,
                    message: e.message.clone(),
                });
                Err(info(e))
            }
        }
    }

    pub fn handle_message(&mut self, from: NodeId, msg: Message, io: &mut Io) {
        match msg {
            Message::RegisterSchemaRequest { corr, subject, schema, lookup_only } => {
                let result = if lookup_only {
                    self.registry
                        .lookup(&subject, &schema)
                        .map(|v| (v.id, v.schema.canonical().to_string()))
                        .map_err(info)
                } else {
                    self.register(&subject, &schema, io)
                };
                io.send(from, Message::SchemaIdResponse { corr, result });
            }
            Message::LatestSchemaRequest { corr, subject } => {
                let result = self
                    .registry
                    .version(&subject, VersionSelector::Latest)
                    .map(|v| (v.id, v.schema.canonical().to_string()))
                    .map_err(info);
                io.send(from, Message::SchemaIdResponse { corr, result });
            }
            Message::SchemaByIdRequest { corr, id } => {
                let result = self.registry.schema_by_id(id).map(|s| s.canonical().to_string()).map_err(info);
                io.send(from, Message::SchemaByIdResponse { corr, id, result });
            }
            _ => {}
        }
    }
}
