//! The world: every node, the network, the event queue and the ledger, advanced one step at
//! a time by [`World::step`] and [`World::act`]. This is the simulation's `next_state`:
//! a run is fully described by its setup, its seed and the log of user actions.
use crate::action::Action;
use crate::cluster::broker::{Broker, BrokerStatus, Role};
use crate::cluster::controller::Controller;
use crate::config::{BrokerConfig, ConsumerConfig, ProducerConfig, TopicConfig};
use crate::consumer::app::AppSettings;
use crate::consumer::Consumer;
use crate::group::observe::GroupObserver;
use crate::group::offsets::OFFSETS_TOPIC;
use crate::invariant::Invariants;
use crate::ledger::Ledger;
use crate::limits;
use crate::network::{LinkProps, Network, NodeId, Routing};
use crate::node::{Io, Outbox, Timer};
use crate::producer::workload::{KeyPattern, ValuePattern, Workload};
use crate::producer::Producer;
use crate::protocol::Message;
use crate::record::{Blob, TopicPartition};
use crate::schema::CompatibilityLevel;
use crate::schema_registry::SchemaRegistryServer;
use crate::sim::digest::StableHasher;
use crate::sim::queue::EventQueue;
use crate::sim::rng::{SimRng, Stream};
use crate::sim::time::{Dur, SimTime};
use crate::streams::runtime::{Outgoing, StreamsApp, StreamsAppSpec, TaskEvent};
use crate::trace::{Cause, Effect, TraceEvent};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;

/// Everything scheduled in the event queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A message arriving on connection generation `conn` between the two nodes.
    Deliver {
        from: NodeId,
        to: NodeId,
        conn: u64,
        msg: Message,
    },
    Timer {
        node: NodeId,
        incarnation: u32,
        timer: Timer,
    },
    /// A scenario timeline entry.
    Action(Action),
    /// A Kafka Connect worker's own wake-up.
    Connect(ConnectWake),
}

/// Why the Connect worker wakes up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ConnectWake {
    /// A source task's next `poll()` (ignored if the task restarted since: `epoch`).
    SourcePoll { connector: u32, task: u32, epoch: u32 },
    /// The worker's periodic source offset flush (`offset.flush.interval.ms`).
    OffsetFlush,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: u32,
    pub replication_factor: u32,
    pub config: TopicConfig,
    /// Explicit replica assignment; placed like KRaft's StripedReplicaPlacer otherwise.
    pub assignment: Option<Vec<Vec<u32>>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProducerSpec {
    pub name: String,
    pub config: ProducerConfig,
    /// Key and value schemas (Avro schema text) for the Avro or JSON serializers.
    #[serde(default)]
    pub key_schema: Option<String>,
    #[serde(default)]
    pub value_schema: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsumerSpec {
    pub name: String,
    pub config: ConsumerConfig,
    /// Manual assignment at start.
    pub assign: Vec<TopicPartition>,
    /// `subscribe()` at start (needs a `group.id`).
    #[serde(default)]
    pub subscribe: Vec<String>,
    /// What the application does with the records.
    #[serde(default)]
    pub app: AppSettings,
    /// Reader schemas (Avro schema text) for the Avro or JSON deserializers.
    #[serde(default)]
    pub key_schema: Option<String>,
    #[serde(default)]
    pub value_schema: Option<String>,
    /// Declared but not running at boot (a Streams instance that `restart_client` starts
    /// later): its subscription is set, the process is down.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped: bool,
}

/// A validated description of a run's starting point and its timeline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    pub brokers: u32,
    pub broker_config: BrokerConfig,
    pub link: LinkProps,
    pub topics: Vec<TopicSpec>,
    pub producers: Vec<ProducerSpec>,
    pub consumers: Vec<ConsumerSpec>,
    pub timeline: Vec<(SimTime, Action)>,
    /// When the run ends.
    pub end: SimTime,
    /// A Schema Registry server with this global compatibility level, if the run has one.
    #[serde(default)]
    pub schema_registry: Option<CompatibilityLevel>,
    /// Kafka Streams applications; their instances' clients are among `producers` and
    /// `consumers`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<StreamsAppSpec>,
    /// ksqlDB servers; their persistent queries are among `streams`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ksql: Vec<crate::streams::ksql::KsqlServerSpec>,
    /// A Kafka Connect worker and its connectors; their tasks' clients are among
    /// `producers` and `consumers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<crate::connect::ConnectSetup>,
}

/// Resolves a schema reference: `builtin:<name>` (or a bare example name) for the course's
/// taxi schemas, or the schema's JSON text. The text must parse.
pub fn schema_text(reference: &str) -> Result<String, String> {
    let r = reference.trim();
    let name = r.strip_prefix("builtin:").unwrap_or(r);
    if let Some(e) = crate::schema::taxi::example(name) {
        return Ok(e.text.to_string());
    }
    if r.starts_with("builtin:") {
        let names: Vec<&str> = crate::schema::taxi::EXAMPLES.iter().map(|e| e.name).collect();
        return Err(format!("no built-in schema '{name}' (built-in: {})", names.join(", ")));
    }
    crate::schema::AvroSchema::parse(r).map(|_| r.to_string()).map_err(|e| format!("invalid schema: {e}"))
}

/// One input to [`World::apply`]: the next scheduled event, or a user action now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Input {
    /// Apply the earliest scheduled event (a message, a timer or a timeline entry).
    Next,
    /// Apply a user action at the current time (logged for replay).
    Act(Action),
}

/// A user action applied at a given step (for replay and sharing).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedAction {
    /// Number of steps taken before the action was applied.
    pub at_step: u64,
    /// Share links carry the log as JSON: the action is read straight from the JSON reader
    /// (the derive's own code, errors at their exact position), not through the buffered
    /// form the TOML inputs share (`crate::de`).
    #[serde(deserialize_with = "Action::deserialize")]
    pub action: Action,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct World {
    pub seed: u64,
    pub now: SimTime,
    pub steps: u64,
    pub end: SimTime,
    queue: EventQueue<Event>,
    pub controller: Controller,
    pub brokers: Vec<Broker>,
    pub producers: Vec<Producer>,
    pub consumers: Vec<Consumer>,
    pub schema_registry: Option<SchemaRegistryServer>,
    pub network: Network,
    pub ledger: Ledger,
    pub invariants: Invariants,
    pub action_log: Vec<LoggedAction>,
    /// Power losses that truncated a replica: (partition, broker, first offset lost, time).
    pub power_losses: Vec<(TopicPartition, u32, u64, SimTime)>,
    /// Errors producers saw in responses, retried ones included.
    pub produce_errors: std::collections::BTreeMap<crate::error::ErrorCode, u64>,
    /// Records removed from replica logs by truncation (divergence after a leader change).
    pub truncated_records: u64,
    /// Who owns which partition in each consumer group, step by step.
    pub groups: GroupObserver,
    /// Schema registrations the registry refused.
    pub schema_refusals: u64,
    /// Kafka Streams applications running in the cluster.
    #[serde(default)]
    pub streams: Vec<StreamsApp>,
    /// ksqlDB servers (their queries run as `streams` applications).
    #[serde(default)]
    pub ksql: Vec<crate::streams::ksql::KsqlServerSpec>,
    /// The Kafka Connect worker, when the run has connectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<crate::connect::ConnectRuntime>,
    hasher: StableHasher,
    #[serde(skip)]
    outbox: Outbox,
}

/// Why an action could not be applied.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionError(pub String);

impl std::fmt::Display for ActionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn ms_to_dur(ms: f64) -> Result<Dur, ActionError> {
    if !ms.is_finite() || ms < 0.0 || ms > limits::MAX_RUN_MS as f64 {
        return Err(ActionError(format!("{ms} ms is not a valid duration")));
    }
    Ok(Dur((ms * 1000.0).round() as u64))
}

fn probability(p: f64, what: &str) -> Result<f64, ActionError> {
    if !(0.0..=1.0).contains(&p) {
        return Err(ActionError(format!("{what} must be a probability between 0 and 1, got {p}")));
    }
    Ok(p)
}

impl World {
    /// Builds the world at time zero: brokers up and caught up, topics created, clients
    /// connected, the timeline scheduled. The boot is step 0 of the trace.
    pub fn new(setup: &Setup, seed: u64) -> Result<(World, TraceEvent), ActionError> {
        if setup.brokers == 0 || setup.brokers > limits::MAX_BROKERS {
            return Err(ActionError(format!(
                "a cluster has 1..={} brokers, got {}",
                limits::MAX_BROKERS,
                setup.brokers
            )));
        }
        let ids: Vec<u32> = (1..=setup.brokers).collect();
        let controller = Controller::new(&ids, setup.broker_config.clone(), SimRng::new(seed, Stream::Controller));
        let brokers = ids.iter().map(|&id| Broker::new(id, setup.broker_config.clone())).collect();
        let producers = setup
            .producers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut producer = Producer::new(
                    i as u32,
                    p.name.clone(),
                    p.config.clone(),
                    ids.clone(),
                    SimRng::new(seed, Stream::Client(i as u32)),
                    SimRng::new(seed, Stream::Partitioner(i as u32)),
                );
                producer.set_schemas(p.key_schema.clone(), p.value_schema.clone());
                producer
            })
            .collect();
        let consumers = setup
            .consumers
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut consumer = Consumer::new(
                    i as u32,
                    c.name.clone(),
                    c.config.clone(),
                    c.app.clone(),
                    ids.clone(),
                    SimRng::new(seed, Stream::Client(1000 + i as u32)),
                );
                consumer
                    .set_reader_schemas(c.key_schema.as_deref(), c.value_schema.as_deref())
                    .map_err(|e| ActionError(format!("consumer {}: {e}", c.name)))?;
                Ok(consumer)
            })
            .collect::<Result<Vec<_>, ActionError>>()?;
        let mut world = World {
            seed,
            now: SimTime::ZERO,
            steps: 0,
            end: setup.end,
            queue: EventQueue::default(),
            controller,
            brokers,
            producers,
            consumers,
            schema_registry: setup.schema_registry.map(SchemaRegistryServer::new),
            network: Network::new(SimRng::new(seed, Stream::Network), setup.link),
            ledger: Ledger::default(),
            invariants: Invariants::default(),
            action_log: Vec::new(),
            power_losses: Vec::new(),
            produce_errors: Default::default(),
            truncated_records: 0,
            groups: GroupObserver::default(),
            schema_refusals: 0,
            streams: Vec::new(),
            ksql: setup.ksql.clone(),
            connect: None,
            hasher: StableHasher::new(),
            outbox: Outbox::default(),
        };
        for t in &setup.topics {
            let mut io = Io { now: SimTime::ZERO, me: NodeId::Controller, out: &mut world.outbox };
            world
                .controller
                .create_topic(
                    &t.name,
                    t.partitions,
                    t.replication_factor,
                    t.config.clone(),
                    t.assignment.clone(),
                    &mut io,
                )
                .map_err(|e| ActionError(format!("topic '{}': {e}", t.name)))?;
        }
        // Kafka creates `__consumer_offsets` when a group first looks for its coordinator;
        // the sandbox creates it at boot for runs with consumer groups (after the user's
        // topics, so their replica placement does not depend on it).
        let uses_groups = setup.consumers.iter().any(|c| c.config.group_id.is_some());
        if uses_groups && !world.controller.image.topics.contains_key(OFFSETS_TOPIC) {
            let bc = &setup.broker_config;
            let mut config = TopicConfig::default();
            config.cleanup_policy = crate::config::CleanupPolicy::Compact;
            config.segment_bytes = bc.offsets_topic_segment_bytes;
            let rf = bc.offsets_topic_replication_factor.clamp(1, setup.brokers);
            let mut io = Io { now: SimTime::ZERO, me: NodeId::Controller, out: &mut world.outbox };
            world
                .controller
                .create_topic(OFFSETS_TOPIC, bc.offsets_topic_num_partitions.max(1), rf, config, None, &mut io)
                .map_err(|e| ActionError(format!("topic '{OFFSETS_TOPIC}': {e}")))?;
        }
        // Likewise `__transaction_state` for runs with transactional producers.
        let uses_txns = setup.producers.iter().any(|p| p.config.transactional_id.is_some());
        if uses_txns && !world.controller.image.topics.contains_key(crate::txn::TRANSACTION_STATE_TOPIC) {
            let bc = &setup.broker_config;
            let mut config = TopicConfig::default();
            config.cleanup_policy = crate::config::CleanupPolicy::Compact;
            // Kafka's `transaction.state.log.min.isr` default is 2.
            let rf = bc.transaction_state_log_replication_factor.clamp(1, setup.brokers);
            config.min_insync_replicas = rf.min(2);
            config.segment_bytes = bc.offsets_topic_segment_bytes;
            let mut io = Io { now: SimTime::ZERO, me: NodeId::Controller, out: &mut world.outbox };
            world
                .controller
                .create_topic(
                    crate::txn::TRANSACTION_STATE_TOPIC,
                    bc.transaction_state_log_num_partitions.max(1),
                    rf,
                    config,
                    None,
                    &mut io,
                )
                .map_err(|e| ActionError(format!("topic '{}': {e}", crate::txn::TRANSACTION_STATE_TOPIC)))?;
        }
        // The cluster boots already agreed on its metadata: drop the pushes, keep the effects.
        world.outbox.sends.clear();
        let image = world.controller.image.clone();
        {
            let mut io = Io { now: SimTime::ZERO, me: NodeId::Controller, out: &mut world.outbox };
            world.controller.start_timers(&mut io);
        }
        for b in 0..world.brokers.len() {
            let me = NodeId::Broker(world.brokers[b].id);
            let mut io = Io { now: SimTime::ZERO, me, out: &mut world.outbox };
            world.brokers[b].bootstrap(image.clone(), &mut io);
            world.brokers[b].start(&mut io);
        }
        for (i, c) in setup.consumers.iter().enumerate() {
            let mut io = Io { now: SimTime::ZERO, me: NodeId::Consumer(i as u32), out: &mut world.outbox };
            if c.stopped {
                world.consumers[i].subscription = c.subscribe.clone();
                world.consumers[i].alive = false;
                continue;
            }
            if !c.assign.is_empty() {
                world.consumers[i].assign(c.assign.clone(), &mut world.ledger, &mut io);
            } else if !c.subscribe.is_empty() {
                world.consumers[i].subscribe(c.subscribe.clone(), &mut world.ledger, &mut io);
            }
        }
        for spec in &setup.streams {
            let mut clients = Vec::new();
            for inst in &spec.instances {
                let c = world.consumers.iter().position(|c| c.name == inst.consumer);
                let p = world.producers.iter().position(|p| p.name == inst.producer);
                match (c, p) {
                    (Some(c), Some(p)) if world.consumers[c].settings.streams => clients.push((c as u32, p as u32)),
                    _ => {
                        return Err(ActionError(format!(
                            "streams application '{}': instance clients '{}'/'{}' are not declared",
                            spec.application_id, inst.consumer, inst.producer
                        )))
                    }
                }
            }
            world.streams.push(StreamsApp::new(spec.clone(), clients));
        }
        if let Some(c) = &setup.connect {
            world.start_connect(c)?;
        }
        world.invariants.read_committed = world
            .consumers
            .iter()
            .filter(|c| c.config.isolation_level == crate::config::IsolationLevel::ReadCommitted)
            .map(|c| c.index)
            .collect();
        for i in 0..world.producers.len() {
            world.init_transactions(i);
        }
        for (at, action) in &setup.timeline {
            world.queue.push(*at, Event::Action(action.clone()));
        }
        let boot = world.finish_step(Cause::Action { action: "boot".into() });
        Ok((world, boot))
    }

    /// The running trace digest.
    pub fn digest(&self) -> u64 {
        self.hasher.finish()
    }

    /// Time of the next scheduled event.
    pub fn next_event_time(&self) -> Option<SimTime> {
        self.queue.peek_time()
    }

    pub fn pending_events(&self) -> usize {
        self.queue.len()
    }

    pub fn broker(&self, id: u32) -> Option<&Broker> {
        self.brokers.iter().find(|b| b.id == id)
    }

    fn broker_index(&self, id: u32) -> Option<usize> {
        self.brokers.iter().position(|b| b.id == id)
    }

    /// Every node, for network actions.
    pub fn all_nodes(&self) -> Vec<NodeId> {
        let mut v = vec![NodeId::Controller];
        v.extend(self.brokers.iter().map(|b| NodeId::Broker(b.id)));
        v.extend((0..self.producers.len() as u32).map(NodeId::Producer));
        v.extend((0..self.consumers.len() as u32).map(NodeId::Consumer));
        if self.schema_registry.is_some() {
            v.push(NodeId::SchemaRegistry);
        }
        v
    }

    /// A node's name as scenarios and the UI spell it.
    pub fn node_name(&self, node: NodeId) -> String {
        match node {
            NodeId::Controller => "controller".into(),
            NodeId::Broker(id) => format!("b{id}"),
            NodeId::Producer(i) => {
                self.producers.get(i as usize).map(|p| p.name.clone()).unwrap_or_else(|| node.to_string())
            }
            NodeId::Consumer(i) => {
                self.consumers.get(i as usize).map(|c| c.name.clone()).unwrap_or_else(|| node.to_string())
            }
            NodeId::SchemaRegistry => "schema-registry".into(),
        }
    }

    /// Resolves a node name: `controller`, `b<id>`, or a client's name.
    pub fn resolve_node(&self, name: &str) -> Result<NodeId, ActionError> {
        if name == "controller" {
            return Ok(NodeId::Controller);
        }
        if name == "schema-registry" {
            return match self.schema_registry {
                Some(_) => Ok(NodeId::SchemaRegistry),
                None => Err(ActionError("this run has no schema registry ([schema_registry] in the scenario)".into())),
            };
        }
        if let Some(id) = name.strip_prefix('b').and_then(|s| s.parse::<u32>().ok()) {
            if self.broker_index(id).is_some() {
                return Ok(NodeId::Broker(id));
            }
            return Err(ActionError(format!("no broker {id} (brokers are b1..b{})", self.brokers.len())));
        }
        if let Some(i) = self.producers.iter().position(|p| p.name == name) {
            return Ok(NodeId::Producer(i as u32));
        }
        if let Some(i) = self.consumers.iter().position(|c| c.name == name) {
            return Ok(NodeId::Consumer(i as u32));
        }
        Err(ActionError(format!("no node named '{name}' (use controller, b1.., or a client name)")))
    }

    /// An operator's request to the registry (curl against its REST API) needs the process
    /// up: a crashed registry's machine refuses the connection.
    fn registry_up(&self) -> Result<(), ActionError> {
        match &self.schema_registry {
            Some(r) if !r.alive => Err(ActionError("the schema registry is down: connection refused".into())),
            _ => Ok(()),
        }
    }

    /// Checks an `add_consumer`: `like` is a running group member of its own (not a Kafka
    /// Streams instance nor a Connect task, whose clients their runtime starts), `name` is
    /// free, and there is room. Returns the index of `like`.
    fn consumer_to_add(&self, name: &str, like: &str) -> Result<usize, ActionError> {
        let i = self.consumer_index(like)?;
        let c = &self.consumers[i];
        if c.config.group_id.is_none() || c.subscription.is_empty() {
            return Err(ActionError(format!(
                "'{like}' does not subscribe with a group.id: a consumer like it would have no group to join"
            )));
        }
        let connect_task = self.connect.as_ref().is_some_and(|r| {
            r.connectors.iter().any(|k| {
                matches!(k.spec.kind, crate::connect::ConnectorKind::JdbcSink { .. })
                    && k.tasks.iter().any(|t| t.client == i as u32)
            })
        });
        if c.settings.streams || connect_task {
            return Err(ActionError(format!(
                "'{like}' belongs to a {} (start its instances with restart_client)",
                if connect_task { "Kafka Connect connector" } else { "Kafka Streams application" }
            )));
        }
        let reserved = matches!(name, "controller" | "schema-registry" | "all" | "brokers" | "clients" | "*")
            || (name.starts_with('b') && name[1..].parse::<u32>().is_ok());
        if name.is_empty() || name.len() > 100 || reserved {
            return Err(ActionError(format!("'{}' cannot name a client", name.chars().take(100).collect::<String>())));
        }
        if self.producers.iter().any(|p| p.name == name) || self.consumers.iter().any(|c| c.name == name) {
            return Err(ActionError(format!("a client named '{name}' exists already")));
        }
        if self.consumers.len() >= limits::MAX_CONSUMERS {
            return Err(ActionError(format!("a run has at most {} consumers", limits::MAX_CONSUMERS)));
        }
        Ok(i)
    }

    fn resolve_nodes(&self, names: &[String]) -> Result<Vec<NodeId>, ActionError> {
        let mut out = Vec::new();
        for n in names {
            if n == "*" || n == "all" {
                out.extend(self.all_nodes());
            } else if n == "brokers" {
                out.extend(self.brokers.iter().map(|b| NodeId::Broker(b.id)));
            } else if n == "clients" {
                out.extend((0..self.producers.len() as u32).map(NodeId::Producer));
                out.extend((0..self.consumers.len() as u32).map(NodeId::Consumer));
            } else {
                out.push(self.resolve_node(n)?);
            }
        }
        Ok(out)
    }

    fn producer_index(&self, name: &str) -> Result<usize, ActionError> {
        self.producers
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| ActionError(format!("no producer named '{name}'")))
    }

    fn consumer_index(&self, name: &str) -> Result<usize, ActionError> {
        self.consumers
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| ActionError(format!("no consumer named '{name}'")))
    }

    fn partition_name(&self, text: &str) -> Result<TopicPartition, ActionError> {
        let tp = TopicPartition::parse(text)
            .ok_or_else(|| ActionError(format!("'{text}' is not a partition (write <topic>-<n>)")))?;
        match self.controller.image.topics.get(&tp.topic) {
            Some(t) if (tp.partition as usize) < t.partitions.len() => Ok(tp),
            Some(t) => Err(ActionError(format!("topic {} has partitions 0..{}", tp.topic, t.partitions.len()))),
            None => Err(ActionError(format!("no topic '{}'", tp.topic))),
        }
    }

    fn node_incarnation(&self, node: NodeId) -> u32 {
        match node {
            NodeId::Controller => self.controller.incarnation,
            NodeId::Broker(id) => self.broker(id).map(|b| b.incarnation).unwrap_or(0),
            NodeId::Producer(i) => self.producers.get(i as usize).map(|p| p.incarnation).unwrap_or(0),
            NodeId::Consumer(i) => self.consumers.get(i as usize).map(|c| c.incarnation).unwrap_or(0),
            NodeId::SchemaRegistry => self.schema_registry.as_ref().map(|r| r.incarnation).unwrap_or(0),
        }
    }

    fn node_alive(&self, node: NodeId) -> bool {
        match node {
            NodeId::Controller => self.controller.alive,
            NodeId::Broker(id) => self.broker(id).map(|b| b.is_running()).unwrap_or(false),
            NodeId::Producer(i) => self.producers.get(i as usize).map(|p| p.alive).unwrap_or(false),
            NodeId::Consumer(i) => self.consumers.get(i as usize).map(|c| c.alive).unwrap_or(false),
            NodeId::SchemaRegistry => self.schema_registry.as_ref().map(|r| r.alive).unwrap_or(false),
        }
    }

    // ------------------------------------------------------------------ stepping

    /// The one entry point that changes the world: every step of every run goes through
    /// here. `Ok(None)` means nothing was scheduled.
    pub fn apply(&mut self, input: Input) -> Result<Option<TraceEvent>, ActionError> {
        match input {
            Input::Next => Ok(self.step()),
            Input::Act(action) => self.act(action).map(Some),
        }
    }

    /// Replays a logged run: applies `log`'s actions at their steps, stepping in between,
    /// up to `until_step` steps. The result is identical to the original run.
    pub fn replay(setup: &Setup, seed: u64, log: &[LoggedAction], until_step: u64) -> Result<World, ActionError> {
        let (mut world, _) = World::new(setup, seed)?;
        let mut pending = log.iter().peekable();
        while world.steps < until_step {
            if let Some(a) = pending.peek() {
                if a.at_step <= world.steps {
                    world.apply(Input::Act(a.action.clone()))?;
                    pending.next();
                    continue;
                }
            }
            if world.apply(Input::Next)?.is_none() {
                break;
            }
        }
        Ok(world)
    }

    /// Applies the next scheduled event. Returns its trace event, or `None` when nothing is
    /// scheduled.
    pub fn step(&mut self) -> Option<TraceEvent> {
        let (at, _seq, event) = self.queue.pop()?;
        if at > self.now {
            self.now = at;
        }
        let cause = self.dispatch(event);
        Some(self.finish_step(cause))
    }

    /// Steps until the next event would be after `t`, then sets the clock to `t`.
    pub fn run_until(&mut self, t: SimTime, mut on_step: impl FnMut(&TraceEvent)) -> Result<(), ActionError> {
        while self.queue.peek_time().map(|x| x <= t).unwrap_or(false) {
            if self.steps >= limits::MAX_STEPS {
                return Err(ActionError(format!("run stopped after {} steps (limit)", limits::MAX_STEPS)));
            }
            if let Some(ev) = self.step() {
                on_step(&ev);
            }
        }
        if t > self.now {
            self.now = t;
        }
        Ok(())
    }

    /// Steps until the run's end time.
    pub fn run_to_end(&mut self, on_step: impl FnMut(&TraceEvent)) -> Result<(), ActionError> {
        self.run_until(self.end, on_step)
    }

    /// Applies a user action now, as one step, and logs it.
    pub fn act(&mut self, action: Action) -> Result<TraceEvent, ActionError> {
        self.validate(&action)?;
        self.action_log.push(LoggedAction { at_step: self.steps, action: action.clone() });
        let cause = Cause::Action { action: action.to_string() };
        if let Err(e) = self.apply_action(&action) {
            self.outbox.effects.push(Effect::Note { text: format!("action failed: {e}") });
        }
        Ok(self.finish_step(cause))
    }

    /// Checks that an action names things that exist (without applying it).
    pub fn validate(&self, action: &Action) -> Result<(), ActionError> {
        use Action::*;
        match action {
            Produce { producer, topic, count, key, value, interval_ms, .. } => {
                self.producer_index(producer)?;
                if !self.controller.image.topics.contains_key(topic.as_str()) && !self.topic_planned(topic) {
                    return Err(ActionError(format!("no topic '{topic}'")));
                }
                if *count > limits::MAX_RECORDS_PER_RUN {
                    return Err(ActionError(format!(
                        "count {count} is above the limit of {}",
                        limits::MAX_RECORDS_PER_RUN
                    )));
                }
                KeyPattern::parse(key).map_err(ActionError)?;
                ValuePattern::parse(value).map_err(ActionError)?;
                ms_to_dur(*interval_ms)?;
            }
            Send { producer, .. } | Flush { producer } => {
                self.producer_index(producer)?;
            }
            BeginTransaction { producer } | CommitTransaction { producer } | AbortTransaction { producer } => {
                let i = self.producer_index(producer)?;
                if !self.producers[i].is_transactional() {
                    return Err(ActionError(format!(
                        "{action}: producer '{producer}' has no transactional.id (set it in the producer's config)"
                    )));
                }
            }
            Crash { broker } | PowerLoss { broker } | Restart { broker } | SlowFollower { broker, .. } => {
                self.broker_index(*broker).ok_or_else(|| ActionError(format!("no broker {broker}")))?;
                if let SlowFollower { delay_ms, .. } = action {
                    ms_to_dur(*delay_ms)?;
                }
            }
            PauseConnector { connector } | ResumeConnector { connector } => {
                self.connector_index(connector)?;
            }
            CrashClient { client } | RestartClient { client } | SetClientConfig { client, .. } => {
                match self.resolve_node(client)? {
                    NodeId::Producer(_) | NodeId::Consumer(_) => {}
                    _ => return Err(ActionError(format!("'{client}' is not a producer or consumer"))),
                }
                if let SetClientConfig { name, value, .. } = action {
                    let mut probe = self.clone_client_config(client)?;
                    probe.set(name, value)?;
                }
            }
            Partition { groups } => {
                for g in groups {
                    self.resolve_nodes(g)?;
                }
            }
            Cut { from, to } | Link { from, to, .. } => {
                self.resolve_nodes(from)?;
                self.resolve_nodes(to)?;
                if let Link { latency_ms, jitter_ms, drop, duplicate, .. } = action {
                    latency_ms.map(ms_to_dur).transpose()?;
                    jitter_ms.map(ms_to_dur).transpose()?;
                    drop.map(|p| probability(p, "drop")).transpose()?;
                    duplicate.map(|p| probability(p, "duplicate")).transpose()?;
                }
            }
            Isolate { node } => {
                self.resolve_node(node)?;
            }
            Heal { nodes } => {
                if let Some(n) = nodes {
                    self.resolve_nodes(n)?;
                }
            }
            SetTopicConfig { topic, name, value } => {
                let mut c = self
                    .controller
                    .image
                    .topic_config(topic)
                    .cloned()
                    .ok_or_else(|| ActionError(format!("no topic '{topic}'")))?;
                c.set(name, value).map_err(|e| ActionError(e.to_string()))?;
                c.validate().map_err(|e| ActionError(e.to_string()))?;
            }
            CreateTopic { name, partitions, replication_factor, config } => {
                if name.is_empty()
                    || name.len() > 249
                    || !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                {
                    return Err(ActionError(format!(
                        "'{name}' is not a legal topic name (ASCII letters, digits, '.', '_', '-')"
                    )));
                }
                if *partitions == 0 || *partitions > limits::MAX_PARTITIONS_PER_TOPIC {
                    return Err(ActionError(format!("partitions must be 1..={}", limits::MAX_PARTITIONS_PER_TOPIC)));
                }
                if *replication_factor == 0 || *replication_factor > self.brokers.len() as u32 {
                    return Err(ActionError(format!(
                        "replication factor {replication_factor} needs that many brokers ({} in the cluster)",
                        self.brokers.len()
                    )));
                }
                let mut c = TopicConfig::default();
                for (k, v) in config {
                    c.set(k, v).map_err(|e| ActionError(e.to_string()))?;
                }
                c.validate().map_err(|e| ActionError(e.to_string()))?;
            }
            ElectLeaders { partition, .. } => {
                if let Some(p) = partition {
                    self.partition_name(p)?;
                }
            }
            Assign { consumer, partitions } => {
                self.consumer_index(consumer)?;
                for p in partitions {
                    self.partition_name(p)?;
                }
            }
            Seek { consumer, partition, .. } => {
                self.consumer_index(consumer)?;
                self.partition_name(partition)?;
            }
            Subscribe { consumer, topics } => {
                self.consumer_index(consumer)?;
                if topics.is_empty() {
                    return Err(ActionError("subscribe needs at least one topic".into()));
                }
            }
            Pause { consumer, partitions } | Resume { consumer, partitions } => {
                self.consumer_index(consumer)?;
                for p in partitions {
                    self.partition_name(p)?;
                }
            }
            CloseClient { client } => {
                self.consumer_index(client)?;
            }
            AddConsumer { name, like } => {
                self.consumer_to_add(name, like)?;
            }
            SetProcessing { consumer, processing_ms } => {
                self.consumer_index(consumer)?;
                ms_to_dur(*processing_ms)?;
            }
            CrashController | RestartController | Note { .. } => {}
            CrashSchemaRegistry | RestartSchemaRegistry => {
                self.resolve_node("schema-registry")?;
            }
            SetCompatibility { level, .. } => {
                self.resolve_node("schema-registry")?;
                level.parse::<CompatibilityLevel>().map_err(|e| ActionError(e.to_string()))?;
            }
            RegisterSchema { schema, .. } => {
                self.resolve_node("schema-registry")?;
                schema_text(schema).map_err(ActionError)?;
            }
            SetProducerSchema { producer, key_schema, value_schema } => {
                self.producer_index(producer)?;
                for s in key_schema.iter().chain(value_schema) {
                    schema_text(s).map_err(ActionError)?;
                }
            }
        }
        Ok(())
    }

    /// Topics created later in the timeline (so a produce action can name them).
    fn topic_planned(&self, topic: &str) -> bool {
        self.queue
            .pending()
            .iter()
            .any(|(_, _, e)| matches!(e, Event::Action(Action::CreateTopic { name, .. }) if name == topic))
    }

    fn clone_client_config(&self, client: &str) -> Result<ClientConfigProbe, ActionError> {
        match self.resolve_node(client)? {
            NodeId::Producer(i) => Ok(ClientConfigProbe::Producer(self.producers[i as usize].config.clone())),
            NodeId::Consumer(i) => Ok(ClientConfigProbe::Consumer(self.consumers[i as usize].config.clone())),
            _ => Err(ActionError(format!("'{client}' is not a client"))),
        }
    }

    fn dispatch(&mut self, event: Event) -> Cause {
        match event {
            Event::Deliver { from, to, conn, msg } => {
                let cause = Cause::Deliver { from, to, kind: Cow::Borrowed(msg.kind()) };
                if conn == self.network.connection(from, to) {
                    self.deliver(from, to, msg);
                } else {
                    self.outbox.effects.push(Effect::MessageLost {
                        from,
                        to,
                        kind: msg.kind().to_string(),
                        reason: "connection was reset".into(),
                    });
                }
                cause
            }
            Event::Timer { node, incarnation, timer } => {
                let cause = Cause::Timer { node, timer: Cow::Owned(timer.name()) };
                if self.node_alive(node) && self.node_incarnation(node) == incarnation {
                    self.fire_timer(node, timer);
                }
                cause
            }
            Event::Connect(wake) => self.connect_wake(wake),
            Event::Action(action) => {
                let cause = Cause::Action { action: action.to_string() };
                if let Err(e) = self.validate(&action).and_then(|_| self.apply_action(&action)) {
                    self.outbox.effects.push(Effect::Note { text: format!("action failed: {e}") });
                }
                cause
            }
        }
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, msg: Message) {
        let now = self.now;
        match to {
            NodeId::Broker(id) => {
                let Some(i) = self.broker_index(id) else {
                    return;
                };
                match self.brokers[i].status {
                    BrokerStatus::Running => {
                        let mut io = Io { now, me: to, out: &mut self.outbox };
                        self.brokers[i].handle_message(from, msg, &mut io);
                    }
                    // The machine is up but the process is not: its OS refuses the connection.
                    BrokerStatus::Crashed
                        if !matches!(msg, Message::ConnectionClosed) && !matches!(from, NodeId::Controller) =>
                    {
                        self.outbox.sends.push((to, from, Message::ConnectionClosed));
                    }
                    _ => {}
                }
            }
            NodeId::Controller => {
                if self.controller.alive {
                    let mut io = Io { now, me: to, out: &mut self.outbox };
                    self.controller.handle_message(from, msg, &mut io);
                }
            }
            NodeId::Producer(i) => {
                if let Some(p) = self.producers.get_mut(i as usize) {
                    let mut io = Io { now, me: to, out: &mut self.outbox };
                    p.handle_message(from, msg, &mut self.ledger, &mut io);
                }
            }
            NodeId::Consumer(i) => {
                if let Some(c) = self.consumers.get_mut(i as usize) {
                    let mut io = Io { now, me: to, out: &mut self.outbox };
                    c.handle_message(from, msg, &mut self.ledger, &mut io);
                }
            }
            NodeId::SchemaRegistry => match self.schema_registry.as_mut() {
                Some(r) if r.alive => {
                    let mut io = Io { now, me: to, out: &mut self.outbox };
                    r.handle_message(from, msg, &mut io);
                }
                // A crashed registry process: its machine refuses the connection.
                Some(_) if !matches!(msg, Message::ConnectionClosed) => {
                    self.outbox.sends.push((to, from, Message::ConnectionClosed));
                }
                _ => {}
            },
        }
    }

    fn fire_timer(&mut self, node: NodeId, timer: Timer) {
        let now = self.now;
        let mut io = Io { now, me: node, out: &mut self.outbox };
        match node {
            NodeId::Controller => self.controller.handle_timer(timer, &mut io),
            NodeId::Broker(id) => {
                if let Some(b) = self.brokers.iter_mut().find(|b| b.id == id) {
                    b.handle_timer(timer, &mut io);
                }
            }
            NodeId::Producer(i) => self.producers[i as usize].handle_timer(timer, &mut self.ledger, &mut io),
            NodeId::Consumer(i) => self.consumers[i as usize].handle_timer(timer, &mut self.ledger, &mut io),
            NodeId::SchemaRegistry => {}
        }
    }

    /// Routes the step's messages and timers, checks invariants, records the trace event.
    fn finish_step(&mut self, cause: Cause) -> TraceEvent {
        self.forward_converted();
        self.run_streams();
        self.run_connect();
        let now = self.now;
        let sends = std::mem::take(&mut self.outbox.sends);
        for (from, to, msg) in sends {
            match self.network.route(now, from, to) {
                Routing::Deliver(times, conn) => {
                    if times.len() == 1 {
                        self.queue.push(times[0], Event::Deliver { from, to, conn, msg });
                    } else {
                        for t in times {
                            self.queue.push(t, Event::Deliver { from, to, conn, msg: msg.clone() });
                        }
                    }
                }
                Routing::Blocked => self.outbox.effects.push(Effect::MessageLost {
                    from,
                    to,
                    kind: msg.kind().to_string(),
                    reason: "link cut".into(),
                }),
                Routing::Reset => {
                    self.outbox.effects.push(Effect::MessageLost {
                        from,
                        to,
                        kind: msg.kind().to_string(),
                        reason: "connection reset".into(),
                    });
                    // Both ends see the reset (a RST each way) on the new connection.
                    let conn = self.network.connection(from, to);
                    let latency = self.network.link(from, to).latency;
                    if !matches!(from, NodeId::Controller) && !matches!(to, NodeId::Controller) {
                        self.queue.push(
                            now.plus(latency),
                            Event::Deliver { from: to, to: from, conn, msg: Message::ConnectionClosed },
                        );
                        self.queue
                            .push(now.plus(latency), Event::Deliver { from, to, conn, msg: Message::ConnectionClosed });
                    }
                }
            }
        }
        let timers = std::mem::take(&mut self.outbox.timers);
        for (at, node, timer) in timers {
            let incarnation = self.node_incarnation(node);
            self.queue.push(at, Event::Timer { node, incarnation, timer });
        }
        let mut effects = std::mem::take(&mut self.outbox.effects);
        let ownership_changed = effects.iter().any(|e| {
            matches!(
                e,
                Effect::PartitionsAssigned { .. }
                    | Effect::PartitionsRevoked { .. }
                    | Effect::ClientCrashed { .. }
                    | Effect::ClientRestarted { .. }
                    | Effect::ClientStarted { .. }
                    | Effect::ClientClosed { .. }
                    | Effect::PollTimeoutExpired { .. }
            )
        });
        if ownership_changed {
            self.groups.update(now, &self.consumers);
        }
        for e in &effects {
            match e {
                Effect::ProduceFailed { error, records, .. } => {
                    *self.produce_errors.entry(*error).or_insert(0) += u64::from(*records);
                }
                Effect::Truncated { removed, .. } => self.truncated_records += removed,
                Effect::SchemaRefused { .. } => self.schema_refusals += 1,
                _ => {}
            }
        }
        let violations = self.invariants.check(
            self.steps,
            now,
            &effects,
            &self.brokers,
            &self.ledger,
            &self.controller,
            &self.power_losses,
        );
        effects.extend(violations);
        let event = TraceEvent { step: self.steps, time: now, cause, effects };
        event.digest_into(&mut self.hasher);
        self.steps += 1;
        event
    }

    // ------------------------------------------------------------------ actions

    /// Converter applications: what their consumers read this step, their producers send
    /// (converted to the producer's value/key schema).
    fn forward_converted(&mut self) {
        for c in 0..self.consumers.len() {
            if self.consumers[c].forwarded.is_empty() {
                continue;
            }
            let records = std::mem::take(&mut self.consumers[c].forwarded);
            let Some(to) = self.consumers[c].settings.forward_to.clone() else { continue };
            let Some(p) = self.producers.iter().position(|p| p.name == to.producer) else { continue };
            let topic: Arc<str> = Arc::from(to.topic.as_str());
            self.with_io(NodeId::Producer(p as u32), |w, io| {
                let producer = &w.producers[p];
                let key_schema = producer.key_schema.as_deref().and_then(|t| crate::schema::AvroSchema::parse(t).ok());
                let value_schema =
                    producer.value_schema.as_deref().and_then(|t| crate::schema::AvroSchema::parse(t).ok());
                for (key, value) in records {
                    let blob = |j: Option<serde_json::Value>, schema: &Option<crate::schema::AvroSchema>| {
                        j.map(|j| Blob::text(&crate::consumer::deserializer::convert_text(j, schema.as_ref())))
                    };
                    let key = blob(key, &key_schema);
                    let value = blob(value, &value_schema);
                    w.producers[p].send(topic.clone(), None, key, value, &mut w.ledger, io);
                }
                w.producers[p].run_sender(&mut w.ledger, io);
            });
        }
    }

    /// Kafka Streams instances: run what their consumers returned through their tasks,
    /// send the results with their producers, keep tasks in line with assignments, and mark
    /// the positions whose outputs are all sent as committable.
    fn run_streams(&mut self) {
        let now_ms = self.now.as_ms() as i64;
        for a in 0..self.streams.len() {
            for i in 0..self.streams[a].instances.len() {
                let (c, p) = (self.streams[a].instances[i].consumer as usize, self.streams[a].instances[i].producer);
                if !self.consumers[c].alive {
                    self.streams[a].crash_instance(i);
                    continue;
                }
                let eos = self.streams[a].exactly_once();
                if eos && !self.eos_ready(a, i) {
                    // The transaction's commit is in flight (or the producer is being
                    // re-created): the thread waits, and keeps what it polled.
                    continue;
                }
                let inbox = std::mem::take(&mut self.consumers[c].streams_inbox);
                let mut events = Vec::new();
                let outgoing = {
                    let (brokers, image) = (&self.brokers, &self.controller.image);
                    let mut read = |topic: &str, partition: u32| committed_records(brokers, image, topic, partition);
                    let app = &mut self.streams[a];
                    let mut out = Vec::new();
                    if !inbox.is_empty() {
                        out = app.process_inbox(i, inbox, now_ms, &mut read, &mut events);
                    }
                    let assignment = &self.consumers[c].assignment;
                    // Tasks change hands only with a settled assignment: during an eager
                    // rebalance the member holds nothing for a moment, and a task it gets
                    // back keeps its state (Streams suspends and resumes it).
                    let settled = self.consumers[c]
                        .group
                        .as_ref()
                        .is_none_or(|g| g.state == crate::group::member::MemberState::Stable);
                    let in_line = !settled || app.tasks_match(i, assignment);
                    if !in_line {
                        events.extend(app.sync_tasks(i, assignment, &mut read));
                    }
                    out
                };
                let app_id = self.streams[a].spec.application_id.clone();
                let instance = self.consumers[c].name.clone();
                for (_, e) in events {
                    self.outbox.effects.push(match e {
                        TaskEvent::Created { task, restored } => Effect::StreamsTaskStarted {
                            app: app_id.clone(),
                            instance: instance.clone(),
                            task: task.to_string(),
                            restored,
                        },
                        TaskEvent::Closed { task } => Effect::StreamsTaskClosed {
                            app: app_id.clone(),
                            instance: instance.clone(),
                            task: task.to_string(),
                        },
                        TaskEvent::Failed { task, error } => Effect::StreamsTaskFailed {
                            app: app_id.clone(),
                            instance: instance.clone(),
                            task: task.to_string(),
                            error,
                        },
                    });
                }
                let count: usize = outgoing.iter().map(|(_, _, o)| o.len()).sum();
                if count > 0 {
                    self.outbox.effects.push(Effect::StreamsOutput {
                        app: app_id.clone(),
                        instance: instance.clone(),
                        records: count as u64,
                    });
                }
                if eos {
                    self.eos_send_and_commit(a, i, outgoing);
                    continue;
                }
                if !outgoing.is_empty() {
                    let alive = self.producers[p as usize].alive;
                    self.with_io(NodeId::Producer(p), |w, io| {
                        for (tp, next, records) in outgoing {
                            let mut ids = Vec::with_capacity(records.len());
                            if alive {
                                for o in records {
                                    ids.push(w.producers[p as usize].send_with_timestamp(
                                        o.topic,
                                        o.partition,
                                        o.key,
                                        o.value,
                                        Some(o.timestamp),
                                        &mut w.ledger,
                                        io,
                                    ));
                                }
                            }
                            w.streams[a].instances[i].unflushed.push_back((tp, next, ids));
                        }
                        if alive {
                            w.producers[p as usize].run_sender(&mut w.ledger, io);
                        }
                    });
                }
                // Positions whose outputs are all answered become committable.
                let inst = &mut self.streams[a].instances[i];
                let had = !inst.unflushed.is_empty();
                while let Some((tp, next, ids)) = inst.unflushed.front() {
                    let done = ids
                        .iter()
                        .all(|id| self.ledger.entry(*id).is_none_or(|e| e.outcome != crate::ledger::Outcome::Pending));
                    if !done {
                        break;
                    }
                    self.consumers[c].streams_safe.insert(tp.clone(), *next);
                    inst.unflushed.pop_front();
                }
                let flushed = inst.unflushed.is_empty();
                self.consumers[c].streams_unflushed = !flushed;
                if had && flushed && self.consumers[c].group.as_ref().is_some_and(|g| g.rejoin_needed) {
                    // The thread was waiting for its producer before rejoining the group.
                    self.with_io(NodeId::Consumer(c as u32), |w, io| w.consumers[c].drive(&mut w.ledger, io));
                }
            }
        }
    }

    /// exactly_once_v2: whether instance `i` of app `a` may process now. Finishes a commit
    /// that completed, and re-creates a producer whose transaction failed (fenced, or
    /// aborted by the coordinator's timeout): its tasks close dirty and restore, and the
    /// consumer rewinds to the committed offsets, as Streams' `handleLostAll` does.
    fn eos_ready(&mut self, a: usize, i: usize) -> bool {
        use crate::producer::txn::TxnClientState as S;
        let (c, p) = (self.streams[a].instances[i].consumer as usize, self.streams[a].instances[i].producer as usize);
        let state = if self.producers[p].alive { self.producers[p].transaction_state() } else { None };
        let ready = match state {
            Some(S::FatalError) => {
                let app = &mut self.streams[a];
                app.crash_instance(i);
                let interval = i64::try_from(app.spec.commit_interval_ms).unwrap_or(i64::MAX);
                app.instances[i].eos.next_commit_ms = self.now.as_ms() as i64 + interval;
                self.consumers[c].streams_rewind_to_committed();
                // Streams closes the fenced producer and creates a new one with the same
                // transactional.id; what the old one had not sent fails.
                let unsent = self.producers[p].crash(&mut self.ledger);
                self.outbox
                    .effects
                    .push(Effect::ClientCrashed { client: NodeId::Producer(p as u32), unsent_records: unsent });
                self.producers[p].restart();
                self.outbox.effects.push(Effect::ClientRestarted { client: NodeId::Producer(p as u32) });
                self.init_transactions(p);
                false
            }
            Some(S::Ready) if self.streams[a].instances[i].eos.committing => {
                let interval = i64::try_from(self.streams[a].spec.commit_interval_ms).unwrap_or(i64::MAX);
                let eos = &mut self.streams[a].instances[i].eos;
                eos.committing = false;
                eos.open = false;
                eos.positions.clear();
                eos.commits += 1;
                eos.next_commit_ms = self.now.as_ms() as i64 + interval;
                self.consumers[c].streams_unflushed = false;
                true
            }
            Some(S::Ready | S::InTransaction) => !self.streams[a].instances[i].eos.committing,
            // Initializing: records may be sent once beginTransaction() was called.
            Some(S::Initializing) => true,
            // Committing, or a producer that is down (only a fault aimed at it alone does
            // that): the thread blocks.
            _ => false,
        };
        if !ready {
            // poll() returns nothing while the thread is blocked, so nothing piles up.
            self.consumers[c].streams_committing = true;
        } else if self.consumers[c].streams_committing {
            self.consumers[c].streams_committing = false;
            // The thread goes back to poll() (and to the rebalance it may have waited for).
            self.with_io(NodeId::Consumer(c as u32), |w, io| w.consumers[c].drive(&mut w.ledger, io));
        }
        ready
    }

    /// exactly_once_v2: sends an instance's outputs in its open transaction, and commits the
    /// transaction with the input offsets when `commit.interval.ms` has passed or the group
    /// needs a rebalance.
    fn eos_send_and_commit(&mut self, a: usize, i: usize, outgoing: Vec<(TopicPartition, u64, Vec<Outgoing>)>) {
        use crate::producer::txn::TxnClientState as S;
        let (c, p) = (self.streams[a].instances[i].consumer as usize, self.streams[a].instances[i].producer as usize);
        let now_ms = self.now.as_ms() as i64;
        let due = {
            let eos = &self.streams[a].instances[i].eos;
            let rejoin = self.consumers[c].group.as_ref().is_some_and(|g| g.rejoin_needed);
            eos.open && !eos.committing && (now_ms >= eos.next_commit_ms || rejoin)
        };
        if outgoing.is_empty() && !due {
            return;
        }
        let group = self.streams[a].spec.application_id.clone();
        self.with_io(NodeId::Producer(p as u32), |w, io| {
            let begin = match w.producers[p].transaction_state() {
                Some(S::Ready) => true,
                Some(S::Initializing) => w.producers[p].can_send_in_transaction().is_err(),
                _ => false,
            };
            if !outgoing.is_empty() && begin && w.producers[p].begin_transaction(io).is_err() {
                return;
            }
            for (tp, next, records) in outgoing {
                for o in records {
                    w.producers[p].send_with_timestamp(
                        o.topic,
                        o.partition,
                        o.key,
                        o.value,
                        Some(o.timestamp),
                        &mut w.ledger,
                        io,
                    );
                }
                let eos = &mut w.streams[a].instances[i].eos;
                eos.positions.insert(tp, next);
                eos.open = true;
            }
            let eos = &w.streams[a].instances[i].eos;
            let rejoin = w.consumers[c].group.as_ref().is_some_and(|g| g.rejoin_needed);
            let due = eos.open && !eos.committing && (now_ms >= eos.next_commit_ms || rejoin);
            if due && w.producers[p].transaction_state() == Some(S::InTransaction) {
                let offsets: Vec<(TopicPartition, u64)> =
                    eos.positions.iter().map(|(tp, o)| (tp.clone(), *o)).collect();
                let (generation, member) = w.consumers[c]
                    .group
                    .as_ref()
                    .map(|g| (g.generation, g.member_id.clone()))
                    .unwrap_or((-1, String::new()));
                let ok = w.producers[p]
                    .send_offsets_to_transaction(offsets, &group, generation, &member, &mut w.ledger, io)
                    .and_then(|()| w.producers[p].commit_transaction(&mut w.ledger, io));
                if ok.is_ok() {
                    w.streams[a].instances[i].eos.committing = true;
                    w.consumers[c].streams_committing = true;
                }
            } else {
                w.producers[p].run_sender(&mut w.ledger, io);
            }
        });
        let eos = &self.streams[a].instances[i].eos;
        // The member rejoins only once the transaction is committed.
        self.consumers[c].streams_unflushed = eos.open || eos.committing;
    }

    // ------------------------------------------------------------------ Kafka Connect

    /// Boots the Connect worker: finds its clients, starts every task (no source offsets
    /// exist yet, so sources start at iteration 0) and schedules the first offset flush.
    fn start_connect(&mut self, setup: &crate::connect::ConnectSetup) -> Result<(), ActionError> {
        use crate::connect::{ConnectRuntime, Connector, SinkTask, SourceTask, Task, TaskState};
        let offsets_producer = self
            .producers
            .iter()
            .position(|p| p.name == setup.worker.offsets_producer())
            .ok_or_else(|| ActionError("connect: the worker's offset producer is not declared".into()))?;
        let mut connectors = Vec::new();
        for spec in &setup.connectors {
            let mut tasks = Vec::new();
            for t in 0..spec.tasks_max {
                let name = spec.task_client(t);
                let client = if spec.is_source() {
                    self.producers.iter().position(|p| p.name == name)
                } else {
                    self.consumers.iter().position(|c| c.name == name && c.settings.streams)
                }
                .ok_or_else(|| {
                    ActionError(format!("connector '{}': task client '{name}' is not declared", spec.name))
                })?;
                tasks.push(Task {
                    id: t,
                    client: client as u32,
                    state: TaskState::Running,
                    incarnation: 0,
                    down: false,
                    source: SourceTask::default(),
                    sink: SinkTask::default(),
                });
            }
            connectors.push(Connector { spec: spec.clone(), tasks, tables: Default::default(), paused: false });
        }
        let flush = Dur::from_ms(setup.worker.offset_flush_interval_ms);
        self.connect = Some(ConnectRuntime {
            worker: setup.worker.clone(),
            connectors,
            offsets_producer: offsets_producer as u32,
            offset_flushes: 0,
        });
        for c in 0..setup.connectors.len() {
            for t in 0..setup.connectors[c].tasks_max {
                if setup.connectors[c].is_source() {
                    self.schedule_source_poll(c, t as usize);
                }
            }
        }
        self.queue.push(self.now.plus(flush), Event::Connect(ConnectWake::OffsetFlush));
        Ok(())
    }

    /// Datagen sleeps a uniform time below `max.interval` before each record (in
    /// microseconds here, at least one, so a poll never repeats at the same instant).
    fn schedule_source_poll(&mut self, c: usize, t: usize) {
        let Some(rt) = self.connect.as_mut() else { return };
        let conn = &mut rt.connectors[c];
        let crate::connect::ConnectorKind::Datagen { max_interval_ms, .. } = conn.spec.kind else { return };
        let epoch = conn.tasks[t].source.epoch;
        let stream = crate::connect::RNG_STREAM_BASE + (c as u32) * 2 * crate::connect::MAX_TASKS + t as u32;
        let poll = conn.tasks[t].source.produced + conn.tasks[t].source.epoch as u64;
        let mut rng = SimRng::new(self.seed ^ poll.wrapping_mul(0xd134_2543_de82_ef95), Stream::Client(stream));
        let sleep = Dur(rng.between(1, max_interval_ms.saturating_mul(1000).max(1)));
        self.queue.push(
            self.now.plus(sleep),
            Event::Connect(ConnectWake::SourcePoll { connector: c as u32, task: t as u32, epoch }),
        );
    }

    fn connect_wake(&mut self, wake: ConnectWake) -> Cause {
        let Some(rt) = self.connect.as_ref() else {
            return Cause::Action { action: "connect".into() };
        };
        match wake {
            ConnectWake::OffsetFlush => {
                let node = NodeId::Producer(rt.offsets_producer);
                let flush = Dur::from_ms(rt.worker.offset_flush_interval_ms);
                self.flush_source_offsets();
                self.queue.push(self.now.plus(flush), Event::Connect(ConnectWake::OffsetFlush));
                Cause::Timer { node, timer: Cow::Borrowed("ConnectOffsetFlush") }
            }
            ConnectWake::SourcePoll { connector, task, epoch } => {
                let (c, t) = (connector as usize, task as usize);
                let Some(task_state) = rt.connectors.get(c).and_then(|x| x.tasks.get(t)) else {
                    return Cause::Action { action: "connect".into() };
                };
                let p = task_state.client as usize;
                let cause = Cause::Timer { node: NodeId::Producer(p as u32), timer: Cow::Borrowed("DatagenPoll") };
                let live = task_state.state == crate::connect::TaskState::Running
                    && !rt.connectors[c].paused
                    && task_state.source.epoch == epoch
                    && self.producers[p].alive;
                if live {
                    self.source_poll(c, t);
                }
                cause
            }
        }
    }

    /// One datagen `poll()`: one record to the task's producer, or the end of `iterations`.
    fn source_poll(&mut self, c: usize, t: usize) {
        let Some(rt) = self.connect.as_mut() else { return };
        let conn = &mut rt.connectors[c];
        let crate::connect::ConnectorKind::Datagen { topic, quickstart, iterations, .. } = &conn.spec.kind else {
            return;
        };
        let task = &mut conn.tasks[t];
        let iteration = task.source.next_iteration;
        if iterations.is_some_and(|n| iteration >= n) || iteration >= crate::connect::MAX_ITERATIONS {
            // Datagen stops by throwing: the task fails with this message.
            task.state = crate::connect::TaskState::Finished;
            self.outbox.effects.push(Effect::Note {
                text: format!(
                    "connector {} task {t}: stopping, generated the configured {iteration} messages (task FAILED)",
                    conn.spec.name
                ),
            });
            return;
        }
        let stream = crate::connect::RNG_STREAM_BASE
            + (c as u32) * 2 * crate::connect::MAX_TASKS
            + crate::connect::MAX_TASKS
            + t as u32;
        let (key, value) = quickstart.record(self.seed, stream, iteration);
        let topic: Arc<str> = Arc::from(topic.as_str());
        let p = task.client as usize;
        let id = self.with_io(NodeId::Producer(p as u32), |w, io| {
            let id = w.producers[p].send(
                topic,
                None,
                Some(Blob::text(&key)),
                Some(Blob::text(&value.to_string())),
                &mut w.ledger,
                io,
            );
            w.producers[p].run_sender(&mut w.ledger, io);
            id
        });
        let Some(rt) = self.connect.as_mut() else { return };
        let s = &mut rt.connectors[c].tasks[t].source;
        s.pending.push_back((id, iteration + 1));
        s.next_iteration = iteration + 1;
        s.produced += 1;
        if iteration < s.high_water {
            s.duplicates += 1;
        }
        s.high_water = s.high_water.max(iteration + 1);
        self.schedule_source_poll(c, t);
    }

    /// The worker's offset commit: for every running source task, the offset after its
    /// acknowledged records goes to the offsets topic (if it moved since the last flush).
    fn flush_source_offsets(&mut self) {
        let Some(rt) = self.connect.as_mut() else { return };
        let mut writes = Vec::new();
        for conn in &mut rt.connectors {
            if !conn.spec.is_source() {
                continue;
            }
            for task in &mut conn.tasks {
                if task.state != crate::connect::TaskState::Running && task.state != crate::connect::TaskState::Finished
                {
                    continue;
                }
                task.source.advance_acks(&self.ledger);
                if task.source.acked_next > task.source.flushed_next {
                    task.source.flushed_next = task.source.acked_next;
                    writes.push((
                        conn.spec.offset_key(task.id),
                        crate::connect::source_offset_value(task.source.acked_next, task.source.generation),
                    ));
                }
            }
        }
        if writes.is_empty() {
            return;
        }
        rt.offset_flushes += writes.len() as u64;
        let p = rt.offsets_producer as usize;
        let topic: Arc<str> = Arc::from(rt.worker.offsets_topic.as_str());
        if !self.producers[p].alive {
            return;
        }
        self.with_io(NodeId::Producer(p as u32), |w, io| {
            for (k, v) in writes {
                w.producers[p].send(topic.clone(), None, Some(Blob::text(&k)), Some(Blob::text(&v)), &mut w.ledger, io);
            }
            w.producers[p].run_sender(&mut w.ledger, io);
        });
    }

    /// Each step: notice task clients that crashed or came back, and write what sink
    /// consumers returned to their tables.
    fn run_connect(&mut self) {
        use crate::connect::TaskState;
        let Some(n) = self.connect.as_ref().map(|rt| rt.connectors.len()) else { return };
        for c in 0..n {
            let Some(rt) = self.connect.as_ref() else { return };
            let source = rt.connectors[c].spec.is_source();
            for t in 0..rt.connectors[c].tasks.len() {
                let Some(rt) = self.connect.as_ref() else { return };
                let task = &rt.connectors[c].tasks[t];
                let name = rt.connectors[c].spec.name.clone();
                let client = task.client as usize;
                let (alive, incarnation) = if source {
                    (self.producers[client].alive, self.producers[client].incarnation)
                } else {
                    (self.consumers[client].alive, task.incarnation)
                };
                let state = task.state;
                let restarted = alive && (task.down || incarnation != task.incarnation);
                if !alive {
                    if !task.down {
                        if let Some(rt) = self.connect.as_mut() {
                            rt.connectors[c].tasks[t].down = true;
                        }
                    }
                    if state == TaskState::Running {
                        self.set_task_state(c, t, TaskState::Unassigned);
                        self.outbox.effects.push(Effect::Note {
                            text: format!("connector {name} task {t}: its worker process died (task UNASSIGNED)"),
                        });
                    }
                    continue;
                }
                if restarted {
                    // A worker that starts again starts every task assigned to it, failed
                    // ones included.
                    if let Some(rt) = self.connect.as_mut() {
                        rt.connectors[c].tasks[t].down = false;
                        rt.connectors[c].tasks[t].sink.error = None;
                    }
                    if source {
                        self.restart_source_task(c, t, incarnation);
                    } else {
                        self.set_task_state(c, t, TaskState::Running);
                        self.outbox.effects.push(Effect::Note {
                            text: format!(
                                "connector {name} task {t}: restarted; resumes from group connect-{name}'s committed offsets"
                            ),
                        });
                    }
                }
                if !source && alive && self.connect.as_ref().is_some_and(|rt| rt.connectors[c].paused) {
                    // Connect pauses partitions a paused sink task gets in a rebalance too.
                    let fresh: Vec<TopicPartition> = self.consumers[client]
                        .assignment
                        .iter()
                        .filter(|tp| !self.consumers[client].paused.contains(*tp))
                        .cloned()
                        .collect();
                    if !fresh.is_empty() {
                        self.consumers[client].pause(&fresh, true);
                    }
                }
                if !source && alive {
                    self.run_sink_task(c, t);
                }
            }
        }
    }

    fn connector_index(&self, name: &str) -> Result<usize, ActionError> {
        self.connect
            .as_ref()
            .and_then(|rt| rt.connectors.iter().position(|c| c.spec.name == name))
            .ok_or_else(|| ActionError(format!("no connector '{name}'")))
    }

    /// Pauses or resumes a connector: a paused source task stops polling (a pending poll is
    /// cancelled), a paused sink task's consumer pauses its partitions but stays in its group.
    fn set_connector_paused(&mut self, c: usize, paused: bool) {
        let Some(rt) = self.connect.as_mut() else { return };
        if rt.connectors[c].paused == paused {
            return;
        }
        rt.connectors[c].paused = paused;
        let source = rt.connectors[c].spec.is_source();
        let name = rt.connectors[c].spec.name.clone();
        let mut polls = Vec::new();
        for t in 0..rt.connectors[c].tasks.len() {
            let task = &mut rt.connectors[c].tasks[t];
            let client = task.client as usize;
            if source {
                task.source.epoch += 1;
                if !paused && task.state == crate::connect::TaskState::Running {
                    polls.push(t);
                }
            } else {
                let assigned: Vec<TopicPartition> = self.consumers[client].assignment.to_vec();
                self.consumers[client].pause(&assigned, paused);
            }
        }
        self.outbox.effects.push(Effect::Note {
            text: format!("connector {name} {}", if paused { "PAUSED" } else { "resumed (RUNNING)" }),
        });
        for t in polls {
            self.schedule_source_poll(c, t);
        }
    }

    fn set_task_state(&mut self, c: usize, t: usize, state: crate::connect::TaskState) {
        if let Some(rt) = self.connect.as_mut() {
            rt.connectors[c].tasks[t].state = state;
        }
    }

    /// A source task's new lifetime: it reads its last committed source offset from the
    /// offsets topic (only what is below the high watermark) and continues from there.
    fn restart_source_task(&mut self, c: usize, t: usize, incarnation: u32) {
        let Some(rt) = self.connect.as_ref() else { return };
        let key = rt.connectors[c].spec.offset_key(t as u32);
        let topic = rt.worker.offsets_topic.clone();
        let partitions =
            self.controller.image.topics.get(topic.as_str()).map(|t| t.partitions.len() as u32).unwrap_or(0);
        let mut committed = None;
        for p in 0..partitions {
            let records = committed_records(&self.brokers, &self.controller.image, &topic, p);
            if let Some(found) = crate::connect::committed_source_offset(&key, records.iter().map(|(k, v)| (k, v))) {
                committed = Some(found);
            }
        }
        let Some(rt) = self.connect.as_mut() else { return };
        let name = rt.connectors[c].spec.name.clone();
        let task = &mut rt.connectors[c].tasks[t];
        task.incarnation = incarnation;
        task.state = crate::connect::TaskState::Running;
        let sent = task.source.next_iteration;
        task.source.resume(committed);
        let from = task.source.next_iteration;
        self.outbox.effects.push(Effect::Note {
            text: format!(
                "connector {name} task {t}: restarted from source offset current.iteration={from} in {topic} \
                 ({} records sent after that offset will be sent again)",
                sent.saturating_sub(from)
            ),
        });
        self.schedule_source_poll(c, t);
    }

    /// A sink task's `put()`: every record its consumer returned goes to the table; the
    /// positions written become what the next offset commit covers.
    fn run_sink_task(&mut self, c: usize, t: usize) {
        let Some(rt) = self.connect.as_mut() else { return };
        let conn = &mut rt.connectors[c];
        let task = &mut conn.tasks[t];
        let client = task.client as usize;
        if self.consumers[client].streams_inbox.is_empty() {
            return;
        }
        if task.state != crate::connect::TaskState::Running {
            // A failed task's consumer is closing: what it still returns is not written.
            self.consumers[client].streams_inbox.clear();
            return;
        }
        let crate::connect::ConnectorKind::JdbcSink { insert_mode, pk_mode, .. } = conn.spec.kind else { return };
        let inbox = std::mem::take(&mut self.consumers[client].streams_inbox);
        let mut failed = None;
        for r in inbox {
            let table = conn.spec.table_for(&r.tp.topic);
            let key = r.key.as_ref().map(|k| k.display());
            let value = r.value.as_ref().map(|v| v.display()).unwrap_or_else(|| "null".into());
            match conn.tables.entry(table).or_default().put(
                insert_mode,
                pk_mode,
                crate::connect::record_coords(&r.tp, r.offset),
                key,
                value,
            ) {
                Ok(()) => {
                    conn.tasks[t].sink.written += 1;
                    self.consumers[client].streams_safe.insert(r.tp.clone(), r.offset + 1);
                }
                Err(e) => {
                    failed = Some(e.0);
                    break;
                }
            }
        }
        if let Some(error) = failed {
            let name = conn.spec.name.clone();
            conn.tasks[t].state = crate::connect::TaskState::Failed;
            conn.tasks[t].sink.error = Some(error.clone());
            self.outbox.effects.push(Effect::Note { text: format!("connector {name} task {t} FAILED: {error}") });
            // A failed task commits nothing more and its consumer leaves the group.
            self.consumers[client].streams_safe.clear();
            self.with_io(NodeId::Consumer(client as u32), |w, io| w.consumers[client].close(&mut w.ledger, io));
        }
    }

    fn with_io<R>(&mut self, me: NodeId, f: impl FnOnce(&mut World, &mut Io) -> R) -> R {
        let mut out = std::mem::take(&mut self.outbox);
        let now = self.now;
        let r = {
            let mut io = Io { now, me, out: &mut out };
            f(self, &mut io)
        };
        // Merge what `f` produced with anything already queued this step.
        self.outbox.sends.extend(out.sends);
        self.outbox.timers.extend(out.timers);
        self.outbox.effects.extend(out.effects);
        r
    }

    /// A transactional producer's application calls `initTransactions()` when it starts.
    fn init_transactions(&mut self, i: usize) {
        if self.producers[i].is_transactional() {
            self.with_io(NodeId::Producer(i as u32), |w, io| {
                // Only fails when already initialized, which a fresh start never is.
                let _ = w.producers[i].init_transactions(&mut w.ledger, io);
            });
        }
    }

    fn apply_action(&mut self, action: &Action) -> Result<(), ActionError> {
        use Action::*;
        match action.clone() {
            Produce { producer, topic, count, key, value, interval_ms, partition } => {
                let i = self.producer_index(&producer)?;
                if self.ledger.records.len() as u64 + count > limits::MAX_RECORDS_PER_RUN {
                    return Err(ActionError(format!(
                        "a run may produce at most {} records",
                        limits::MAX_RECORDS_PER_RUN
                    )));
                }
                let w = Workload::new(
                    Arc::from(topic.as_str()),
                    count,
                    KeyPattern::parse(&key).map_err(ActionError)?,
                    ValuePattern::parse(&value).map_err(ActionError)?,
                    ms_to_dur(interval_ms)?.0,
                    partition,
                );
                self.with_io(NodeId::Producer(i as u32), |w_, io| w_.producers[i].add_workload(w, io));
            }
            Send { producer, topic, key, value, partition } => {
                let i = self.producer_index(&producer)?;
                self.with_io(NodeId::Producer(i as u32), |w, io| {
                    let key = key.as_deref().map(Blob::text);
                    let value = value.as_deref().map(Blob::text);
                    w.producers[i].send(Arc::from(topic.as_str()), partition, key, value, &mut w.ledger, io);
                    w.producers[i].run_sender(&mut w.ledger, io);
                });
            }
            Flush { producer } => {
                let i = self.producer_index(&producer)?;
                self.with_io(NodeId::Producer(i as u32), |w, io| w.producers[i].flush(&mut w.ledger, io));
            }
            BeginTransaction { producer } | CommitTransaction { producer } | AbortTransaction { producer } => {
                let i = self.producer_index(&producer)?;
                if !self.producers[i].alive {
                    return Err(ActionError(format!("{action}: producer '{producer}' is not running")));
                }
                self.with_io(NodeId::Producer(i as u32), |w, io| {
                    let p = &mut w.producers[i];
                    match action {
                        BeginTransaction { .. } => p.begin_transaction(io),
                        CommitTransaction { .. } => p.commit_transaction(&mut w.ledger, io),
                        _ => p.abort_transaction(&mut w.ledger, io),
                    }
                })
                .map_err(|e| ActionError(format!("{action}: {e}")))?;
            }
            Crash { broker } => {
                let i = self.broker_index(broker).ok_or_else(|| ActionError(format!("no broker {broker}")))?;
                if !self.brokers[i].is_running() {
                    return Err(ActionError(format!("broker {broker} is not running")));
                }
                self.brokers[i].crash();
                self.outbox.effects.push(Effect::BrokerCrashed { broker });
                // The OS closes the dead process's connections: peers see it at once.
                let me = NodeId::Broker(broker);
                for n in self.all_nodes() {
                    if n != me && n != NodeId::Controller {
                        self.outbox.sends.push((me, n, Message::ConnectionClosed));
                    }
                }
            }
            PowerLoss { broker } => {
                let i = self.broker_index(broker).ok_or_else(|| ActionError(format!("no broker {broker}")))?;
                if self.brokers[i].status == BrokerStatus::PoweredOff {
                    return Err(ActionError(format!("broker {broker} is already powered off")));
                }
                let lost = self.brokers[i].power_loss();
                let total: u64 = lost.iter().map(|(_, _, n)| n).sum();
                for (tp, from, _) in lost {
                    self.power_losses.push((tp, broker, from, self.now));
                }
                self.outbox.effects.push(Effect::BrokerPowerLoss { broker, lost_records: total });
            }
            Restart { broker } => {
                let i = self.broker_index(broker).ok_or_else(|| ActionError(format!("no broker {broker}")))?;
                if self.brokers[i].is_running() {
                    return Err(ActionError(format!("broker {broker} is already running")));
                }
                self.outbox.effects.push(Effect::BrokerRestarted { broker });
                self.with_io(NodeId::Broker(broker), |w, io| w.brokers[i].restart(io));
                // Timers set from now on belong to the new incarnation.
            }
            CrashController => {
                if !self.controller.alive {
                    return Err(ActionError("the controller is not running".into()));
                }
                self.controller.crash();
                self.outbox.effects.push(Effect::ControllerCrashed);
            }
            RestartController => {
                if self.controller.alive {
                    return Err(ActionError("the controller is already running".into()));
                }
                self.controller.restart(self.now);
                self.outbox.effects.push(Effect::ControllerRestarted);
                self.with_io(NodeId::Controller, |w, io| w.controller.start_timers(io));
            }
            PauseConnector { connector } => {
                let c = self.connector_index(&connector)?;
                self.set_connector_paused(c, true);
            }
            ResumeConnector { connector } => {
                let c = self.connector_index(&connector)?;
                self.set_connector_paused(c, false);
            }
            CrashClient { client } => match self.resolve_node(&client)? {
                NodeId::Producer(i) => {
                    let unsent = self.producers[i as usize].crash(&mut self.ledger);
                    self.outbox
                        .effects
                        .push(Effect::ClientCrashed { client: NodeId::Producer(i), unsent_records: unsent });
                }
                NodeId::Consumer(i) => {
                    let now = self.now;
                    self.consumers[i as usize].crash(&mut self.ledger, now);
                    self.outbox.effects.push(Effect::ClientCrashed { client: NodeId::Consumer(i), unsent_records: 0 });
                    // A Streams instance is one process: its producer dies with it.
                    if let Some(p) = self.streams_producer_of(i) {
                        if self.producers[p as usize].alive {
                            let unsent = self.producers[p as usize].crash(&mut self.ledger);
                            self.outbox
                                .effects
                                .push(Effect::ClientCrashed { client: NodeId::Producer(p), unsent_records: unsent });
                        }
                    }
                }
                _ => return Err(ActionError(format!("'{client}' is not a client"))),
            },
            RestartClient { client } => match self.resolve_node(&client)? {
                NodeId::Producer(i) => {
                    self.producers[i as usize].restart();
                    self.outbox.effects.push(Effect::ClientRestarted { client: NodeId::Producer(i) });
                    self.init_transactions(i as usize);
                }
                NodeId::Consumer(i) => {
                    if let Some(p) = self.streams_producer_of(i) {
                        if !self.producers[p as usize].alive {
                            self.producers[p as usize].restart();
                            self.outbox.effects.push(Effect::ClientRestarted { client: NodeId::Producer(p) });
                            // exactly_once_v2: the same transactional.id fences the old
                            // incarnation and aborts its open transaction.
                            self.init_transactions(p as usize);
                        }
                    }
                    self.outbox.effects.push(Effect::ClientRestarted { client: NodeId::Consumer(i) });
                    self.with_io(NodeId::Consumer(i), |w, io| w.consumers[i as usize].restart(&mut w.ledger, io));
                }
                _ => return Err(ActionError(format!("'{client}' is not a client"))),
            },
            Partition { groups } => {
                let resolved: Vec<Vec<NodeId>> =
                    groups.iter().map(|g| self.resolve_nodes(g)).collect::<Result<_, _>>()?;
                self.network.partition(&resolved);
                self.outbox.effects.push(Effect::NetworkChanged { what: action.to_string() });
            }
            Cut { from, to } => {
                let (f, t) = (self.resolve_nodes(&from)?, self.resolve_nodes(&to)?);
                self.network.cut_one_way(&f, &t);
                self.outbox.effects.push(Effect::NetworkChanged { what: action.to_string() });
            }
            Isolate { node } => {
                let n = self.resolve_node(&node)?;
                let all = self.all_nodes();
                self.network.isolate(n, &all);
                self.outbox.effects.push(Effect::NetworkChanged { what: action.to_string() });
            }
            Heal { nodes } => {
                match nodes {
                    None => self.network.heal(None),
                    Some(n) => {
                        let ns = self.resolve_nodes(&n)?;
                        self.network.heal(Some(&ns));
                    }
                }
                self.outbox.effects.push(Effect::NetworkChanged { what: action.to_string() });
            }
            Link { from, to, latency_ms, jitter_ms, drop, duplicate, both_ways } => {
                let (f, t) = (self.resolve_nodes(&from)?, self.resolve_nodes(&to)?);
                let mut pairs = Vec::new();
                for &a in &f {
                    for &b in &t {
                        if a != b {
                            pairs.push((a, b));
                            if both_ways {
                                pairs.push((b, a));
                            }
                        }
                    }
                }
                for (a, b) in pairs {
                    let mut props = self.network.link(a, b);
                    if let Some(l) = latency_ms {
                        props.latency = ms_to_dur(l)?;
                    }
                    if let Some(j) = jitter_ms {
                        props.jitter = ms_to_dur(j)?;
                    }
                    if let Some(d) = drop {
                        props.drop = probability(d, "drop")?;
                    }
                    if let Some(d) = duplicate {
                        props.duplicate = probability(d, "duplicate")?;
                    }
                    self.network.set_link(a, b, props);
                }
                self.outbox.effects.push(Effect::NetworkChanged { what: action.to_string() });
            }
            SlowFollower { broker, delay_ms } => {
                let i = self.broker_index(broker).ok_or_else(|| ActionError(format!("no broker {broker}")))?;
                let delay = ms_to_dur(delay_ms)?;
                self.with_io(NodeId::Broker(broker), |w, io| w.brokers[i].set_fetch_delay(delay, io));
                self.outbox.effects.push(Effect::ConfigChanged {
                    target: format!("b{broker}"),
                    name: "sandbox.fetch.delay.ms".into(),
                    value: delay_ms.to_string(),
                });
            }
            SetTopicConfig { topic, name, value } => {
                let mut c = self
                    .controller
                    .image
                    .topic_config(&topic)
                    .cloned()
                    .ok_or_else(|| ActionError(format!("no topic '{topic}'")))?;
                c.set(&name, &value).map_err(|e| ActionError(e.to_string()))?;
                c.validate().map_err(|e| ActionError(e.to_string()))?;
                if !self.controller.alive {
                    return Err(ActionError("the controller is down: configs cannot change".into()));
                }
                self.outbox.effects.push(Effect::ConfigChanged {
                    target: format!("topic {topic}"),
                    name,
                    value: value.to_string(),
                });
                self.with_io(NodeId::Controller, |w, io| w.controller.alter_topic_config(&topic, c, io))
                    .map_err(ActionError)?;
            }
            SetClientConfig { client, name, value } => {
                match self.resolve_node(&client)? {
                    NodeId::Producer(i) => {
                        if name == "transactional.id" {
                            // The transaction manager is built with the producer.
                            return Err(ActionError(format!(
                                "{action}: transactional.id is fixed when the producer is created"
                            )));
                        }
                        let mut c = self.producers[i as usize].config.clone();
                        c.set(&name, &value).map_err(|e| ActionError(e.to_string()))?;
                        c.validate().map_err(|e| ActionError(e.to_string()))?;
                        self.producers[i as usize].config = c;
                    }
                    NodeId::Consumer(i) => {
                        let c = &mut self.consumers[i as usize].config;
                        c.set(&name, &value).map_err(|e| ActionError(e.to_string()))?;
                        if c.isolation_level == crate::config::IsolationLevel::ReadCommitted {
                            self.invariants.read_committed.insert(i);
                        } else {
                            self.invariants.read_committed.remove(&i);
                        }
                    }
                    _ => return Err(ActionError(format!("'{client}' is not a client"))),
                }
                self.outbox.effects.push(Effect::ConfigChanged { target: client, name, value: value.to_string() });
            }
            CreateTopic { name, partitions, replication_factor, config } => {
                if !self.controller.alive {
                    return Err(ActionError("the controller is down: topics cannot be created".into()));
                }
                let mut c = TopicConfig::default();
                for (k, v) in &config {
                    c.set(k, v).map_err(|e| ActionError(e.to_string()))?;
                }
                self.with_io(NodeId::Controller, |w, io| {
                    w.controller.create_topic(&name, partitions, replication_factor, c, None, io)
                })
                .map_err(ActionError)?;
            }
            ElectLeaders { partition, unclean } => {
                if !self.controller.alive {
                    return Err(ActionError("the controller is down".into()));
                }
                let tp = partition.as_deref().map(|p| self.partition_name(p)).transpose()?;
                self.with_io(NodeId::Controller, |w, io| w.controller.elect_leaders(tp.as_ref(), unclean, io));
            }
            Assign { consumer, partitions } => {
                let i = self.consumer_index(&consumer)?;
                let tps = partitions.iter().map(|p| self.partition_name(p)).collect::<Result<Vec<_>, _>>()?;
                self.with_io(NodeId::Consumer(i as u32), |w, io| w.consumers[i].assign(tps, &mut w.ledger, io));
            }
            Seek { consumer, partition, offset } => {
                let i = self.consumer_index(&consumer)?;
                let tp = self.partition_name(&partition)?;
                self.consumers[i].seek(&tp, offset);
                self.outbox.effects.push(Effect::Seeked { consumer: i as u32, tp, offset });
                self.with_io(NodeId::Consumer(i as u32), |w, io| w.consumers[i].drive(&mut w.ledger, io));
            }
            Subscribe { consumer, topics } => {
                let i = self.consumer_index(&consumer)?;
                if self.consumers[i].config.group_id.is_none() {
                    return Err(ActionError(format!("{consumer} has no group.id: subscribe() needs one")));
                }
                self.with_io(NodeId::Consumer(i as u32), |w, io| w.consumers[i].subscribe(topics, &mut w.ledger, io));
            }
            Pause { consumer, partitions } | Resume { consumer, partitions } => {
                let i = self.consumer_index(&consumer)?;
                let tps = partitions.iter().map(|p| self.partition_name(p)).collect::<Result<Vec<_>, _>>()?;
                let paused = matches!(action, Pause { .. });
                self.consumers[i].pause(&tps, paused);
                self.with_io(NodeId::Consumer(i as u32), |w, io| w.consumers[i].drive(&mut w.ledger, io));
            }
            AddConsumer { name, like } => {
                let model = self.consumer_to_add(&name, &like)?;
                let index = self.consumers.len() as u32;
                let like = &self.consumers[model];
                let mut config = like.config.clone();
                if config.group_instance_id.is_some() {
                    // Two members with one group.instance.id would fence each other.
                    config.group_instance_id = Some(name.clone());
                }
                let bootstrap = self.brokers.iter().map(|b| b.id).collect();
                // The random stream a consumer declared at this index would have had.
                let rng = SimRng::new(self.seed, Stream::Client(1000 + index));
                let mut consumer = Consumer::new(index, name, config, like.settings.clone(), bootstrap, rng);
                consumer.deser.key_reader = like.deser.key_reader.clone();
                consumer.deser.value_reader = like.deser.value_reader.clone();
                let topics = like.subscription.clone();
                if consumer.config.isolation_level == crate::config::IsolationLevel::ReadCommitted {
                    self.invariants.read_committed.insert(index);
                }
                self.consumers.push(consumer);
                self.outbox.effects.push(Effect::ClientStarted { client: NodeId::Consumer(index) });
                self.with_io(NodeId::Consumer(index), |w, io| {
                    w.consumers[index as usize].subscribe(topics, &mut w.ledger, io)
                });
            }
            CloseClient { client } => {
                let i = self.consumer_index(&client)?;
                if !self.consumers[i].alive {
                    return Err(ActionError(format!("{client} is not running")));
                }
                self.with_io(NodeId::Consumer(i as u32), |w, io| w.consumers[i].close(&mut w.ledger, io));
            }
            SetProcessing { consumer, processing_ms } => {
                let i = self.consumer_index(&consumer)?;
                self.consumers[i].settings.processing_per_record = ms_to_dur(processing_ms)?;
                self.outbox.effects.push(Effect::ConfigChanged {
                    target: consumer,
                    name: "sandbox.processing.ms".into(),
                    value: processing_ms.to_string(),
                });
            }
            Note { text } => self.outbox.effects.push(Effect::Note { text }),
            CrashSchemaRegistry => {
                let r = self.schema_registry.as_mut().ok_or_else(|| ActionError("no schema registry".into()))?;
                if !r.alive {
                    return Err(ActionError("the schema registry is not running".into()));
                }
                r.alive = false;
                self.outbox.effects.push(Effect::RegistryCrashed);
                for n in self.all_nodes() {
                    if matches!(n, NodeId::Producer(_) | NodeId::Consumer(_)) {
                        self.outbox.sends.push((NodeId::SchemaRegistry, n, Message::ConnectionClosed));
                    }
                }
            }
            RestartSchemaRegistry => {
                let r = self.schema_registry.as_mut().ok_or_else(|| ActionError("no schema registry".into()))?;
                if r.alive {
                    return Err(ActionError("the schema registry is already running".into()));
                }
                r.alive = true;
                r.incarnation += 1;
                self.outbox.effects.push(Effect::RegistryRestarted);
            }
            SetCompatibility { subject, level } => {
                let level = level.parse::<CompatibilityLevel>().map_err(|e| ActionError(e.to_string()))?;
                self.registry_up()?;
                let r = self.schema_registry.as_mut().ok_or_else(|| ActionError("no schema registry".into()))?;
                match &subject {
                    Some(s) => r.registry.set_subject_compatibility(s, level),
                    None => r.registry.set_global_compatibility(level),
                }
                self.outbox.effects.push(Effect::ConfigChanged {
                    target: subject.map(|s| format!("subject {s}")).unwrap_or_else(|| "schema registry".into()),
                    name: "compatibility".into(),
                    value: level.to_string(),
                });
            }
            RegisterSchema { subject, schema } => {
                let text = schema_text(&schema).map_err(ActionError)?;
                self.registry_up()?;
                self.with_io(NodeId::SchemaRegistry, |w, io| {
                    if let Some(r) = w.schema_registry.as_mut() {
                        let _ = r.register(&subject, &text, io);
                    }
                });
            }
            SetProducerSchema { producer, key_schema, value_schema } => {
                let i = self.producer_index(&producer)?;
                let key = key_schema.as_deref().map(schema_text).transpose().map_err(ActionError)?;
                let value = value_schema.as_deref().map(schema_text).transpose().map_err(ActionError)?;
                self.producers[i].set_schemas(key, value);
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------ views

    /// The producer of the Streams instance whose consumer is `consumer`.
    fn streams_producer_of(&self, consumer: u32) -> Option<u32> {
        self.streams.iter().flat_map(|a| a.instances.iter()).find(|i| i.consumer == consumer).map(|i| i.producer)
    }

    /// The current leader's view of a partition: (leader, epoch, ISR, HW, LEO).
    pub fn partition_view(&self, tp: &TopicPartition) -> Option<PartitionView> {
        let state = self.controller.image.partition(tp)?;
        let mut replicas = Vec::new();
        for &r in &state.replicas {
            let b = self.broker(r)?;
            let rep = b.replicas.get(tp);
            replicas.push(ReplicaView {
                broker: r,
                status: b.status,
                role: match rep.map(|x| &x.role) {
                    Some(Role::Leader(_)) => "leader".to_string(),
                    Some(Role::Follower(_)) => "follower".to_string(),
                    _ => "offline".to_string(),
                },
                leo: rep.map(|x| x.log.log_end_offset()).unwrap_or(0),
                hw: rep.map(|x| x.log.high_watermark()).unwrap_or(0),
                log_start: rep.map(|x| x.log.log_start_offset()).unwrap_or(0),
                flushed: rep.map(|x| x.log.flushed_offset()).unwrap_or(0),
            });
        }
        Some(PartitionView {
            tp: tp.clone(),
            leader: state.leader,
            leader_epoch: state.leader_epoch,
            isr: state.isr.clone(),
            replicas,
        })
    }
}

/// Probe used by `validate` for client config changes.
enum ClientConfigProbe {
    Producer(ProducerConfig),
    Consumer(ConsumerConfig),
}

impl ClientConfigProbe {
    fn set(&mut self, name: &str, value: &crate::config::ConfigValue) -> Result<(), ActionError> {
        match self {
            ClientConfigProbe::Producer(c) => {
                c.set(name, value).map_err(|e| ActionError(e.to_string()))?;
                c.validate().map_err(|e| ActionError(e.to_string()))
            }
            ClientConfigProbe::Consumer(c) => c.set(name, value).map_err(|e| ActionError(e.to_string())),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicaView {
    pub broker: u32,
    pub status: BrokerStatus,
    pub role: String,
    pub leo: u64,
    pub hw: u64,
    pub log_start: u64,
    pub flushed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionView {
    pub tp: TopicPartition,
    pub leader: Option<u32>,
    pub leader_epoch: u32,
    pub isr: Vec<u32>,
    pub replicas: Vec<ReplicaView>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigValue;
    use crate::ledger::Outcome;

    pub(crate) fn setup(acks: &str, min_isr: i64) -> Setup {
        let mut topic = TopicConfig::default();
        topic.set("min.insync.replicas", &ConfigValue::Int(min_isr)).unwrap();
        let mut p = ProducerConfig::default();
        p.set("acks", &ConfigValue::Str(acks.into())).unwrap();
        p.validate().unwrap();
        let mut c = ConsumerConfig::default();
        c.set("auto.offset.reset", &ConfigValue::Str("earliest".into())).unwrap();
        Setup {
            brokers: 3,
            broker_config: BrokerConfig::default(),
            link: LinkProps::default(),
            topics: vec![TopicSpec {
                name: "orders".into(),
                partitions: 3,
                replication_factor: 3,
                config: topic,
                assignment: None,
            }],
            producers: vec![ProducerSpec { name: "p".into(), config: p, ..Default::default() }],
            consumers: vec![ConsumerSpec {
                name: "c".into(),
                config: c,
                assign: (0..3).map(|i| TopicPartition::new("orders", i)).collect(),
                ..Default::default()
            }],
            timeline: vec![(
                SimTime::from_ms(100),
                Action::Produce {
                    producer: "p".into(),
                    topic: "orders".into(),
                    count: 1000,
                    key: "cycle:50".into(),
                    value: "v{i}".into(),
                    interval_ms: 1.0,
                    partition: None,
                },
            )],
            end: SimTime::from_ms(10_000),
            ..Default::default()
        }
    }

    #[test]
    fn records_flow_from_producer_through_replicas_to_consumer() {
        let (mut w, _) = World::new(&setup("all", 2), 7).unwrap();
        w.run_to_end(|_| {}).unwrap();
        let acked = w.ledger.records.iter().filter(|r| matches!(r.outcome, Outcome::Acked { .. })).count();
        assert_eq!(acked, 1000, "all records acked");
        assert_eq!(w.consumers[0].stats.records_consumed, 1000);
        for p in 0..3 {
            let v = w.partition_view(&TopicPartition::new("orders", p)).unwrap();
            let leos: Vec<u64> = v.replicas.iter().map(|r| r.leo).collect();
            assert!(leos.iter().all(|&l| l == leos[0]), "replicas caught up: {leos:?}");
            assert_eq!(v.isr.len(), 3);
        }
        assert!(w.invariants.all_held(), "{:?}", w.invariants.states);
    }

    #[test]
    fn same_seed_same_digest() {
        let run = |seed| {
            let (mut w, _) = World::new(&setup("all", 2), seed).unwrap();
            w.run_to_end(|_| {}).unwrap();
            w.digest()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}

#[cfg(test)]
mod trace_peek {
    #[test]
    #[ignore]
    fn print_trace() {
        let s = super::tests::setup("all", 2);
        let (mut w, boot) = super::World::new(&s, 7).unwrap();
        println!("{boot}");
        let mut n = 0;
        w.run_until(crate::sim::time::SimTime::from_ms(150), |e| {
            n += 1;
            if n < 80 {
                println!("{e}");
            }
        })
        .unwrap();
        println!("steps {}", w.steps);
    }
}

/// The records of a partition below its high watermark on the current leader (how a
/// Streams task's restore consumer reads a changelog): (key, value) in offset order.
fn committed_records(
    brokers: &[Broker],
    image: &crate::cluster::metadata::MetadataImage,
    topic: &str,
    partition: u32,
) -> Vec<(Option<Blob>, Option<Blob>)> {
    let tp = TopicPartition { topic: Arc::from(topic), partition };
    let Some(leader) = image.partition(&tp).and_then(|p| p.leader) else { return Vec::new() };
    let Some(replica) = brokers.iter().find(|b| b.id == leader && b.is_running()).and_then(|b| b.replicas.get(&tp))
    else {
        return Vec::new();
    };
    // A read_committed restore consumer's view.
    replica.log.read_committed().map(|(_, r)| (r.key.clone(), r.value.clone())).collect()
}
