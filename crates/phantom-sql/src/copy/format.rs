//! The COPY text and CSV formats, in both directions, incrementally.
//!
//! [`Decoder`] takes the stream in whatever pieces it arrives (a CopyData message may end
//! in the middle of a line, or of a quoted CSV field spanning lines) and hands out one
//! record at a time as soon as its line is complete; it keeps only the unfinished tail.
//! [`Encoder`] writes one row as one line.
//!
//! The rules are PostgreSQL's. Text: fields separated by the delimiter, `\N` for NULL
//! (compared before unescaping), backslash escapes (`\t`, `\n`, `\\`, octal `\123`, hex
//! `\x41`, and a backslash before any other character stands for that character). CSV:
//! fields may be quoted, a quoted field may hold delimiters and newlines, the escape
//! character (the quote itself by default) escapes a quote inside quotes, and only an
//! *unquoted* field equal to the NULL string is NULL. In both, a line holding only `\.`
//! ends the data (old clients send it), and a trailing `\r` before the newline is dropped.

use super::{CopyFormat, CopyOptions};
use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Value};

/// Turns a stream of COPY text into records, each a `Vec<Value>` of `Value::Text` fields
/// (or `Value::Null`), to be cast to the column types by the insert.
pub struct Decoder {
    options: CopyOptions,
    /// Names of the target columns, for "missing data for column" errors.
    columns: Vec<String>,
    /// Received bytes not yet consumed; `start` is where the next record begins.
    buf: Vec<u8>,
    start: usize,
    /// The line the next record starts on (1-based).
    line: u64,
    header_pending: bool,
    /// A `\.` line was seen: everything after it is ignored.
    ended: bool,
}

impl Decoder {
    /// A decoder for records of `columns` (the names of the target columns, in order).
    pub fn new(options: &CopyOptions, columns: Vec<String>) -> Decoder {
        Decoder {
            header_pending: options.header,
            options: options.clone(),
            columns,
            buf: Vec::new(),
            start: 0,
            line: 1,
            ended: false,
        }
    }

    /// Adds the next piece of the stream.
    pub fn feed(&mut self, data: &[u8]) {
        if self.ended {
            return;
        }
        // Drop what was consumed before growing the buffer, so it holds one unfinished
        // record at most, however long the stream.
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next complete record, or `None` until more data arrives.
    pub fn next_record(&mut self) -> Result<Option<Vec<Value>>> {
        loop {
            if self.ended {
                return Ok(None);
            }
            let Some((end, next, newlines)) = self.record_end(false) else { return Ok(None) };
            if let Some(record) = self.take(end, next, newlines)? {
                return Ok(Some(record));
            }
        }
    }

    /// The end of the stream: returns the last record if the data did not end with a
    /// newline. Fails if a quoted CSV field was left open.
    pub fn finish(&mut self) -> Result<Option<Vec<Value>>> {
        if let Some(record) = self.next_record()? {
            return Ok(Some(record));
        }
        if self.ended || self.start >= self.buf.len() {
            return Ok(None);
        }
        match self.record_end(true) {
            Some((end, next, newlines)) => self.take(end, next, newlines),
            None => Err(bad_format("unterminated CSV quoted field")),
        }
    }

    /// The line the next record starts on, for error messages ("COPY t, line 3").
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Where the record starting at `start` ends: (end of its text, start of the next
    /// record, newlines inside it). At the end of the stream (`last`) the rest is a record.
    fn record_end(&self, last: bool) -> Option<(usize, usize, u64)> {
        let bytes = &self.buf[self.start..];
        let mut newlines = 0;
        match self.options.format {
            CopyFormat::Text => match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => Some((self.start + i, self.start + i + 1, 0)),
                None if last => Some((self.buf.len(), self.buf.len(), 0)),
                None => None,
            },
            CopyFormat::Csv => {
                let (quote, escape) = (self.options.quote as u8, self.options.escape as u8);
                let mut in_quotes = false;
                let mut i = 0;
                while i < bytes.len() {
                    let b = bytes[i];
                    if in_quotes {
                        if b == escape
                            && escape != quote
                            && bytes.get(i + 1).is_some_and(|&n| n == quote || n == escape)
                        {
                            i += 1;
                        } else if b == quote {
                            in_quotes = false;
                        } else if b == b'\n' {
                            newlines += 1;
                        }
                    } else if b == quote {
                        in_quotes = true;
                    } else if b == b'\n' {
                        return Some((self.start + i, self.start + i + 1, newlines));
                    }
                    i += 1;
                }
                (last && !in_quotes).then_some((self.buf.len(), self.buf.len(), newlines))
            }
        }
    }

    /// Consumes the record ending at `end`; `None` for a skipped header or the end marker.
    fn take(&mut self, end: usize, next: usize, newlines: u64) -> Result<Option<Vec<Value>>> {
        let mut text = &self.buf[self.start..end];
        if text.last() == Some(&b'\r') {
            text = &text[..text.len() - 1];
        }
        let result = if text == b"\\." {
            self.ended = true;
            Ok(None)
        } else if self.header_pending {
            self.header_pending = false;
            Ok(None)
        } else {
            let fields = match self.options.format {
                CopyFormat::Text => text_fields(text, &self.options),
                CopyFormat::Csv => csv_fields(text, &self.options),
            };
            fields.and_then(|f| self.check_width(f)).map(Some)
        };
        // The line counter moves past the record even when it was bad, so that an error
        // report names the line it is about; the caller asks before taking.
        if result.is_ok() {
            self.start = next;
            self.line += 1 + newlines;
        }
        result
    }

    fn check_width(&self, fields: Vec<Value>) -> Result<Vec<Value>> {
        if fields.len() > self.columns.len() {
            return Err(bad_format("extra data after last expected column"));
        }
        if let Some(missing) = self.columns.get(fields.len()) {
            return Err(bad_format(&format!("missing data for column \"{missing}\"")));
        }
        Ok(fields)
    }
}

fn bad_format(message: &str) -> Error {
    Error::new(SqlState::BadCopyFileFormat, message.to_string())
}

/// A field's bytes as text: valid UTF-8 without NUL bytes (which no text value can
/// hold, whether it came raw or as `\000`), as PostgreSQL checks every field of a COPY;
/// otherwise 22021 naming the offending bytes, in PostgreSQL's words.
fn utf8(bytes: Vec<u8>) -> Result<String> {
    let invalid = |bad: &[u8]| {
        let shown: Vec<String> = bad.iter().map(|b| format!("0x{b:02x}")).collect();
        Error::new(
            SqlState::CharacterNotInRepertoire,
            format!("invalid byte sequence for encoding \"UTF8\": {}", shown.join(" ")),
        )
    };
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        return Err(invalid(&bytes[nul..=nul]));
    }
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let start = e.utf8_error().valid_up_to();
        let len = e.utf8_error().error_len().unwrap_or(bytes.len() - start);
        invalid(&bytes[start..start + len])
    })
}

/// Splits a text-format line at unescaped delimiters and unescapes each field.
fn text_fields(line: &[u8], o: &CopyOptions) -> Result<Vec<Value>> {
    let delimiter = o.delimiter as u8;
    let mut fields = Vec::new();
    let mut start = 0;
    let mut i = 0;
    loop {
        if i == line.len() || line[i] == delimiter {
            let raw = &line[start..i];
            fields.push(if raw == o.null.as_bytes() {
                Value::Null
            } else {
                Value::Text(utf8(unescape(raw))?)
            });
            if i == line.len() {
                return Ok(fields);
            }
            start = i + 1;
        } else if line[i] == b'\\' {
            i += 1;
        }
        i += 1;
        i = i.min(line.len());
    }
}

/// Resolves the text format's backslash escapes.
fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' || i + 1 == raw.len() {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let c = raw[i + 1];
        i += 2;
        match c {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut value = u32::from(c - b'0');
                for _ in 0..2 {
                    match raw.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((value & 0xff) as u8);
            }
            b'x' if raw.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                let mut value = 0u8;
                for _ in 0..2 {
                    match raw.get(i).and_then(|d| (*d as char).to_digit(16)) {
                        Some(d) => {
                            value = value * 16 + d as u8;
                            i += 1;
                        }
                        None => break,
                    }
                }
                out.push(value);
            }
            other => out.push(other),
        }
    }
    out
}

/// Splits a CSV record into fields, honouring quotes.
fn csv_fields(record: &[u8], o: &CopyOptions) -> Result<Vec<Value>> {
    let (delimiter, quote, escape) = (o.delimiter as u8, o.quote as u8, o.escape as u8);
    let mut fields = Vec::new();
    let mut field = Vec::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut i = 0;
    while i < record.len() {
        let b = record[i];
        if in_quotes {
            if b == escape
                && record.get(i + 1).is_some_and(|&n| n == quote || (n == escape && escape != quote))
            {
                field.push(record[i + 1]);
                i += 2;
                continue;
            }
            if b == quote {
                in_quotes = false;
            } else {
                field.push(b);
            }
        } else if b == quote {
            in_quotes = true;
            quoted = true;
        } else if b == delimiter {
            fields.push(csv_value(std::mem::take(&mut field), quoted, o)?);
            quoted = false;
        } else {
            field.push(b);
        }
        i += 1;
    }
    if in_quotes {
        return Err(bad_format("unterminated CSV quoted field"));
    }
    fields.push(csv_value(field, quoted, o)?);
    Ok(fields)
}

fn csv_value(field: Vec<u8>, quoted: bool, o: &CopyOptions) -> Result<Value> {
    if !quoted && field == o.null.as_bytes() {
        return Ok(Value::Null);
    }
    Ok(Value::Text(utf8(field)?))
}

/// Writes rows as COPY text or CSV lines.
pub struct Encoder {
    options: CopyOptions,
    /// The column types, for each value's text form.
    types: Vec<DataType>,
}

impl Encoder {
    /// An encoder for rows of columns of `types`.
    pub fn new(options: &CopyOptions, types: Vec<DataType>) -> Encoder {
        Encoder { options: options.clone(), types }
    }

    /// Appends the header line naming the columns.
    pub fn header(&self, names: &[&str], out: &mut Vec<u8>) {
        let fields: Vec<Option<String>> = names.iter().map(|n| Some(n.to_string())).collect();
        self.line(&fields, out);
    }

    /// Appends one row as one line.
    pub fn row(&self, values: &[Value], out: &mut Vec<u8>) {
        let fields: Vec<Option<String>> = values
            .iter()
            .zip(self.types.iter().copied().chain(std::iter::repeat(DataType::Text)))
            .map(|(v, ty)| (!v.is_null()).then(|| v.text_as(ty)))
            .collect();
        self.line(&fields, out);
    }

    fn line(&self, fields: &[Option<String>], out: &mut Vec<u8>) {
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                out.push(self.options.delimiter as u8);
            }
            match (field, self.options.format) {
                (None, _) => out.extend_from_slice(self.options.null.as_bytes()),
                (Some(text), CopyFormat::Text) => self.escape_text(text, out),
                (Some(text), CopyFormat::Csv) => self.quote_csv(text, out),
            }
        }
        out.push(b'\n');
    }

    fn escape_text(&self, text: &str, out: &mut Vec<u8>) {
        let delimiter = self.options.delimiter as u8;
        for &b in text.as_bytes() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                8 => out.extend_from_slice(b"\\b"),
                12 => out.extend_from_slice(b"\\f"),
                11 => out.extend_from_slice(b"\\v"),
                b if b == delimiter => {
                    out.push(b'\\');
                    out.push(b);
                }
                b => out.push(b),
            }
        }
    }

    fn quote_csv(&self, text: &str, out: &mut Vec<u8>) {
        let o = &self.options;
        let needs_quotes = text == o.null
            || text == "\\."
            || text.contains([o.delimiter, o.quote, '\n', '\r'])
            || (o.escape != o.quote && text.contains(o.escape));
        if !needs_quotes {
            out.extend_from_slice(text.as_bytes());
            return;
        }
        out.push(o.quote as u8);
        for c in text.chars() {
            if c == o.quote || (c == o.escape && o.escape != o.quote) {
                out.push(o.escape as u8);
            }
            let mut utf8 = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        }
        out.push(o.quote as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    fn decode_all(options: &CopyOptions, columns: usize, pieces: &[&[u8]]) -> Result<Vec<Vec<Value>>> {
        let names = (0..columns).map(|i| format!("c{i}")).collect();
        let mut decoder = Decoder::new(options, names);
        let mut records = Vec::new();
        for piece in pieces {
            decoder.feed(piece);
            while let Some(r) = decoder.next_record()? {
                records.push(r);
            }
        }
        if let Some(r) = decoder.finish()? {
            records.push(r);
        }
        Ok(records)
    }

    /// PostgreSQL checks every field: a NUL byte (raw or `\000`) and bytes that are not
    /// UTF-8 are 22021 naming the bytes, in either format; `\\000` (a bytea escape
    /// after COPY's own unescaping) is ordinary text.
    #[test]
    fn nul_bytes_and_invalid_utf8_are_22021() {
        let plain = CopyOptions::new(CopyFormat::Text);
        let csv = CopyOptions::new(CopyFormat::Csv);
        for (options, data, bytes) in [
            (&plain, &b"1\tab\\000c\n"[..], "0x00"),
            (&plain, &b"1\ta\x00b\n"[..], "0x00"),
            (&plain, &b"1\tab\0\n"[..], "0x00"),
            (&plain, &b"1\ta\xffb\n"[..], "0xff"),
            (&plain, &b"1\ta\\377b\n"[..], "0xff"),
            (&plain, &b"1\ta\xe2\x82\n"[..], "0xe2 0x82"),
            (&csv, &b"1,a\x00b\n"[..], "0x00"),
            (&csv, &b"1,\"a\xc3\"\n"[..], "0xc3"),
        ] {
            let e = decode_all(options, 2, &[data]).expect_err("refused");
            assert_eq!(e.state, SqlState::CharacterNotInRepertoire, "{data:?}: {e}");
            assert_eq!(
                e.message,
                format!("invalid byte sequence for encoding \"UTF8\": {bytes}"),
                "{data:?}"
            );
        }
        let fine = decode_all(&plain, 2, &[b"1\t\\\\000\n"]).expect("a backslash, then 000");
        assert_eq!(fine, vec![vec![text("1"), text("\\000")]]);
    }

    #[test]
    fn text_format_with_escapes_nulls_and_lines_split_anywhere() {
        let o = CopyOptions::new(CopyFormat::Text);
        let data = b"1\ta\\tb\t\\N\r\n2\t\\\\x\\101\\x41\\q\t\n3\t\\N\tlast";
        let expected = vec![
            vec![text("1"), text("a\tb"), Value::Null],
            vec![text("2"), text("\\xAAq"), text("")],
            vec![text("3"), Value::Null, text("last")],
        ];
        assert_eq!(decode_all(&o, 3, &[data]).expect("decode"), expected);
        // Every split point gives the same records.
        for cut in 0..data.len() {
            let (a, b) = data.split_at(cut);
            assert_eq!(decode_all(&o, 3, &[a, b]).expect("decode"), expected, "cut at {cut}");
        }
    }

    #[test]
    fn an_escaped_delimiter_does_not_split_and_the_end_marker_stops() {
        let o = CopyOptions::new(CopyFormat::Text);
        let records = decode_all(&o, 2, &[b"a\\\tb\tc\n\\.\nignored\tjunk\n"]).expect("decode");
        assert_eq!(records, vec![vec![text("a\tb"), text("c")]]);
    }

    #[test]
    fn csv_quotes_newlines_and_nulls() {
        let mut o = CopyOptions::new(CopyFormat::Csv);
        o.header = true;
        let data = b"a,b,c\n1,\"x,\"\"y\"\"\nz\",\n2,\"\",plain\n";
        let expected =
            vec![vec![text("1"), text("x,\"y\"\nz"), Value::Null], vec![text("2"), text(""), text("plain")]];
        for cut in 0..data.len() {
            let (a, b) = data.split_at(cut);
            assert_eq!(decode_all(&o, 3, &[a, b]).expect("decode"), expected, "cut at {cut}");
        }
        let err = decode_all(&o, 3, &[b"h\n1,\"open"]).expect_err("unterminated");
        assert_eq!(err.state, SqlState::BadCopyFileFormat);
    }

    #[test]
    fn wrong_widths_are_22p04() {
        let o = CopyOptions::new(CopyFormat::Text);
        let err = decode_all(&o, 2, &[b"1\t2\t3\n"]).expect_err("extra");
        assert_eq!(
            (err.state, err.message.as_str()),
            (SqlState::BadCopyFileFormat, "extra data after last expected column")
        );
        let err = decode_all(&o, 2, &[b"1\n"]).expect_err("missing");
        assert_eq!(err.message, "missing data for column \"c1\"");
        let mut decoder = Decoder::new(&o, vec!["a".into()]);
        decoder.feed(b"1\n2\n3\t4\n");
        assert!(decoder.next_record().expect("1").is_some());
        assert!(decoder.next_record().expect("2").is_some());
        assert_eq!(decoder.line(), 3);
        assert!(decoder.next_record().is_err());
        assert_eq!(decoder.line(), 3, "the error is about line 3");
    }

    #[test]
    fn encoded_rows_decode_to_the_same_fields() {
        let values =
            vec![text("tab\there"), Value::Null, text("back\\slash\nnew"), text(""), text("q\"uote,comma")];
        for format in [CopyFormat::Text, CopyFormat::Csv] {
            let o = CopyOptions::new(format);
            let encoder = Encoder::new(&o, vec![DataType::Text; values.len()]);
            let mut out = Vec::new();
            encoder.row(&values, &mut out);
            encoder.row(&values, &mut out);
            let records = decode_all(&o, values.len(), &[&out]).expect("decode");
            assert_eq!(
                records,
                vec![values.clone(), values.clone()],
                "{format:?}: {}",
                String::from_utf8_lossy(&out)
            );
        }
        let o = CopyOptions::new(CopyFormat::Text);
        let mut out = Vec::new();
        Encoder::new(&o, vec![DataType::Integer, DataType::Real])
            .row(&[Value::Int(7), Value::Float(0.1f32 as f64)], &mut out);
        assert_eq!(out, b"7\t0.1\n");
    }
}
