//! PostgreSQL compatibility functions that need no catalog access at run time:
//! `format_type`, the regular-expression operators, the array helpers psql uses,
//! `quote_ident`, `pg_size_pretty`, ...
//!
//! Functions whose answer depends on the catalog (`pg_get_indexdef`, `'t'::regclass`,
//! `pg_relation_size`, ...) are resolved by the binder instead (see `binder/pg.rs`),
//! because the catalog is only at hand while binding.
//!
//! **Arrays** are not a Phantom-DB type. The catalog columns PostgreSQL declares as
//! arrays (`pg_constraint.conkey`, `pg_policy.polroles`, ...) and functions returning
//! arrays (`current_schemas(true)`) carry the array's text form, `{a,b}`; the functions
//! here parse that form. It is enough for the catalog queries clients send, and an
//! honest text value when shown.
//!
//! Regular expressions use the `regex` crate, whose syntax covers what clients send
//! (`^(t)$`, `^pg_toast`); patterns are compiled once per thread and cached.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::catalog::pg_catalog;
use crate::error::{Error, Result, SqlState};
use crate::planner::expr::CmpOp;
use crate::types::cast::{self, CastKind};
use crate::types::{DataType, Value};

/// The compatibility functions evaluated at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PgFunction {
    /// `format_type(type_oid, typmod)`
    FormatType,
    /// `s ~ pattern` (`~*` when case-insensitive)
    RegexMatch {
        /// `~*`
        case_insensitive: bool,
    },
    /// `x op ANY (array)` / `x op ALL (array)`; the array's elements are read as `element`.
    ArrayAny { op: CmpOp, all: bool, element: DataType },
    /// `text::elem[]`: array input, checked and normalized (arrays travel as text)
    ArrayIn { element: DataType },
    /// `integer::oid`: an INTEGER's bits as an unsigned OID; a BIGINT must fit (22003)
    IntToOid { bigint: bool },
    /// `text::"char"`: one byte, `\ooo` octal escapes read as PostgreSQL's `charin` does
    CharIn,
    /// `array_to_string(array, separator [, null_string])`
    ArrayToString,
    /// `array_position(array, element)`
    ArrayPosition,
    /// `array_upper(array, 1)` (also `array_length`)
    ArrayUpper,
    /// `array_lower(array, 1)`
    ArrayLower,
    /// `array[i]`: the element as untyped text
    Subscript,
    /// `quote_ident(s)`
    QuoteIdent,
    /// `pg_size_pretty(bytes)`
    SizePretty,
    /// `pg_encoding_to_char(encoding)`
    EncodingToChar,
    /// `pg_get_userbyid(role_oid)` and `regrole` output for an OID no role has (the
    /// binder looks the roles up first)
    UserName,
    /// Functions answering with their first argument (`pg_get_expr(text, oid)`).
    First,
    /// `pg_table_is_visible(oid)` and friends, `has_*_privilege(...)`: true (for
    /// non-NULL arguments): everything is in the search path and every role may do
    /// anything.
    True,
    /// `to_regtype(name)`: the type's OID or NULL
    ToRegType,
    /// `name::regtype`: the type's OID, or an error
    RegTypeIn,
    /// `regnamespace` output
    NamespaceName,
    /// `name::regnamespace`
    NamespaceIn,
    /// `current_schemas(include_implicit)`
    CurrentSchemas,
}

impl PgFunction {
    /// The SQL name.
    pub fn name(self) -> &'static str {
        use PgFunction::*;
        match self {
            FormatType => "format_type",
            RegexMatch { .. } => "textregexeq",
            ArrayAny { .. } => "any",
            ArrayIn { .. } => "array_in",
            CharIn => "charin",
            IntToOid { .. } => "oid",
            ArrayToString => "array_to_string",
            ArrayPosition => "array_position",
            ArrayUpper => "array_upper",
            ArrayLower => "array_lower",
            Subscript => "subscript",
            QuoteIdent => "quote_ident",
            SizePretty => "pg_size_pretty",
            EncodingToChar => "pg_encoding_to_char",
            UserName => "pg_get_userbyid",
            First => "pg_get_expr",
            True => "pg_table_is_visible",
            ToRegType => "to_regtype",
            RegTypeIn => "regtypein",
            NamespaceName => "regnamespaceout",
            NamespaceIn => "regnamespacein",
            CurrentSchemas => "current_schemas",
        }
    }
}

/// `format_type`'s type modifier when none is given (NULL, which is an answer of its
/// own: `character` where -1 gives `bpchar`).
pub const NO_TYPMOD: i64 = i64::MIN;

fn text(v: &Value) -> String {
    cast::to_text(v)
}

fn int(v: &Value) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        other => cast::cast(other.clone(), DataType::BigInt, CastKind::Explicit).and_then(|v| match v {
            Value::Int(i) => Ok(i),
            _ => Err(Error::new(SqlState::DatatypeMismatch, format!("expected an integer, found {other}"))),
        }),
    }
}

/// Applies `f` to non-NULL `args`.
pub fn apply(f: PgFunction, args: Vec<Value>) -> Result<Value> {
    use PgFunction::*;
    let a = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    Ok(match f {
        FormatType => {
            let typmod = args.get(1).map(int).transpose()?.filter(|&m| m != NO_TYPMOD);
            Value::Text(pg_catalog::format_type(int(&a(0))?, typmod).unwrap_or_else(|| "???".to_string()))
        }
        RegexMatch { case_insensitive } => {
            Value::Boolean(regex_match(&text(&a(0)), &text(&a(1)), case_insensitive)?)
        }
        ArrayAny { op, all, element } => {
            let x = a(0);
            let rows = parse_array(&text(&a(1)))?
                .into_iter()
                .map(|item| match item {
                    None => Ok(vec![Value::Null]),
                    Some(s) => cast::cast(Value::Text(s), element, CastKind::Explicit).map(|v| vec![v]),
                })
                .collect::<Result<Vec<_>>>()?;
            super::eval::quantified(op, all, &x, &rows)
        }
        ArrayIn { element } => Value::Text(array_in(&text(&a(0)), element)?),
        CharIn => Value::Text(char_in(&text(&a(0)))),
        IntToOid { bigint } => Value::Int(int_to_oid(int(&a(0))?, bigint)?),
        ArrayToString => {
            let separator = text(&a(1));
            let null = args.get(2).map(text);
            let items: Vec<String> = parse_array(&text(&a(0)))?
                .into_iter()
                .filter_map(|item| item.or_else(|| null.clone()))
                .collect();
            Value::Text(items.join(&separator))
        }
        ArrayPosition => {
            let wanted = text(&a(1));
            let items = parse_array(&text(&a(0)))?;
            match items.iter().position(|item| item.as_deref() == Some(wanted.as_str())) {
                Some(i) => Value::Int(i as i64 + 1),
                None => Value::Null,
            }
        }
        ArrayUpper | ArrayLower => {
            let items = parse_array(&text(&a(0)))?;
            match (int(&a(1))?, items.len()) {
                (1, n) if n > 0 => Value::Int(if f == ArrayUpper { n as i64 } else { 1 }),
                _ => Value::Null,
            }
        }
        Subscript => {
            let items = parse_array(&text(&a(0)))?;
            let i = int(&a(1))?;
            match usize::try_from(i).ok().and_then(|i| i.checked_sub(1)).and_then(|i| items.get(i)) {
                Some(Some(s)) => Value::Text(s.clone()),
                _ => Value::Null,
            }
        }
        QuoteIdent => Value::Text(pg_catalog::quote_ident(&text(&a(0)))),
        SizePretty => Value::Text(size_pretty(int(&a(0))?)),
        EncodingToChar => Value::Text(
            match int(&a(0))? {
                0 => "SQL_ASCII",
                6 => "UTF8",
                _ => "",
            }
            .to_string(),
        ),
        UserName => Value::Text(format!("unknown (OID={})", int(&a(0))?)),
        First => a(0),
        True => Value::Boolean(true),
        ToRegType => pg_catalog::type_by_name(&text(&a(0))).map_or(Value::Null, Value::Int),
        RegTypeIn => {
            let name = text(&a(0));
            match name.trim().parse::<i64>() {
                Ok(oid) => Value::Int(oid),
                Err(_) => Value::Int(pg_catalog::type_by_name(&name).ok_or_else(|| {
                    Error::new(SqlState::UndefinedObject, format!("type \"{name}\" does not exist"))
                })?),
            }
        }
        NamespaceName => {
            let oid = int(&a(0))?;
            Value::Text(pg_catalog::namespace_name(oid).map_or_else(|| oid.to_string(), str::to_string))
        }
        NamespaceIn => {
            let name = text(&a(0));
            match name.trim().parse::<i64>() {
                Ok(oid) => Value::Int(oid),
                Err(_) => Value::Int(pg_catalog::namespace_oid(name.trim()).ok_or_else(|| {
                    Error::new(SqlState::InvalidSchemaName, format!("schema \"{name}\" does not exist"))
                })?),
            }
        }
        // The binder worked out both answers: with the implicit schemas, and without.
        CurrentSchemas => return Ok(if matches!(a(0), Value::Boolean(true)) { a(1) } else { a(2) }.clone()),
    })
}

/// The elements of an array's text form (`{a,"b c",NULL}`); `None` for NULL elements.
/// Only one-dimensional arrays are read.
pub fn parse_array(s: &str) -> Result<Vec<Option<String>>> {
    let malformed =
        || Error::new(SqlState::InvalidTextRepresentation, format!("malformed array literal: \"{s}\""));
    let inner = s.trim().strip_prefix('{').and_then(|r| r.strip_suffix('}')).ok_or_else(malformed)?;
    let mut items = Vec::new();
    if inner.trim().is_empty() {
        return Ok(items);
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut item = String::new();
        let quoted = chars.next_if_eq(&'"').is_some();
        if quoted {
            loop {
                match chars.next().ok_or_else(malformed)? {
                    '"' => break,
                    '\\' => item.push(chars.next().ok_or_else(malformed)?),
                    c => item.push(c),
                }
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
        } else {
            while let Some(c) = chars.next_if(|&c| c != ',') {
                if c == '{' || c == '"' {
                    return Err(malformed());
                }
                item.push(c);
            }
            item = item.trim().to_string();
        }
        items.push(if !quoted && item.eq_ignore_ascii_case("null") { None } else { Some(item) });
        match chars.next() {
            None => return Ok(items),
            Some(',') => {}
            Some(_) => return Err(malformed()),
        }
    }
}

/// PostgreSQL's limit on array dimensions (`MAXDIM`).
const MAX_ARRAY_DIMENSIONS: usize = 6;

/// An array literal, parsed: nested lists of elements (`None` for NULL).
enum ArrayNode {
    Element(Option<String>),
    List(Vec<ArrayNode>),
}

/// Array input (`'{1,{2}}'::int[]` and friends): the text must be a well-formed array
/// literal whose sub-arrays at each level have matching dimensions and whose elements are
/// valid input for `element`; the result is its normal text form, the elements as their
/// type prints them (so `'{ 1, 02 }'::int[]` is `{1,2}`). Arrays are carried as text, so
/// this is where a malformed one is refused (22P02), as PostgreSQL's `array_in` does.
pub fn array_in(s: &str, element: DataType) -> Result<String> {
    let malformed = |detail: &str| {
        Error::new(SqlState::InvalidTextRepresentation, format!("malformed array literal: \"{s}\""))
            .with_detail(detail.to_string())
    };
    let mut chars = s.chars().peekable();
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
    if chars.peek() != Some(&'{') {
        return Err(malformed("Array value must start with \"{\" or dimension information."));
    }
    let tree = parse_array_level(&mut chars, 1, &malformed)?;
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
    if chars.next().is_some() {
        return Err(malformed("Junk after closing right brace."));
    }
    check_dimensions(&tree).ok_or_else(|| {
        Error::new(SqlState::InvalidTextRepresentation, format!("malformed array literal: \"{s}\""))
            .with_detail("Multidimensional arrays must have sub-arrays with matching dimensions.".to_string())
    })?;
    let mut out = String::with_capacity(s.len());
    format_array_node(&tree, element, &mut out)?;
    Ok(out)
}

/// Parses one `{...}` level (the `{` not yet consumed).
fn parse_array_level(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    depth: usize,
    malformed: &dyn Fn(&str) -> Error,
) -> Result<ArrayNode> {
    if depth > MAX_ARRAY_DIMENSIONS {
        return Err(Error::new(
            SqlState::ProgramLimitExceeded,
            format!(
                "number of array dimensions ({depth}) exceeds the maximum allowed ({MAX_ARRAY_DIMENSIONS})"
            ),
        ));
    }
    chars.next(); // '{'
    let mut items = Vec::new();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            Some('}') if items.is_empty() => {
                chars.next();
                return Ok(ArrayNode::List(items));
            }
            Some('{') => items.push(parse_array_level(chars, depth + 1, malformed)?),
            Some('"') => {
                chars.next();
                let mut item = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => {
                            item.push(chars.next().ok_or_else(|| malformed("Unexpected end of input."))?)
                        }
                        Some(c) => item.push(c),
                        None => return Err(malformed("Unexpected end of input.")),
                    }
                }
                items.push(ArrayNode::Element(Some(item)));
            }
            Some(_) => {
                let mut item = String::new();
                let mut escaped = false;
                while let Some(&c) = chars.peek() {
                    if matches!(c, ',' | '}') {
                        break;
                    }
                    if matches!(c, '{' | '"') {
                        return Err(malformed("Unexpected array element."));
                    }
                    chars.next();
                    if c == '\\' {
                        item.push(chars.next().ok_or_else(|| malformed("Unexpected end of input."))?);
                        escaped = true;
                    } else {
                        item.push(c);
                    }
                }
                let item = item.trim_end().to_string();
                if item.is_empty() {
                    return Err(malformed("Unexpected \",\" character."));
                }
                let null = !escaped && item.eq_ignore_ascii_case("null");
                items.push(ArrayNode::Element(if null { None } else { Some(item) }));
            }
            None => return Err(malformed("Unexpected end of input.")),
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.next() {
            Some(',') => {}
            Some('}') => return Ok(ArrayNode::List(items)),
            Some(_) => return Err(malformed("Unexpected array element.")),
            None => return Err(malformed("Unexpected end of input.")),
        }
    }
}

/// The dimensions of a well-formed array (`None` if its sub-arrays do not match, or
/// elements and sub-arrays are mixed at one level).
fn check_dimensions(node: &ArrayNode) -> Option<Vec<usize>> {
    match node {
        ArrayNode::Element(_) => Some(Vec::new()),
        ArrayNode::List(items) => {
            let mut inner: Option<Vec<usize>> = None;
            for item in items {
                let dims = check_dimensions(item)?;
                if inner.as_ref().is_some_and(|d| *d != dims) {
                    return None;
                }
                inner = Some(dims);
            }
            let mut dims = vec![items.len()];
            dims.extend(inner.unwrap_or_default());
            Some(dims)
        }
    }
}

fn format_array_node(node: &ArrayNode, element: DataType, out: &mut String) -> Result<()> {
    match node {
        ArrayNode::Element(None) => out.push_str("NULL"),
        ArrayNode::Element(Some(s)) => {
            let value = if element.is_string() || element == DataType::Null {
                s.clone()
            } else {
                cast::to_text(&cast::cast(Value::Text(s.clone()), element, CastKind::Explicit)?)
            };
            let quote = value.is_empty()
                || value.eq_ignore_ascii_case("null")
                || value.chars().any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
            if quote {
                out.push('"');
                for c in value.chars() {
                    if matches!(c, '"' | '\\') {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            } else {
                out.push_str(&value);
            }
        }
        ArrayNode::List(items) => {
            out.push('{');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                format_array_node(item, element, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// An integer as an OID, as PostgreSQL converts: `int4` reinterprets its bits (-1 is
/// 4294967295), a negative `int8` is out of range (22003). OIDs here are 64-bit (roles'
/// and constraints' lie above 2^32, see `catalog::pg_catalog`), so unlike PostgreSQL an
/// `int8` above 4294967295 is accepted (listed in docs/sql.md).
pub fn int_to_oid(v: i64, bigint: bool) -> Result<i64> {
    const OID_MAX: i64 = u32::MAX as i64;
    match v {
        0.. => Ok(v),
        v if !bigint && v >= i64::from(i32::MIN) => Ok(v + OID_MAX + 1),
        _ => Err(Error::new(SqlState::NumericValueOutOfRange, "OID out of range")),
    }
}

/// `"char"` input: `\ooo` (three octal digits) is that byte, else the first character
/// (empty for an empty string), as PostgreSQL's `charin`.
fn char_in(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() == 4 && b[0] == b'\\' && b[1..].iter().all(|d| (b'0'..=b'7').contains(d)) {
        let byte = (b[1] - b'0') as u32 * 64 + (b[2] - b'0') as u32 * 8 + (b[3] - b'0') as u32;
        return char::from_u32(byte & 0xff).map(String::from).unwrap_or_default();
    }
    s.chars().next().map(String::from).unwrap_or_default()
}

/// `pg_size_pretty`: bytes, kB, MB, GB, TB with PostgreSQL's rounding (a unit is used
/// from 10240 of the one below; halves round up).
fn size_pretty(bytes: i64) -> String {
    let mut size = bytes;
    let sign = if size < 0 { "-" } else { "" };
    size = size.saturating_abs();
    if size < 10 * 1024 {
        return format!("{bytes} bytes");
    }
    for unit in ["kB", "MB", "GB", "TB", "PB"] {
        // Halve, round, halve again: the last bit decides rounding.
        let half = size / 512;
        let value = (half + 1) / 2;
        if half < 20 * 1024 - 1 || unit == "PB" {
            return format!("{sign}{value} {unit}");
        }
        size /= 1024;
    }
    format!("{bytes} bytes")
}

thread_local! {
    /// Compiled patterns, by pattern and case-insensitivity.
    static PATTERNS: RefCell<HashMap<(String, bool), regex::Regex>> = RefCell::new(HashMap::new());
}

/// An array element in the text form, quoted when it must be.
pub fn quote_element(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.eq_ignore_ascii_case("null")
        && !s.chars().any(|c| matches!(c, ',' | '{' | '}' | '"' | '\\') || c.is_whitespace());
    if plain { s.to_string() } else { format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")) }
}

/// PostgreSQL's `~` (a search, not an anchored match).
pub fn regex_match(s: &str, pattern: &str, case_insensitive: bool) -> Result<bool> {
    PATTERNS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let key = (pattern.to_string(), case_insensitive);
        if let Some(re) = cache.get(&key) {
            return Ok(re.is_match(s));
        }
        let re = regex::RegexBuilder::new(pattern)
            .case_insensitive(case_insensitive)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| {
                Error::new(
                    SqlState::InvalidRegularExpression,
                    format!("invalid regular expression: {}", e.to_string().lines().last().unwrap_or("")),
                )
            })?;
        let matched = re.is_match(s);
        // A bound keeps a stream of distinct patterns from growing the cache forever.
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(key, re);
        Ok(matched)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_text_forms_parse() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(parse_array("{}").ok(), Some(vec![]));
        assert_eq!(parse_array("{1, 2}").ok(), Some(vec![s("1"), s("2")]));
        assert_eq!(
            parse_array(r#"{"a,b",NULL,"NULL","q\"x"}"#).ok(),
            Some(vec![s("a,b"), None, s("NULL"), s("q\"x")])
        );
        assert!(parse_array("1,2").is_err());
        assert!(parse_array("{1,{2}}").is_err());
    }

    #[test]
    fn array_elements_are_quoted_when_needed() {
        assert_eq!(quote_element("abc"), "abc");
        assert_eq!(quote_element("a b"), "\"a b\"");
        assert_eq!(quote_element("NULL"), "\"NULL\"");
        assert_eq!(quote_element(""), "\"\"");
        assert_eq!(quote_element("x\"y"), "\"x\\\"y\"");
    }

    #[test]
    fn sizes_print_like_postgres() {
        assert_eq!(size_pretty(0), "0 bytes");
        assert_eq!(size_pretty(10_239), "10239 bytes");
        assert_eq!(size_pretty(10_240), "10 kB");
        assert_eq!(size_pretty(8_192 * 1024), "8192 kB");
        assert_eq!(size_pretty(20 * 1024 * 1024), "20 MB");
        assert_eq!(size_pretty(-20 * 1024 * 1024), "-20 MB");
    }

    #[test]
    fn regexes_search_and_report_bad_patterns() {
        assert_eq!(regex_match("accounts", "^(accounts)$", false).ok(), Some(true));
        assert_eq!(regex_match("pg_toast_1", "^pg_toast", false).ok(), Some(true));
        assert_eq!(regex_match("Accounts", "^acc", false).ok(), Some(false));
        assert_eq!(regex_match("Accounts", "^acc", true).ok(), Some(true));
        let e = regex_match("x", "(", false).err();
        assert_eq!(e.map(|e| e.state), Some(SqlState::InvalidRegularExpression));
    }
}
