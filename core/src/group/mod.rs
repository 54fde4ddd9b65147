//! Consumer groups: how Kafka spreads a group's subscribed partitions over its members.
//!
//! `assignor` holds the client-side partition assignors that the group leader runs during a
//! rebalance (`range`, `roundrobin`, `sticky`, `cooperative-sticky`). The group coordinator
//! and the rebalance protocols that call them live next to it.
pub mod assignor;
