//! A small expression language for predicates, mappers, joiners and aggregators written in
//! scenario files, e.g. `total_amount >= 40`, `str(PULocationID)`, `agg + 1`,
//! `str(left) + "+" + str(right)`.
//!
//! Grammar (lowest precedence first):
//! ```text
//! or      := and (("or" | "||") and)*
//! and     := not (("and" | "&&") not)*
//! not     := ("not" | "!") not | cmp
//! cmp     := add (("==" | "!=" | "<" | "<=" | ">" | ">=") add)?
//! add     := mul (("+" | "-") mul)*
//! mul     := unary (("*" | "/" | "%") unary)*
//! unary   := "-" unary | postfix
//! postfix := primary ("." name | "[" or "]")*
//! primary := number | "string" | 'string' | true | false | null | name | `quoted name`
//!          | name "(" args ")" | "(" or ")" | "[" items "]" | "{" name ":" or, ... "}"
//! ```
//! A bare name is a variable of the context (`key`, `value`, `timestamp`, `left`, `right`,
//! `agg`, `agg1`, `agg2`) or, where the context has a record value, a field of that value:
//! `total_amount` means `value.total_amount`.
//!
//! Evaluation is total, like SQL: a missing field is `null`; arithmetic on non-numbers is
//! `null`; comparing different kinds is false; `+` with a string operand concatenates (Java
//! style, `null` spelled `null`). So a scenario's expression can never crash a task.
use super::value::{format_datetime, parse_datetime, Value};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// Longest expression source accepted, in bytes.
pub const MAX_EXPR_LEN: usize = 4096;
/// Deepest nesting of sub-expressions accepted.
pub const MAX_EXPR_DEPTH: usize = 64;
/// Longest string an expression may build (concatenation, `str`), in bytes.
pub const MAX_STRING_LEN: usize = 1 << 20;

/// Where an expression is used, which decides the variables it may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExprContext {
    /// filter, map, mapValues, flatMap, selectKey, groupBy, branch predicates, global-table
    /// key mappers: `key`, `value`, `timestamp`; bare names are fields of `value`.
    Record,
    /// joiners: `key`, `left`, `right`.
    Join,
    /// aggregators and reducers: `key`, `value`, `agg`, `timestamp`; bare names are fields
    /// of `value`.
    Aggregate,
    /// session mergers: `key`, `agg1`, `agg2`.
    Merge,
}

impl ExprContext {
    fn vars(self) -> &'static [(&'static str, Var)] {
        match self {
            ExprContext::Record => &[("key", Var::Key), ("value", Var::Value), ("timestamp", Var::Timestamp)],
            ExprContext::Join => &[("key", Var::Key), ("left", Var::Left), ("right", Var::Right)],
            ExprContext::Aggregate => {
                &[("key", Var::Key), ("value", Var::Value), ("agg", Var::Agg), ("timestamp", Var::Timestamp)]
            }
            ExprContext::Merge => &[("key", Var::Key), ("agg1", Var::Agg1), ("agg2", Var::Agg2)],
        }
    }

    fn default_object(self) -> Option<Var> {
        match self {
            ExprContext::Record | ExprContext::Aggregate => Some(Var::Value),
            ExprContext::Join | ExprContext::Merge => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Var {
    Key,
    Value,
    Timestamp,
    Left,
    Right,
    Agg,
    Agg1,
    Agg2,
}

/// The variables an expression is evaluated against. Unset variables are `null`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Env<'a> {
    pub key: Option<&'a Value>,
    pub value: Option<&'a Value>,
    pub timestamp: i64,
    pub left: Option<&'a Value>,
    pub right: Option<&'a Value>,
    pub agg: Option<&'a Value>,
    pub agg1: Option<&'a Value>,
    pub agg2: Option<&'a Value>,
}

impl<'a> Env<'a> {
    pub fn record(key: &'a Value, value: &'a Value, timestamp: i64) -> Env<'a> {
        Env { key: Some(key), value: Some(value), timestamp, ..Env::default() }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Func {
    Str,
    Int,
    Float,
    Lower,
    Upper,
    Len,
    Concat,
    If,
    Coalesce,
    Abs,
    Floor,
    Ceil,
    Round,
    Substr,
    Contains,
    StartsWith,
    EndsWith,
    IsNull,
    ParseDatetime,
    FormatDatetime,
    Min,
    Max,
}

const FUNCS: &[(&str, Func, usize, usize)] = &[
    // name, function, min args, max args
    ("str", Func::Str, 1, 1),
    ("int", Func::Int, 1, 1),
    ("float", Func::Float, 1, 1),
    ("lower", Func::Lower, 1, 1),
    ("upper", Func::Upper, 1, 1),
    ("len", Func::Len, 1, 1),
    ("concat", Func::Concat, 1, 32),
    ("if", Func::If, 3, 3),
    ("coalesce", Func::Coalesce, 1, 32),
    ("abs", Func::Abs, 1, 1),
    ("floor", Func::Floor, 1, 1),
    ("ceil", Func::Ceil, 1, 1),
    ("round", Func::Round, 1, 2),
    ("substr", Func::Substr, 2, 3),
    ("contains", Func::Contains, 2, 2),
    ("starts_with", Func::StartsWith, 2, 2),
    ("ends_with", Func::EndsWith, 2, 2),
    ("is_null", Func::IsNull, 1, 1),
    ("parse_datetime", Func::ParseDatetime, 1, 1),
    ("format_datetime", Func::FormatDatetime, 1, 1),
    ("min", Func::Min, 2, 32),
    ("max", Func::Max, 2, 32),
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Ast {
    Lit(Value),
    Var(Var),
    Field(Box<Ast>, String),
    Index(Box<Ast>, Box<Ast>),
    Neg(Box<Ast>),
    Not(Box<Ast>),
    Bin(BinOp, Box<Ast>, Box<Ast>),
    And(Box<Ast>, Box<Ast>),
    Or(Box<Ast>, Box<Ast>),
    Call(Func, Vec<Ast>),
    Object(Vec<(String, Ast)>),
    Array(Vec<Ast>),
}

/// A parsed expression, with its source kept for descriptions and errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expr {
    source: String,
    ast: Ast,
}

/// A syntax error: `column` is 1-based, in characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl Expr {
    /// Parses `source` for use in `ctx`.
    pub fn parse(source: &str, ctx: ExprContext) -> Result<Expr, ExprError> {
        if source.len() > MAX_EXPR_LEN {
            return Err(ExprError { column: 1, message: format!("expression longer than {MAX_EXPR_LEN} bytes") });
        }
        let tokens = lex(source)?;
        let mut p = Parser { tokens, pos: 0, ctx, depth: 0, end_column: source.chars().count() + 1 };
        let ast = p.or()?;
        if let Some(t) = p.tokens.get(p.pos) {
            return Err(ExprError { column: t.column, message: format!("unexpected {}", t.tok.describe()) });
        }
        Ok(Expr { source: source.to_string(), ast })
    }

    /// An expression that is just a constant.
    pub fn constant(v: Value) -> Expr {
        Expr { source: v.to_json_string(), ast: Ast::Lit(v) }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn eval(&self, env: &Env<'_>) -> Value {
        eval(&self.ast, env).into_owned()
    }

    /// True iff the expression evaluates to `true`.
    pub fn test(&self, env: &Env<'_>) -> bool {
        eval(&self.ast, env).truthy()
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(Value),
    Str(String),
    Ident(String),
    Quoted(String),
    Op(&'static str),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Num(v) => format!("number {v}"),
            Tok::Str(s) => format!("string \"{s}\""),
            Tok::Ident(s) => format!("name `{s}`"),
            Tok::Quoted(s) => format!("name `{s}`"),
            Tok::Op(o) => format!("`{o}`"),
        }
    }
}

struct Token {
    tok: Tok,
    column: usize,
}

const OPS: &[&str] = &[
    "==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*", "/", "%", "!", "(", ")", "[", "]", "{", "}", ",", ".",
    ":",
];

fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let mut is_float = false;
            if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
                is_float = true;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let save = i;
                i += 1;
                if i < chars.len() && (chars[i] == '+' || chars[i] == '-') {
                    i += 1;
                }
                if i < chars.len() && chars[i].is_ascii_digit() {
                    is_float = true;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    i = save;
                }
            }
            let text: String = chars[start..i].iter().collect();
            let v = if is_float {
                text.parse::<f64>().ok().map(Value::float)
            } else {
                text.parse::<i64>().ok().map(Value::Int)
            };
            match v {
                Some(v) if !v.is_null() => out.push(Token { tok: Tok::Num(v), column }),
                _ => return Err(ExprError { column, message: format!("number {text} is out of range") }),
            }
            continue;
        }
        if c == '"' || c == '\'' || c == '`' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&ch) = chars.get(i) else {
                    return Err(ExprError { column, message: "unterminated quote".into() });
                };
                i += 1;
                if ch == quote {
                    break;
                }
                if ch == '\\' {
                    let Some(&esc) = chars.get(i) else {
                        return Err(ExprError { column: i, message: "unterminated escape".into() });
                    };
                    i += 1;
                    s.push(match esc {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '\\' | '"' | '\'' | '`' => esc,
                        other => return Err(ExprError { column: i - 1, message: format!("unknown escape \\{other}") }),
                    });
                } else {
                    s.push(ch);
                }
            }
            out.push(Token { tok: if quote == '`' { Tok::Quoted(s) } else { Tok::Str(s) }, column });
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token { tok: Tok::Ident(chars[start..i].iter().collect()), column });
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        match OPS.iter().find(|op| rest.starts_with(**op)) {
            Some(op) => {
                out.push(Token { tok: Tok::Op(op), column });
                i += op.chars().count();
            }
            None => return Err(ExprError { column, message: format!("unexpected character '{c}'") }),
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    ctx: ExprContext,
    depth: usize,
    end_column: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn column(&self) -> usize {
        self.tokens.get(self.pos).map(|t| t.column).unwrap_or(self.end_column)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, ExprError> {
        Err(ExprError { column: self.column(), message: message.into() })
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, op: &str) -> Result<(), ExprError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            match self.peek() {
                Some(t) => self.err(format!("expected `{op}`, found {}", t.describe())),
                None => self.err(format!("expected `{op}`, found the end")),
            }
        }
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return self.err(format!("expression nested deeper than {MAX_EXPR_DEPTH}"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Ast, ExprError> {
        self.enter()?;
        let mut lhs = self.and()?;
        while self.eat_op("||") || self.eat_word("or") {
            let rhs = self.and()?;
            lhs = Ast::Or(Box::new(lhs), Box::new(rhs));
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn and(&mut self) -> Result<Ast, ExprError> {
        let mut lhs = self.not()?;
        while self.eat_op("&&") || self.eat_word("and") {
            let rhs = self.not()?;
            lhs = Ast::And(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn not(&mut self) -> Result<Ast, ExprError> {
        if self.eat_op("!") || self.eat_word("not") {
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Ast::Not(Box::new(inner)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Ast, ExprError> {
        let lhs = self.add()?;
        let op = match self.peek() {
            Some(Tok::Op("==")) => BinOp::Eq,
            Some(Tok::Op("!=")) => BinOp::Ne,
            Some(Tok::Op("<")) => BinOp::Lt,
            Some(Tok::Op("<=")) => BinOp::Le,
            Some(Tok::Op(">")) => BinOp::Gt,
            Some(Tok::Op(">=")) => BinOp::Ge,
            _ => return Ok(lhs),
        };
        self.pos += 1;
        let rhs = self.add()?;
        Ok(Ast::Bin(op, Box::new(lhs), Box::new(rhs)))
    }

    fn add(&mut self) -> Result<Ast, ExprError> {
        let mut lhs = self.mul()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op("+")) => BinOp::Add,
                Some(Tok::Op("-")) => BinOp::Sub,
                _ => return Ok(lhs),
            };
            self.pos += 1;
            let rhs = self.mul()?;
            lhs = Ast::Bin(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn mul(&mut self) -> Result<Ast, ExprError> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op("*")) => BinOp::Mul,
                Some(Tok::Op("/")) => BinOp::Div,
                Some(Tok::Op("%")) => BinOp::Rem,
                _ => return Ok(lhs),
            };
            self.pos += 1;
            let rhs = self.unary()?;
            lhs = Ast::Bin(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn unary(&mut self) -> Result<Ast, ExprError> {
        if self.eat_op("-") {
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(match inner {
                Ast::Lit(Value::Int(i)) => Ast::Lit(Value::Int(i.wrapping_neg())),
                Ast::Lit(Value::Float(f)) => Ast::Lit(Value::Float(-f)),
                other => Ast::Neg(Box::new(other)),
            });
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Ast, ExprError> {
        let mut e = self.primary()?;
        loop {
            if self.eat_op(".") {
                match self.tokens.get(self.pos).map(|t| t.tok.clone()) {
                    Some(Tok::Ident(name)) | Some(Tok::Quoted(name)) => {
                        self.pos += 1;
                        e = Ast::Field(Box::new(e), name);
                    }
                    _ => return self.err("expected a field name after `.`"),
                }
            } else if self.eat_op("[") {
                let idx = self.or()?;
                self.expect_op("]")?;
                e = Ast::Index(Box::new(e), Box::new(idx));
            } else {
                return Ok(e);
            }
        }
    }

    fn name(&self, name: &str) -> Result<Ast, ExprError> {
        if let Some((_, v)) = self.ctx.vars().iter().find(|(n, _)| *n == name) {
            return Ok(Ast::Var(*v));
        }
        match self.ctx.default_object() {
            Some(obj) => Ok(Ast::Field(Box::new(Ast::Var(obj)), name.to_string())),
            None => {
                let names: Vec<&str> = self.ctx.vars().iter().map(|(n, _)| *n).collect();
                self.err(format!("unknown name `{name}` (this expression can use: {})", names.join(", ")))
            }
        }
    }

    fn primary(&mut self) -> Result<Ast, ExprError> {
        let Some(tok) = self.tokens.get(self.pos).map(|t| t.tok.clone()) else {
            return self.err("expected an expression, found the end");
        };
        match tok {
            Tok::Num(v) => {
                self.pos += 1;
                Ok(Ast::Lit(v))
            }
            Tok::Str(s) => {
                self.pos += 1;
                Ok(Ast::Lit(Value::Str(s)))
            }
            Tok::Quoted(name) => {
                let column = self.column();
                self.pos += 1;
                self.name(&name).map_err(|e| ExprError { column, ..e })
            }
            Tok::Ident(word) => {
                let column = self.column();
                self.pos += 1;
                match word.as_str() {
                    "true" => return Ok(Ast::Lit(Value::Bool(true))),
                    "false" => return Ok(Ast::Lit(Value::Bool(false))),
                    "null" => return Ok(Ast::Lit(Value::Null)),
                    _ => {}
                }
                if matches!(self.peek(), Some(Tok::Op("("))) {
                    let Some(&(_, func, min, max)) = FUNCS.iter().find(|(n, ..)| *n == word) else {
                        let names: Vec<&str> = FUNCS.iter().map(|(n, ..)| *n).collect();
                        return Err(ExprError {
                            column,
                            message: format!("unknown function `{word}` (known: {})", names.join(", ")),
                        });
                    };
                    self.pos += 1;
                    self.enter()?;
                    let mut args = Vec::new();
                    if !self.eat_op(")") {
                        loop {
                            args.push(self.or()?);
                            if self.eat_op(")") {
                                break;
                            }
                            self.expect_op(",")?;
                        }
                    }
                    self.depth -= 1;
                    if args.len() < min || args.len() > max {
                        let want = if min == max { format!("{min}") } else { format!("{min} to {max}") };
                        return Err(ExprError {
                            column,
                            message: format!("`{word}` takes {want} argument(s), got {}", args.len()),
                        });
                    }
                    return Ok(Ast::Call(func, args));
                }
                self.name(&word).map_err(|e| ExprError { column, ..e })
            }
            Tok::Op("(") => {
                self.pos += 1;
                let e = self.or()?;
                self.expect_op(")")?;
                Ok(e)
            }
            Tok::Op("[") => {
                self.pos += 1;
                self.enter()?;
                let mut items = Vec::new();
                if !self.eat_op("]") {
                    loop {
                        items.push(self.or()?);
                        if self.eat_op("]") {
                            break;
                        }
                        self.expect_op(",")?;
                    }
                }
                self.depth -= 1;
                Ok(Ast::Array(items))
            }
            Tok::Op("{") => {
                self.pos += 1;
                self.enter()?;
                let mut fields = Vec::new();
                if !self.eat_op("}") {
                    loop {
                        let name = match self.tokens.get(self.pos).map(|t| t.tok.clone()) {
                            Some(Tok::Ident(n)) | Some(Tok::Str(n)) | Some(Tok::Quoted(n)) => n,
                            _ => return self.err("expected a field name in `{...}`"),
                        };
                        self.pos += 1;
                        self.expect_op(":")?;
                        fields.push((name, self.or()?));
                        if self.eat_op("}") {
                            break;
                        }
                        self.expect_op(",")?;
                    }
                }
                self.depth -= 1;
                Ok(Ast::Object(fields))
            }
            other => self.err(format!("unexpected {}", other.describe())),
        }
    }
}

fn var<'a>(v: Var, env: &Env<'a>) -> Cow<'a, Value> {
    let r = match v {
        Var::Key => env.key,
        Var::Value => env.value,
        Var::Timestamp => return Cow::Owned(Value::Int(env.timestamp)),
        Var::Left => env.left,
        Var::Right => env.right,
        Var::Agg => env.agg,
        Var::Agg1 => env.agg1,
        Var::Agg2 => env.agg2,
    };
    match r {
        Some(v) => Cow::Borrowed(v),
        None => Cow::Owned(Value::Null),
    }
}

fn field<'a>(base: Cow<'a, Value>, name: &str) -> Cow<'a, Value> {
    match base {
        Cow::Borrowed(v) => Cow::Borrowed(v.field(name)),
        Cow::Owned(Value::Map(mut m)) => Cow::Owned(m.remove(name).unwrap_or(Value::Null)),
        Cow::Owned(_) => Cow::Owned(Value::Null),
    }
}

fn eval<'a>(ast: &Ast, env: &Env<'a>) -> Cow<'a, Value> {
    match ast {
        Ast::Lit(v) => Cow::Owned(v.clone()),
        Ast::Var(v) => var(*v, env),
        Ast::Field(base, name) => field(eval(base, env), name),
        Ast::Index(base, idx) => {
            let base = eval(base, env);
            let idx = eval(idx, env);
            match (&*idx, &*base) {
                (Value::Str(name), Value::Map(_)) => field(base, name),
                (Value::Int(i), Value::List(items)) => {
                    let len = items.len() as i64;
                    let at = if *i < 0 { len + i } else { *i };
                    if at < 0 || at >= len {
                        return Cow::Owned(Value::Null);
                    }
                    match base {
                        Cow::Borrowed(Value::List(items)) => Cow::Borrowed(&items[at as usize]),
                        Cow::Owned(Value::List(mut items)) => Cow::Owned(items.swap_remove(at as usize)),
                        _ => Cow::Owned(Value::Null),
                    }
                }
                _ => Cow::Owned(Value::Null),
            }
        }
        Ast::Neg(e) => Cow::Owned(match &*eval(e, env) {
            Value::Int(i) => i.checked_neg().map(Value::Int).unwrap_or(Value::Null),
            Value::Float(f) => Value::float(-f),
            _ => Value::Null,
        }),
        Ast::Not(e) => Cow::Owned(match &*eval(e, env) {
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::Null,
        }),
        Ast::And(a, b) => {
            let a = eval(a, env).truthy();
            Cow::Owned(Value::Bool(a && eval(b, env).truthy()))
        }
        Ast::Or(a, b) => {
            let a = eval(a, env).truthy();
            Cow::Owned(Value::Bool(a || eval(b, env).truthy()))
        }
        Ast::Bin(op, a, b) => {
            let a = eval(a, env);
            let b = eval(b, env);
            Cow::Owned(binary(*op, &a, &b))
        }
        Ast::Call(f, args) => Cow::Owned(call(*f, args, env)),
        Ast::Object(fields) => Cow::Owned(Value::Map(crate::collect::btree_map(
            fields.iter().map(|(k, e)| (k.clone(), eval(e, env).into_owned())),
        ))),
        Ast::Array(items) => Cow::Owned(Value::List(items.iter().map(|e| eval(e, env).into_owned()).collect())),
    }
}

fn same_kind_cmp(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_))
        | (Value::Str(_), Value::Str(_))
        | (Value::Bool(_), Value::Bool(_)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn concat(a: &Value, b: &Value) -> Value {
    let mut s = a.to_java_string();
    b.push_java_string(&mut s);
    if s.len() > MAX_STRING_LEN {
        return Value::Null;
    }
    Value::Str(s)
}

fn binary(op: BinOp, a: &Value, b: &Value) -> Value {
    use std::cmp::Ordering::*;
    match op {
        BinOp::Eq => Value::Bool(a == b),
        BinOp::Ne => Value::Bool(a != b),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let Some(o) = same_kind_cmp(a, b) else {
                return Value::Bool(false);
            };
            Value::Bool(match op {
                BinOp::Lt => o == Less,
                BinOp::Le => o != Greater,
                BinOp::Gt => o == Greater,
                _ => o != Less,
            })
        }
        BinOp::Add if matches!(a, Value::Str(_)) || matches!(b, Value::Str(_)) => concat(a, b),
        _ => match (a, b) {
            (Value::Int(x), Value::Int(y)) => {
                let r = match op {
                    BinOp::Add => x.checked_add(*y),
                    BinOp::Sub => x.checked_sub(*y),
                    BinOp::Mul => x.checked_mul(*y),
                    BinOp::Div => x.checked_div(*y),
                    _ => x.checked_rem(*y),
                };
                r.map(Value::Int).unwrap_or(Value::Null)
            }
            _ => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => Value::float(match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    BinOp::Div => x / y,
                    _ => x % y,
                }),
                _ => Value::Null,
            },
        },
    }
}

fn call(f: Func, args: &[Ast], env: &Env<'_>) -> Value {
    let arg = |i: usize| -> Value {
        match args.get(i) {
            Some(a) => eval(a, env).into_owned(),
            None => Value::Null,
        }
    };
    match f {
        Func::If => {
            if arg(0).truthy() {
                arg(1)
            } else {
                arg(2)
            }
        }
        Func::Coalesce => {
            for a in args {
                let v = eval(a, env);
                if !v.is_null() {
                    return v.into_owned();
                }
            }
            Value::Null
        }
        Func::Concat => {
            let mut s = String::new();
            for a in args {
                eval(a, env).push_java_string(&mut s);
                if s.len() > MAX_STRING_LEN {
                    return Value::Null;
                }
            }
            Value::Str(s)
        }
        Func::Min | Func::Max => {
            let mut best: Option<Value> = None;
            for a in args {
                let v = eval(a, env).into_owned();
                if v.is_null() {
                    continue;
                }
                best = Some(match best {
                    None => v,
                    Some(b) => {
                        let take = match same_kind_cmp(&v, &b) {
                            Some(o) => (f == Func::Min) == (o == std::cmp::Ordering::Less),
                            None => false,
                        };
                        if take {
                            v
                        } else {
                            b
                        }
                    }
                });
            }
            best.unwrap_or(Value::Null)
        }
        _ => one_arg(f, arg(0), args, env),
    }
}

fn one_arg(f: Func, x: Value, args: &[Ast], env: &Env<'_>) -> Value {
    let arg = |i: usize| -> Value {
        match args.get(i) {
            Some(a) => eval(a, env).into_owned(),
            None => Value::Null,
        }
    };
    match f {
        Func::Str => {
            if x.is_null() {
                Value::Null
            } else {
                Value::Str(x.to_java_string())
            }
        }
        Func::Int => match x {
            Value::Int(i) => Value::Int(i),
            Value::Float(v) if v.abs() < 9.2e18 => Value::Int(v.trunc() as i64),
            Value::Str(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::Int)
                .or_else(|_| {
                    s.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.abs() < 9.2e18)
                        .map(|v| Value::Int(v.trunc() as i64))
                        .ok_or(())
                })
                .unwrap_or(Value::Null),
            Value::Bool(b) => Value::Int(i64::from(b)),
            _ => Value::Null,
        },
        Func::Float => match x {
            Value::Int(i) => Value::Float(i as f64),
            Value::Float(v) => Value::Float(v),
            Value::Str(s) => s.trim().parse::<f64>().ok().map(Value::float).unwrap_or(Value::Null),
            _ => Value::Null,
        },
        Func::Lower => match x {
            Value::Str(s) => Value::Str(s.to_lowercase()),
            _ => Value::Null,
        },
        Func::Upper => match x {
            Value::Str(s) => Value::Str(s.to_uppercase()),
            _ => Value::Null,
        },
        Func::Len => match x {
            Value::Str(s) => Value::Int(s.chars().count() as i64),
            Value::List(v) => Value::Int(v.len() as i64),
            Value::Map(m) => Value::Int(m.len() as i64),
            _ => Value::Null,
        },
        Func::Abs => match x {
            Value::Int(i) => i.checked_abs().map(Value::Int).unwrap_or(Value::Null),
            Value::Float(v) => Value::Float(v.abs()),
            _ => Value::Null,
        },
        Func::Floor => match x {
            Value::Float(v) => Value::Float(v.floor()),
            i @ Value::Int(_) => i,
            _ => Value::Null,
        },
        Func::Ceil => match x {
            Value::Float(v) => Value::Float(v.ceil()),
            i @ Value::Int(_) => i,
            _ => Value::Null,
        },
        Func::Round => {
            let digits = match arg(1) {
                Value::Int(d) => d.clamp(0, 15) as i32,
                _ => 0,
            };
            match x {
                Value::Float(v) => {
                    let scale = 10f64.powi(digits);
                    Value::float((v * scale).round() / scale)
                }
                i @ Value::Int(_) => i,
                _ => Value::Null,
            }
        }
        Func::Substr => {
            let Value::Str(s) = x else {
                return Value::Null;
            };
            let start = arg(1).as_i64().unwrap_or(0).max(0) as usize;
            let len = match arg(2) {
                Value::Int(l) => l.max(0) as usize,
                _ => usize::MAX,
            };
            Value::Str(s.chars().skip(start).take(len).collect())
        }
        Func::Contains | Func::StartsWith | Func::EndsWith => match (x, arg(1)) {
            (Value::Str(s), Value::Str(p)) => Value::Bool(match f {
                Func::Contains => s.contains(p.as_str()),
                Func::StartsWith => s.starts_with(p.as_str()),
                _ => s.ends_with(p.as_str()),
            }),
            (Value::List(items), needle) if f == Func::Contains => Value::Bool(items.contains(&needle)),
            _ => Value::Null,
        },
        Func::IsNull => Value::Bool(x.is_null()),
        Func::ParseDatetime => match x {
            Value::Str(s) => parse_datetime(&s).map(Value::Int).unwrap_or(Value::Null),
            i @ Value::Int(_) => i,
            _ => Value::Null,
        },
        Func::FormatDatetime => match x {
            Value::Int(ms) if (0..=super::value::MAX_TIMESTAMP_MS).contains(&ms) => Value::Str(format_datetime(ms)),
            _ => Value::Null,
        },
        // Handled in `call`.
        Func::If | Func::Coalesce | Func::Concat | Func::Min | Func::Max => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ride() -> Value {
        serde_json::from_str(r#"{"VendorID": 2, "total_amount": 41.5, "payment_type": 1, "store_and_fwd_flag": "N"}"#)
            .unwrap()
    }

    fn eval_record(src: &str) -> Value {
        let e = Expr::parse(src, ExprContext::Record).unwrap();
        let key = Value::str("k");
        let v = ride();
        e.eval(&Env::record(&key, &v, 7))
    }

    #[test]
    fn bare_names_are_fields_of_the_value() {
        assert_eq!(eval_record("total_amount >= 40"), Value::Bool(true));
        assert_eq!(eval_record("total_amount < 40"), Value::Bool(false));
        assert_eq!(eval_record("str(VendorID)"), Value::str("2"));
        assert_eq!(eval_record("value.payment_type == 1 and store_and_fwd_flag == 'N'"), Value::Bool(true));
        assert_eq!(eval_record("key + '-' + timestamp"), Value::str("k-7"));
    }

    #[test]
    fn evaluation_is_total() {
        assert_eq!(eval_record("missing > 3"), Value::Bool(false));
        assert_eq!(eval_record("missing + 1"), Value::Null);
        assert_eq!(eval_record("1 / 0"), Value::Null);
        assert_eq!(eval_record("1.0 / 0"), Value::Null);
        assert_eq!(eval_record("'a' < 3"), Value::Bool(false));
    }

    #[test]
    fn joiner_spells_null_like_java() {
        let e = Expr::parse("str(left) + \"+\" + str(right)", ExprContext::Join).unwrap();
        let (l, r) = (Value::str("A0"), Value::Null);
        let env = Env { left: Some(&l), right: Some(&r), ..Env::default() };
        // `str(null)` is null, and concatenation spells null as "null".
        assert_eq!(e.eval(&env), Value::str("A0+null"));
    }

    #[test]
    fn errors_name_the_column() {
        let err = Expr::parse("total_amount >= ", ExprContext::Record).unwrap_err();
        assert_eq!(err.column, 17);
        let err = Expr::parse("left + foo", ExprContext::Join).unwrap_err();
        assert_eq!(err.column, 8);
        assert!(err.message.contains("unknown name `foo`"), "{}", err.message);
        let err = Expr::parse("nope(1)", ExprContext::Record).unwrap_err();
        assert!(err.message.contains("unknown function"));
        let deep = "(".repeat(100) + "1" + &")".repeat(100);
        assert!(Expr::parse(&deep, ExprContext::Record).is_err());
    }

    #[test]
    fn objects_lists_and_functions() {
        assert_eq!(eval_record("{id: VendorID, big: total_amount > 40}").to_json_string(), r#"{"big":true,"id":2}"#);
        assert_eq!(eval_record("[1, 2, 3][-1]"), Value::Int(3));
        assert_eq!(eval_record("round(total_amount * 1.1, 2)"), Value::Float(45.65));
        assert_eq!(eval_record("if(payment_type == 1, 'card', 'cash')"), Value::str("card"));
        assert_eq!(eval_record("parse_datetime('2019-01-01 00:00:00')"), Value::Int(1_546_300_800_000));
    }
}
