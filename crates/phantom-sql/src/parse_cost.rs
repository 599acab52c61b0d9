//! What parsing a statement text will cost in memory, found before it is parsed.
//!
//! `sqlparser` first turns the whole text into a vector of tokens (about 90 bytes each,
//! whitespace included, plus the text of words and literals), then builds the syntax tree
//! (an expression is a few hundred bytes), and the binder and optimizer build plans from
//! that. For ordinary statements this is nothing, but a million-item IN list is three
//! million tokens and a million expressions: hundreds of megabytes before any operator
//! runs. So the session reserves [`memory_estimate`] from the statement's budget (see
//! [`crate::budget`]) before it parses, and a text that does not fit is refused unparsed.
//!
//! The estimate is [`TOKEN_BYTES`] per token plus [`TEXT_BYTES`] per byte of text (the
//! copies of literal and name contents), both measured (`docs/ARCHITECTURE.md`). Counting
//! tokens needs `sqlparser`'s own rules (quotes, escapes, dollar quoting, nested comments,
//! numbers next to words), and a rule copied wrong could let a crafted text hide millions
//! of tokens inside what looks like a string. So the count *is* `sqlparser`'s tokenizer,
//! run over the text in pieces of [`CHUNK`] bytes, so that only one piece's tokens exist
//! at a time: each piece is tokenized, its last two tokens (possibly cut by the piece's
//! end) are dropped, and the next piece starts where they started. A token longer than a
//! piece (a long string, comment or quoted name) is measured by [`long_token_end`],
//! which follows the tokenizer's rules for those from the token's first byte, and counts
//! as one; for a word, number or operator longer than a piece the piece doubles (only an
//! absurd text, a name of megabytes, makes that cost anything). A property test checks
//! that the count in small pieces is never below the tokenizer's. Texts below [`CHUNK`]
//! bytes are not tokenized: their length bounds their tokens, which is what they are
//! charged.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Location, TokenWithSpan, Tokenizer};

/// Bytes of memory reserved per token of a statement: the token itself (and its place in
/// the token vector's growth), its share of the syntax tree, and the plan bound from it.
/// Measured peaks per token (`PHANTOM_MEASURE_MEMORY=all cargo test -p phantom --test
/// memory measure`): 213-287 for IN lists, 227 for multi-row VALUES and INSERT, 474 for
/// one-column VALUES `(1),(2),...` (four tokens a row, each row a list in the syntax tree
/// and in the plan), the most expensive shape; this is that with a quarter to spare.
pub const TOKEN_BYTES: usize = 600;

/// Bytes reserved per byte of text: the copies a literal's or a name's text goes through
/// (token, syntax tree, constant, value). A 16 MB string literal peaked at 4.5 bytes per
/// byte of text.
pub const TEXT_BYTES: usize = 6;

/// How much text is tokenized at a time to count its tokens.
pub const CHUNK: usize = 64 * 1024;

/// What parsing and planning `sql` is estimated to take, in bytes.
pub fn memory_estimate(sql: &str) -> usize {
    let tokens = if sql.len() < CHUNK { sql.len() } else { count_tokens(sql, CHUNK) };
    tokens.saturating_mul(TOKEN_BYTES).saturating_add(sql.len().saturating_mul(TEXT_BYTES))
}

/// How many tokens `sqlparser` makes of `sql` (whitespace and comments included),
/// tokenizing `chunk` bytes at a time. Where the text itself cannot be tokenized (an
/// unterminated quote) the count stops, as the tokenizer does.
pub fn count_tokens(sql: &str, chunk: usize) -> usize {
    let dialect = PostgreSqlDialect {};
    let mut count = 0;
    let mut offset = 0;
    let mut tokens: Vec<TokenWithSpan> = Vec::new();
    let mut piece = chunk.max(4);
    while offset < sql.len() {
        let rest = &sql[offset..];
        let end = floor_char_boundary(rest, piece);
        tokens.clear();
        let tokenized = Tokenizer::new(&dialect, &rest[..end]).tokenize_with_location_into_buf(&mut tokens);
        if end == rest.len() {
            return count + tokens.len();
        }
        if tokenized.is_err() {
            // The tokens before the one that failed are whole; that one starts where the
            // last of them ends, and is tried again from there (the piece may have cut it).
            let failed_at = tokens.last().map_or(0, |t| byte_offset(rest, t.span.end));
            if failed_at > 0 {
                count += tokens.len();
                offset += failed_at;
                piece = chunk.max(4);
                continue;
            }
            // It is the piece's first token: a long one, or the text is malformed here
            // (an unterminated quote), where the tokenizer stops.
            let Some(len) = long_token_end(rest).filter(|&len| len > 0) else { return count };
            count += 1;
            offset += len;
            piece = chunk.max(4);
            continue;
        }
        // The piece's end may have cut the last token, and the one before it may belong
        // with it (`1.` and `5`, `-` and `-`): both are tokenized again with the next piece.
        let keep = tokens.len().saturating_sub(2).max(tokens.len().min(1));
        let restart = tokens.get(keep).map_or(end, |t| byte_offset(rest, t.span.start));
        if keep > 0 && restart > 0 && keep < tokens.len() {
            count += keep;
            offset += restart;
            piece = chunk.max(4);
        } else if let Some(len) = long_token_end(rest).filter(|&len| len > 0) {
            // One token fills the piece: a comment, which the piece's end does not fail.
            count += 1;
            offset += len;
            piece = chunk.max(4);
        } else {
            // One word, number or operator longer than the piece: only the tokenizer
            // knows where it ends (an operator takes `--` in, a number stops at `$`), so
            // the piece doubles until it holds more. The tokens held then are fewer than
            // the long token's bytes: only an absurd text (a megabyte-long name) costs here.
            piece = piece.saturating_mul(2);
        }
    }
    count
}

/// The largest char boundary of `text` at or below `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The byte offset in `text` of a tokenizer location (1-based line, 1-based column in
/// characters; only `\n` starts a line).
fn byte_offset(text: &str, at: Location) -> usize {
    let mut line_start = 0;
    for _ in 1..at.line {
        match text[line_start..].find('\n') {
            Some(n) => line_start += n + 1,
            None => return text.len(),
        }
    }
    let line = &text[line_start..];
    let column = usize::try_from(at.column.saturating_sub(1)).unwrap_or(usize::MAX);
    line_start + line.char_indices().nth(column).map_or(line.len(), |(i, _)| i)
}

/// Where the token that starts `text` ends, for the kinds that can be long: quoted
/// strings (plain, `E'...'` and `X'...'` with backslash escapes, `N'...'`, `B'...'`,
/// `U&'...'`), quoted names, `--` and nested `/* */` comments and dollar-quoted strings,
/// by the rules `sqlparser`'s PostgreSQL tokenizer applies. `None` for another kind of
/// token or one that does not end.
pub fn long_token_end(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let quoted = |open: usize, quote: u8, backslash: bool| -> Option<usize> {
        let mut i = open + 1;
        while i < b.len() {
            match b[i] {
                c if c == quote && b.get(i + 1) == Some(&quote) => i += 2,
                c if c == quote => return Some(i + 1),
                b'\\' if backslash => i += 2,
                _ => i += 1,
            }
        }
        None
    };
    match b {
        [b'\'', ..] => quoted(0, b'\'', false),
        [b'"', ..] => quoted(0, b'"', false),
        [b'e' | b'E' | b'x' | b'X', b'\'', ..] => quoted(1, b'\'', true),
        [b'n' | b'N' | b'b' | b'B', b'\'', ..] => quoted(1, b'\'', false),
        [b'b' | b'B', b'"', ..] => quoted(1, b'"', false),
        [b'u' | b'U', b'&', b'\'', ..] => quoted(2, b'\'', true),
        [b'-', b'-', ..] => Some(b.iter().position(|&c| c == b'\n' || c == b'\r').unwrap_or(b.len())),
        [b'/', b'*', ..] => {
            let (mut depth, mut i) = (1usize, 2);
            while i + 1 < b.len() {
                match (b[i], b[i + 1]) {
                    (b'/', b'*') => {
                        depth += 1;
                        i += 2;
                    }
                    (b'*', b'/') => {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            return Some(i);
                        }
                    }
                    _ => i += 1,
                }
            }
            None
        }
        [b'$', b'$', ..] => text[2..].find("$$").map(|n| 2 + n + 2),
        [b'$', ..] => {
            let tag_len: usize =
                text[1..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').map(char::len_utf8).sum();
            if b.get(1 + tag_len) != Some(&b'$') {
                return None; // a placeholder such as $1
            }
            let delimiter = &text[..tag_len + 2];
            text[tag_len + 2..].find(delimiter).map(|n| tag_len + 2 + n + delimiter.len())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn real_count(sql: &str) -> usize {
        let mut tokens = Vec::new();
        let _ = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize_with_location_into_buf(&mut tokens);
        tokens.len()
    }

    #[test]
    fn counts_in_pieces_agree_with_the_tokenizer() {
        let texts = [
            "SELECT 1 WHERE x IN (1,2,3,4,5,6,7,8,9,10,11,12)".to_string(),
            format!("SELECT '{}' , 1, 2, 3", "a".repeat(200)),
            format!(
                "INSERT INTO t VALUES {}",
                (0..50).map(|i| format!("({i}, 'n{i}', 1.5e3)")).collect::<Vec<_>>().join(",")
            ),
            format!(
                "SELECT 1 -- {}\n, 2 /* {} /* nested */ */ , E'{}\\'' , $$ {} $$, $q$ {} $q$",
                "c".repeat(90),
                "d".repeat(90),
                "e".repeat(90),
                "f".repeat(90),
                "g".repeat(90)
            ),
            "SELECT \"a \"\" b\", U&'d\\0061t\\+000061', N'x', B'101', X'1F', 1.5, .5, 1e5, 1_000"
                .to_string(),
        ];
        for text in &texts {
            let real = real_count(text);
            for chunk in [16, 32, 100, 4096] {
                let counted = count_tokens(text, chunk);
                assert!(counted >= real, "{counted} < {real} in pieces of {chunk} for {text}");
                assert!(
                    counted <= real + real / 4 + 2,
                    "{counted} far above {real} in pieces of {chunk} for {text}"
                );
            }
        }
    }

    #[test]
    fn long_tokens_end_where_the_tokenizer_ends_them() {
        for (text, token) in [
            ("'it''s' x", "'it''s'"),
            ("E'it\\'s' x", "E'it\\'s'"),
            ("'a\\' x", "'a\\'"),
            ("\"a\"\"b\" x", "\"a\"\"b\""),
            ("-- note\nx", "-- note"),
            ("/* a /* b */ c */ x", "/* a /* b */ c */"),
            ("$$ a $ b $$ x", "$$ a $ b $$"),
            ("$tag$ a $$ b $tag$ x", "$tag$ a $$ b $tag$"),
        ] {
            assert_eq!(long_token_end(text), Some(token.len()), "{text}");
            assert_eq!(real_count(token), 1, "{token} is one token");
        }
        assert_eq!(long_token_end("$1 x"), None);
        assert_eq!(long_token_end("'open"), None);
    }

    proptest! {
        /// Texts made of the characters that decide where tokens end: the count in small
        /// pieces is never below the tokenizer's own count (a crafted text cannot hide
        /// tokens from the estimate).
        #[test]
        fn counts_in_pieces_never_fall_below_the_tokenizer(
            text in proptest::collection::vec(
                prop::sample::select(vec![
                    "'", "\"", "\\", "-", "--", "/*", "*/", "$", "$$", "$a$", "E", "e", "X", "N", "B",
                    "U&", "&", " ", "\n", "\r", "1", "1.5", ".", "a", "ab", ",", "(", ")", "é", "x1", ";",
                ]),
                0..120,
            )
        ) {
            let text: String = text.concat();
            let real = real_count(&text);
            for chunk in [8, 13, 40] {
                let counted = count_tokens(&text, chunk);
                prop_assert!(counted >= real, "{} < {} in pieces of {} for {:?}", counted, real, chunk, text);
            }
        }
    }
}
