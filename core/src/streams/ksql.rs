//! A ksqlDB front end: a documented subset of ksqlDB's SQL, translated into `TopologySpec`s
//! (one persistent query per `CREATE ... AS SELECT`) and run in the test driver.
//!
//! Supported statements (each ends with `;`; `--` and `/* */` comments are allowed):
//! ```text
//! CREATE STREAM s (col TYPE [KEY], ...) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON', ...);
//! CREATE TABLE t (col TYPE PRIMARY KEY, ...) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON', ...);
//! CREATE STREAM x [WITH (KAFKA_TOPIC=..., PARTITIONS=...)] AS SELECT items FROM s
//!     [[INNER|LEFT] JOIN t [WITHIN n unit] ON s.a = t.b] [WHERE c] [PARTITION BY col] EMIT CHANGES;
//! CREATE TABLE x [WITH (...)] AS SELECT key_col, aggregates FROM s
//!     [WINDOW TUMBLING (SIZE n unit[, GRACE PERIOD n unit])
//!     | WINDOW HOPPING (SIZE n unit, ADVANCE BY n unit[, GRACE PERIOD n unit])
//!     | WINDOW SESSION (n unit[, GRACE PERIOD n unit])]
//!     [WHERE c] GROUP BY col [HAVING c] EMIT CHANGES;
//! SELECT items FROM x [WHERE c] EMIT CHANGES [LIMIT n];      -- a transient push query
//! SET 'auto.offset.reset'='earliest';                          -- accepted, no effect here
//! ```
//! Types: INT/INTEGER, BIGINT, DOUBLE, DECIMAL(p, s) (held as a double), VARCHAR/STRING,
//! BOOLEAN, TIMESTAMP (epoch milliseconds). Aggregates: COUNT(*), COUNT(col), SUM, MIN, MAX,
//! AVG. Scalar functions: UCASE, LCASE, LEN, CONCAT, COALESCE, IFNULL, ABS, FLOOR, CEIL,
//! ROUND, SUBSTRING, CAST, CASE; operators: arithmetic, comparisons, AND/OR/NOT, IS [NOT]
//! NULL, [NOT] IN (...), [NOT] BETWEEN, [NOT] LIKE (prefix/suffix/contains patterns).
//!
//! ksqlDB's conventions are kept: unquoted identifiers are upper-cased; the sink topic
//! defaults to the object's name; persistent query ids are `CSAS_<NAME>_<n>` /
//! `CTAS_<NAME>_<n>` where `n` is the statement's offset in the command topic of a fresh
//! server: every CREATE statement is one command, written in a transaction, so it takes two
//! offsets (the record and the commit marker) and the ids go 0, 2, 4, ...; the application id is
//! `_confluent-ksql-default_query_<id>` (service id `default_`); a GROUP BY on a non-key
//! column repartitions through `<app>-Aggregate-GroupBy-repartition`; the aggregate's store
//! is `Aggregate-Aggregate-Materialize`; a table's key is its GROUP BY column and a windowed
//! table's key is (key, window). JSON values are matched to declared columns exactly, else
//! case-insensitively (ksqlDB's `KsqlJsonDeserializer`); a record that does not deserialize
//! is dropped, as ksqlDB logs and skips it. Windowed aggregations default to a 24-hour
//! grace period when GRACE PERIOD is absent (ksqlDB keeps Kafka Streams' old default).
//!
//! Inside a translated topology a row is the record's value as a map of UPPER-CASE column
//! names, with the key columns copied in by a `Prepare` step; the runner here performs the
//! JSON deserialization that ksqlDB's source node does, so a spec is meant to be run through
//! [`run_script`] (or [`run_json`]), not fed raw JSON.
use super::driver::{DriverRecord, TestDriver};
use super::expr::{Env, Expr, ExprContext};
use super::topology::{JoinKind, Step, TimestampSpec, TopologySpec};
use super::value::{parse_datetime, Value};
use super::window::{EmitStrategy, JoinWindowSpec, WindowSpec};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// Longest script accepted, in bytes.
pub const MAX_SCRIPT_LEN: usize = 256 * 1024;
/// Longest single statement accepted, in bytes.
pub const MAX_STATEMENT_LEN: usize = 16 * 1024;
/// Most statements in one script.
pub const MAX_STATEMENTS: usize = 64;
/// Most columns in a declaration or select list.
pub const MAX_COLUMNS: usize = 128;
/// Deepest nesting of SQL expressions.
pub const MAX_SQL_DEPTH: usize = 32;
/// Most records the runner moves between queries for one script (input and outputs).
pub const MAX_RECORDS: usize = 1_000_000;
/// ksqlDB's default grace period for windows without GRACE PERIOD: 24 hours.
pub const DEFAULT_GRACE_MS: i64 = 24 * 3600 * 1000;

/// A SQL error at `line`:`column` (1-based; column in characters).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KsqlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for KsqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}:{}: {}", self.line, self.column, self.message)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Pos {
    line: usize,
    col: usize,
}

fn fail<T>(p: Pos, message: impl Into<String>) -> Result<T, KsqlError> {
    Err(KsqlError { line: p.line, column: p.col, message: message.into() })
}

// ---------------------------------------------------------------------------------------
// Lexer

#[derive(Clone, Debug, PartialEq)]
enum Tk {
    /// An unquoted word, upper-cased.
    Word(String),
    /// A back-quoted or double-quoted identifier, case kept.
    Quoted(String),
    Str(String),
    Num(String),
    Sym(&'static str),
}

impl Tk {
    fn describe(&self) -> String {
        match self {
            Tk::Word(w) => format!("'{w}'"),
            Tk::Quoted(w) => format!("`{w}`"),
            Tk::Str(s) => format!("string '{s}'"),
            Tk::Num(n) => format!("number {n}"),
            Tk::Sym(s) => format!("'{s}'"),
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    tk: Tk,
    pos: Pos,
    /// Byte offset in the script, for statement lengths.
    offset: usize,
}

const SYMS: &[&str] = &["<>", "!=", "<=", ">=", "->", "(", ")", ",", ";", ".", "*", "=", "<", ">", "+", "-", "/", "%"];

fn lex(src: &str) -> Result<Vec<Token>, KsqlError> {
    let mut out = Vec::new();
    let mut it = src.char_indices().peekable();
    let (mut line, mut col) = (1usize, 1usize);
    // Advances over one char, tracking line and column.
    macro_rules! bump {
        () => {{
            let c = it.next();
            if let Some((_, ch)) = c {
                if ch == '\n' {
                    line += 1;
                    col = 1;
                } else {
                    col += 1;
                }
            }
            c
        }};
    }
    while let Some(&(offset, c)) = it.peek() {
        let pos = Pos { line, col };
        if c.is_whitespace() {
            bump!();
            continue;
        }
        if c == '-' && src[offset..].starts_with("--") {
            while let Some(&(_, ch)) = it.peek() {
                if ch == '\n' {
                    break;
                }
                bump!();
            }
            continue;
        }
        if c == '/' && src[offset..].starts_with("/*") {
            bump!();
            bump!();
            loop {
                match bump!() {
                    None => return fail(pos, "unterminated comment /* ... */"),
                    Some((i, '*')) if src[i..].starts_with("*/") => {
                        bump!();
                        break;
                    }
                    Some(_) => {}
                }
            }
            continue;
        }
        if c == '\'' || c == '"' || c == '`' {
            bump!();
            let mut s = String::new();
            loop {
                match bump!() {
                    None => return fail(pos, format!("unterminated {c}...{c}")),
                    Some((_, ch)) if ch == c => {
                        // A doubled quote stands for itself.
                        if matches!(it.peek(), Some(&(_, n)) if n == c) {
                            bump!();
                            s.push(c);
                        } else {
                            break;
                        }
                    }
                    Some((_, ch)) => s.push(ch),
                }
            }
            let tk = if c == '\'' { Tk::Str(s) } else { Tk::Quoted(s) };
            out.push(Token { tk, pos, offset });
            continue;
        }
        if c.is_ascii_digit() {
            let mut s = String::new();
            while let Some(&(_, ch)) = it.peek() {
                if ch.is_ascii_digit() || ch == '.' {
                    s.push(ch);
                    bump!();
                } else {
                    break;
                }
            }
            if s.matches('.').count() > 1 || s.ends_with('.') {
                return fail(pos, format!("malformed number {s}"));
            }
            out.push(Token { tk: Tk::Num(s), pos, offset });
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let mut s = String::new();
            while let Some(&(_, ch)) = it.peek() {
                if ch.is_alphanumeric() || ch == '_' || ch == '@' || ch == '$' {
                    s.extend(ch.to_uppercase());
                    bump!();
                } else {
                    break;
                }
            }
            out.push(Token { tk: Tk::Word(s), pos, offset });
            continue;
        }
        match SYMS.iter().find(|s| src[offset..].starts_with(**s)) {
            Some(sym) => {
                for _ in 0..sym.len() {
                    bump!();
                }
                out.push(Token { tk: Tk::Sym(sym), pos, offset });
            }
            None => return fail(pos, format!("unexpected character '{c}'")),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Syntax tree

/// A column type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SqlType {
    Int,
    Bigint,
    Double,
    /// `DECIMAL(precision, scale)`, held as a double in the sandbox.
    Decimal(u32, u32),
    String,
    Boolean,
    Timestamp,
}

impl SqlType {
    fn kind(self) -> Kind {
        match self {
            SqlType::Int | SqlType::Bigint | SqlType::Double | SqlType::Decimal(..) | SqlType::Timestamp => Kind::Num,
            SqlType::String => Kind::Str,
            SqlType::Boolean => Kind::Bool,
        }
    }

    fn name(self) -> String {
        match self {
            SqlType::Int => "INTEGER".into(),
            SqlType::Bigint => "BIGINT".into(),
            SqlType::Double => "DOUBLE".into(),
            SqlType::Decimal(p, s) => format!("DECIMAL({p}, {s})"),
            SqlType::String => "STRING".into(),
            SqlType::Boolean => "BOOLEAN".into(),
            SqlType::Timestamp => "TIMESTAMP".into(),
        }
    }
}

/// The coarse kind of an expression, for ksqlDB's compile-time comparison checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Num,
    Str,
    Bool,
    Null,
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    And,
    Or,
}

#[derive(Clone, Debug, PartialEq)]
enum SqlExpr {
    Col { qual: Option<String>, name: String, pos: Pos },
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Bin(BinOp, Box<SqlExpr>, Box<SqlExpr>, Pos),
    Not(Box<SqlExpr>),
    Neg(Box<SqlExpr>),
    IsNull(Box<SqlExpr>, bool),
    In(Box<SqlExpr>, Vec<SqlExpr>, bool, Pos),
    Between(Box<SqlExpr>, Box<SqlExpr>, Box<SqlExpr>, bool),
    Like(Box<SqlExpr>, String, bool, Pos),
    Call { name: String, args: Vec<SqlExpr>, star: bool, pos: Pos },
    Cast(Box<SqlExpr>, SqlType),
    Case(Vec<(SqlExpr, SqlExpr)>, Option<Box<SqlExpr>>),
}

#[derive(Clone, Debug)]
struct SelectItem {
    expr: SqlExpr,
    alias: Option<String>,
    pos: Pos,
}

#[derive(Clone, Debug)]
enum Projection {
    Star(Pos),
    Items(Vec<SelectItem>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WindowKind {
    Tumbling,
    Hopping,
    Session,
}

#[derive(Clone, Debug)]
struct WindowClause {
    spec: WindowSpec,
    kind: WindowKind,
}

#[derive(Clone, Debug)]
struct JoinClause {
    kind: JoinKind,
    source: String,
    alias: Option<String>,
    within_ms: Option<(i64, i64)>,
    left: SqlExpr,
    right: SqlExpr,
    pos: Pos,
}

#[derive(Clone, Debug)]
struct Select {
    projection: Projection,
    from: String,
    from_alias: Option<String>,
    from_pos: Pos,
    join: Option<JoinClause>,
    window: Option<(WindowClause, Pos)>,
    where_: Option<SqlExpr>,
    group_by: Vec<SqlExpr>,
    group_pos: Pos,
    partition_by: Option<SqlExpr>,
    having: Option<SqlExpr>,
    emit_final: bool,
    limit: Option<u64>,
}

#[derive(Clone, Debug)]
struct ColumnDecl {
    name: String,
    ty: SqlType,
    key: Option<&'static str>,
    pos: Pos,
}

#[derive(Clone, Debug)]
enum Stmt {
    CreateSource { table: bool, name: String, columns: Vec<ColumnDecl>, with: Vec<(String, Tk, Pos)>, pos: Pos },
    CreateAs { table: bool, name: String, with: Vec<(String, Tk, Pos)>, select: Box<Select>, pos: Pos },
    Push { select: Box<Select>, pos: Pos },
    Set { reset: String },
}

// ---------------------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
    depth: usize,
    end: Pos,
}

/// Words that end an expression or a clause, so they are never taken as implicit aliases.
const RESERVED: &[&str] = &[
    "FROM",
    "WHERE",
    "GROUP",
    "HAVING",
    "WINDOW",
    "PARTITION",
    "EMIT",
    "LIMIT",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "OUTER",
    "ON",
    "WITHIN",
    "AS",
    "AND",
    "OR",
    "NOT",
    "BY",
    "SELECT",
    "CREATE",
    "WITH",
    "IS",
    "IN",
    "BETWEEN",
    "LIKE",
    "THEN",
    "WHEN",
    "ELSE",
    "END",
    "CASE",
];

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Tk> {
        self.toks.get(self.i).map(|t| &t.tk)
    }

    fn pos(&self) -> Pos {
        self.toks.get(self.i).map(|t| t.pos).unwrap_or(self.end)
    }

    fn found(&self) -> String {
        self.peek().map(Tk::describe).unwrap_or_else(|| "the end of the script".into())
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tk::Word(x)) if x == w)
    }

    fn is_word_at(&self, k: usize, w: &str) -> bool {
        matches!(self.toks.get(self.i + k).map(|t| &t.tk), Some(Tk::Word(x)) if x == w)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self, w: &str) -> Result<(), KsqlError> {
        if self.eat_word(w) {
            Ok(())
        } else {
            fail(self.pos(), format!("expected {w}, found {}", self.found()))
        }
    }

    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Some(Tk::Sym(x)) if *x == s)
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if self.is_sym(s) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn sym(&mut self, s: &str) -> Result<(), KsqlError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            fail(self.pos(), format!("expected '{s}', found {}", self.found()))
        }
    }

    fn ident(&mut self, what: &str) -> Result<(String, Pos), KsqlError> {
        let pos = self.pos();
        match self.peek() {
            Some(Tk::Word(w)) if !RESERVED.contains(&w.as_str()) => {
                let w = w.clone();
                self.i += 1;
                Ok((w, pos))
            }
            Some(Tk::Quoted(w)) if !w.is_empty() => {
                let w = w.clone();
                self.i += 1;
                Ok((w, pos))
            }
            _ => fail(pos, format!("expected {what}, found {}", self.found())),
        }
    }

    fn number(&mut self, what: &str) -> Result<(i64, Pos), KsqlError> {
        let pos = self.pos();
        match self.peek() {
            Some(Tk::Num(n)) => match n.parse::<i64>() {
                Ok(v) => {
                    self.i += 1;
                    Ok((v, pos))
                }
                Err(_) => fail(pos, format!("{what} must be a whole number, got {n}")),
            },
            _ => fail(pos, format!("expected {what} (a number), found {}", self.found())),
        }
    }

    fn statement(&mut self) -> Result<Stmt, KsqlError> {
        let pos = self.pos();
        if self.eat_word("CREATE") {
            let _ = self.eat_word("OR") && self.eat_word("REPLACE");
            let table = if self.eat_word("STREAM") {
                false
            } else if self.eat_word("TABLE") {
                true
            } else {
                return fail(
                    self.pos(),
                    format!(
                        "expected STREAM or TABLE after CREATE, found {} (supported: CREATE STREAM, CREATE TABLE)",
                        self.found()
                    ),
                );
            };
            let (name, _) = self.ident("a stream or table name")?;
            if self.is_sym("(") {
                let columns = self.columns()?;
                let with = self.with_clause()?;
                if self.is_word("AS") {
                    return fail(self.pos(), "a CREATE ... AS SELECT has no column list");
                }
                return Ok(Stmt::CreateSource { table, name, columns, with, pos });
            }
            let with = self.with_clause()?;
            if !self.eat_word("AS") {
                return fail(
                    self.pos(),
                    format!("expected a column list '(...)' or AS SELECT, found {}", self.found()),
                );
            }
            self.word("SELECT")?;
            let select = self.select()?;
            return Ok(Stmt::CreateAs { table, name, with, select: Box::new(select), pos });
        }
        if self.eat_word("SELECT") {
            let select = self.select()?;
            return Ok(Stmt::Push { select: Box::new(select), pos });
        }
        if self.eat_word("SET") {
            let p = self.pos();
            let prop = match self.peek() {
                Some(Tk::Str(s)) => s.clone(),
                _ => return fail(p, format!("expected a property name in quotes, found {}", self.found())),
            };
            self.i += 1;
            self.sym("=")?;
            let vp = self.pos();
            let value = match self.peek() {
                Some(Tk::Str(s)) => s.to_ascii_lowercase(),
                _ => return fail(vp, format!("expected a value in quotes, found {}", self.found())),
            };
            self.i += 1;
            if prop != "auto.offset.reset" {
                return fail(p, format!("SET '{prop}' is not supported (only 'auto.offset.reset')"));
            }
            if value != "earliest" && value != "latest" {
                return fail(vp, "'auto.offset.reset' must be 'earliest' or 'latest'");
            }
            return Ok(Stmt::Set { reset: value });
        }
        fail(
            pos,
            format!(
                "unsupported statement starting with {} (supported: CREATE STREAM, CREATE TABLE, CREATE ... AS SELECT, SELECT ... EMIT CHANGES, SET 'auto.offset.reset')",
                self.found()
            ),
        )
    }

    fn sql_type(&mut self) -> Result<SqlType, KsqlError> {
        let pos = self.pos();
        let Some(Tk::Word(w)) = self.peek().cloned() else {
            return fail(pos, format!("expected a type, found {}", self.found()));
        };
        self.i += 1;
        Ok(match w.as_str() {
            "INT" | "INTEGER" => SqlType::Int,
            "BIGINT" => SqlType::Bigint,
            "DOUBLE" => SqlType::Double,
            "VARCHAR" | "STRING" => SqlType::String,
            "BOOLEAN" => SqlType::Boolean,
            "TIMESTAMP" => SqlType::Timestamp,
            "DECIMAL" => {
                self.sym("(")?;
                let (p, pp) = self.number("the precision")?;
                self.sym(",")?;
                let (s, sp) = self.number("the scale")?;
                self.sym(")")?;
                if !(1..=1000).contains(&p) {
                    return fail(pp, "DECIMAL precision must be at least 1");
                }
                if s < 0 || s > p {
                    return fail(sp, "DECIMAL scale must be between 0 and the precision");
                }
                SqlType::Decimal(p as u32, s as u32)
            }
            other => {
                return fail(
                    pos,
                    format!(
                        "type {other} is not supported (supported: INT, BIGINT, DOUBLE, DECIMAL(p, s), VARCHAR, STRING, BOOLEAN, TIMESTAMP)"
                    ),
                )
            }
        })
    }

    fn columns(&mut self) -> Result<Vec<ColumnDecl>, KsqlError> {
        self.sym("(")?;
        let mut cols = Vec::new();
        loop {
            let (name, pos) = self.ident("a column name")?;
            let ty = self.sql_type()?;
            let key = if self.eat_word("PRIMARY") {
                self.word("KEY")?;
                Some("PRIMARY KEY")
            } else if self.eat_word("KEY") {
                Some("KEY")
            } else {
                None
            };
            if cols.len() >= MAX_COLUMNS {
                return fail(pos, format!("more than {MAX_COLUMNS} columns"));
            }
            cols.push(ColumnDecl { name, ty, key, pos });
            if self.eat_sym(")") {
                return Ok(cols);
            }
            self.sym(",")?;
        }
    }

    fn with_clause(&mut self) -> Result<Vec<(String, Tk, Pos)>, KsqlError> {
        let mut props = Vec::new();
        if !self.eat_word("WITH") {
            return Ok(props);
        }
        self.sym("(")?;
        loop {
            let pos = self.pos();
            let name = match self.peek() {
                Some(Tk::Word(w)) | Some(Tk::Quoted(w)) => w.to_ascii_uppercase(),
                _ => return fail(pos, format!("expected a property name, found {}", self.found())),
            };
            self.i += 1;
            self.sym("=")?;
            let vp = self.pos();
            let value = match self.peek() {
                Some(t @ (Tk::Str(_) | Tk::Num(_))) => t.clone(),
                _ => return fail(vp, format!("expected a quoted string or a number, found {}", self.found())),
            };
            self.i += 1;
            if props.len() >= MAX_COLUMNS {
                return fail(pos, "too many properties");
            }
            props.push((name, value, vp));
            if self.eat_sym(")") {
                return Ok(props);
            }
            self.sym(",")?;
        }
    }

    fn duration(&mut self) -> Result<i64, KsqlError> {
        let (n, pos) = self.number("a duration")?;
        let up = self.pos();
        let unit = match self.peek() {
            Some(Tk::Word(w)) => w.clone(),
            _ => return fail(up, format!("expected a time unit, found {}", self.found())),
        };
        self.i += 1;
        let ms: i64 = match unit.trim_end_matches('S') {
            "MILLISECOND" => 1,
            "SECOND" => 1000,
            "MINUTE" => 60_000,
            "HOUR" => 3_600_000,
            "DAY" => 86_400_000,
            _ => return fail(up, format!("unknown time unit {unit} (MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS)")),
        };
        n.checked_mul(ms)
            .filter(|v| *v <= super::window::MAX_DURATION_MS)
            .map_or_else(|| fail(pos, "duration too large"), Ok)
    }

    fn grace(&mut self) -> Result<i64, KsqlError> {
        if self.eat_sym(",") {
            self.word("GRACE")?;
            self.word("PERIOD")?;
            return self.duration();
        }
        Ok(DEFAULT_GRACE_MS)
    }

    fn window(&mut self) -> Result<WindowClause, KsqlError> {
        let pos = self.pos();
        if self.eat_word("TUMBLING") {
            self.sym("(")?;
            self.word("SIZE")?;
            let size_ms = self.duration()?;
            let grace_ms = self.grace()?;
            self.sym(")")?;
            return Ok(WindowClause { spec: WindowSpec::Tumbling { size_ms, grace_ms }, kind: WindowKind::Tumbling });
        }
        if self.eat_word("HOPPING") {
            self.sym("(")?;
            self.word("SIZE")?;
            let size_ms = self.duration()?;
            self.sym(",")?;
            self.word("ADVANCE")?;
            self.word("BY")?;
            let advance_ms = self.duration()?;
            let grace_ms = self.grace()?;
            self.sym(")")?;
            return Ok(WindowClause {
                spec: WindowSpec::Hopping { size_ms, advance_ms, grace_ms },
                kind: WindowKind::Hopping,
            });
        }
        if self.eat_word("SESSION") {
            self.sym("(")?;
            let gap_ms = self.duration()?;
            let grace_ms = self.grace()?;
            self.sym(")")?;
            return Ok(WindowClause { spec: WindowSpec::Session { gap_ms, grace_ms }, kind: WindowKind::Session });
        }
        fail(pos, format!("expected TUMBLING, HOPPING or SESSION after WINDOW, found {}", self.found()))
    }

    fn alias(&mut self) -> Result<Option<String>, KsqlError> {
        if self.eat_word("AS") {
            return Ok(Some(self.ident("an alias")?.0));
        }
        match self.peek() {
            Some(Tk::Word(w)) if !RESERVED.contains(&w.as_str()) => Ok(Some(self.ident("an alias")?.0)),
            Some(Tk::Quoted(_)) => Ok(Some(self.ident("an alias")?.0)),
            _ => Ok(None),
        }
    }

    fn select(&mut self) -> Result<Select, KsqlError> {
        let projection = if self.is_sym("*") {
            let p = self.pos();
            self.i += 1;
            Projection::Star(p)
        } else {
            let mut items = Vec::new();
            loop {
                let pos = self.pos();
                let expr = self.expr()?;
                let alias = self.alias()?;
                if items.len() >= MAX_COLUMNS {
                    return fail(pos, format!("more than {MAX_COLUMNS} select items"));
                }
                items.push(SelectItem { expr, alias, pos });
                if !self.eat_sym(",") {
                    break;
                }
            }
            Projection::Items(items)
        };
        self.word("FROM")?;
        let (from, from_pos) = self.ident("a stream or table name")?;
        let from_alias = self.alias()?;
        let mut join = None;
        let jpos = self.pos();
        let kind = if self.eat_word("INNER") {
            Some(JoinKind::Inner)
        } else if self.eat_word("LEFT") {
            let _ = self.eat_word("OUTER");
            Some(JoinKind::Left)
        } else if self.is_word("JOIN") {
            Some(JoinKind::Inner)
        } else if self.is_word("FULL") || self.is_word("RIGHT") {
            return fail(jpos, "only INNER and LEFT joins are supported");
        } else {
            None
        };
        if let Some(kind) = kind {
            self.word("JOIN")?;
            let (source, _) = self.ident("a stream or table name")?;
            let alias = self.alias()?;
            let within_ms = if self.eat_word("WITHIN") {
                if self.eat_sym("(") {
                    let before = self.duration()?;
                    self.sym(",")?;
                    let after = self.duration()?;
                    self.sym(")")?;
                    Some((before, after))
                } else {
                    let d = self.duration()?;
                    Some((d, d))
                }
            } else {
                None
            };
            if self.is_word("GRACE") {
                return fail(self.pos(), "GRACE PERIOD in WITHIN is not supported");
            }
            self.word("ON")?;
            let cond = self.expr()?;
            let SqlExpr::Bin(BinOp::Eq, left, right, _) = cond else {
                return fail(jpos, "a join needs ON a = b (an equality of two columns)");
            };
            join = Some(JoinClause { kind, source, alias, within_ms, left: *left, right: *right, pos: jpos });
        }
        let mut window = None;
        if self.eat_word("WINDOW") {
            let p = self.pos();
            window = Some((self.window()?, p));
        }
        let where_ = if self.eat_word("WHERE") { Some(self.expr()?) } else { None };
        let mut group_by = Vec::new();
        let group_pos = self.pos();
        if self.eat_word("GROUP") {
            self.word("BY")?;
            loop {
                group_by.push(self.expr()?);
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        let partition_by = if self.eat_word("PARTITION") {
            self.word("BY")?;
            Some(self.expr()?)
        } else {
            None
        };
        let having = if self.eat_word("HAVING") { Some(self.expr()?) } else { None };
        let mut emit_final = false;
        if self.eat_word("EMIT") {
            if self.eat_word("FINAL") {
                emit_final = true;
            } else {
                self.word("CHANGES")?;
            }
        } else if !self.is_sym(";") {
            return fail(self.pos(), format!("expected EMIT CHANGES or ';', found {}", self.found()));
        }
        let limit = if self.eat_word("LIMIT") {
            let (n, p) = self.number("the LIMIT")?;
            if n < 0 {
                return fail(p, "LIMIT must not be negative");
            }
            Some(n as u64)
        } else {
            None
        };
        Ok(Select {
            projection,
            from,
            from_alias,
            from_pos,
            join,
            window,
            where_,
            group_by,
            group_pos,
            partition_by,
            having,
            emit_final,
            limit,
        })
    }

    fn enter(&mut self) -> Result<(), KsqlError> {
        self.depth += 1;
        if self.depth > MAX_SQL_DEPTH {
            return fail(self.pos(), format!("expression nested deeper than {MAX_SQL_DEPTH}"));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<SqlExpr, KsqlError> {
        self.enter()?;
        let r = self.or();
        self.depth -= 1;
        r
    }

    fn or(&mut self) -> Result<SqlExpr, KsqlError> {
        let mut l = self.and()?;
        while self.is_word("OR") {
            let p = self.pos();
            self.i += 1;
            let r = self.and()?;
            l = SqlExpr::Bin(BinOp::Or, Box::new(l), Box::new(r), p);
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<SqlExpr, KsqlError> {
        let mut l = self.not()?;
        while self.is_word("AND") {
            let p = self.pos();
            self.i += 1;
            let r = self.not()?;
            l = SqlExpr::Bin(BinOp::And, Box::new(l), Box::new(r), p);
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<SqlExpr, KsqlError> {
        if self.eat_word("NOT") {
            self.enter()?;
            let e = self.not()?;
            self.depth -= 1;
            return Ok(SqlExpr::Not(Box::new(e)));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<SqlExpr, KsqlError> {
        let l = self.additive()?;
        let p = self.pos();
        let op = match self.peek() {
            Some(Tk::Sym("=")) => Some(BinOp::Eq),
            Some(Tk::Sym("<>")) | Some(Tk::Sym("!=")) => Some(BinOp::Ne),
            Some(Tk::Sym("<")) => Some(BinOp::Lt),
            Some(Tk::Sym("<=")) => Some(BinOp::Le),
            Some(Tk::Sym(">")) => Some(BinOp::Gt),
            Some(Tk::Sym(">=")) => Some(BinOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.i += 1;
            if op == BinOp::Eq && self.is_sym("=") {
                return fail(self.pos(), "SQL compares with a single '=' (not '==')");
            }
            let r = self.additive()?;
            return Ok(SqlExpr::Bin(op, Box::new(l), Box::new(r), p));
        }
        if self.eat_word("IS") {
            let negated = self.eat_word("NOT");
            self.word("NULL")?;
            return Ok(SqlExpr::IsNull(Box::new(l), negated));
        }
        let negated = self.is_word("NOT")
            && (self.is_word_at(1, "IN") || self.is_word_at(1, "BETWEEN") || self.is_word_at(1, "LIKE"));
        if negated {
            self.i += 1;
        }
        if self.eat_word("IN") {
            self.sym("(")?;
            let mut items = Vec::new();
            loop {
                if items.len() >= MAX_COLUMNS {
                    return fail(self.pos(), format!("more than {MAX_COLUMNS} items in IN (...)"));
                }
                items.push(self.additive()?);
                if self.eat_sym(")") {
                    break;
                }
                self.sym(",")?;
            }
            return Ok(SqlExpr::In(Box::new(l), items, negated, p));
        }
        if self.eat_word("BETWEEN") {
            let lo = self.additive()?;
            self.word("AND")?;
            let hi = self.additive()?;
            return Ok(SqlExpr::Between(Box::new(l), Box::new(lo), Box::new(hi), negated));
        }
        if self.eat_word("LIKE") {
            let pp = self.pos();
            let Some(Tk::Str(pat)) = self.peek().cloned() else {
                return fail(pp, format!("expected a pattern string after LIKE, found {}", self.found()));
            };
            self.i += 1;
            return Ok(SqlExpr::Like(Box::new(l), pat, negated, pp));
        }
        Ok(l)
    }

    fn additive(&mut self) -> Result<SqlExpr, KsqlError> {
        let mut l = self.multiplicative()?;
        loop {
            let p = self.pos();
            let op = match self.peek() {
                Some(Tk::Sym("+")) => BinOp::Add,
                Some(Tk::Sym("-")) => BinOp::Sub,
                _ => return Ok(l),
            };
            self.i += 1;
            let r = self.multiplicative()?;
            l = SqlExpr::Bin(op, Box::new(l), Box::new(r), p);
        }
    }

    fn multiplicative(&mut self) -> Result<SqlExpr, KsqlError> {
        let mut l = self.unary()?;
        loop {
            let p = self.pos();
            let op = match self.peek() {
                Some(Tk::Sym("*")) => BinOp::Mul,
                Some(Tk::Sym("/")) => BinOp::Div,
                Some(Tk::Sym("%")) => BinOp::Rem,
                _ => return Ok(l),
            };
            self.i += 1;
            let r = self.unary()?;
            l = SqlExpr::Bin(op, Box::new(l), Box::new(r), p);
        }
    }

    fn unary(&mut self) -> Result<SqlExpr, KsqlError> {
        if self.eat_sym("-") {
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(match e {
                SqlExpr::Int(i) => SqlExpr::Int(i.wrapping_neg()),
                SqlExpr::Float(f) => SqlExpr::Float(-f),
                other => SqlExpr::Neg(Box::new(other)),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<SqlExpr, KsqlError> {
        let pos = self.pos();
        let Some(tk) = self.peek().cloned() else {
            return fail(pos, "expected an expression, found the end of the script");
        };
        match tk {
            Tk::Str(s) => {
                self.i += 1;
                Ok(SqlExpr::Str(s))
            }
            Tk::Num(n) => {
                self.i += 1;
                if n.contains('.') {
                    match n.parse::<f64>() {
                        Ok(f) if f.is_finite() => Ok(SqlExpr::Float(f)),
                        _ => fail(pos, format!("number {n} is out of range")),
                    }
                } else {
                    n.parse::<i64>().map(SqlExpr::Int).or_else(|_| fail(pos, format!("number {n} is out of range")))
                }
            }
            Tk::Sym("(") => {
                self.i += 1;
                let e = self.expr()?;
                self.sym(")")?;
                Ok(e)
            }
            Tk::Word(w) if w == "TRUE" || w == "FALSE" => {
                self.i += 1;
                Ok(SqlExpr::Bool(w == "TRUE"))
            }
            Tk::Word(w) if w == "NULL" => {
                self.i += 1;
                Ok(SqlExpr::Null)
            }
            Tk::Word(w) if w == "CAST" => {
                self.i += 1;
                self.sym("(")?;
                let e = self.expr()?;
                self.word("AS")?;
                let ty = self.sql_type()?;
                self.sym(")")?;
                Ok(SqlExpr::Cast(Box::new(e), ty))
            }
            Tk::Word(w) if w == "CASE" => {
                self.i += 1;
                let mut whens = Vec::new();
                while self.eat_word("WHEN") {
                    let c = self.expr()?;
                    self.word("THEN")?;
                    let r = self.expr()?;
                    if whens.len() >= MAX_COLUMNS {
                        return fail(pos, "too many WHEN branches");
                    }
                    whens.push((c, r));
                }
                if whens.is_empty() {
                    return fail(self.pos(), format!("expected WHEN after CASE, found {}", self.found()));
                }
                let other = if self.eat_word("ELSE") { Some(Box::new(self.expr()?)) } else { None };
                self.word("END")?;
                Ok(SqlExpr::Case(whens, other))
            }
            Tk::Word(_) | Tk::Quoted(_) => {
                let (name, pos) = self.ident("a column or function name")?;
                if self.eat_sym("(") {
                    let mut args = Vec::new();
                    let mut star = false;
                    if self.eat_sym("*") {
                        star = true;
                        self.sym(")")?;
                    } else if !self.eat_sym(")") {
                        loop {
                            if args.len() >= MAX_COLUMNS {
                                return fail(self.pos(), "too many arguments");
                            }
                            args.push(self.expr()?);
                            if self.eat_sym(")") {
                                break;
                            }
                            self.sym(",")?;
                        }
                    }
                    return Ok(SqlExpr::Call { name: name.to_ascii_uppercase(), args, star, pos });
                }
                if self.eat_sym(".") {
                    let (col, _) = self.ident("a column name")?;
                    return Ok(SqlExpr::Col { qual: Some(name), name: col, pos });
                }
                if self.is_sym("->") {
                    return fail(self.pos(), "struct field access (->) is not supported");
                }
                Ok(SqlExpr::Col { qual: None, name, pos })
            }
            other => fail(pos, format!("expected an expression, found {}", other.describe())),
        }
    }
}

/// Splits the script into statements and parses each: `(statement, 1-based index, position)`.
fn parse_statements(text: &str) -> Result<Vec<Stmt>, KsqlError> {
    if text.len() > MAX_SCRIPT_LEN {
        return fail(Pos { line: 1, col: 1 }, format!("script longer than {MAX_SCRIPT_LEN} bytes"));
    }
    let toks = lex(text)?;
    let end = toks.last().map(|t| Pos { line: t.pos.line, col: t.pos.col + 1 }).unwrap_or(Pos { line: 1, col: 1 });
    let mut out = Vec::new();
    let mut start = 0;
    while start < toks.len() {
        if matches!(toks[start].tk, Tk::Sym(";")) {
            start += 1;
            continue;
        }
        // A statement ends at the next ';' outside quotes (quotes are already tokens).
        let Some(len) = toks[start..].iter().position(|t| t.tk == Tk::Sym(";")) else {
            return fail(toks[start].pos, "statement does not end with ';'");
        };
        let stop = start + len;
        let bytes = toks[stop].offset - toks[start].offset;
        if bytes > MAX_STATEMENT_LEN {
            return fail(toks[start].pos, format!("statement longer than {MAX_STATEMENT_LEN} bytes"));
        }
        if out.len() >= MAX_STATEMENTS {
            return fail(toks[start].pos, format!("more than {MAX_STATEMENTS} statements"));
        }
        let slice = &toks[start..stop];
        let mut p = Parser { toks: slice, i: 0, depth: 0, end: toks[stop].pos };
        let stmt = p.statement()?;
        if p.i < slice.len() {
            return fail(slice[p.i].pos, format!("unexpected {} (expected ';')", slice[p.i].tk.describe()));
        }
        out.push(stmt);
        start = stop + 1;
    }
    let _ = end;
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// The catalogue and the translated script

/// A column of a stream or table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub ty: SqlType,
    pub key: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Stream,
    Table,
}

/// A stream or table: declared, or the sink of a persistent query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub name: String,
    pub kind: SourceKind,
    pub columns: Vec<Column>,
    pub topic: String,
    pub key_format: String,
    pub value_format: String,
    pub partitions: Option<u32>,
    /// The TIMESTAMP column, if event time comes from a column.
    pub timestamp: Option<String>,
    /// Whether the key is windowed (a windowed aggregation's table).
    pub windowed: bool,
    /// The persistent query writing it, if any.
    pub query: Option<String>,
    /// 1-based number of the statement that created it (for errors in the cluster).
    #[serde(skip)]
    pub statement: usize,
}

impl Source {
    fn key_column(&self) -> Option<&Column> {
        self.columns.iter().find(|c| c.key)
    }
}

/// Where a windowed table's WINDOWSTART/WINDOWEND select items go in the sink's value:
/// the runner fills them from the record's window (the serializer's job in ksqlDB).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowColumn {
    pub name: String,
    pub end: bool,
}

/// One persistent query (`CREATE STREAM/TABLE ... AS SELECT`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PersistentQuery {
    /// `CSAS_<NAME>_<n>` or `CTAS_<NAME>_<n>`.
    pub id: String,
    /// The stream or table it creates.
    pub sink: String,
    pub sink_topic: String,
    /// The sources it reads, by name (FROM, then the joined source).
    pub sources: Vec<String>,
    pub topology: TopologySpec,
    pub window_columns: Vec<WindowColumn>,
    /// 1-based statement number in the script.
    pub statement: usize,
}

/// A transient push query (`SELECT ... EMIT CHANGES`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PushQuery {
    pub statement: usize,
    pub from: String,
    pub columns: Vec<String>,
    #[serde(skip)]
    filter: Option<Expr>,
    #[serde(skip)]
    items: Vec<Expr>,
    pub limit: Option<u64>,
    /// A push query with GROUP BY runs its own (transient) aggregation topology; its rows
    /// are the changes of the aggregate.
    pub aggregation: Option<Box<TransientAggregation>>,
}

/// The topology of an aggregating push query and the schema of its rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransientAggregation {
    pub query: PersistentQuery,
    pub schema: Source,
}

/// A parsed and translated script.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KsqlScript {
    pub sources: Vec<Source>,
    pub queries: Vec<PersistentQuery>,
    pub push_queries: Vec<PushQuery>,
    /// `SET 'auto.offset.reset'` statements: (statement number, `earliest`/`latest`); each
    /// applies to the queries after it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offset_resets: Vec<(usize, String)>,
}

impl KsqlScript {
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }
}

/// Parses and translates a script.
pub fn parse_script(text: &str) -> Result<KsqlScript, KsqlError> {
    let stmts = parse_statements(text)?;
    let mut script =
        KsqlScript { sources: Vec::new(), queries: Vec::new(), push_queries: Vec::new(), offset_resets: Vec::new() };
    // Offset in the command topic: every CREATE is one transactional command (record + commit
    // marker, two offsets).
    let mut command = 0usize;
    for (i, stmt) in stmts.into_iter().enumerate() {
        let statement = i + 1;
        match stmt {
            Stmt::Set { reset } => script.offset_resets.push((statement, reset)),
            Stmt::CreateSource { table, name, columns, with, pos } => {
                let src = declare(&script, table, name, columns, &with, pos)?;
                script.sources.push(Source { statement, ..src });
                command += 2;
            }
            Stmt::CreateAs { table, name, with, select, pos } => {
                if script.source(&name).is_some() {
                    return fail(
                        pos,
                        format!("Cannot add {}: a stream or table named {name} already exists", kind_word(table)),
                    );
                }
                let id = format!("{}_{}_{command}", if table { "CTAS" } else { "CSAS" }, name);
                let (query, sink) = translate(&script, table, &name, &with, &select, id, statement, pos)?;
                script.sources.push(Source { statement, ..sink });
                script.queries.push(query);
                command += 2;
            }
            Stmt::Push { select, pos } => {
                let q = translate_push(&script, &select, statement, pos)?;
                script.push_queries.push(q);
            }
        }
    }
    Ok(script)
}

fn kind_word(table: bool) -> &'static str {
    if table {
        "TABLE"
    } else {
        "STREAM"
    }
}

fn prop_str(name: &str, v: &Tk, p: Pos) -> Result<String, KsqlError> {
    match v {
        Tk::Str(s) => Ok(s.clone()),
        _ => fail(p, format!("{name} must be a quoted string")),
    }
}

fn prop_partitions(v: &Tk, p: Pos) -> Result<u32, KsqlError> {
    match v {
        Tk::Num(n) => match n.parse::<u32>() {
            Ok(v) if v >= 1 => Ok(v),
            _ => fail(p, "PARTITIONS must be a whole number of at least 1"),
        },
        _ => fail(p, "PARTITIONS must be a number"),
    }
}

fn check_format(name: &str, v: &str, p: Pos, allowed: &[&str]) -> Result<String, KsqlError> {
    let up = v.to_ascii_uppercase();
    if allowed.contains(&up.as_str()) {
        Ok(up)
    } else {
        fail(p, format!("{name} '{v}' is not supported (supported: {})", allowed.join(", ")))
    }
}

/// TIMESTAMP_FORMAT patterns whose strings `parse_datetime` reads exactly.
const TIMESTAMP_FORMATS: &[&str] =
    &["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss.SSS", "yyyy-MM-dd'T'HH:mm:ss.SSS"];

fn declare(
    script: &KsqlScript,
    table: bool,
    name: String,
    columns: Vec<ColumnDecl>,
    with: &[(String, Tk, Pos)],
    pos: Pos,
) -> Result<Source, KsqlError> {
    if script.source(&name).is_some() {
        return fail(pos, format!("Cannot add {}: a stream or table named {name} already exists", kind_word(table)));
    }
    let mut cols: Vec<Column> = Vec::new();
    for c in &columns {
        if cols.iter().any(|x| x.name == c.name) {
            return fail(c.pos, format!("duplicate column name {}", c.name));
        }
        if matches!(c.name.as_str(), "ROWTIME" | "ROWPARTITION" | "ROWOFFSET" | "WINDOWSTART" | "WINDOWEND") {
            return fail(c.pos, format!("{} is a reserved pseudo column name", c.name));
        }
        match (table, c.key) {
            (false, Some("PRIMARY KEY")) => {
                return fail(
                    c.pos,
                    format!("Column `{}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.", c.name),
                )
            }
            (true, Some("KEY")) => {
                return fail(
                    c.pos,
                    format!("Column `{}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.", c.name),
                )
            }
            _ => {}
        }
        if c.key.is_some() && cols.iter().any(|x| x.key) {
            return fail(c.pos, "only one key column is supported");
        }
        cols.push(Column { name: c.name.clone(), ty: c.ty, key: c.key.is_some() });
    }
    if table && !cols.iter().any(|c| c.key) {
        return fail(pos, "Tables require a PRIMARY KEY. Please define the PRIMARY KEY.");
    }
    if !cols.iter().any(|c| !c.key) {
        return fail(pos, "the declaration needs at least one value column");
    }
    let (mut topic, mut value_format, mut key_format, mut partitions, mut ts, mut ts_format) =
        (None, None, None, None, None, None);
    for (k, v, p) in with {
        match k.as_str() {
            "KAFKA_TOPIC" => topic = Some(prop_str(k, v, *p)?),
            "VALUE_FORMAT" => value_format = Some(check_format(k, &prop_str(k, v, *p)?, *p, &["JSON"])?),
            "KEY_FORMAT" => key_format = Some(check_format(k, &prop_str(k, v, *p)?, *p, &["KAFKA", "JSON"])?),
            "FORMAT" => {
                let f = check_format(k, &prop_str(k, v, *p)?, *p, &["JSON"])?;
                value_format = Some(f.clone());
                key_format = Some(f);
            }
            "PARTITIONS" => partitions = Some(prop_partitions(v, *p)?),
            "REPLICAS" => {}
            "TIMESTAMP" => ts = Some((prop_str(k, v, *p)?, *p)),
            "TIMESTAMP_FORMAT" => ts_format = Some((prop_str(k, v, *p)?, *p)),
            other => {
                return fail(
                    *p,
                    format!("property {other} is not supported (supported: KAFKA_TOPIC, VALUE_FORMAT, KEY_FORMAT, FORMAT, PARTITIONS, REPLICAS, TIMESTAMP, TIMESTAMP_FORMAT)"),
                )
            }
        }
    }
    let Some(topic) = topic else {
        return fail(pos, "Missing required property \"KAFKA_TOPIC\" which has no default value.");
    };
    super::topology::check_topic_name("KAFKA_TOPIC", &topic)
        .or_else(|e| fail(with.iter().find(|w| w.0 == "KAFKA_TOPIC").map(|w| w.2).unwrap_or(pos), e.message))?;
    let Some(value_format) = value_format else {
        return fail(pos, "Statement is missing the 'VALUE_FORMAT' property from the WITH clause.");
    };
    let timestamp = match ts {
        None => {
            if let Some((_, p)) = ts_format {
                return fail(p, "TIMESTAMP_FORMAT needs TIMESTAMP");
            }
            None
        }
        Some((col, p)) => {
            let col_name = col.to_ascii_uppercase();
            let Some(c) = cols.iter().find(|c| c.name == col_name || c.name == col) else {
                return fail(
                    p,
                    format!("The TIMESTAMP column set in the WITH clause does not exist in the schema: '{col_name}'"),
                );
            };
            match (c.ty, &ts_format) {
                (SqlType::String, Some((f, fp))) => {
                    if !TIMESTAMP_FORMATS.contains(&f.as_str()) {
                        return fail(
                            *fp,
                            format!(
                                "TIMESTAMP_FORMAT '{f}' is not supported (supported: {})",
                                TIMESTAMP_FORMATS.join(", ")
                            ),
                        );
                    }
                }
                (SqlType::String, None) => {
                    return fail(p, "a VARCHAR TIMESTAMP column needs TIMESTAMP_FORMAT");
                }
                (SqlType::Bigint | SqlType::Timestamp, None) => {}
                (_, Some((_, fp))) => return fail(*fp, "TIMESTAMP_FORMAT applies only to a VARCHAR TIMESTAMP column"),
                (ty, None) => {
                    return fail(p, format!("a TIMESTAMP column must be BIGINT or TIMESTAMP, not {}", ty.name()))
                }
            }
            Some(c.name.clone())
        }
    };
    Ok(Source {
        name,
        kind: if table { SourceKind::Table } else { SourceKind::Stream },
        columns: cols,
        topic,
        key_format: key_format.unwrap_or_else(|| "KAFKA".into()),
        value_format,
        partitions,
        timestamp,
        windowed: false,
        query: None,
        statement: 0,
    })
}

// ---------------------------------------------------------------------------------------
// Expression translation into the engine's expression language

/// A column visible to an expression and how the engine reads it.
#[derive(Clone, Debug)]
struct ScopeCol {
    qual: String,
    name: String,
    access: String,
    ty: Option<SqlType>,
}

#[derive(Clone, Debug, Default)]
struct Scope {
    cols: Vec<ScopeCol>,
    /// How ROWTIME is read, if it can be.
    rowtime: Option<&'static str>,
    /// What aggregate calls translate to (post-aggregation projections).
    aggs: Vec<(SqlExpr, String)>,
    /// Whether aggregate calls are allowed here at all.
    in_aggregate: bool,
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn field_of(var: &str, name: &str) -> String {
    format!("{var}[{}]", quote(name))
}

fn is_aggregate_name(n: &str) -> bool {
    matches!(n, "COUNT" | "SUM" | "MIN" | "MAX" | "AVG")
}

fn expr_pos(e: &SqlExpr) -> Option<Pos> {
    match e {
        SqlExpr::Col { pos, .. } | SqlExpr::Call { pos, .. } => Some(*pos),
        SqlExpr::Bin(_, l, _, p) => expr_pos(l).or(Some(*p)),
        SqlExpr::In(l, _, _, p) | SqlExpr::Like(l, _, _, p) => expr_pos(l).or(Some(*p)),
        SqlExpr::Not(e) | SqlExpr::Neg(e) | SqlExpr::IsNull(e, _) | SqlExpr::Cast(e, _) => expr_pos(e),
        SqlExpr::Between(e, ..) => expr_pos(e),
        SqlExpr::Case(w, _) => w.first().and_then(|(c, _)| expr_pos(c)),
        _ => None,
    }
}

fn contains_aggregate(e: &SqlExpr) -> bool {
    match e {
        SqlExpr::Call { name, args, .. } => is_aggregate_name(name) || args.iter().any(contains_aggregate),
        SqlExpr::Bin(_, l, r, _) => contains_aggregate(l) || contains_aggregate(r),
        SqlExpr::Not(e) | SqlExpr::Neg(e) | SqlExpr::IsNull(e, _) | SqlExpr::Cast(e, _) | SqlExpr::Like(e, ..) => {
            contains_aggregate(e)
        }
        SqlExpr::In(e, items, ..) => contains_aggregate(e) || items.iter().any(contains_aggregate),
        SqlExpr::Between(a, b, c, _) => contains_aggregate(a) || contains_aggregate(b) || contains_aggregate(c),
        SqlExpr::Case(w, o) => {
            w.iter().any(|(c, r)| contains_aggregate(c) || contains_aggregate(r))
                || o.as_deref().is_some_and(contains_aggregate)
        }
        _ => false,
    }
}

impl Scope {
    fn resolve(&self, qual: &Option<String>, name: &str, pos: Pos) -> Result<&ScopeCol, KsqlError> {
        let mut found = self.cols.iter().filter(|c| c.name == name && qual.as_ref().is_none_or(|q| *q == c.qual));
        let Some(first) = found.next() else {
            let shown = match qual {
                Some(q) => format!("{q}.{name}"),
                None => name.to_string(),
            };
            return fail(pos, format!("Column '{shown}' cannot be resolved."));
        };
        if found.next().is_some() {
            return fail(pos, format!("Column '{name}' is ambiguous: qualify it with its source"));
        }
        Ok(first)
    }

    /// Translates `e` into the engine's expression language, with its coarse kind.
    fn tr(&self, e: &SqlExpr) -> Result<(String, Kind), KsqlError> {
        Ok(match e {
            SqlExpr::Str(s) => (quote(s), Kind::Str),
            SqlExpr::Int(i) => (format!("({i})"), Kind::Num),
            SqlExpr::Float(f) => (format!("({f:?})"), Kind::Num),
            SqlExpr::Bool(b) => (b.to_string(), Kind::Bool),
            SqlExpr::Null => ("null".into(), Kind::Null),
            SqlExpr::Col { qual, name, pos } => {
                if qual.is_none() && (name == "WINDOWSTART" || name == "WINDOWEND") {
                    return fail(*pos, format!("{name} can only be selected on its own, in a windowed aggregation or a push query on a windowed table"));
                }
                if qual.is_none() && name == "ROWTIME" && !self.cols.iter().any(|c| c.name == "ROWTIME") {
                    return match self.rowtime {
                        Some(r) => Ok((r.to_string(), Kind::Num)),
                        None => fail(*pos, "ROWTIME is not available here"),
                    };
                }
                let c = self.resolve(qual, name, *pos)?;
                (c.access.clone(), c.ty.map(SqlType::kind).unwrap_or(Kind::Unknown))
            }
            SqlExpr::Not(x) => (format!("!({})", self.tr(x)?.0), Kind::Bool),
            SqlExpr::Neg(x) => (format!("-({})", self.tr(x)?.0), Kind::Num),
            SqlExpr::IsNull(x, neg) => {
                let s = format!("is_null({})", self.tr(x)?.0);
                (if *neg { format!("!{s}") } else { s }, Kind::Bool)
            }
            SqlExpr::Bin(op, l, r, pos) => {
                let (ls, lk) = self.tr(l)?;
                let (rs, rk) = self.tr(r)?;
                match op {
                    BinOp::And => (format!("({ls} && {rs})"), Kind::Bool),
                    BinOp::Or => (format!("({ls} || {rs})"), Kind::Bool),
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                        let sym = match op {
                            BinOp::Add => "+",
                            BinOp::Sub => "-",
                            BinOp::Mul => "*",
                            BinOp::Div => "/",
                            _ => "%",
                        };
                        let k = if lk == Kind::Str || rk == Kind::Str { Kind::Str } else { Kind::Num };
                        (format!("({ls} {sym} {rs})"), k)
                    }
                    _ => {
                        check_comparable(l, lk, r, rk, *op, *pos)?;
                        (compare(*op, &ls, lk, &rs, rk), Kind::Bool)
                    }
                }
            }
            SqlExpr::In(x, items, neg, pos) => {
                let (xs, xk) = self.tr(x)?;
                let mut parts = Vec::new();
                for it in items {
                    let (is, ik) = self.tr(it)?;
                    check_comparable(x, xk, it, ik, BinOp::Eq, *pos)?;
                    parts.push(format!("{xs} == {is}"));
                }
                let any = format!("(!is_null({xs}) && ({}))", parts.join(" || "));
                (if *neg { format!("(!is_null({xs}) && !{any})") } else { any }, Kind::Bool)
            }
            SqlExpr::Between(x, lo, hi, neg) => {
                let (xs, _) = self.tr(x)?;
                let (lo, _) = self.tr(lo)?;
                let (hi, _) = self.tr(hi)?;
                let s = format!("({xs} >= {lo} && {xs} <= {hi})");
                (if *neg { format!("(!is_null({xs}) && !{s})") } else { s }, Kind::Bool)
            }
            SqlExpr::Like(x, pat, neg, pos) => {
                let (xs, _) = self.tr(x)?;
                let inner = pat.trim_matches('%');
                if inner.contains('%') || inner.contains('_') {
                    return fail(*pos, "LIKE patterns are supported with '%' only at the start and/or end, and no '_'");
                }
                let q = quote(inner);
                let s = match (pat.starts_with('%') && pat.len() > 1, pat.ends_with('%')) {
                    _ if pat == "%" => format!("!is_null({xs})"),
                    (true, true) => format!("contains({xs}, {q})"),
                    (false, true) => format!("starts_with({xs}, {q})"),
                    (true, false) => format!("ends_with({xs}, {q})"),
                    (false, false) => format!("({xs} == {q})"),
                };
                (if *neg { format!("(!is_null({xs}) && !{s})") } else { s }, Kind::Bool)
            }
            SqlExpr::Cast(x, ty) => {
                let (xs, _) = self.tr(x)?;
                let f = match ty {
                    SqlType::String => "str",
                    SqlType::Int | SqlType::Bigint | SqlType::Timestamp => "int",
                    SqlType::Double | SqlType::Decimal(..) => "float",
                    SqlType::Boolean => {
                        return fail(expr_pos(x).unwrap_or_default(), "CAST to BOOLEAN is not supported")
                    }
                };
                (format!("{f}({xs})"), ty.kind())
            }
            SqlExpr::Case(whens, other) => {
                let mut s = match other {
                    Some(o) => self.tr(o)?.0,
                    None => "null".into(),
                };
                let mut kind = Kind::Unknown;
                for (c, r) in whens.iter().rev() {
                    let (cs, _) = self.tr(c)?;
                    let (rs, rk) = self.tr(r)?;
                    kind = rk;
                    s = format!("if({cs}, {rs}, {s})");
                }
                (s, kind)
            }
            SqlExpr::Call { name, args, star, pos } => {
                if is_aggregate_name(name) {
                    if let Some((_, access)) = self.aggs.iter().find(|(a, _)| a == e) {
                        return Ok((access.clone(), Kind::Num));
                    }
                    if self.in_aggregate {
                        return fail(*pos, format!("aggregate {name} cannot be nested or used here"));
                    }
                    return fail(*pos, format!("aggregate function {name} needs GROUP BY (use CREATE TABLE ... AS SELECT ... GROUP BY, or a push query with GROUP BY is not supported)"));
                }
                if *star {
                    return fail(*pos, format!("{name}(*) is not a function"));
                }
                self.call(name, args, *pos)?
            }
        })
    }

    fn call(&self, name: &str, args: &[SqlExpr], pos: Pos) -> Result<(String, Kind), KsqlError> {
        let mut a = Vec::with_capacity(args.len());
        for x in args {
            a.push(self.tr(x)?.0);
        }
        let arity = |lo: usize, hi: usize| -> Result<(), KsqlError> {
            if a.len() < lo || a.len() > hi {
                let want = if lo == hi { lo.to_string() } else { format!("{lo} to {hi}") };
                return fail(pos, format!("{name} takes {want} argument(s), got {}", a.len()));
            }
            Ok(())
        };
        let one = |f: &str, k: Kind| -> Result<(String, Kind), KsqlError> {
            arity(1, 1)?;
            Ok((format!("{f}({})", a[0]), k))
        };
        match name {
            "UCASE" => one("upper", Kind::Str),
            "LCASE" => one("lower", Kind::Str),
            "LEN" => one("len", Kind::Num),
            "ABS" => one("abs", Kind::Num),
            "FLOOR" => one("floor", Kind::Num),
            "CEIL" => one("ceil", Kind::Num),
            "ROUND" => {
                arity(1, 2)?;
                Ok((format!("round({})", a.join(", ")), Kind::Num))
            }
            "CONCAT" => {
                arity(1, 32)?;
                // ksqlDB's CONCAT skips null arguments.
                let parts: Vec<String> = a.iter().map(|x| format!("coalesce(str({x}), \"\")")).collect();
                Ok((format!("concat({})", parts.join(", ")), Kind::Str))
            }
            "COALESCE" => {
                arity(1, 32)?;
                Ok((format!("coalesce({})", a.join(", ")), Kind::Unknown))
            }
            "IFNULL" => {
                arity(2, 2)?;
                Ok((format!("coalesce({})", a.join(", ")), Kind::Unknown))
            }
            "SUBSTRING" => {
                arity(2, 3)?;
                // ksqlDB positions are 1-based.
                let len = a.get(2).map(|l| format!(", {l}")).unwrap_or_default();
                Ok((format!("substr({}, ({}) - 1{len})", a[0], a[1]), Kind::Str))
            }
            other => fail(
                pos,
                format!("function {other} is not supported (supported: UCASE, LCASE, LEN, CONCAT, COALESCE, IFNULL, ABS, FLOOR, CEIL, ROUND, SUBSTRING, CAST, and the aggregates COUNT, SUM, MIN, MAX, AVG)"),
            ),
        }
    }
}

fn op_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Eq => "EQUAL",
        BinOp::Ne => "NOT_EQUAL",
        BinOp::Lt => "LESS_THAN",
        BinOp::Le => "LESS_THAN_OR_EQUAL",
        BinOp::Gt => "GREATER_THAN",
        _ => "GREATER_THAN_OR_EQUAL",
    }
}

fn show(e: &SqlExpr) -> String {
    match e {
        SqlExpr::Col { qual: Some(q), name, .. } => format!("{q}.{name}"),
        SqlExpr::Col { name, .. } => name.clone(),
        SqlExpr::Str(s) => format!("'{s}'"),
        SqlExpr::Int(i) => i.to_string(),
        SqlExpr::Float(f) => f.to_string(),
        SqlExpr::Bool(b) => b.to_string().to_uppercase(),
        _ => "the expression".into(),
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Num => "a number",
        Kind::Str => "STRING",
        Kind::Bool => "BOOLEAN",
        _ => "unknown",
    }
}

/// ksqlDB refuses, at compile time, to compare a string with a number or a boolean.
fn check_comparable(l: &SqlExpr, lk: Kind, r: &SqlExpr, rk: Kind, op: BinOp, pos: Pos) -> Result<(), KsqlError> {
    let known = |k: Kind| matches!(k, Kind::Num | Kind::Str | Kind::Bool);
    if known(lk) && known(rk) && lk != rk {
        return fail(
            pos,
            format!(
                "Cannot compare {} ({}) to {} ({}) with {}.",
                show(l),
                kind_name(lk),
                show(r),
                kind_name(rk),
                op_name(op)
            ),
        );
    }
    Ok(())
}

/// A SQL comparison: false when either side is null (ksqlDB's generated code does the same).
fn compare(op: BinOp, l: &str, lk: Kind, r: &str, rk: Kind) -> String {
    let sym = match op {
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        _ => ">=",
    };
    if lk == Kind::Null || rk == Kind::Null {
        return "false".into();
    }
    let mut guards = Vec::new();
    // Ordering comparisons with null are already false in the engine; equality needs guards.
    if matches!(op, BinOp::Eq | BinOp::Ne) {
        let literal = |s: &str| {
            s.starts_with('"') || s.starts_with('(') && s[1..].starts_with(|c: char| c.is_ascii_digit() || c == '-')
        };
        if !literal(l) {
            guards.push(format!("!is_null({l})"));
        }
        if !literal(r) {
            guards.push(format!("!is_null({r})"));
        }
    }
    guards.push(format!("{l} {sym} {r}"));
    format!("({})", guards.join(" && "))
}

fn parse_check(src: &str, ctx: ExprContext, pos: Pos) -> Result<Expr, KsqlError> {
    Expr::parse(src, ctx)
        .or_else(|e| fail(pos, format!("the translated expression does not compile ({e}); simplify it")))
}

// ---------------------------------------------------------------------------------------
// Statement translation

/// The name a select item gets: its alias, its column's name, or `KSQL_COL_<n>`.
fn item_names(items: &[SelectItem], taken: &[String]) -> Vec<String> {
    let mut next = 0usize;
    let mut names = Vec::with_capacity(items.len());
    for it in items {
        let name = match (&it.alias, &it.expr) {
            (Some(a), _) => a.clone(),
            (None, SqlExpr::Col { name, .. }) => name.clone(),
            (None, _) => loop {
                let n = format!("KSQL_COL_{next}");
                next += 1;
                if !taken.contains(&n) && !items.iter().any(|i| i.alias.as_deref() == Some(n.as_str())) {
                    break n;
                }
            },
        };
        names.push(name);
    }
    names
}

fn source_scope(src: &Source, qual: &str, var: &str, key_var: Option<&str>) -> Vec<ScopeCol> {
    // ksqlDB's schemas list key columns first (what `SELECT *` shows).
    src.columns
        .iter()
        .filter(|c| c.key)
        .chain(src.columns.iter().filter(|c| !c.key))
        .map(|c| ScopeCol {
            qual: qual.to_string(),
            name: c.name.clone(),
            access: match (c.key, key_var) {
                (true, Some(k)) => k.to_string(),
                _ => field_of(var, &c.name),
            },
            ty: Some(c.ty),
        })
        .collect()
}

fn app_id(query_id: &str) -> String {
    format!("_confluent-ksql-default_query_{query_id}")
}

fn lookup<'s>(script: &'s KsqlScript, name: &str, pos: Pos) -> Result<&'s Source, KsqlError> {
    script.source(name).map_or_else(
        || fail(pos, format!("{name} does not exist (declare it with CREATE STREAM or CREATE TABLE first)")),
        Ok,
    )
}

/// `stream` (or `table`) + the `Prepare` step that copies the key column into the row.
fn source_steps(src: &Source, prefix: &str, steps: &mut Vec<Step>) -> String {
    let timestamp = match &src.timestamp {
        Some(c) => TimestampSpec::Field(c.clone()),
        None => TimestampSpec::Record,
    };
    let name = format!("{prefix}Source");
    steps.push(Step::Stream { name: name.clone(), topics: vec![src.topic.clone()], timestamp });
    let Some(k) = src.key_column() else {
        return name;
    };
    let mut fields = vec![format!("{}: key", quote(&k.name))];
    for c in src.columns.iter().filter(|c| !c.key) {
        fields.push(format!("{}: {}", quote(&c.name), field_of("value", &c.name)));
    }
    let prep = format!("{prefix}Prepare");
    steps.push(Step::MapValues { name: prep.clone(), input: name, value: format!("{{{}}}", fields.join(", ")) });
    prep
}

fn sink_with(with: &[(String, Tk, Pos)], name: &str) -> Result<(String, Option<u32>), KsqlError> {
    let mut topic = name.to_string();
    let mut partitions = None;
    for (k, v, p) in with {
        match k.as_str() {
            "KAFKA_TOPIC" => {
                topic = prop_str(k, v, *p)?;
                super::topology::check_topic_name("KAFKA_TOPIC", &topic).or_else(|e| fail(*p, e.message))?;
            }
            "PARTITIONS" => partitions = Some(prop_partitions(v, *p)?),
            "REPLICAS" => {}
            "VALUE_FORMAT" => {
                check_format(k, &prop_str(k, v, *p)?, *p, &["JSON"])?;
            }
            "KEY_FORMAT" => {
                check_format(k, &prop_str(k, v, *p)?, *p, &["KAFKA", "JSON"])?;
            }
            "FORMAT" => {
                check_format(k, &prop_str(k, v, *p)?, *p, &["JSON"])?;
            }
            other => {
                return fail(
                    *p,
                    format!("property {other} is not supported here (supported: KAFKA_TOPIC, PARTITIONS, REPLICAS, VALUE_FORMAT, KEY_FORMAT, FORMAT)"),
                )
            }
        }
    }
    Ok((topic, partitions))
}

#[allow(clippy::too_many_arguments)]
fn translate(
    script: &KsqlScript,
    table: bool,
    name: &str,
    with: &[(String, Tk, Pos)],
    sel: &Select,
    id: String,
    statement: usize,
    pos: Pos,
) -> Result<(PersistentQuery, Source), KsqlError> {
    let (sink_topic, partitions) = sink_with(with, name)?;
    if let Some(other) = script.sources.iter().find(|s| s.topic == sink_topic && s.query.is_some()) {
        return fail(pos, format!("topic {sink_topic} is already written by {}", other.name));
    }
    let from = lookup(script, &sel.from, sel.from_pos)?;
    if from.windowed {
        return fail(
            sel.from_pos,
            format!("{} is a windowed table; persistent queries over windowed tables are not supported", from.name),
        );
    }
    if let Some(l) = sel.limit {
        let _ = l;
        return fail(pos, "LIMIT is only for push queries (SELECT ... EMIT CHANGES LIMIT n)");
    }
    let aggregate = !sel.group_by.is_empty();
    if table != aggregate {
        if table {
            return fail(
                pos,
                "CREATE TABLE AS SELECT needs GROUP BY here (tables from tables without aggregation are not supported)",
            );
        }
        return fail(sel.group_pos, "a GROUP BY query creates a table: use CREATE TABLE ... AS SELECT");
    }
    if sel.emit_final && !table {
        return fail(pos, "EMIT FINAL is for windowed aggregations");
    }
    let app = app_id(&id);
    let mut q = PersistentQuery {
        id,
        sink: name.to_string(),
        sink_topic: sink_topic.clone(),
        sources: vec![from.name.clone()],
        topology: TopologySpec { application_id: app, steps: Vec::new() },
        window_columns: Vec::new(),
        statement,
    };
    let sink = if aggregate {
        translate_aggregate(script, from, sel, &mut q, name, pos)?
    } else if let Some(j) = &sel.join {
        translate_join(script, from, sel, j, &mut q, name, pos)?
    } else {
        translate_projection(from, sel, &mut q, name, pos)?
    };
    let sink =
        Source { topic: sink_topic, partitions: partitions.or(from.partitions), query: Some(q.id.clone()), ..sink };
    Ok((q, sink))
}

fn star_items(cols: &[ScopeCol], pos: Pos) -> Vec<SelectItem> {
    cols.iter()
        .map(|c| SelectItem {
            expr: SqlExpr::Col { qual: Some(c.qual.clone()), name: c.name.clone(), pos },
            alias: None,
            pos,
        })
        .collect()
}

/// The output value map of a projection, leaving out the key column.
fn value_map(
    scope: &Scope,
    items: &[SelectItem],
    names: &[String],
    key_item: Option<usize>,
) -> Result<String, KsqlError> {
    let mut fields = Vec::new();
    for (i, (it, n)) in items.iter().zip(names).enumerate() {
        if Some(i) == key_item {
            continue;
        }
        fields.push(format!("{}: {}", quote(n), scope.tr(&it.expr)?.0));
    }
    Ok(format!("{{{}}}", fields.join(", ")))
}

fn check_unique(names: &[String], items: &[SelectItem]) -> Result<(), KsqlError> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return fail(
                items[i].pos,
                format!("duplicate column name {n} in the select list: give it an alias (AS ...)"),
            );
        }
    }
    Ok(())
}

fn column_type(scope: &Scope, e: &SqlExpr) -> SqlType {
    match e {
        SqlExpr::Col { qual, name, pos } => {
            scope.resolve(qual, name, *pos).ok().and_then(|c| c.ty).unwrap_or(SqlType::String)
        }
        SqlExpr::Int(_) => SqlType::Int,
        SqlExpr::Float(_) => SqlType::Double,
        SqlExpr::Bool(_) => SqlType::Boolean,
        SqlExpr::Cast(_, t) => *t,
        SqlExpr::Call { name, .. } if is_aggregate_name(name) => {
            if name == "COUNT" {
                SqlType::Bigint
            } else if name == "AVG" {
                SqlType::Double
            } else if let SqlExpr::Call { args, .. } = e {
                args.first().map(|a| column_type(scope, a)).unwrap_or(SqlType::Bigint)
            } else {
                SqlType::Bigint
            }
        }
        SqlExpr::Bin(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem, l, r, _) => {
            match (column_type(scope, l), column_type(scope, r)) {
                (SqlType::Double, _) | (_, SqlType::Double) => SqlType::Double,
                (SqlType::String, _) | (_, SqlType::String) => SqlType::String,
                (a, _) => a,
            }
        }
        SqlExpr::Bin(..)
        | SqlExpr::Not(_)
        | SqlExpr::IsNull(..)
        | SqlExpr::In(..)
        | SqlExpr::Between(..)
        | SqlExpr::Like(..) => SqlType::Boolean,
        _ => SqlType::String,
    }
}

fn translate_projection(
    from: &Source,
    sel: &Select,
    q: &mut PersistentQuery,
    name: &str,
    pos: Pos,
) -> Result<Source, KsqlError> {
    if let Some((_, wp)) = &sel.window {
        return fail(*wp, "WINDOW needs GROUP BY (a windowed aggregation)");
    }
    if let Some(h) = &sel.having {
        return fail(expr_pos(h).unwrap_or(pos), "HAVING needs GROUP BY");
    }
    if from.kind == SourceKind::Table {
        return fail(
            sel.from_pos,
            format!(
                "{} is a table: CREATE STREAM AS SELECT reads a stream (tables from tables are not supported)",
                from.name
            ),
        );
    }
    let qual = sel.from_alias.clone().unwrap_or_else(|| from.name.clone());
    let scope =
        Scope { cols: source_scope(from, &qual, "value", None), rowtime: Some("timestamp"), ..Scope::default() };
    let items = match &sel.projection {
        Projection::Star(p) => star_items(&scope.cols, *p),
        Projection::Items(items) => items.clone(),
    };
    let names = item_names(&items, &[]);
    check_unique(&names, &items)?;
    for it in &items {
        if contains_aggregate(&it.expr) {
            return fail(it.pos, "aggregate functions need GROUP BY (CREATE TABLE ... AS SELECT ... GROUP BY)");
        }
    }
    let steps = &mut q.topology.steps;
    let mut cur = source_steps(from, "", steps);
    if let Some(w) = &sel.where_ {
        let (p, _) = scope.tr(w)?;
        parse_check(&p, ExprContext::Record, expr_pos(w).unwrap_or(pos))?;
        steps.push(Step::Filter { name: "WhereFilter".into(), input: cur, predicate: p });
        cur = "WhereFilter".into();
    }
    // The key column of the result: the PARTITION BY column, else the source's key column.
    let (key_item, key_name, key_ty) = match &sel.partition_by {
        Some(pb) => {
            let SqlExpr::Col { qual: pq, name: pn, pos: pp } = pb else {
                return fail(expr_pos(pb).unwrap_or(pos), "PARTITION BY supports a single column");
            };
            let col = scope.resolve(pq, pn, *pp)?;
            let (kp, _) = scope.tr(pb)?;
            steps.push(Step::SelectKey { name: "PartitionBy".into(), input: cur, key: kp });
            cur = "PartitionBy".into();
            let Some(idx) = items.iter().position(|it| matches!(&it.expr, SqlExpr::Col { name, .. } if name == pn))
            else {
                return fail(
                    pos,
                    format!("Key missing from projection. The query used to build `{name}` must include the partitioning expression {pn} in its projection."),
                );
            };
            (Some(idx), Some(names[idx].clone()), col.ty.unwrap_or(SqlType::String))
        }
        None => match from.key_column() {
            Some(k) => {
                // ksqlDB names every key column, so a persistent query must select it.
                let Some(i) =
                    items.iter().position(|it| matches!(&it.expr, SqlExpr::Col { name, .. } if *name == k.name))
                else {
                    return fail(
                        pos,
                        format!("Key missing from projection. The query used to build `{name}` must include the key column {} in its projection.", k.name),
                    );
                };
                (Some(i), Some(names[i].clone()), k.ty)
            }
            None => (None, None, SqlType::String),
        },
    };
    let value = value_map(&scope, &items, &names, key_item)?;
    parse_check(&value, ExprContext::Record, pos)?;
    steps.push(Step::MapValues { name: "Project".into(), input: cur, value });
    steps.push(Step::To { input: "Project".into(), topic: q.sink_topic.clone() });
    let mut columns = Vec::new();
    if let Some(k) = &key_name {
        columns.push(Column { name: k.clone(), ty: key_ty, key: true });
    }
    for (i, (it, n)) in items.iter().zip(&names).enumerate() {
        if Some(i) != key_item {
            columns.push(Column { name: n.clone(), ty: column_type(&scope, &it.expr), key: false });
        }
    }
    Ok(Source {
        name: name.to_string(),
        kind: SourceKind::Stream,
        columns,
        topic: String::new(),
        key_format: from.key_format.clone(),
        value_format: "JSON".into(),
        partitions: None,
        timestamp: None,
        windowed: false,
        query: None,
        statement: 0,
    })
}

fn translate_join(
    script: &KsqlScript,
    from: &Source,
    sel: &Select,
    j: &JoinClause,
    q: &mut PersistentQuery,
    name: &str,
    pos: Pos,
) -> Result<Source, KsqlError> {
    if let Some((_, wp)) = &sel.window {
        return fail(*wp, "WINDOW needs GROUP BY (a windowed aggregation)");
    }
    if sel.partition_by.is_some() {
        return fail(pos, "PARTITION BY with a join is not supported");
    }
    if from.kind == SourceKind::Table {
        return fail(
            sel.from_pos,
            "the left side of a join must be a stream here (table-table joins are not supported)",
        );
    }
    let right = lookup(script, &j.source, j.pos)?;
    if right.windowed {
        return fail(j.pos, format!("{} is a windowed table and cannot be joined", right.name));
    }
    q.sources.push(right.name.clone());
    let lq = sel.from_alias.clone().unwrap_or_else(|| from.name.clone());
    let rq = j.alias.clone().unwrap_or_else(|| right.name.clone());
    if lq == rq {
        return fail(j.pos, "both sides of the join have the same name: give one an alias");
    }
    let stream_stream = right.kind == SourceKind::Stream;
    if stream_stream && j.within_ms.is_none() {
        return fail(j.pos, "Stream-Stream joins must have a WITHIN clause specified. None was provided.");
    }
    if !stream_stream && j.within_ms.is_some() {
        return fail(j.pos, "A join with a table does not take WITHIN");
    }
    // Columns before the join, to resolve the ON clause.
    let left_pre =
        Scope { cols: source_scope(from, &lq, "value", None), rowtime: Some("timestamp"), ..Scope::default() };
    let right_pre =
        Scope { cols: source_scope(right, &rq, "value", None), rowtime: Some("timestamp"), ..Scope::default() };
    let side = |e: &SqlExpr| -> Result<(bool, String), KsqlError> {
        let SqlExpr::Col { qual, name, pos } = e else {
            return fail(expr_pos(e).unwrap_or(j.pos), "join conditions compare two columns");
        };
        let in_left = left_pre.resolve(qual, name, *pos).is_ok();
        let in_right = right_pre.resolve(qual, name, *pos).is_ok();
        match (in_left, in_right) {
            (true, false) => Ok((true, name.clone())),
            (false, true) => Ok((false, name.clone())),
            (true, true) => fail(*pos, format!("Column '{name}' is ambiguous: qualify it with its source")),
            (false, false) => fail(*pos, format!("Column '{}' cannot be resolved.", show(e))),
        }
    };
    let (a_left, a_name) = side(&j.left)?;
    let (b_left, b_name) = side(&j.right)?;
    if a_left == b_left {
        return fail(j.pos, "the join condition must compare a column of each side");
    }
    let (lcol, rcol) = if a_left { (a_name, b_name) } else { (b_name, a_name) };
    let rkey = right.key_column().map(|c| c.name.clone());
    if !stream_stream && rkey.as_deref() != Some(rcol.as_str()) {
        return fail(
            j.pos,
            format!("a table is joined on its PRIMARY KEY: {rq}.{} (not {rq}.{rcol})", rkey.unwrap_or_default()),
        );
    }
    let steps = &mut q.topology.steps;
    let mut left = source_steps(from, "Left", steps);
    if from.key_column().map(|c| &c.name) != Some(&lcol) {
        steps.push(Step::SelectKey { name: "LeftSourceKeyed".into(), input: left, key: field_of("value", &lcol) });
        left = "LeftSourceKeyed".into();
    }
    let right_step = if stream_stream {
        let mut r = source_steps(right, "Right", steps);
        if right.key_column().map(|c| &c.name) != Some(&rcol) {
            steps.push(Step::SelectKey { name: "RightSourceKeyed".into(), input: r, key: field_of("value", &rcol) });
            r = "RightSourceKeyed".into();
        }
        r
    } else {
        let timestamp = match &right.timestamp {
            Some(c) => TimestampSpec::Field(c.clone()),
            None => TimestampSpec::Record,
        };
        steps.push(Step::Table {
            name: "RightSource".into(),
            topic: right.topic.clone(),
            store: Some("KafkaTopic_Right-Reduce".into()),
            timestamp,
        });
        "RightSource".into()
    };
    // The joined row holds every column as `<qualifier>.<name>`.
    let mut joined = Vec::new();
    for c in &from.columns {
        joined.push(format!("{}: {}", quote(&format!("{lq}.{}", c.name)), field_of("left", &c.name)));
    }
    for c in &right.columns {
        let access = if c.key && !stream_stream {
            // A table's key is the record key; it is null when a LEFT JOIN finds no row.
            "if(is_null(right), null, key)".to_string()
        } else {
            field_of("right", &c.name)
        };
        joined.push(format!("{}: {}", quote(&format!("{rq}.{}", c.name)), access));
    }
    let joiner = format!("{{{}}}", joined.join(", "));
    parse_check(&joiner, ExprContext::Join, j.pos)?;
    steps.push(Step::Join {
        name: "Join".into(),
        left,
        right: right_step,
        kind: j.kind,
        window: j.within_ms.map(|(before_ms, after_ms)| JoinWindowSpec {
            before_ms,
            after_ms,
            grace_ms: DEFAULT_GRACE_MS,
        }),
        joiner: Some(joiner),
        key: None,
    });
    let mut cols = Vec::new();
    for (src, qual) in [(from, &lq), (right, &rq)] {
        for c in &src.columns {
            cols.push(ScopeCol {
                qual: qual.clone(),
                name: c.name.clone(),
                access: field_of("value", &format!("{qual}.{}", c.name)),
                ty: Some(c.ty),
            });
        }
    }
    let scope = Scope { cols, rowtime: Some("timestamp"), ..Scope::default() };
    let mut cur = "Join".to_string();
    if let Some(w) = &sel.where_ {
        let (p, _) = scope.tr(w)?;
        parse_check(&p, ExprContext::Record, expr_pos(w).unwrap_or(pos))?;
        steps.push(Step::Filter { name: "WhereFilter".into(), input: cur, predicate: p });
        cur = "WhereFilter".into();
    }
    let items = match &sel.projection {
        Projection::Star(p) => star_items(&scope.cols, *p)
            .into_iter()
            .map(|mut it| {
                // ksqlDB names `SELECT *` join columns `<SOURCE>_<COLUMN>`.
                if let SqlExpr::Col { qual: Some(q), name, .. } = &it.expr {
                    it.alias = Some(format!("{q}_{name}"));
                }
                it
            })
            .collect(),
        Projection::Items(items) => items.clone(),
    };
    let mut names = item_names(&items, &[]);
    // A column name present on both sides gets ksqlDB's `<SOURCE>_<COLUMN>` alias.
    for (i, it) in items.iter().enumerate() {
        if let (None, SqlExpr::Col { qual, name, pos }) = (&it.alias, &it.expr) {
            let both = from.columns.iter().any(|c| &c.name == name) && right.columns.iter().any(|c| &c.name == name);
            if both {
                let q = scope.resolve(qual, name, *pos)?.qual.clone();
                names[i] = format!("{q}_{name}");
            }
        }
    }
    check_unique(&names, &items)?;
    for it in &items {
        if contains_aggregate(&it.expr) {
            return fail(it.pos, "aggregate functions need GROUP BY");
        }
    }
    // The result is keyed by the join columns; one of them must be selected.
    let key_item = items.iter().position(|it| match &it.expr {
        SqlExpr::Col { qual, name, pos } => scope
            .resolve(qual, name, *pos)
            .map(|c| (c.qual == lq && c.name == lcol) || (c.qual == rq && c.name == rcol))
            .unwrap_or(false),
        _ => false,
    });
    let Some(key_item) = key_item else {
        return fail(
            pos,
            format!("Key missing from projection. The query used to build `{name}` must include the join expression {lq}.{lcol} in its projection."),
        );
    };
    let value = value_map(&scope, &items, &names, Some(key_item))?;
    parse_check(&value, ExprContext::Record, pos)?;
    steps.push(Step::MapValues { name: "Project".into(), input: cur, value });
    steps.push(Step::To { input: "Project".into(), topic: q.sink_topic.clone() });
    let mut columns =
        vec![Column { name: names[key_item].clone(), ty: column_type(&scope, &items[key_item].expr), key: true }];
    for (i, (it, n)) in items.iter().zip(&names).enumerate() {
        if i != key_item {
            columns.push(Column { name: n.clone(), ty: column_type(&scope, &it.expr), key: false });
        }
    }
    Ok(Source {
        name: name.to_string(),
        kind: SourceKind::Stream,
        columns,
        topic: String::new(),
        key_format: from.key_format.clone(),
        value_format: "JSON".into(),
        partitions: None,
        timestamp: None,
        windowed: false,
        query: None,
        statement: 0,
    })
}

/// Collects the distinct aggregate calls of `e`.
fn collect_aggs(e: &SqlExpr, out: &mut Vec<SqlExpr>) -> Result<(), KsqlError> {
    match e {
        SqlExpr::Call { name, args, .. } if is_aggregate_name(name) => {
            if !out.contains(e) {
                out.push(e.clone());
            }
            for a in args {
                if contains_aggregate(a) {
                    return fail(expr_pos(a).unwrap_or_default(), "aggregate functions cannot be nested");
                }
            }
            Ok(())
        }
        SqlExpr::Call { args, .. } => args.iter().try_for_each(|a| collect_aggs(a, out)),
        SqlExpr::Bin(_, l, r, _) => {
            collect_aggs(l, out)?;
            collect_aggs(r, out)
        }
        SqlExpr::Not(x) | SqlExpr::Neg(x) | SqlExpr::IsNull(x, _) | SqlExpr::Cast(x, _) | SqlExpr::Like(x, ..) => {
            collect_aggs(x, out)
        }
        SqlExpr::In(x, items, ..) => {
            collect_aggs(x, out)?;
            items.iter().try_for_each(|a| collect_aggs(a, out))
        }
        SqlExpr::Between(a, b, c, _) => {
            collect_aggs(a, out)?;
            collect_aggs(b, out)?;
            collect_aggs(c, out)
        }
        SqlExpr::Case(w, o) => {
            for (c, r) in w {
                collect_aggs(c, out)?;
                collect_aggs(r, out)?;
            }
            match o {
                Some(o) => collect_aggs(o, out),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

fn translate_aggregate(
    script: &KsqlScript,
    from: &Source,
    sel: &Select,
    q: &mut PersistentQuery,
    name: &str,
    pos: Pos,
) -> Result<Source, KsqlError> {
    let _ = script;
    if sel.join.is_some() {
        return fail(pos, "aggregating a join is not supported");
    }
    if sel.partition_by.is_some() {
        return fail(pos, "PARTITION BY and GROUP BY cannot be combined");
    }
    if from.kind == SourceKind::Table {
        return fail(
            sel.from_pos,
            format!("{} is a table: aggregating a table is not supported (aggregate a stream)", from.name),
        );
    }
    if sel.group_by.len() != 1 {
        return fail(sel.group_pos, "GROUP BY supports a single column here");
    }
    let group = &sel.group_by[0];
    let SqlExpr::Col { qual: gq, name: gname, pos: gpos } = group else {
        return fail(
            expr_pos(group).unwrap_or(sel.group_pos),
            "GROUP BY supports a single column here (not an expression)",
        );
    };
    let qual = sel.from_alias.clone().unwrap_or_else(|| from.name.clone());
    let scope =
        Scope { cols: source_scope(from, &qual, "value", None), rowtime: Some("timestamp"), ..Scope::default() };
    let gcol = scope.resolve(gq, gname, *gpos)?.clone();
    let Projection::Items(items) = &sel.projection else {
        return fail(pos, "SELECT * cannot be used with GROUP BY");
    };
    // WINDOWSTART / WINDOWEND select items come from the record's window.
    let mut win_cols = Vec::new();
    let mut kept = Vec::new();
    for it in items {
        match &it.expr {
            SqlExpr::Col { qual: None, name: n, pos: p } if n == "WINDOWSTART" || n == "WINDOWEND" => {
                if sel.window.is_none() {
                    return fail(*p, format!("{n} needs a WINDOW"));
                }
                win_cols.push((it.alias.clone().unwrap_or_else(|| n.clone()), n == "WINDOWEND"));
            }
            _ => kept.push(it.clone()),
        }
    }
    let taken: Vec<String> = from.columns.iter().map(|c| c.name.clone()).collect();
    let names = item_names(&kept, &taken);
    check_unique(&names, &kept)?;
    let mut aggs = Vec::new();
    for it in &kept {
        collect_aggs(&it.expr, &mut aggs)?;
    }
    if let Some(h) = &sel.having {
        collect_aggs(h, &mut aggs)?;
    }
    // The aggregate state: one field per aggregate call.
    let mut init = BTreeMap::new();
    let mut adder = Vec::new();
    let mut merger = Vec::new();
    let mut post = Vec::new();
    let agg_scope = Scope { in_aggregate: true, ..scope.clone() };
    for (i, a) in aggs.iter().enumerate() {
        let SqlExpr::Call { name: fname, args, star, pos: fpos } = a else { continue };
        let f = format!("KSQL_AGG_VARIABLE_{i}");
        let cur = field_of("agg", &f);
        let (m1, m2) = (field_of("agg1", &f), field_of("agg2", &f));
        let arg = if *star {
            if fname != "COUNT" {
                return fail(*fpos, format!("{fname}(*) is not supported (only COUNT(*))"));
            }
            None
        } else {
            if args.len() != 1 {
                return fail(*fpos, format!("{fname} takes one argument"));
            }
            Some(agg_scope.tr(&args[0])?)
        };
        match (fname.as_str(), arg) {
            ("COUNT", None) => {
                init.insert(f.clone(), Value::Int(0));
                adder.push(format!("{}: {cur} + 1", quote(&f)));
                merger.push(format!("{}: {m1} + {m2}", quote(&f)));
                post.push((a.clone(), field_of("value", &f)));
            }
            ("COUNT", Some((x, _))) => {
                init.insert(f.clone(), Value::Int(0));
                adder.push(format!("{}: if(is_null({x}), {cur}, {cur} + 1)", quote(&f)));
                merger.push(format!("{}: {m1} + {m2}", quote(&f)));
                post.push((a.clone(), field_of("value", &f)));
            }
            ("SUM", Some((x, k))) => {
                if k == Kind::Str || k == Kind::Bool {
                    return fail(*fpos, "SUM needs a numeric column");
                }
                let zero = match column_type(&scope, &args[0]) {
                    SqlType::Double | SqlType::Decimal(..) => Value::Float(0.0),
                    _ => Value::Int(0),
                };
                init.insert(f.clone(), zero);
                adder.push(format!("{}: if(is_null({x}), {cur}, {cur} + {x})", quote(&f)));
                merger.push(format!("{}: {m1} + {m2}", quote(&f)));
                post.push((a.clone(), field_of("value", &f)));
            }
            ("MIN" | "MAX", Some((x, _))) => {
                let func = if fname == "MIN" { "min" } else { "max" };
                init.insert(f.clone(), Value::Null);
                adder.push(format!("{}: {func}({cur}, {x})", quote(&f)));
                merger.push(format!("{}: {func}({m1}, {m2})", quote(&f)));
                post.push((a.clone(), field_of("value", &f)));
            }
            ("AVG", Some((x, k))) => {
                if k == Kind::Str || k == Kind::Bool {
                    return fail(*fpos, "AVG needs a numeric column");
                }
                let (s, c) = (format!("{f}_SUM"), format!("{f}_COUNT"));
                init.insert(s.clone(), Value::Int(0));
                init.insert(c.clone(), Value::Int(0));
                let (cs, cc) = (field_of("agg", &s), field_of("agg", &c));
                adder.push(format!("{}: if(is_null({x}), {cs}, {cs} + {x})", quote(&s)));
                adder.push(format!("{}: if(is_null({x}), {cc}, {cc} + 1)", quote(&c)));
                for n in [&s, &c] {
                    merger.push(format!("{}: {} + {}", quote(n), field_of("agg1", n), field_of("agg2", n)));
                }
                let (vs, vc) = (field_of("value", &s), field_of("value", &c));
                post.push((a.clone(), format!("if({vc} == 0, null, float({vs}) / {vc})")));
            }
            (other, _) => return fail(*fpos, format!("{other} takes one argument")),
        }
    }
    // After aggregation the row is (key = the GROUP BY column, value = the aggregate state).
    let post_scope = Scope {
        cols: vec![ScopeCol { qual: gcol.qual.clone(), name: gcol.name.clone(), access: "key".into(), ty: gcol.ty }],
        rowtime: None,
        aggs: post,
        in_aggregate: true,
    };
    let key_item = kept.iter().position(|it| matches!(&it.expr, SqlExpr::Col { name, .. } if *name == gcol.name));
    let Some(key_item) = key_item else {
        return fail(
            pos,
            format!("Key missing from projection. The query used to build `{name}` must include the grouping expression {} in its projection.", gcol.name),
        );
    };
    for it in &kept {
        // Columns outside aggregates must be the GROUP BY column.
        if let Err(e) = post_scope.tr(&it.expr) {
            if e.message.contains("cannot be resolved") {
                return fail(
                    it.pos,
                    format!("Non-aggregate SELECT expression(s) not part of GROUP BY: {}", show(&it.expr)),
                );
            }
            return Err(e);
        }
    }
    let steps = &mut q.topology.steps;
    let mut cur = source_steps(from, "", steps);
    if let Some(w) = &sel.where_ {
        if contains_aggregate(w) {
            return fail(expr_pos(w).unwrap_or(pos), "aggregate functions belong in HAVING, not WHERE");
        }
        let (p, _) = scope.tr(w)?;
        parse_check(&p, ExprContext::Record, expr_pos(w).unwrap_or(pos))?;
        steps.push(Step::Filter { name: "WhereFilter".into(), input: cur, predicate: p });
        cur = "WhereFilter".into();
    }
    if from.key_column().map(|c| &c.name) == Some(&gcol.name) {
        steps.push(Step::GroupByKey { name: "Aggregate-GroupByKey".into(), input: cur });
        cur = "Aggregate-GroupByKey".into();
    } else {
        steps.push(Step::GroupBy { name: "Aggregate-GroupBy".into(), input: cur, key: gcol.access.clone() });
        cur = "Aggregate-GroupBy".into();
    }
    let windowed = sel.window.is_some();
    if let Some((w, _)) = &sel.window {
        let emit = if sel.emit_final { EmitStrategy::OnWindowClose } else { EmitStrategy::OnWindowUpdate };
        steps.push(Step::WindowedBy { name: "Aggregate-WindowedBy".into(), input: cur, window: w.spec, emit });
        cur = "Aggregate-WindowedBy".into();
    } else if sel.emit_final {
        return fail(pos, "EMIT FINAL needs a WINDOW");
    }
    let adder_src = format!("{{{}}}", adder.join(", "));
    parse_check(&adder_src, ExprContext::Aggregate, pos)?;
    let merger_src = match &sel.window {
        Some((WindowClause { kind: WindowKind::Session, .. }, _)) => {
            let m = format!("{{{}}}", merger.join(", "));
            parse_check(&m, ExprContext::Merge, pos)?;
            Some(m)
        }
        _ => None,
    };
    steps.push(Step::Aggregate {
        name: "Aggregate-Aggregate".into(),
        input: cur,
        initializer: Value::Map(init),
        aggregator: adder_src,
        merger: merger_src,
        store: Some("Aggregate-Aggregate-Materialize".into()),
    });
    steps.push(Step::ToStream { name: "Aggregate-ToStream".into(), input: "Aggregate-Aggregate".into() });
    let value = value_map(&post_scope, &kept, &names, Some(key_item))?;
    // A tombstone (a merged-away session, a row HAVING no longer holds for) stays one.
    let body = match &sel.having {
        Some(h) => {
            let (hs, _) = post_scope.tr(h)?;
            format!("if(is_null(value), null, if({hs}, {value}, null))")
        }
        None => format!("if(is_null(value), null, {value})"),
    };
    parse_check(&body, ExprContext::Record, pos)?;
    steps.push(Step::MapValues { name: "Aggregate-Project".into(), input: "Aggregate-ToStream".into(), value: body });
    steps.push(Step::To { input: "Aggregate-Project".into(), topic: q.sink_topic.clone() });
    q.window_columns = win_cols.iter().map(|(n, end)| WindowColumn { name: n.clone(), end: *end }).collect();
    let mut columns = vec![Column { name: names[key_item].clone(), ty: gcol.ty.unwrap_or(SqlType::String), key: true }];
    for (i, (it, n)) in kept.iter().zip(&names).enumerate() {
        if i != key_item {
            columns.push(Column { name: n.clone(), ty: column_type(&scope, &it.expr), key: false });
        }
    }
    for (n, _) in &win_cols {
        if columns.iter().any(|c| &c.name == n) {
            return fail(pos, format!("duplicate column name {n}"));
        }
        columns.push(Column { name: n.clone(), ty: SqlType::Bigint, key: false });
    }
    Ok(Source {
        name: name.to_string(),
        kind: SourceKind::Table,
        columns,
        topic: String::new(),
        key_format: from.key_format.clone(),
        value_format: "JSON".into(),
        partitions: None,
        timestamp: None,
        windowed,
        query: None,
        statement: 0,
    })
}

fn translate_push(script: &KsqlScript, sel: &Select, statement: usize, pos: Pos) -> Result<PushQuery, KsqlError> {
    let from = lookup(script, &sel.from, sel.from_pos)?;
    if !sel.group_by.is_empty() {
        // ksqlDB runs an aggregating push query as a transient Kafka Streams application.
        let id = format!("transient_{}_{statement}", from.name);
        let mut q = PersistentQuery {
            id: id.clone(),
            sink: id.clone(),
            sink_topic: format!("{id}-sink"),
            sources: vec![from.name.clone()],
            topology: TopologySpec { application_id: format!("_confluent-ksql-default_{id}"), steps: Vec::new() },
            window_columns: Vec::new(),
            statement,
        };
        if from.windowed {
            return fail(sel.from_pos, format!("{} is a windowed table and cannot be aggregated", from.name));
        }
        let schema = translate_aggregate(script, from, sel, &mut q, &id, pos)?;
        let columns = schema.columns.iter().map(|c| c.name.clone()).collect();
        return Ok(PushQuery {
            statement,
            from: from.name.clone(),
            columns,
            filter: None,
            items: Vec::new(),
            limit: sel.limit,
            aggregation: Some(Box::new(TransientAggregation { query: q, schema })),
        });
    }
    if sel.join.is_some() || sel.window.is_some() || sel.partition_by.is_some() {
        return fail(
            pos,
            "push queries support SELECT ... FROM x [WHERE ...] [GROUP BY ...] EMIT CHANGES [LIMIT n]; create a persistent query (CREATE ... AS SELECT) for joins, WINDOW and PARTITION BY",
        );
    }
    if sel.emit_final {
        return fail(pos, "push queries use EMIT CHANGES");
    }
    let qual = sel.from_alias.clone().unwrap_or_else(|| from.name.clone());
    let mut cols = source_scope(from, &qual, "value", None);
    if from.windowed {
        for w in ["WINDOWSTART", "WINDOWEND"] {
            cols.insert(
                1,
                ScopeCol {
                    qual: qual.clone(),
                    name: w.into(),
                    access: field_of("value", w),
                    ty: Some(SqlType::Bigint),
                },
            );
        }
        cols.swap(1, 2);
    }
    let scope = Scope { cols, rowtime: Some("timestamp"), ..Scope::default() };
    let items = match &sel.projection {
        Projection::Star(p) => star_items(&scope.cols, *p),
        Projection::Items(items) => items.clone(),
    };
    let names = item_names(&items, &[]);
    let mut exprs = Vec::new();
    for it in &items {
        if contains_aggregate(&it.expr) {
            return fail(
                it.pos,
                "aggregations in push queries are not supported: use CREATE TABLE ... AS SELECT ... GROUP BY",
            );
        }
        let (s, _) = scope.tr(&it.expr)?;
        exprs.push(parse_check(&s, ExprContext::Record, it.pos)?);
    }
    let filter = match &sel.where_ {
        Some(w) => {
            let (s, _) = scope.tr(w)?;
            Some(parse_check(&s, ExprContext::Record, expr_pos(w).unwrap_or(pos))?)
        }
        None => None,
    };
    Ok(PushQuery {
        statement,
        from: from.name.clone(),
        columns: names,
        filter,
        items: exprs,
        limit: sel.limit,
        aggregation: None,
    })
}

// ---------------------------------------------------------------------------------------
// Running a script

/// One input record.
#[derive(Clone, Debug, PartialEq)]
pub struct KsqlRecord {
    pub topic: String,
    pub key: Value,
    pub value: Value,
    pub ts: i64,
}

/// What one persistent query wrote to its sink topic.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueryOutput {
    pub id: String,
    pub sink: String,
    pub topic: String,
    pub output: Vec<DriverRecord>,
    /// Records the query's topology dropped (null keys, late records, ...).
    pub dropped: usize,
}

/// One row of a push query.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PushRow {
    pub row: Vec<Value>,
    pub ts: i64,
    /// A deletion from a table (the row's value columns are null).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tombstone: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PushOutput {
    pub statement: usize,
    pub from: String,
    pub columns: Vec<String>,
    pub rows: Vec<PushRow>,
}

/// What `kafka-sandbox ksql` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KsqlResult {
    pub queries: Vec<QueryOutput>,
    pub push_queries: Vec<PushOutput>,
    /// Records that failed to deserialize against a declared schema (ksqlDB logs and skips them).
    pub deserialization_errors: usize,
}

/// An error while running: `location` is `input[i]` or a query id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunError {
    pub location: String,
    pub message: String,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.location, self.message)
        }
    }
}

fn run_err(location: impl Into<String>, message: impl Into<String>) -> RunError {
    RunError { location: location.into(), message: message.into() }
}

/// ksqlDB's JSON deserialization of one field into a column type; `Err` fails the record.
fn coerce(v: &Value, ty: SqlType) -> Result<Value, ()> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    match ty {
        SqlType::Int | SqlType::Bigint | SqlType::Timestamp => match v {
            Value::Int(i) => {
                if ty == SqlType::Int && i32::try_from(*i).is_err() {
                    return Err(());
                }
                Ok(Value::Int(*i))
            }
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(Value::Int(*f as i64)),
            Value::Str(s) if ty == SqlType::Timestamp => parse_datetime(s).map(Value::Int).ok_or(()),
            Value::Str(s) => s.trim().parse::<i64>().map(Value::Int).map_err(|_| ()),
            _ => Err(()),
        },
        SqlType::Double | SqlType::Decimal(..) => match v {
            Value::Int(i) => Ok(Value::float(*i as f64)),
            Value::Float(f) => Ok(Value::Float(*f)),
            Value::Str(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()).map(Value::Float).ok_or(()),
            _ => Err(()),
        },
        SqlType::String => match v {
            Value::Str(s) => Ok(Value::Str(s.clone())),
            Value::List(_) | Value::Map(_) => Ok(Value::Str(v.to_json_string())),
            other => Ok(Value::Str(other.to_java_string())),
        },
        SqlType::Boolean => match v {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::Str(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::Str(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(()),
        },
    }
}

/// Deserializes a record against a source's schema: `(key, row of value columns)`, the row
/// `Null` for a table's tombstone. `None`: the record fails and is skipped.
fn deserialize(src: &Source, key: &Value, value: &Value) -> Option<(Value, Value)> {
    let key = match src.key_column() {
        Some(k) => coerce(key, k.ty).ok()?,
        None => Value::Null,
    };
    let Value::Map(fields) = value else {
        return match (value, src.kind) {
            (Value::Null, SourceKind::Table) => Some((key, Value::Null)),
            _ => None,
        };
    };
    let mut row = BTreeMap::new();
    for c in src.columns.iter().filter(|c| !c.key) {
        let raw = fields
            .get(&c.name)
            .or_else(|| fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(&c.name)).map(|(_, v)| v))
            .unwrap_or(&Value::Null);
        row.insert(c.name.clone(), coerce(raw, c.ty).ok()?);
    }
    Some((key, Value::Map(row)))
}

/// A record moving between topics inside the run.
struct Moving {
    topic: String,
    key: Value,
    window: Option<super::window::Window>,
    value: Value,
    ts: i64,
}

#[derive(Clone, Copy)]
enum Reader {
    Query(usize),
    Push(usize),
}

fn window_values(value: &mut Value, window: Option<super::window::Window>, cols: &[WindowColumn]) {
    if let (Value::Map(map), Some(w)) = (value, window) {
        for wc in cols {
            map.insert(wc.name.clone(), Value::Int(if wc.end { w.end } else { w.start }));
        }
    }
}

/// Runs every persistent query and push query of `script` on `input`, in order. Each input
/// record is followed through the queries it feeds (and the queries fed by their output)
/// before the next one is piped.
pub fn run_script(script: &KsqlScript, input: &[KsqlRecord]) -> Result<KsqlResult, RunError> {
    let compile = |q: &PersistentQuery| {
        q.topology
            .compile_for_test_driver()
            .map(TestDriver::new)
            .map_err(|e| run_err(q.id.clone(), format!("the translated topology does not compile: {e}")))
    };
    let mut drivers = Vec::with_capacity(script.queries.len());
    for q in &script.queries {
        drivers.push(compile(q)?);
    }
    let mut push_drivers = Vec::with_capacity(script.push_queries.len());
    for p in &script.push_queries {
        push_drivers.push(match &p.aggregation {
            Some(a) => Some(compile(&a.query)?),
            None => None,
        });
    }
    // Who reads each topic, and as which source (which decides how records deserialize).
    let mut readers: BTreeMap<&str, Vec<(Reader, &Source)>> = BTreeMap::new();
    for (i, q) in script.queries.iter().enumerate() {
        for s in &q.sources {
            if let Some(src) = script.source(s) {
                readers.entry(src.topic.as_str()).or_default().push((Reader::Query(i), src));
            }
        }
    }
    for (i, p) in script.push_queries.iter().enumerate() {
        if let Some(src) = script.source(&p.from) {
            readers.entry(src.topic.as_str()).or_default().push((Reader::Push(i), src));
        }
    }
    let mut result = KsqlResult {
        queries: script
            .queries
            .iter()
            .map(|q| QueryOutput {
                id: q.id.clone(),
                sink: q.sink.clone(),
                topic: q.sink_topic.clone(),
                output: Vec::new(),
                dropped: 0,
            })
            .collect(),
        push_queries: script
            .push_queries
            .iter()
            .map(|p| PushOutput {
                statement: p.statement,
                from: p.from.clone(),
                columns: p.columns.clone(),
                rows: Vec::new(),
            })
            .collect(),
        deserialization_errors: 0,
    };
    let declared: Vec<&str> = script.sources.iter().filter(|s| s.query.is_none()).map(|s| s.topic.as_str()).collect();
    let mut moved = 0usize;
    for (n, rec) in input.iter().enumerate() {
        if !declared.contains(&rec.topic.as_str()) {
            return Err(run_err(
                format!("input[{n}].topic"),
                format!(
                    "\"{}\" is not the topic of a declared stream or table (declared: {})",
                    rec.topic,
                    declared.join(", ")
                ),
            ));
        }
        let mut queue = VecDeque::new();
        queue.push_back(Moving {
            topic: rec.topic.clone(),
            key: rec.key.clone(),
            window: None,
            value: rec.value.clone(),
            ts: rec.ts,
        });
        while let Some(m) = queue.pop_front() {
            moved += 1;
            if moved > MAX_RECORDS {
                return Err(run_err(
                    format!("input[{n}]"),
                    format!("more than {MAX_RECORDS} records moved between queries"),
                ));
            }
            let Some(list) = readers.get(m.topic.as_str()) else { continue };
            for &(reader, src) in list {
                let (q, driver) = match reader {
                    Reader::Query(i) => (&script.queries[i], &mut drivers[i]),
                    Reader::Push(i) => match (&script.push_queries[i].aggregation, &mut push_drivers[i]) {
                        (Some(a), Some(d)) => (&a.query, d),
                        _ => {
                            let out = &mut result.push_queries[i];
                            push_row(&script.push_queries[i], src, &m, out, &mut result.deserialization_errors);
                            continue;
                        }
                    },
                };
                let Some((key, row)) = deserialize(src, &m.key, &m.value) else {
                    result.deserialization_errors += 1;
                    continue;
                };
                if row.is_null() && src.kind == SourceKind::Stream {
                    continue;
                }
                let piped = driver
                    .pipe(&m.topic, key, row, m.ts)
                    .map_err(|e| run_err(format!("input[{n}]"), format!("{}: {e}", q.id)))?;
                if let Reader::Query(i) = reader {
                    result.queries[i].dropped += piped.dropped;
                }
                for r in piped.records.into_iter().filter(|r| !r.internal && r.topic == q.sink_topic) {
                    let mut value = r.value;
                    window_values(&mut value, r.window, &q.window_columns);
                    match reader {
                        Reader::Query(i) => {
                            result.queries[i].output.push(DriverRecord {
                                topic: None,
                                key: r.key.clone(),
                                window_start: r.window.map(|w| w.start),
                                window_end: r.window.map(|w| w.end),
                                value: value.clone(),
                                ts: r.timestamp,
                            });
                            queue.push_back(Moving {
                                topic: r.topic,
                                key: r.key,
                                window: r.window,
                                value,
                                ts: r.timestamp,
                            });
                        }
                        Reader::Push(i) => {
                            let out = &mut result.push_queries[i];
                            if !aggregate_push_row(&script.push_queries[i], &r.key, &value, r.timestamp, out) {
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(result)
}

/// One change of an aggregating push query's result as a row (the key first); false when
/// the query's LIMIT is reached.
fn aggregate_push_row(p: &PushQuery, key: &Value, value: &Value, ts: i64, out: &mut PushOutput) -> bool {
    if p.limit.is_some_and(|l| out.rows.len() as u64 >= l) {
        return false;
    }
    let tombstone = value.is_null();
    let row = p
        .columns
        .iter()
        .enumerate()
        .map(|(c, name)| if c == 0 { key.clone() } else { value.field(name).clone() })
        .collect();
    out.rows.push(PushRow { row, ts, tombstone });
    true
}

fn push_row(p: &PushQuery, src: &Source, m: &Moving, out: &mut PushOutput, errors: &mut usize) {
    if p.limit.is_some_and(|l| out.rows.len() as u64 >= l) {
        return;
    }
    let Some((key, row)) = deserialize(src, &m.key, &m.value) else {
        *errors += 1;
        return;
    };
    let tombstone = row.is_null();
    if tombstone && src.kind == SourceKind::Stream {
        return;
    }
    let mut map = match row {
        Value::Map(m) => m,
        _ => BTreeMap::new(),
    };
    if let Some(k) = src.key_column() {
        map.insert(k.name.clone(), key.clone());
    }
    if let Some(w) = m.window {
        map.insert("WINDOWSTART".into(), Value::Int(w.start));
        map.insert("WINDOWEND".into(), Value::Int(w.end));
    }
    let row = Value::Map(map);
    let env = Env::record(&key, &row, m.ts);
    // A deletion reaches the client whatever the filter: the row it removes may have matched.
    if !tombstone && p.filter.as_ref().is_some_and(|f| !f.test(&env)) {
        return;
    }
    out.rows.push(PushRow { row: p.items.iter().map(|e| e.eval(&env)).collect(), ts: m.ts, tombstone });
}

/// Runs the `kafka-sandbox ksql` format: `{"statements": "...", "input": [{"topic", "key",
/// "value", "ts"}, ...]}`. SQL errors come back as `statements` + `line L:C`.
pub fn run_json(text: &str) -> Result<KsqlResult, RunError> {
    let (script, records) = parse_doc(text, true)?;
    run_script(&script, &records)
}

/// The translation of the statements in a `kafka-sandbox ksql` document (`input` optional):
/// sources, persistent queries with their `TopologySpec`s, push queries.
pub fn plan_json(text: &str) -> Result<KsqlScript, RunError> {
    parse_doc(text, false).map(|(script, _)| script)
}

fn parse_doc(text: &str, need_input: bool) -> Result<(KsqlScript, Vec<KsqlRecord>), RunError> {
    use serde_json::Value as Json;
    let doc: Json = serde_json::from_str(text)
        .map_err(|e| run_err(format!("line {} column {}", e.line(), e.column()), format!("invalid JSON: {e}")))?;
    let Some(obj) = doc.as_object() else {
        return Err(run_err("", "the input must be a JSON object {\"statements\": \"...\", \"input\": [...]}"));
    };
    if let Some(k) = obj.keys().find(|k| *k != "statements" && *k != "input") {
        return Err(run_err(k.clone(), "unknown field (expected \"statements\" and \"input\")"));
    }
    let statements = match obj.get("statements") {
        Some(Json::String(s)) => s,
        Some(_) => return Err(run_err("statements", "must be a string of SQL statements")),
        None => return Err(run_err("", "missing field \"statements\"")),
    };
    let script = parse_script(statements).map_err(|e| run_err("statements", e.to_string()))?;
    let input = match obj.get("input") {
        Some(Json::Array(a)) => a,
        Some(_) => return Err(run_err("input", "must be an array")),
        None if !need_input => return Ok((script, Vec::new())),
        None => return Err(run_err("", "missing field \"input\"")),
    };
    if input.len() > super::driver::MAX_INPUT_RECORDS {
        return Err(run_err("input", format!("more than {} records", super::driver::MAX_INPUT_RECORDS)));
    }
    let mut records = Vec::with_capacity(input.len());
    for (i, r) in input.iter().enumerate() {
        let loc = format!("input[{i}]");
        let Some(o) = r.as_object() else {
            return Err(run_err(loc, "must be an object {\"topic\", \"key\", \"value\", \"ts\"}"));
        };
        if let Some(k) = o.keys().find(|k| !matches!(k.as_str(), "topic" | "key" | "value" | "ts")) {
            return Err(run_err(format!("{loc}.{k}"), "unknown field (expected topic, key, value, ts)"));
        }
        let topic = match o.get("topic") {
            Some(Json::String(t)) => t.clone(),
            _ => return Err(run_err(format!("{loc}.topic"), "must be a string")),
        };
        let ts = match o.get("ts").and_then(Json::as_i64) {
            Some(t) if (0..=super::value::MAX_TIMESTAMP_MS).contains(&t) => t,
            _ => return Err(run_err(format!("{loc}.ts"), "must be an integer (epoch milliseconds)")),
        };
        let key = o.get("key").map(Value::from_json).unwrap_or(Value::Null);
        let value = o.get("value").map(Value::from_json).unwrap_or(Value::Null);
        records.push(KsqlRecord { topic, key, value, ts });
    }
    Ok((script, records))
}

// ---------------------------------------------------------------------------------------
// Running inside the simulated cluster (`[[ksql]]` in scenarios)

/// ksqlDB's `ksql.service.id` default.
pub const DEFAULT_SERVICE_ID: &str = "default_";

/// A persistent query's Kafka Streams `application.id`: `_confluent-ksql-` + service id +
/// `query_` (`ksql.persistent.prefix`) + query id, as ksqlDB's `QueryApplicationId` builds it.
pub fn query_application_id(service_id: &str, query_id: &str) -> String {
    format!("_confluent-ksql-{service_id}query_{query_id}")
}

/// The command topic of a ksqlDB cluster: `_confluent-ksql-<service.id>_command_topic`.
pub fn command_topic(service_id: &str) -> String {
    format!("_confluent-ksql-{service_id}_command_topic")
}

/// The `auto.offset.reset` a SET before statement `statement` chose, if any (ksqlDB's own
/// default is `latest`).
pub fn offset_reset_at(script: &KsqlScript, statement: usize) -> Option<&str> {
    script.offset_resets.iter().rev().find(|(s, _)| *s < statement).map(|(_, r)| r.as_str())
}

/// The 1-based statement an error at `line`:`column` of `text` belongs to (statements end
/// with `;` outside quotes and comments).
pub fn statement_at(text: &str, line: usize, column: usize) -> usize {
    let toks = match lex(text) {
        Ok(t) => t,
        // A lexer error: count the tokens that lex before it.
        Err(_) => {
            let cut =
                text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum::<usize>().min(text.len());
            let mut end = cut;
            while end > 0 && !text.is_char_boundary(end) {
                end -= 1;
            }
            lex(&text[..end]).unwrap_or_default()
        }
    };
    let mut ended = 0;
    let mut open = false;
    for t in toks {
        if (t.pos.line, t.pos.col) >= (line, column) {
            break;
        }
        if t.tk == Tk::Sym(";") {
            if open {
                ended += 1;
            }
            open = false;
        } else {
            open = true;
        }
    }
    ended + 1
}

/// What the server does around one persistent query's topology when it runs in the cluster:
/// its source node deserializes records against the declared columns (a record that fails is
/// skipped, as ksqlDB logs and skips it), keys read back from its internal topics get the
/// sink key's type again, and the sink's serializer fills WINDOWSTART/WINDOWEND. The same
/// steps [`run_script`] performs around the test driver, so both give the same values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuerySerde {
    /// The query's sources (their topics and schemas).
    pub sources: Vec<Source>,
    pub sink_topic: String,
    pub window_columns: Vec<WindowColumn>,
    /// The sink's key column type: the type of the keys on the query's repartition topics.
    pub key_type: Option<SqlType>,
}

impl QuerySerde {
    pub fn of(script: &KsqlScript, q: &PersistentQuery) -> QuerySerde {
        QuerySerde {
            sources: q.sources.iter().filter_map(|n| script.source(n)).cloned().collect(),
            sink_topic: q.sink_topic.clone(),
            window_columns: q.window_columns.clone(),
            key_type: script.source(&q.sink).and_then(|s| s.key_column()).map(|c| c.ty),
        }
    }

    /// The (key, value) a task sees for a record of `topic`; `None`: the record is skipped.
    pub fn decode(&self, topic: &str, key: Value, value: Value) -> Option<(Value, Value)> {
        if let Some(src) = self.sources.iter().find(|s| s.topic == topic) {
            let (key, row) = deserialize(src, &key, &value)?;
            if row.is_null() && src.kind == SourceKind::Stream {
                return None;
            }
            return Some((key, row));
        }
        let key = match (self.key_type, &key) {
            (Some(ty), Value::Str(_)) => coerce(&key, ty).unwrap_or(key),
            _ => key,
        };
        Some((key, value))
    }

    /// Whether [`QuerySerde::finish`] changes records of `topic`.
    pub fn finishes(&self, topic: &str) -> bool {
        topic == self.sink_topic && !self.window_columns.is_empty()
    }

    /// A sink record's value as the sink's serializer writes it.
    pub fn finish(&self, topic: &str, window: Option<super::window::Window>, value: &mut Value) {
        if topic == self.sink_topic {
            window_values(value, window, &self.window_columns);
        }
    }
}

/// A record of a topic in the cluster, as a push query's consumer reads it (a windowed key
/// already split into key and window).
#[derive(Clone, Debug, PartialEq)]
pub struct LiveRecord {
    pub key: Value,
    pub window: Option<super::window::Window>,
    pub value: Value,
    pub ts: i64,
}

/// The rows push query `index` of `script` emits for `records` of its source's topic, in
/// the order given (a transient query: aggregating ones run their own topology).
pub fn push_rows(script: &KsqlScript, index: usize, records: &[LiveRecord]) -> Result<PushOutput, RunError> {
    let p = script.push_queries.get(index).ok_or_else(|| run_err("", format!("no push query {index}")))?;
    let src = script
        .source(&p.from)
        .ok_or_else(|| run_err(format!("statement {}", p.statement), format!("{} does not exist", p.from)))?;
    let mut out =
        PushOutput { statement: p.statement, from: p.from.clone(), columns: p.columns.clone(), rows: Vec::new() };
    let mut errors = 0;
    match &p.aggregation {
        None => {
            for r in records {
                let m = Moving {
                    topic: src.topic.clone(),
                    key: r.key.clone(),
                    window: r.window,
                    value: r.value.clone(),
                    ts: r.ts,
                };
                push_row(p, src, &m, &mut out, &mut errors);
            }
        }
        Some(a) => {
            let mut driver =
                a.query.topology.compile_for_test_driver().map(TestDriver::new).map_err(|e| {
                    run_err(a.query.id.clone(), format!("the translated topology does not compile: {e}"))
                })?;
            'records: for r in records {
                let Some((key, row)) = deserialize(src, &r.key, &r.value) else { continue };
                if row.is_null() && src.kind == SourceKind::Stream {
                    continue;
                }
                let piped = driver
                    .pipe(&src.topic, key, row, r.ts)
                    .map_err(|e| run_err(format!("statement {}", p.statement), e.to_string()))?;
                for o in piped.records.into_iter().filter(|o| !o.internal && o.topic == a.query.sink_topic) {
                    let mut value = o.value;
                    window_values(&mut value, o.window, &a.query.window_columns);
                    if !aggregate_push_row(p, &o.key, &value, o.timestamp, &mut out) {
                        break 'records;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// A persistent query as a ksqlDB server runs it in the cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerQuery {
    /// `CSAS_<NAME>_<n>` / `CTAS_<NAME>_<n>`.
    pub id: String,
    pub application_id: String,
    pub sink: String,
    pub sink_topic: String,
    pub statement: usize,
}

/// A `[[ksql]]` component of a scenario: a ksqlDB cluster (`servers` servers sharing one
/// service id) that ran `statements` at startup.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KsqlServerSpec {
    pub service_id: String,
    pub servers: u32,
    pub statements: String,
    pub command_topic: String,
    pub queries: Vec<ServerQuery>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RIDES: &str = "CREATE STREAM ride_streams (
        VendorId varchar,
        trip_distance double,
        payment_type varchar
    ) WITH (KAFKA_TOPIC='rides', VALUE_FORMAT='JSON');";

    fn run(sql: &str, input: serde_json::Value) -> serde_json::Value {
        let doc = json!({"statements": sql, "input": input});
        match run_json(&doc.to_string()) {
            Ok(r) => serde_json::to_value(r).unwrap(),
            Err(e) => panic!("{e}"),
        }
    }

    /// Runs a hand-written topology (the `kafka-sandbox streams` format) on the same input.
    fn run_hand(topology: serde_json::Value, input: &serde_json::Value) -> Vec<serde_json::Value> {
        let doc = json!({"topology": topology, "input": input});
        let r = super::super::driver::run_json(&doc.to_string()).unwrap();
        r.output.iter().map(|o| json!([o.key, o.window_start, o.window_end, o.value, o.ts])).collect()
    }

    fn query_rows(out: &serde_json::Value, q: usize) -> Vec<serde_json::Value> {
        out["queries"][q]["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| json!([o["key"], o["window_start"], o["window_end"], o["value"], o["ts"]]))
            .collect()
    }

    fn err(sql: &str) -> KsqlError {
        match parse_script(sql) {
            Ok(_) => panic!("expected an error for {sql}"),
            Err(e) => e,
        }
    }

    fn ride(payment: serde_json::Value, distance: f64, ts: i64) -> serde_json::Value {
        json!({"topic": "rides", "key": null, "value": {"VendorID": 1, "trip_distance": distance, "payment_type": payment}, "ts": ts})
    }

    #[test]
    fn identifiers_are_upper_cased_unless_quoted_and_sources_keep_their_declaration() {
        let s = parse_script(
            "create stream Pageviews (viewtime bigint, `userId` varchar, page_id VARCHAR KEY)
               with (kafka_topic='pageviews', value_format='json', partitions=3, timestamp='viewtime');",
        )
        .unwrap();
        let src = s.source("PAGEVIEWS").unwrap();
        let names: Vec<&str> = src.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["VIEWTIME", "userId", "PAGE_ID"]);
        assert_eq!(src.key_column().unwrap().name, "PAGE_ID");
        assert_eq!(
            (src.topic.as_str(), src.partitions, src.timestamp.as_deref()),
            ("pageviews", Some(3), Some("VIEWTIME"))
        );
        assert_eq!((src.key_format.as_str(), src.value_format.as_str()), ("KAFKA", "JSON"));
    }

    #[test]
    fn persistent_queries_get_ksqldb_ids_application_ids_and_sink_topics() {
        let s = parse_script(&format!(
            "{RIDES}
             SET 'auto.offset.reset'='earliest';
             SELECT * FROM ride_streams EMIT CHANGES;
             CREATE STREAM long_rides AS SELECT * FROM ride_streams WHERE trip_distance > 10 EMIT CHANGES;
             CREATE TABLE counts WITH (KAFKA_TOPIC='payment-counts', PARTITIONS=2) AS
               SELECT payment_type, COUNT(*) AS n FROM ride_streams GROUP BY payment_type EMIT CHANGES;"
        ))
        .unwrap();
        let ids: Vec<&str> = s.queries.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["CSAS_LONG_RIDES_2", "CTAS_COUNTS_4"]);
        assert_eq!(s.queries[0].topology.application_id, "_confluent-ksql-default_query_CSAS_LONG_RIDES_2");
        assert_eq!(s.queries[0].sink_topic, "LONG_RIDES");
        assert_eq!(s.queries[1].sink_topic, "payment-counts");
        assert_eq!(s.source("COUNTS").unwrap().partitions, Some(2));
        assert_eq!(s.source("COUNTS").unwrap().kind, SourceKind::Table);
        assert_eq!(s.push_queries.len(), 1);
        // GROUP BY on a value column repartitions; the aggregate has a changelogged store.
        let topo = s.queries[1].topology.compile_for_test_driver().unwrap();
        let app = "_confluent-ksql-default_query_CTAS_COUNTS_4";
        assert!(topo.internal_topics.contains_key(&format!("{app}-Aggregate-GroupBy-repartition")));
        assert!(topo.internal_topics.contains_key(&format!("{app}-Aggregate-Aggregate-Materialize-changelog")));
    }

    #[test]
    fn errors_name_the_line_and_column_and_what_is_supported() {
        let cases: &[(&str, usize, usize, &str)] = &[
            ("DROP STREAM x;", 1, 1, "unsupported statement"),
            ("CREATE STREAM s (a INT)\n  WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON')", 1, 1, "does not end with ';'"),
            ("CREATE STREAM s (a INT,\n  b ARRAY<INT>) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');", 2, 5, "type ARRAY is not supported"),
            ("CREATE STREAM s (a INT) WITH (VALUE_FORMAT='JSON');", 1, 1, "\"KAFKA_TOPIC\""),
            ("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='t');", 1, 1, "'VALUE_FORMAT'"),
            ("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='AVRO');", 1, 61, "supported: JSON"),
            ("CREATE TABLE t (a INT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');", 1, 1, "Tables require a PRIMARY KEY"),
            ("CREATE STREAM s (a INT PRIMARY KEY, b INT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');", 1, 18, "use 'KEY' for streams"),
            ("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');\nSELECT b FROM s EMIT CHANGES;", 2, 8, "Column 'B' cannot be resolved."),
            ("CREATE STREAM s (a VARCHAR) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');\nSELECT a FROM s WHERE a = 1 EMIT CHANGES;", 2, 25, "Cannot compare A (STRING) to 1 (a number) with EQUAL."),
            ("SELECT * FROM nowhere EMIT CHANGES;", 1, 15, "NOWHERE does not exist"),
            ("SELECT 'abc FROM s;", 1, 8, "unterminated"),
            ("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');\nCREATE TABLE c AS SELECT a, COUNT(*) FROM s WINDOW SLIDING (SIZE 1 SECOND) GROUP BY a EMIT CHANGES;", 2, 52, "expected TUMBLING, HOPPING or SESSION"),
            ("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');\nCREATE TABLE c AS SELECT COUNT(*) FROM s GROUP BY a EMIT CHANGES;", 2, 1, "Key missing from projection"),
            ("CREATE STREAM s (a INT, b INT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');\nCREATE TABLE c AS SELECT a, b, COUNT(*) FROM s GROUP BY a EMIT CHANGES;", 2, 29, "not part of GROUP BY: B"),
            ("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');\nCREATE STREAM u (a INT) WITH (KAFKA_TOPIC='u', VALUE_FORMAT='JSON');\nCREATE STREAM j AS SELECT s.a, u.a AS ua FROM s JOIN u ON s.a = u.a EMIT CHANGES;", 3, 49, "must have a WITHIN clause"),
            ("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');\nSELECT a FROM s EMIT CHANGES LIMIT x;", 2, 36, "the LIMIT"),
            ("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');\nSELECT UNKNOWN_FN(a) FROM s EMIT CHANGES;", 2, 8, "function UNKNOWN_FN is not supported"),
            ("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');\nCREATE STREAM s AS SELECT * FROM s EMIT CHANGES;", 2, 1, "already exists"),
        ];
        let keyed = "CREATE STREAM s (k VARCHAR KEY, a INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');\n";
        let more = [
            (
                format!("{keyed}CREATE STREAM x AS SELECT a FROM s EMIT CHANGES;"),
                2,
                1,
                "must include the key column K in its projection",
            ),
            (
                format!("{keyed}CREATE STREAM x AS SELECT k FROM s PARTITION BY a EMIT CHANGES;"),
                2,
                1,
                "must include the partitioning expression A",
            ),
        ];
        let cases: Vec<(&str, usize, usize, &str)> =
            cases.iter().copied().chain(more.iter().map(|(s, l, c, n)| (s.as_str(), *l, *c, *n))).collect();
        let mut wrong = Vec::new();
        for (sql, line, column, needle) in &cases {
            let e = err(sql);
            if !e.message.contains(needle) || (e.line, e.column) != (*line, *column) {
                wrong.push(format!("{sql}\n  -> {e}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn limits_on_length_statements_and_depth_are_errors_not_panics() {
        let many = "SET 'auto.offset.reset'='earliest';\n".repeat(MAX_STATEMENTS + 1);
        assert!(err(&many).message.contains("more than 64 statements"));
        let long = format!("SELECT {} FROM s EMIT CHANGES;", "a + ".repeat(MAX_STATEMENT_LEN / 4) + "a");
        assert!(err(&long).message.contains("statement longer than"));
        assert!(err(&" ".repeat(MAX_SCRIPT_LEN + 1)).message.contains("script longer than"));
        let deep = format!("SELECT {}a{} FROM s EMIT CHANGES;", "(".repeat(200), ")".repeat(200));
        assert!(err(&deep).message.contains("nested deeper"));
        let nots = format!("SELECT {}a FROM s EMIT CHANGES;", "NOT ".repeat(200));
        assert!(err(&nots).message.contains("nested deeper"));
    }

    #[test]
    fn a_filter_and_projection_matches_the_hand_written_topology() {
        let sql = format!(
            "{RIDES}
             CREATE STREAM long_rides AS SELECT payment_type, trip_distance * 2 AS double_distance
               FROM ride_streams WHERE trip_distance > 1 AND payment_type <> '3' EMIT CHANGES;"
        );
        let input = json!([
            ride(json!("1"), 1.5, 0),
            ride(json!("3"), 5.0, 1),
            ride(json!("2"), 0.5, 2),
            ride(json!(null), 7.0, 3),
            ride(json!("2"), 4.0, 4)
        ]);
        let out = run(&sql, input.clone());
        let hand = run_hand(
            json!({"application_id": "hand", "steps": [
                {"op": "stream", "name": "s", "topics": ["rides"]},
                {"op": "filter", "name": "f", "input": "s", "predicate": "trip_distance > 1 && !is_null(payment_type) && payment_type != \"3\""},
                {"op": "map_values", "name": "p", "input": "f", "value": "{PAYMENT_TYPE: payment_type, DOUBLE_DISTANCE: trip_distance * 2}"},
                {"op": "to", "input": "p", "topic": "LONG_RIDES"}]}),
            &input,
        );
        assert_eq!(query_rows(&out, 0), hand);
        // The null payment type is compared as SQL does: the row is filtered out.
        assert_eq!(hand.len(), 2);
    }

    #[test]
    fn group_by_a_value_column_in_tumbling_windows_matches_the_hand_written_topology() {
        let sql = format!(
            "{RIDES}
             CREATE TABLE per_minute AS SELECT payment_type, COUNT(*) AS rides, SUM(trip_distance) AS km,
               MAX(trip_distance) AS longest, WINDOWSTART AS ws
               FROM ride_streams WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 10 SECONDS)
               GROUP BY payment_type EMIT CHANGES;"
        );
        let input = json!([
            ride(json!("1"), 1.0, 1000),
            ride(json!("2"), 2.0, 2000),
            ride(json!("1"), 3.0, 59_000),
            ride(json!("1"), 4.0, 61_000),
            ride(json!("1"), 5.0, 30_000),
            ride(json!("1"), 6.0, 75_000),
            ride(json!("1"), 9.0, 40_000)
        ]);
        let out = run(&sql, input.clone());
        let hand = run_hand(
            json!({"application_id": "hand", "steps": [
                {"op": "stream", "name": "s", "topics": ["rides"]},
                {"op": "group_by", "name": "g", "input": "s", "key": "payment_type"},
                {"op": "windowed_by", "name": "w", "input": "g", "window": {"type": "tumbling", "size_ms": 60000, "grace_ms": 10000}},
                {"op": "aggregate", "name": "a", "input": "w", "initializer": {"n": 0, "km": 0.0, "max": null},
                 "aggregator": "{n: agg.n + 1, km: agg.km + trip_distance, max: max(agg.max, trip_distance)}"},
                {"op": "to_stream", "name": "t", "input": "a"},
                {"op": "map_values", "name": "p", "input": "t", "value": "{RIDES: value.n, KM: value.km, LONGEST: value.max}"},
                {"op": "to", "input": "p", "topic": "PER_MINUTE"}]}),
            &input,
        );
        let mut ksql = query_rows(&out, 0);
        // WINDOWSTART is a value column of the ksqlDB table; the hand topology has it in the key only.
        for r in &mut ksql {
            let start = r[1].clone();
            assert_eq!(r[3]["WS"], start);
            r[3].as_object_mut().unwrap().remove("WS");
        }
        assert_eq!(ksql, hand);
        // The record at 40 s arrives after stream time passed 70 s (window end 60 s + 10 s grace).
        assert_eq!(out["queries"][0]["dropped"], 1);
        assert_eq!(hand.len(), 6);
    }

    #[test]
    fn a_stream_table_join_matches_the_hand_written_topology() {
        let sql = "CREATE STREAM pageviews (page_id VARCHAR, user_id VARCHAR KEY) WITH (KAFKA_TOPIC='pageviews', VALUE_FORMAT='JSON');
            CREATE TABLE users (id VARCHAR PRIMARY KEY, region VARCHAR) WITH (KAFKA_TOPIC='users', VALUE_FORMAT='JSON');
            CREATE STREAM enriched AS SELECT p.user_id, p.page_id, u.region
              FROM pageviews p LEFT JOIN users u ON p.user_id = u.id EMIT CHANGES;";
        let input = json!([
            {"topic": "users", "key": "u1", "value": {"region": "EU"}, "ts": 0},
            {"topic": "pageviews", "key": "u1", "value": {"page_id": "home"}, "ts": 1},
            {"topic": "pageviews", "key": "u2", "value": {"page_id": "about"}, "ts": 2},
            {"topic": "users", "key": "u1", "value": {"region": "US"}, "ts": 3},
            {"topic": "pageviews", "key": "u1", "value": {"page_id": "cart"}, "ts": 4}]);
        let out = run(sql, input.clone());
        let hand = run_hand(
            json!({"application_id": "hand", "steps": [
                {"op": "stream", "name": "pv", "topics": ["pageviews"]},
                {"op": "table", "name": "users", "topic": "users"},
                {"op": "join", "name": "j", "left": "pv", "right": "users", "kind": "left",
                 "joiner": "{PAGE_ID: left.page_id, REGION: right.region}"},
                {"op": "to", "input": "j", "topic": "ENRICHED"}]}),
            &input,
        );
        assert_eq!(query_rows(&out, 0), hand);
        assert_eq!(hand[1][3], json!({"PAGE_ID": "about", "REGION": null}));
        assert_eq!(hand[2][3], json!({"PAGE_ID": "cart", "REGION": "US"}));
    }

    #[test]
    fn a_join_on_a_value_column_repartitions_the_stream_and_keys_by_the_join_column() {
        let sql = "CREATE STREAM orders (id INT KEY, customer VARCHAR, amount DOUBLE) WITH (KAFKA_TOPIC='orders', VALUE_FORMAT='JSON');
            CREATE TABLE customers (name VARCHAR PRIMARY KEY, tier VARCHAR) WITH (KAFKA_TOPIC='customers', VALUE_FORMAT='JSON');
            CREATE STREAM big AS SELECT c.name, o.id, o.amount, c.tier FROM orders o JOIN customers c ON o.customer = c.name
              WHERE o.amount >= 10 EMIT CHANGES;";
        let s = parse_script(sql).unwrap();
        let topo = s.queries[0].topology.compile_for_test_driver().unwrap();
        assert!(
            topo.internal_topics.keys().any(|t| t.ends_with("-Join-left-repartition")),
            "{:?}",
            topo.internal_topics
        );
        let out = run(
            sql,
            json!([
            {"topic": "customers", "key": "ann", "value": {"tier": "gold"}, "ts": 0},
            {"topic": "orders", "key": 7, "value": {"customer": "ann", "amount": 12.5}, "ts": 1},
            {"topic": "orders", "key": 8, "value": {"customer": "ann", "amount": 2}, "ts": 2},
            {"topic": "orders", "key": 9, "value": {"customer": "bob", "amount": 20}, "ts": 3}]),
        );
        assert_eq!(query_rows(&out, 0), vec![json!(["ann", null, null, {"ID": 7, "AMOUNT": 12.5, "TIER": "gold"}, 1])]);
    }

    #[test]
    fn partition_by_rekeys_the_stream_so_a_later_group_by_needs_no_repartition() {
        let sql = "CREATE STREAM s (k VARCHAR KEY, a INT, b VARCHAR) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');
            CREATE STREAM by_a AS SELECT a, k, b FROM s PARTITION BY a EMIT CHANGES;
            CREATE TABLE counts AS SELECT a, COUNT(*) AS n FROM by_a GROUP BY a EMIT CHANGES;";
        let s = parse_script(sql).unwrap();
        assert_eq!(s.source("BY_A").unwrap().key_column().unwrap().name, "A");
        let topo = s.queries[1].topology.compile_for_test_driver().unwrap();
        assert!(!topo.internal_topics.keys().any(|t| t.ends_with("-repartition")), "{:?}", topo.internal_topics);
        let out = run(
            sql,
            json!([
            {"topic": "s", "key": "x", "value": {"a": 1, "b": "p"}, "ts": 1},
            {"topic": "s", "key": "y", "value": {"a": 1, "b": "q"}, "ts": 2}]),
        );
        assert_eq!(
            query_rows(&out, 0),
            vec![json!([1, null, null, {"K": "x", "B": "p"}, 1]), json!([1, null, null, {"K": "y", "B": "q"}, 2])]
        );
        assert_eq!(query_rows(&out, 1).last().unwrap(), &json!([1, null, null, {"N": 2}, 2]));
    }

    #[test]
    fn hopping_windows_count_a_record_in_every_window_and_emit_final_waits_for_the_close() {
        let decl = "CREATE STREAM s (k VARCHAR KEY, v INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');";
        let input = json!([
            {"topic": "s", "key": "a", "value": {"v": 1}, "ts": 12_000},
            {"topic": "s", "key": "a", "value": {"v": 1}, "ts": 31_000}]);
        let out = run(
            &format!(
                "{decl} CREATE TABLE h AS SELECT k, COUNT(*) AS n, WINDOWEND AS we FROM s
                WINDOW HOPPING (SIZE 20 SECONDS, ADVANCE BY 10 SECONDS) GROUP BY k EMIT CHANGES;"
            ),
            input.clone(),
        );
        let rows: Vec<(i64, i64, i64)> = out["queries"][0]["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["window_start"].as_i64().unwrap(),
                    r["value"]["N"].as_i64().unwrap(),
                    r["value"]["WE"].as_i64().unwrap(),
                )
            })
            .collect();
        // 12 s falls in [0, 20) and [10, 30); 31 s in [20, 40) and [30, 50).
        assert_eq!(rows, vec![(0, 1, 20_000), (10_000, 1, 30_000), (20_000, 1, 40_000), (30_000, 1, 50_000)]);
        let out = run(
            &format!(
                "{decl} CREATE TABLE f AS SELECT k, COUNT(*) AS n FROM s
                WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 0 SECONDS) GROUP BY k EMIT FINAL;"
            ),
            input,
        );
        // Only [10 s, 20 s) has closed by stream time 31 s; [30 s, 40 s) is still open.
        assert_eq!(query_rows(&out, 0), vec![json!(["a", 10_000, 20_000, {"N": 1}, 12_000])]);
    }

    #[test]
    fn a_stream_stream_join_within_a_window() {
        let sql = "CREATE STREAM impressions (ad VARCHAR KEY, site VARCHAR) WITH (KAFKA_TOPIC='impressions', VALUE_FORMAT='JSON');
            CREATE STREAM clicks (ad VARCHAR KEY, cost DOUBLE) WITH (KAFKA_TOPIC='clicks', VALUE_FORMAT='JSON');
            CREATE STREAM clicked AS SELECT i.ad, i.site, c.cost FROM impressions i JOIN clicks c WITHIN 10 SECONDS
              ON i.ad = c.ad EMIT CHANGES;";
        let out = run(
            sql,
            json!([
            {"topic": "impressions", "key": "a1", "value": {"site": "x"}, "ts": 0},
            {"topic": "clicks", "key": "a1", "value": {"cost": 0.5}, "ts": 5000},
            {"topic": "clicks", "key": "a1", "value": {"cost": 0.7}, "ts": 20000}]),
        );
        assert_eq!(query_rows(&out, 0), vec![json!(["a1", null, null, {"SITE": "x", "COST": 0.5}, 5000])]);
    }

    #[test]
    fn session_windows_by_payment_type_on_taxi_rides_match_the_hand_written_topology() {
        use super::super::taxi::{generate_rides, TaxiConfig};
        let rides: Vec<serde_json::Value> = generate_rides(7, 400, TaxiConfig::default())
            .iter()
            .map(|r| json!({"topic": "rides", "key": null, "value": serde_json::to_value(r).unwrap(), "ts": r.pickup_ms()}))
            .collect();
        let input = serde_json::Value::Array(rides);
        let sql = format!(
            "{RIDES}
             CREATE TABLE payment_type_sessions AS
               SELECT payment_type, count(*)
               FROM RIDE_STREAMS
               WINDOW SESSION (60 SECONDS)
               GROUP BY payment_type
               EMIT CHANGES;"
        );
        let out = run(&sql, input.clone());
        let hand = run_hand(
            json!({"application_id": "hand", "steps": [
                {"op": "stream", "name": "s", "topics": ["rides"]},
                {"op": "group_by", "name": "g", "input": "s", "key": "str(payment_type)"},
                {"op": "windowed_by", "name": "w", "input": "g", "window": {"type": "session", "gap_ms": 60000, "grace_ms": 86400000}},
                {"op": "count", "name": "c", "input": "w"},
                {"op": "to_stream", "name": "t", "input": "c"},
                {"op": "map_values", "name": "p", "input": "t", "value": "if(is_null(value), null, {KSQL_COL_0: value})"},
                {"op": "to", "input": "p", "topic": "PAYMENT_TYPE_SESSIONS"}]}),
            &input,
        );
        let ksql = query_rows(&out, 0);
        assert_eq!(ksql, hand);
        // Sessions merged: some updates retract an earlier session with a tombstone.
        assert!(ksql.iter().any(|r| r[3].is_null()));
        assert!(ksql.iter().any(|r| r[0] == "1") && ksql.iter().any(|r| r[0] == "2"));
        assert_eq!(out["queries"][0]["id"], "CTAS_PAYMENT_TYPE_SESSIONS_2");
    }

    #[test]
    fn having_turns_rows_that_stop_matching_into_tombstones() {
        let sql = "CREATE STREAM s (k VARCHAR KEY, v INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');
            CREATE TABLE t AS SELECT k, SUM(v) AS total, AVG(v) AS mean, MIN(v) AS low FROM s GROUP BY k HAVING SUM(v) < 10 EMIT CHANGES;";
        let out = run(
            sql,
            json!([
            {"topic": "s", "key": "a", "value": {"v": 4}, "ts": 1},
            {"topic": "s", "key": "a", "value": {"v": null}, "ts": 2},
            {"topic": "s", "key": "a", "value": {"v": 8}, "ts": 3}]),
        );
        assert_eq!(
            query_rows(&out, 0),
            vec![
                json!(["a", null, null, {"TOTAL": 4, "MEAN": 4.0, "LOW": 4}, 1]),
                json!(["a", null, null, {"TOTAL": 4, "MEAN": 4.0, "LOW": 4}, 2]),
                json!(["a", null, null, null, 3]),
            ]
        );
    }

    #[test]
    fn push_queries_filter_project_and_stop_at_the_limit() {
        let sql = format!(
            "{RIDES}
             SELECT payment_type, UCASE(vendorid) AS v, CASE WHEN trip_distance > 2 THEN 'long' ELSE 'short' END AS kind
               FROM ride_streams WHERE payment_type IN ('1', '2') EMIT CHANGES LIMIT 2;
             SELECT PAYMENT_TYPE, COUNT(*) FROM RIDE_STREAMS WHERE PAYMENT_TYPE IN ('1', '2') GROUP BY PAYMENT_TYPE EMIT CHANGES;"
        );
        let out = run(
            &sql,
            json!([ride(json!(1), 3.0, 0), ride(json!(4), 1.0, 1), ride(json!("2"), 1.0, 2), ride(json!(1), 1.0, 3)]),
        );
        let p = &out["push_queries"][0];
        assert_eq!(p["columns"], json!(["PAYMENT_TYPE", "V", "KIND"]));
        assert_eq!(p["rows"], json!([{"row": ["1", "1", "long"], "ts": 0}, {"row": ["2", "1", "short"], "ts": 2}]));
        let p = &out["push_queries"][1];
        assert_eq!(p["columns"], json!(["PAYMENT_TYPE", "KSQL_COL_0"]));
        assert_eq!(
            p["rows"],
            json!([{"row": ["1", 1], "ts": 0}, {"row": ["2", 1], "ts": 2}, {"row": ["1", 2], "ts": 3}])
        );
    }

    #[test]
    fn json_fields_match_exactly_then_case_insensitively_and_bad_records_are_skipped() {
        let sql = "CREATE STREAM s (amount INT, `Note` VARCHAR) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');
            SELECT amount, `Note` FROM s EMIT CHANGES;";
        let out = run(
            sql,
            json!([
            {"topic": "s", "key": null, "value": {"Amount": 3, "Note": "x", "note": "y"}, "ts": 1},
            {"topic": "s", "key": null, "value": {"amount": "not a number"}, "ts": 2},
            {"topic": "s", "key": null, "value": "not an object", "ts": 3},
            {"topic": "s", "key": null, "value": {"amount": "12"}, "ts": 4}]),
        );
        assert_eq!(out["push_queries"][0]["rows"], json!([{"row": [3, "x"], "ts": 1}, {"row": [12, null], "ts": 4}]));
        assert_eq!(out["deserialization_errors"], 2);
    }

    #[test]
    fn a_query_reads_another_querys_output() {
        let sql = format!(
            "{RIDES}
             CREATE STREAM card AS SELECT * FROM ride_streams WHERE payment_type = '1' EMIT CHANGES;
             CREATE TABLE card_counts AS SELECT vendorid, COUNT(*) FROM card GROUP BY vendorid EMIT CHANGES;
             SELECT * FROM card_counts EMIT CHANGES;"
        );
        let out = run(&sql, json!([ride(json!(1), 1.0, 0), ride(json!(2), 1.0, 1), ride(json!(1), 1.0, 2)]));
        assert_eq!(
            query_rows(&out, 1),
            vec![json!(["1", null, null, {"KSQL_COL_0": 1}, 0]), json!(["1", null, null, {"KSQL_COL_0": 2}, 2])]
        );
        assert_eq!(out["push_queries"][0]["columns"], json!(["VENDORID", "KSQL_COL_0"]));
        assert_eq!(out["push_queries"][0]["rows"], json!([{"row": ["1", 1], "ts": 0}, {"row": ["1", 2], "ts": 2}]));
    }

    #[test]
    fn run_json_reports_locations() {
        let e = run_json(r#"{"statements": "SELECT * FROM x EMIT CHANGES;", "input": []}"#).unwrap_err();
        assert_eq!(e.location, "statements");
        assert!(e.message.starts_with("line 1:15:"), "{e}");
        let e = run_json(
            &json!({"statements": RIDES, "input": [{"topic": "other", "key": null, "value": {}, "ts": 0}]}).to_string(),
        )
        .unwrap_err();
        assert_eq!(e.location, "input[0].topic");
        let e =
            run_json(&json!({"statements": RIDES, "input": [{"topic": "rides", "value": {}, "ts": -1}]}).to_string())
                .unwrap_err();
        assert_eq!(e.location, "input[0].ts");
        assert!(run_json("{").unwrap_err().location.starts_with("line 1"));
    }

    #[test]
    fn application_ids_and_the_command_topic_follow_the_service_id() {
        assert_eq!(query_application_id(DEFAULT_SERVICE_ID, "CSAS_X_0"), "_confluent-ksql-default_query_CSAS_X_0");
        assert_eq!(query_application_id("s1", "q1"), "_confluent-ksql-s1query_q1");
        assert_eq!(command_topic(DEFAULT_SERVICE_ID), "_confluent-ksql-default__command_topic");
    }

    #[test]
    fn an_error_position_maps_to_its_statement_number() {
        let text = "SET 'auto.offset.reset'='earliest';\n;\nCREATE STREAM a (x INT)\n  WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON');\nSELECT nope FROM a EMIT CHANGES;";
        let e = parse_script(text).unwrap_err();
        assert_eq!((e.line, statement_at(text, e.line, e.column)), (5, 3), "{e}");
        assert_eq!(statement_at(text, 1, 1), 1);
        assert_eq!(statement_at(text, 4, 3), 2, "inside the second statement (the empty one is not counted)");
        // An error in the lexer (an unterminated string) still gets a number.
        assert_eq!(statement_at("SELECT 1;\nSELECT 'oops", 2, 8), 2);
    }

    #[test]
    fn set_statements_apply_to_the_queries_after_them() {
        let text = format!(
            "{RIDES}\nSET 'auto.offset.reset'='latest';\nCREATE STREAM b AS SELECT * FROM ride_streams EMIT CHANGES;"
        );
        let script = parse_script(&text).unwrap();
        assert_eq!(offset_reset_at(&script, 1), None);
        assert_eq!(offset_reset_at(&script, 3), Some("latest"));
    }

    #[test]
    fn the_cluster_serde_deserializes_sources_retypes_repartitioned_keys_and_fills_window_columns() {
        let text = format!(
            "{RIDES}\nCREATE TABLE t AS SELECT trip_distance, WINDOWSTART AS ws, COUNT(*) AS n FROM ride_streams WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY trip_distance EMIT CHANGES;"
        );
        let script = parse_script(&text).unwrap();
        let serde = QuerySerde::of(&script, &script.queries[0]);
        // A source record: matched to the declared columns case-insensitively and typed.
        let value = Value::from_json(&json!({"VendorID": 1, "TRIP_DISTANCE": 2, "payment_type": 1, "extra": true}));
        let (_, row) = serde.decode("rides", Value::str("k"), value).unwrap();
        assert_eq!(row.field("TRIP_DISTANCE"), &Value::float(2.0));
        assert_eq!(row.field("PAYMENT_TYPE"), &Value::str("1"));
        assert_eq!(row.field("extra"), &Value::Null, "undeclared fields are not in the row");
        // A value that is not an object fails to deserialize and is skipped.
        assert_eq!(serde.decode("rides", Value::Null, Value::str("junk")), None);
        // A repartition topic's key comes back as text and gets the GROUP BY column's type.
        let (key, _) = serde.decode("t-repartition", Value::str("2.5"), Value::Null).unwrap();
        assert_eq!(key, Value::float(2.5));
        // The sink's value gets the selected window bound; other topics are left alone.
        let w = Some(crate::streams::window::Window { start: 10_000, end: 20_000 });
        let mut v = Value::from_json(&json!({"N": 1}));
        assert!(serde.finishes(&script.queries[0].sink_topic));
        serde.finish(&script.queries[0].sink_topic, w, &mut v);
        assert_eq!(v.field("WS"), &Value::Int(10_000));
        let mut other = Value::from_json(&json!({"N": 1}));
        serde.finish("elsewhere", w, &mut other);
        assert_eq!(other.field("WS"), &Value::Null);
    }

    #[test]
    fn push_rows_split_by_the_live_reader_match_run_script() {
        let text = format!("{RIDES}\nCREATE TABLE t AS SELECT payment_type, COUNT(*) FROM ride_streams WINDOW SESSION (60 SECONDS) GROUP BY payment_type EMIT CHANGES;\nSELECT * FROM t EMIT CHANGES LIMIT 4;\nSELECT payment_type, COUNT(*) FROM ride_streams GROUP BY payment_type EMIT CHANGES;");
        let script = parse_script(&text).unwrap();
        let ride = |p: i64, ts: i64| KsqlRecord {
            topic: "rides".into(),
            key: Value::Null,
            value: Value::from_json(&json!({"VendorID": 1, "trip_distance": 1.0, "payment_type": p})),
            ts,
        };
        let input = [ride(1, 0), ride(1, 30_000), ride(2, 40_000), ride(1, 200_000)];
        let offline = run_script(&script, &input).unwrap();
        // The table's topic as the cluster holds it: key and window split from the record.
        let sink: Vec<LiveRecord> = offline.queries[0]
            .output
            .iter()
            .map(|r| LiveRecord {
                key: r.key.clone(),
                window: r
                    .window_start
                    .zip(r.window_end)
                    .map(|(start, end)| crate::streams::window::Window { start, end }),
                value: r.value.clone(),
                ts: r.ts,
            })
            .collect();
        let live = push_rows(&script, 0, &sink).unwrap();
        assert_eq!(live.rows, offline.push_queries[0].rows);
        assert_eq!(live.rows.len(), 4, "LIMIT 4");
        let rides: Vec<LiveRecord> = input
            .iter()
            .map(|r| LiveRecord { key: r.key.clone(), window: None, value: r.value.clone(), ts: r.ts })
            .collect();
        let live = push_rows(&script, 1, &rides).unwrap();
        assert_eq!(live.rows, offline.push_queries[1].rows, "an aggregating push query runs its own topology");
        assert!(push_rows(&script, 9, &rides).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Mutated statements never panic: they translate, or fail at a line:column that lies
        /// inside the script (or just past its end).
        #[test]
        fn any_edit_of_a_script_translates_or_fails_at_a_location_inside_it(
            cut in 0usize..400, insert in "[ -~\n]{0,12}", keep in 0usize..400,
        ) {
            let base = format!("{RIDES}\nCREATE TABLE t AS SELECT payment_type, COUNT(*), MAX(trip_distance) FROM ride_streams WINDOW SESSION (60 SECONDS) WHERE trip_distance > 1 GROUP BY payment_type HAVING COUNT(*) > 1 EMIT CHANGES;\nSELECT * FROM t EMIT CHANGES LIMIT 3;");
            let chars: Vec<char> = base.chars().collect();
            let cut = cut.min(chars.len());
            let keep = (cut + keep).min(chars.len());
            let text: String = chars[..cut].iter().copied().chain(insert.chars()).chain(chars[keep..].iter().copied()).collect();
            match parse_script(&text) {
                Ok(script) => {
                    let run = run_script(&script, &[]);
                    proptest::prop_assert!(run.is_ok(), "{:?}", run.err());
                }
                Err(e) => {
                    let lines: Vec<&str> = text.split('\n').collect();
                    proptest::prop_assert!(e.line >= 1 && e.line <= lines.len(), "{e}");
                    proptest::prop_assert!(e.column >= 1 && e.column <= lines[e.line - 1].chars().count() + 1, "{e}");
                }
            }
        }
    }
}
