//! Kafka Connect and ksqlDB as components of the loaded scenario, read at the cursor (they
//! follow play, step, seek and branch like the other panels): the Connect worker and its
//! connectors with their tasks and, for sinks, the simulated tables; each ksqlDB server with
//! its persistent queries and the rows of its push queries.
//!
//! Connectors come from the world at the side panels' cadence, through the run summary's own
//! `connector_summaries` (so the panel and `kafka-sandbox run` agree), plus what the summary
//! leaves out: the worker's configs, the table rows and the source offsets. ksqlDB comes from
//! the run summary the app already computes at the slow cadence: its push query rows replay
//! the source topic, too costly for every frame.
use crate::vm::clip;
use sandbox_core::connect::sink::{InsertMode, PkMode};
use sandbox_core::connect::ConnectorKind;
use sandbox_core::summary::{connector_summaries, KsqlQuerySummary, KsqlSummary};
use sandbox_core::world::World;
use std::collections::BTreeSet;
use std::rc::Rc;
use yew::prelude::*;

/// Rows of a sink table shown (the rest is counted).
pub const TABLE_ROWS: usize = 20;
/// Rows of a push query shown (the rest is counted).
pub const PUSH_ROWS: usize = 20;
/// Characters of a key or value shown in a cell.
pub const CELL_CHARS: usize = 80;

#[derive(Clone, Debug, PartialEq)]
pub struct WorkerVm {
    pub group_id: String,
    pub offset_flush_interval_ms: u64,
    pub offsets_topic: String,
    pub offsets_partitions: u32,
    /// The worker's offset producer (`<group.id>-offsets`).
    pub offsets_producer: String,
    /// Source offset records the worker has written so far.
    pub offset_flushes: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TaskVm {
    pub id: u32,
    pub client: String,
    /// RUNNING, PAUSED, FAILED or UNASSIGNED, as the run summary says.
    pub state: String,
    pub records: u64,
    pub error: Option<String>,
    /// Source tasks: the last source offset the worker flushed to the offsets topic
    /// (`current.iteration`); `None` before the first flush.
    pub flushed_offset: Option<u64>,
    /// Source tasks: records sent again after a restart from that offset.
    pub duplicates: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RowVm {
    /// The primary key (`pk.mode=record_key`), `None` without one.
    pub key: Option<String>,
    pub value: String,
    /// The record that last wrote the row: `topic-partition@offset`.
    pub from: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TableVm {
    pub name: String,
    pub total: usize,
    /// The first `TABLE_ROWS` rows, in insertion order.
    pub rows: Vec<RowVm>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConnectorVm {
    pub name: String,
    pub class: String,
    /// "source" or "sink".
    pub kind: String,
    pub state: String,
    /// The connector's own configs worth reading next to it (topic, insert.mode, ...).
    pub config: String,
    pub records: u64,
    pub duplicates: u64,
    pub redelivered: u64,
    pub tasks: Vec<TaskVm>,
    pub tables: Vec<TableVm>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConnectVm {
    pub worker: WorkerVm,
    pub connectors: Vec<ConnectorVm>,
}

/// The Connect worker and its connectors at the cursor; `None` when the run has no worker.
pub fn connect(w: &World) -> Option<ConnectVm> {
    let rt = w.connect.as_ref()?;
    let summaries = connector_summaries(w);
    let worker = WorkerVm {
        group_id: rt.worker.group_id.clone(),
        offset_flush_interval_ms: rt.worker.offset_flush_interval_ms,
        offsets_topic: rt.worker.offsets_topic.clone(),
        offsets_partitions: rt.worker.offsets_partitions,
        offsets_producer: w
            .producers
            .get(rt.offsets_producer as usize)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| rt.worker.offsets_producer()),
        offset_flushes: rt.offset_flushes,
    };
    // The summary is derived from the same connectors in the same order.
    let connectors = rt
        .connectors
        .iter()
        .zip(summaries)
        .map(|(c, s)| {
            let source = c.spec.is_source();
            let config = match &c.spec.kind {
                ConnectorKind::Datagen { topic, quickstart, max_interval_ms, iterations } => format!(
                    "kafka.topic={topic} quickstart={} max.interval={max_interval_ms} iterations={} tasks.max={}",
                    quickstart.name(),
                    iterations.map(|n| n.to_string()).unwrap_or_else(|| "-1".into()),
                    c.spec.tasks_max
                ),
                ConnectorKind::JdbcSink { topics, insert_mode, pk_mode, .. } => format!(
                    "topics={} insert.mode={} pk.mode={} tasks.max={}",
                    topics.join(","),
                    match insert_mode {
                        InsertMode::Insert => "insert",
                        InsertMode::Upsert => "upsert",
                    },
                    match pk_mode {
                        PkMode::None => "none",
                        PkMode::RecordKey => "record_key",
                    },
                    c.spec.tasks_max
                ),
            };
            let tasks = s
                .tasks
                .into_iter()
                .map(|t| {
                    let task = c.tasks.iter().find(|k| k.id == t.id);
                    TaskVm {
                        id: t.id,
                        client: t.client,
                        state: t.state,
                        records: t.records,
                        error: t.error,
                        flushed_offset: task.filter(|_| source).map(|k| k.source.flushed_next).filter(|&n| n > 0),
                        duplicates: task.filter(|_| source).map(|k| k.source.duplicates).unwrap_or(0),
                    }
                })
                .collect();
            // A sink's tables before their first row too (the table exists in the database).
            let mut names: BTreeSet<String> = c.tables.keys().cloned().collect();
            if let ConnectorKind::JdbcSink { topics, .. } = &c.spec.kind {
                names.extend(topics.iter().map(|t| c.spec.table_for(t)));
            }
            let tables = names
                .into_iter()
                .map(|name| {
                    let rows = c.tables.get(&name).map(|t| t.rows.as_slice()).unwrap_or_default();
                    TableVm {
                        total: rows.len(),
                        rows: rows
                            .iter()
                            .take(TABLE_ROWS)
                            .map(|r| RowVm {
                                key: r.pk.clone(),
                                value: r.value.clone(),
                                from: format!("{}-{}@{}", r.topic, r.partition, r.offset),
                            })
                            .collect(),
                        name,
                    }
                })
                .collect();
            ConnectorVm {
                name: s.name,
                class: s.class,
                kind: s.kind,
                state: s.state,
                config,
                records: s.records,
                duplicates: s.duplicates,
                redelivered: s.redelivered,
                tasks,
                tables,
            }
        })
        .collect();
    Some(ConnectVm { worker, connectors })
}

#[derive(Clone, Debug, PartialEq)]
pub struct PushRowVm {
    pub row: String,
    pub tombstone: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PushVm {
    pub statement: usize,
    pub from: String,
    pub columns: Vec<String>,
    /// Rows received (the summary keeps at most its own cap of them).
    pub total: usize,
    pub rows: Vec<PushRowVm>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct KsqlServerVm {
    pub service_id: String,
    /// Servers sharing the service id.
    pub servers: u32,
    pub command_topic: String,
    pub queries: Vec<KsqlQuerySummary>,
    pub push_queries: Vec<PushVm>,
    pub error: Option<String>,
}

/// Every ksqlDB service of the world, from the run summary's `ksql` (computed from the same
/// world, at the slow cadence).
pub fn ksql(w: &World, summaries: &[KsqlSummary]) -> Vec<KsqlServerVm> {
    summaries
        .iter()
        .map(|k| KsqlServerVm {
            service_id: k.service_id.clone(),
            servers: w.ksql.iter().find(|s| s.service_id == k.service_id).map(|s| s.servers).unwrap_or(0),
            command_topic: k.command_topic.clone(),
            queries: k.queries.clone(),
            push_queries: k
                .push_queries
                .iter()
                .map(|p| PushVm {
                    statement: p.statement,
                    from: p.from.clone(),
                    columns: p.columns.clone(),
                    total: p.rows.len(),
                    rows: p
                        .rows
                        .iter()
                        .take(PUSH_ROWS)
                        .map(|r| PushRowVm { row: r.row.clone(), tombstone: r.tombstone })
                        .collect(),
                })
                .collect(),
            error: k.error.clone(),
        })
        .collect()
}

#[derive(Properties, PartialEq)]
pub struct ConnectKsqlProps {
    pub connect: Rc<Option<ConnectVm>>,
    pub ksql: Rc<Vec<KsqlServerVm>>,
}

/// The panel; the app shows it only when the run has a Connect worker or a ksqlDB server.
#[function_component(ConnectKsql)]
pub fn connect_ksql(p: &ConnectKsqlProps) -> Html {
    html! {
        <section class="panel streams live connect" aria-labelledby="connect-title" data-testid="connect-ksql">
            <h2 id="connect-title">{ "Kafka Connect & ksqlDB" }</h2>
            if let Some(c) = p.connect.as_ref() { { worker(c) } }
            { for p.ksql.iter().map(ksql_server) }
        </section>
    }
}

fn worker(c: &ConnectVm) -> Html {
    let w = &c.worker;
    html! {
        <div data-testid="connect-worker" aria-label="Kafka Connect worker" role="group">
            <h3>{ format!("Connect worker (group.id {})", clip(&w.group_id, 60)) }</h3>
            <p class="config-line">{ format!(
                "offset.flush.interval.ms={} offset.storage.topic={} ({} partitions)",
                w.offset_flush_interval_ms, clip(&w.offsets_topic, 60), w.offsets_partitions) }</p>
            <p data-testid="offset-flushes">{ format!("{} source offsets written by {}", w.offset_flushes, clip(&w.offsets_producer, 60)) }</p>
            { for c.connectors.iter().map(connector) }
        </div>
    }
}

fn connector(c: &ConnectorVm) -> Html {
    let source = c.kind == "source";
    let name = clip(&c.name, 60);
    let totals = if source {
        format!("{} records produced · {} duplicates (sent again after a restart)", c.records, c.duplicates)
    } else {
        format!("{} records written · {} redelivered · {} duplicate rows", c.records, c.redelivered, c.duplicates)
    };
    html! {
        <article class="client connector" data-connector={c.name.clone()} data-state={c.state.clone()} data-type={c.kind.clone()}
            aria-label={format!("Connector {name}")}>
            <h3>{ format!("connector {name} ({}) {}", c.kind, c.state) }</h3>
            <p class="config-line">{ format!("connector.class={}", clip(&c.class, 80)) }</p>
            <p class="config-line">{ clip(&c.config, 200) }</p>
            <p data-testid="connector-totals">{ totals }</p>
            <div class="spans">
                <table aria-label={format!("Tasks of {name}")}>
                    <thead><tr>
                        <th scope="col">{ "task" }</th><th scope="col">{ "client" }</th><th scope="col">{ "state" }</th>
                        <th scope="col">{ if source { "produced" } else { "written" } }</th>
                        if source {
                            <th scope="col">{ "duplicates" }</th>
                            <th scope="col">{ "last flushed current.iteration" }</th>
                        } else {
                            <th scope="col">{ "error" }</th>
                        }
                    </tr></thead>
                    <tbody>
                        { for c.tasks.iter().map(|t| html! {
                            <tr data-task={t.id.to_string()} data-state={t.state.clone()}>
                                <td>{ t.id }</td>
                                <td>{ clip(&t.client, 60) }</td>
                                <td class="task-state">{ t.state.clone() }</td>
                                <td class="task-records">{ t.records }</td>
                                if source {
                                    <td>{ t.duplicates }</td>
                                    <td>{ t.flushed_offset.map(|n| n.to_string()).unwrap_or_else(|| "none yet".into()) }</td>
                                } else {
                                    <td>{ t.error.as_deref().map(|e| clip(e, 120)).unwrap_or_default() }</td>
                                }
                            </tr>
                        }) }
                    </tbody>
                </table>
            </div>
            { for c.tables.iter().map(table) }
        </article>
    }
}

fn table(t: &TableVm) -> Html {
    let name = clip(&t.name, 60);
    let more = t.total.saturating_sub(t.rows.len());
    let keyed = t.rows.iter().any(|r| r.key.is_some());
    html! {
        <div class="sink-table" data-table={t.name.clone()} data-rows={t.total.to_string()}>
            <p data-testid="table-rows">{ match t.total {
                0 => format!("Table {name}: no rows yet"),
                1 => format!("Table {name}: 1 row"),
                n => format!("Table {name}: {n} rows"),
            } }</p>
            if !t.rows.is_empty() {
                <div class="spans">
                    <table aria-label={format!("Rows of table {name}")}>
                        <thead><tr>
                            <th scope="col">{ if keyed { "primary key" } else { "key (no primary key)" } }</th>
                            <th scope="col">{ "value" }</th>
                            <th scope="col">{ "from record" }</th>
                        </tr></thead>
                        <tbody>
                            { for t.rows.iter().map(|r| html! {
                                <tr>
                                    <td class="row-key">{ r.key.as_deref().map(|k| clip(k, CELL_CHARS)).unwrap_or_else(|| "-".into()) }</td>
                                    <td class="row-value">{ clip(&r.value, CELL_CHARS) }</td>
                                    <td class="row-from">{ clip(&r.from, CELL_CHARS) }</td>
                                </tr>
                            }) }
                        </tbody>
                    </table>
                </div>
            }
            if more > 0 { <p class="muted" data-testid="table-more">{ format!("…and {more} more") }</p> }
        </div>
    }
}

fn ksql_server(k: &KsqlServerVm) -> Html {
    let id = clip(&k.service_id, 60);
    html! {
        <article class="client ksql" data-service={k.service_id.clone()} aria-label={format!("ksqlDB service {id}")}>
            <h3>{ format!("ksqlDB ksql.service.id {id}") }</h3>
            <p class="config-line">{ format!("{} server{} · command topic {}", k.servers, if k.servers == 1 { "" } else { "s" },
                clip(&k.command_topic, 80)) }</p>
            if k.queries.is_empty() {
                <p class="muted">{ "No persistent query." }</p>
            } else {
                <div class="spans">
                    <table aria-label={format!("Persistent queries of {id}")}>
                        <thead><tr>
                            <th scope="col">{ "query" }</th><th scope="col">{ "state" }</th><th scope="col">{ "sink (topic)" }</th>
                            <th scope="col">{ "application.id" }</th><th scope="col">{ "processed" }</th>
                        </tr></thead>
                        <tbody>
                            { for k.queries.iter().map(|q| html! {
                                <tr data-query={q.id.clone()} data-state={q.state.clone()}>
                                    <td>{ clip(&q.id, 60) }</td>
                                    <td class="query-state">{ q.state.clone() }</td>
                                    <td>{ format!("{} ({})", clip(&q.sink, 60), clip(&q.topic, 60)) }</td>
                                    <td>{ clip(&q.application_id, 80) }</td>
                                    <td class="query-processed">{ q.processed }</td>
                                </tr>
                            }) }
                        </tbody>
                    </table>
                </div>
            }
            { for k.push_queries.iter().map(|p| {
                let more = p.total.saturating_sub(p.rows.len());
                html! {
                    <div class="push-query" data-statement={p.statement.to_string()} data-rows={p.total.to_string()}>
                        <p>{ format!("Push query (statement {}) SELECT {} FROM {} EMIT CHANGES: {} row{} received",
                            p.statement, clip(&p.columns.join(", "), 120), clip(&p.from, 60), p.total, if p.total == 1 { "" } else { "s" }) }</p>
                        if !p.rows.is_empty() {
                            <div class="spans">
                                <table aria-label={format!("Rows of push query {}", p.statement)}>
                                    <thead><tr><th scope="col">{ "row" }</th><th scope="col">{ "change" }</th></tr></thead>
                                    <tbody>
                                        { for p.rows.iter().map(|r| html! {
                                            <tr>
                                                <td>{ clip(&r.row, CELL_CHARS) }</td>
                                                <td>{ if r.tombstone { "deleted" } else { "" } }</td>
                                            </tr>
                                        }) }
                                    </tbody>
                                </table>
                            </div>
                        }
                        if more > 0 { <p class="muted">{ format!("…and {more} more") }</p> }
                    </div>
                }
            }) }
            if let Some(e) = &k.error { <p class="bad">{ clip(e, 200) }</p> }
        </article>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::test_support::{builtin as session, first_step};
    use sandbox_core::summary::RunSummary;

    #[test]
    fn connectors_agree_with_the_run_summary_at_the_end_and_change_mid_run() {
        let mut s = session("connect/insert-vs-upsert-sink");
        assert!(s.compute_to_end(5_000_000));
        let end = s.frontier();
        s.seek(end);
        let vm = connect(&s.world).expect("the scenario has a Connect worker");
        assert_eq!(vm.worker.group_id, "connect-cluster");
        assert_eq!(vm.worker.offset_flush_interval_ms, 10_000);
        assert_eq!(vm.worker.offsets_topic, "connect-offsets");
        assert_eq!(vm.worker.offsets_producer, "connect-cluster-offsets");
        assert!(vm.worker.offset_flushes > 0);
        let summary = RunSummary::of(&s.world);
        assert_eq!(vm.connectors.len(), summary.connectors.len());
        for (c, want) in vm.connectors.iter().zip(&summary.connectors) {
            assert_eq!((&c.name, &c.class, &c.kind, &c.state), (&want.name, &want.class, &want.kind, &want.state));
            assert_eq!((c.records, c.duplicates, c.redelivered), (want.records, want.duplicates, want.redelivered));
            let tasks: Vec<_> =
                c.tasks.iter().map(|t| (t.id, t.client.as_str(), t.state.as_str(), t.records)).collect();
            let want_tasks: Vec<_> =
                want.tasks.iter().map(|t| (t.id, t.client.as_str(), t.state.as_str(), t.records)).collect();
            assert_eq!(tasks, want_tasks);
            let tables: Vec<_> = c.tables.iter().map(|t| (t.name.clone(), t.total as u64)).collect();
            assert_eq!(tables, want.tables.clone().into_iter().collect::<Vec<_>>());
        }
        let by = |n: &str| vm.connectors.iter().find(|c| c.name == n).unwrap();
        let upsert = &by("orders-upsert").tables[0];
        assert_eq!((upsert.name.as_str(), upsert.total, upsert.rows.len()), ("orders_upsert", 6000, TABLE_ROWS));
        // Upsert: one row per orderid, the primary key shown; the first rows as in the table.
        let table = &s.world.connect.as_ref().unwrap().connectors[2].tables["orders_upsert"];
        assert_eq!(upsert.rows[0].key, table.rows[0].pk);
        assert!(upsert.rows.iter().all(|r| r.key.is_some()));
        assert_eq!(upsert.rows[3].value, table.rows[3].value);
        assert!(upsert.rows[0].from.starts_with("orders-"));
        let insert = by("orders-insert");
        assert!(insert.tables[0].total > 6000 && insert.duplicates > 0 && insert.redelivered > 0);
        assert!(insert.tables[0].rows.iter().all(|r| r.key.is_none()), "insert without pk.mode has no key");
        assert_eq!(insert.config, "topics=orders insert.mode=insert pk.mode=none tasks.max=1");
        // The source: all 6000 orders generated plus the ones sent again after the restart,
        // and its last flushed offset is the end of its iterations.
        let gen = by("datagen-orders");
        assert_eq!(gen.kind, "source");
        assert!(gen.duplicates > 0);
        assert_eq!(gen.records, 6000 + gen.duplicates);
        assert_eq!(gen.tasks[0].client, "connector-producer-datagen-orders-0");
        assert_eq!(gen.tasks[0].flushed_offset, Some(6000));
        assert!(gen.tasks.iter().all(|t| t.error.is_none()));

        // Mid-run: while the sink tasks are down (25 s to 30 s) their state says so, and the
        // upsert table holds fewer rows than at the end.
        let crashed = first_step(&mut s, |w| w.now.as_ms_f64() >= 26_000.0);
        s.seek(crashed);
        let mid = connect(&s.world).unwrap();
        let mid_by = |n: &str| mid.connectors.iter().find(|c| c.name == n).unwrap();
        assert_eq!(mid_by("orders-upsert").tasks[0].state, "UNASSIGNED");
        assert_eq!(mid_by("datagen-orders").tasks[0].state, "RUNNING");
        assert!(mid_by("orders-upsert").tables[0].total < 6000);
        assert_eq!(mid_by("datagen-orders").duplicates, 0, "nothing has been sent again before 35 s");
        let mid_summary = RunSummary::of(&s.world);
        assert_eq!(
            mid_by("orders-upsert").tables[0].total as u64,
            mid_summary.connectors.iter().find(|c| c.name == "orders-upsert").unwrap().rows()
        );
        // Before the first flush (10 s) the source task has no flushed offset.
        let step = first_step(&mut s, |w| w.now.as_ms_f64() >= 1_000.0);
        s.seek(step);
        let early = connect(&s.world).unwrap();
        assert_eq!(early.connectors[0].tasks[0].flushed_offset, None);
        s.seek(1);
        let first = connect(&s.world).unwrap();
        let names: Vec<_> =
            first.connectors.iter().flat_map(|c| c.tables.iter().map(|t| (t.name.as_str(), t.total))).collect();
        assert_eq!(names, [("orders_insert", 0), ("orders_upsert", 0)], "configured tables are listed before any row");
        assert!(first.connectors.iter().all(|c| c.records == 0));
    }

    #[test]
    fn ksql_servers_show_their_queries_and_push_rows() {
        let mut s = session("streams/ksqldb-in-the-cluster");
        assert!(s.compute_to_end(5_000_000));
        let end = s.frontier();
        s.seek(end);
        let summary = RunSummary::of(&s.world);
        let vms = ksql(&s.world, &summary.ksql);
        assert_eq!(vms.len(), 1);
        let k = &vms[0];
        assert_eq!((k.service_id.as_str(), k.servers), ("default_", 1));
        assert_eq!(k.queries, summary.ksql[0].queries);
        let q = k.queries.iter().find(|q| q.id == "CTAS_PAYMENT_TYPE_SESSIONS_4").unwrap();
        assert_eq!((q.state.as_str(), q.processed), ("RUNNING", 600));
        // Its application is a Streams application of the world with that count.
        let app = s.world.streams.iter().find(|a| a.spec.application_id == q.application_id).unwrap();
        assert_eq!(app.processed, q.processed);
        assert_eq!(k.push_queries.len(), 1);
        let p = &k.push_queries[0];
        assert!(p.total > PUSH_ROWS, "every session change is a row ({})", p.total);
        assert_eq!(p.rows.len(), PUSH_ROWS);
        assert!(p.rows.iter().any(|r| r.tombstone), "merged sessions are deleted");
        assert!(connect(&s.world).is_none());
        // Early in the run fewer records are processed.
        let step = first_step(&mut s, |w| w.now.as_ms_f64() >= 20_000.0);
        s.seek(step);
        let early = ksql(&s.world, &RunSummary::of(&s.world).ksql);
        let eq = early[0].queries.iter().find(|q| q.id == "CTAS_PAYMENT_TYPE_SESSIONS_4").unwrap();
        assert!(eq.processed > 0 && eq.processed < 600, "{}", eq.processed);
        assert!(early[0].push_queries[0].total < p.total);
    }

    #[test]
    fn the_walkthrough_sink_table_is_named_after_its_topic() {
        let mut s = session("basics/managed-cluster-walkthrough");
        assert!(s.compute_to_end(5_000_000));
        let end = s.frontier();
        s.seek(end);
        let vm = connect(&s.world).unwrap();
        let sink = vm.connectors.iter().find(|c| c.name == "orders-sink").unwrap();
        // table.name.format defaults to ${topic}.
        assert_eq!(sink.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["demo_orders"]);
        let want = RunSummary::of(&s.world);
        assert_eq!(
            sink.tables[0].total as u64,
            want.connectors.iter().find(|c| c.name == "orders-sink").unwrap().rows()
        );
        assert_eq!(ksql(&s.world, &want.ksql).len(), want.ksql.len());
    }

    #[test]
    fn scenarios_without_connect_or_ksql_show_nothing() {
        let s = session("replication/acks-1-leader-crash");
        assert!(connect(&s.world).is_none());
        assert!(ksql(&s.world, &RunSummary::of(&s.world).ksql).is_empty());
    }
}
