//! `to_char`, `to_date` and `to_timestamp` templates (PostgreSQL's `formatting.c`, for
//! dates, times, timestamps and intervals; the number templates are not done).
//!
//! A template is parsed once into nodes: a pattern (`YYYY`, `Month`, `HH24`, ...) with
//! its modifiers (`FM` fill mode drops the padding, `TH`/`th` adds an ordinal suffix), or
//! literal text (anything else, `"quoted text"`, `\` escapes). Output walks the nodes
//! over a broken-down time; input walks them over the text, each pattern reading its
//! digits or words, separators matching loosely as PostgreSQL's non-FX mode does. The
//! case of a name pattern sets the case of its output (`MONTH`, `Month`, `month`).

use super::calendar::{self, Civil, DAY, SECOND};
use super::interval::Interval;
use super::settings;
use crate::error::{Error, Result, SqlState};
use crate::types::Value;

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAY_NAMES: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const ROMAN: [&str; 12] = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"];

/// The patterns, longest first where one is a prefix of another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pat {
    AmDots,
    PmDots,
    Am,
    Pm,
    AdDots,
    BcDots,
    Ad,
    Bc,
    Hh24,
    Hh12,
    Hh,
    Mi,
    Sssss,
    Ssss,
    Ss,
    Ms,
    Us,
    Ff(u8),
    YearComma,
    Yyyy,
    Yyy,
    Yy,
    Y,
    Iyyy,
    Iyy,
    Iy,
    I,
    Month,
    Mon,
    Mm,
    Day,
    Dy,
    Ddd,
    Iddd,
    Dd,
    D,
    Id,
    W,
    Ww,
    Iw,
    Cc,
    J,
    Q,
    Rm,
    Tzh,
    Tzm,
    Tz,
    Of,
}

/// How a name is capitalised: from the pattern as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    Upper,
    Title,
    Lower,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Literal(String),
    Pattern { pat: Pat, case: Case, fill: bool, ordinal: Option<Case> },
}

/// The keyword table: spelling (as matched, case-insensitively unless noted) and pattern.
const KEYWORDS: &[(&str, Pat)] = &[
    ("a.m.", Pat::AmDots),
    ("p.m.", Pat::PmDots),
    ("a.d.", Pat::AdDots),
    ("b.c.", Pat::BcDots),
    ("am", Pat::Am),
    ("pm", Pat::Pm),
    ("ad", Pat::Ad),
    ("bc", Pat::Bc),
    ("hh24", Pat::Hh24),
    ("hh12", Pat::Hh12),
    ("hh", Pat::Hh),
    ("mi", Pat::Mi),
    ("sssss", Pat::Sssss),
    ("ssss", Pat::Ssss),
    ("ss", Pat::Ss),
    ("ms", Pat::Ms),
    ("us", Pat::Us),
    ("ff1", Pat::Ff(1)),
    ("ff2", Pat::Ff(2)),
    ("ff3", Pat::Ff(3)),
    ("ff4", Pat::Ff(4)),
    ("ff5", Pat::Ff(5)),
    ("ff6", Pat::Ff(6)),
    ("y,yyy", Pat::YearComma),
    ("yyyy", Pat::Yyyy),
    ("yyy", Pat::Yyy),
    ("yy", Pat::Yy),
    ("y", Pat::Y),
    ("iyyy", Pat::Iyyy),
    ("iyy", Pat::Iyy),
    ("iddd", Pat::Iddd),
    ("iy", Pat::Iy),
    ("id", Pat::Id),
    ("iw", Pat::Iw),
    ("i", Pat::I),
    ("month", Pat::Month),
    ("mon", Pat::Mon),
    ("mm", Pat::Mm),
    ("day", Pat::Day),
    ("dy", Pat::Dy),
    ("ddd", Pat::Ddd),
    ("dd", Pat::Dd),
    ("d", Pat::D),
    ("ww", Pat::Ww),
    ("w", Pat::W),
    ("cc", Pat::Cc),
    ("j", Pat::J),
    ("q", Pat::Q),
    ("rm", Pat::Rm),
    ("tzh", Pat::Tzh),
    ("tzm", Pat::Tzm),
    ("tz", Pat::Tz),
    ("of", Pat::Of),
];

fn case_of(written: &str) -> Case {
    let mut letters = written.chars().filter(|c| c.is_ascii_alphabetic());
    match (letters.next(), letters.next()) {
        (Some(a), Some(b)) if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Case::Upper,
        (Some(a), _) if a.is_ascii_uppercase() => Case::Title,
        _ => Case::Lower,
    }
}

/// Parses a template into nodes.
fn compile(template: &str) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut literal = String::new();
    let s = template;
    let mut i = 0;
    let flush = |literal: &mut String, nodes: &mut Vec<Node>| {
        if !literal.is_empty() {
            nodes.push(Node::Literal(std::mem::take(literal)));
        }
    };
    while i < s.len() {
        let rest = &s[i..];
        let mut fill = false;
        let mut body = rest;
        if body.len() >= 2 && body[..2].eq_ignore_ascii_case("fm") {
            fill = true;
            body = &body[2..];
        } else if body.len() >= 2 && body[..2].eq_ignore_ascii_case("fx") {
            i += 2;
            continue;
        }
        let found = KEYWORDS.iter().find(|(k, _)| {
            body.len() >= k.len() && body.is_char_boundary(k.len()) && body[..k.len()].eq_ignore_ascii_case(k)
        });
        if let Some((k, pat)) = found {
            flush(&mut literal, &mut nodes);
            let written = &body[..k.len()];
            let mut used = k.len() + if fill { 2 } else { 0 };
            let after = &body[k.len()..];
            let ordinal = if after.starts_with("TH") {
                used += 2;
                Some(Case::Upper)
            } else if after.starts_with("th") {
                used += 2;
                Some(Case::Lower)
            } else {
                None
            };
            nodes.push(Node::Pattern { pat: *pat, case: case_of(written), fill, ordinal });
            i += used;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c == '"' {
            let mut j = i + 1;
            let bytes = s.as_bytes();
            while j < s.len() && bytes[j] != b'"' {
                if bytes[j] == b'\\' && j + 1 < s.len() {
                    j += 1;
                }
                let ch = s[j..].chars().next().unwrap_or(' ');
                literal.push(ch);
                j += ch.len_utf8();
            }
            i = (j + 1).min(s.len());
            continue;
        }
        if c == '\\' && rest.len() > 1 {
            let ch = rest[1..].chars().next().unwrap_or(' ');
            literal.push(ch);
            i += 1 + ch.len_utf8();
            continue;
        }
        literal.push(c);
        i += c.len_utf8();
    }
    flush(&mut literal, &mut nodes);
    nodes
}

fn cased(name: &str, case: Case) -> String {
    match case {
        Case::Upper => name.to_ascii_uppercase(),
        Case::Title => name.to_string(),
        Case::Lower => name.to_ascii_lowercase(),
    }
}

fn ordinal_suffix(n: i64, case: Case) -> String {
    let n = n.abs();
    let s = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    if case == Case::Upper { s.to_ascii_uppercase() } else { s.to_string() }
}

/// What a template is formatted over.
struct Moment {
    civil: Civil,
    /// Days since the epoch (for week and day-of-week patterns); `None` for intervals.
    days: Option<i64>,
    /// Hours of an interval may pass 24.
    hours: i64,
    /// The zone: seconds east and abbreviation.
    zone: Option<(i32, String)>,
    is_interval: bool,
}

fn iso_week(days: i64) -> (i64, i64) {
    let (year, _, _) = calendar::civil_from_days(days);
    let week_start = |y: i64| {
        let jan4 = calendar::days_from_civil(y, 1, 4);
        jan4 - i64::from((calendar::weekday(jan4) + 6) % 7)
    };
    let mut iso_year = year;
    if days < week_start(year) {
        iso_year -= 1;
    } else if days >= week_start(year + 1) {
        iso_year += 1;
    }
    ((days - week_start(iso_year)) / 7 + 1, iso_year)
}

fn render(nodes: &[Node], m: &Moment) -> String {
    let mut out = String::new();
    let c = &m.civil;
    // PostgreSQL prints BC years as positive with the era separate.
    let year = if m.is_interval || c.year > 0 { c.year } else { 1 - c.year };
    let days = m.days.unwrap_or(0);
    for node in nodes {
        let (pat, case, fill, ordinal) = match node {
            Node::Literal(s) => {
                out.push_str(s);
                continue;
            }
            Node::Pattern { pat, case, fill, ordinal } => (*pat, *case, *fill, *ordinal),
        };
        let num = |out: &mut String, v: i64, width: usize| {
            let text = if fill || width == 0 {
                v.to_string()
            } else if v < 0 {
                format!("-{:0width$}", -v, width = width)
            } else {
                format!("{v:0width$}")
            };
            out.push_str(&text);
            if let Some(oc) = ordinal {
                out.push_str(&ordinal_suffix(v, oc));
            }
        };
        let name = |out: &mut String, s: &str, pad: usize| {
            let s = cased(s, case);
            if fill {
                out.push_str(&s);
            } else {
                out.push_str(&format!("{s:<pad$}"));
            }
        };
        let hour12 = {
            let h = m.hours % 12;
            if h == 0 { 12 } else { h }
        };
        let pm = m.hours % 24 >= 12;
        let bc = c.year <= 0 && !m.is_interval;
        match pat {
            Pat::Am | Pat::Pm => out.push_str(&cased(if pm { "PM" } else { "AM" }, case)),
            Pat::AmDots | Pat::PmDots => out.push_str(&cased(if pm { "P.M." } else { "A.M." }, case)),
            Pat::Ad | Pat::Bc => out.push_str(&cased(if bc { "BC" } else { "AD" }, case)),
            Pat::AdDots | Pat::BcDots => out.push_str(&cased(if bc { "B.C." } else { "A.D." }, case)),
            Pat::Hh24 => num(&mut out, m.hours, 2),
            Pat::Hh12 | Pat::Hh => num(&mut out, hour12, 2),
            Pat::Mi => num(&mut out, c.minute, 2),
            Pat::Ss => num(&mut out, c.second, 2),
            Pat::Sssss | Pat::Ssss => num(&mut out, (m.hours * 60 + c.minute) * 60 + c.second, 0),
            Pat::Ms => num(&mut out, c.micro / 1000, 3),
            Pat::Us => num(&mut out, c.micro, 6),
            Pat::Ff(n) => {
                let v = c.micro / 10i64.pow(6 - u32::from(n));
                num(&mut out, v, usize::from(n))
            }
            Pat::YearComma => {
                let s = format!("{},{:03}", year / 1000, year % 1000);
                out.push_str(&s);
            }
            Pat::Yyyy => num(&mut out, year, 4),
            Pat::Yyy => num(&mut out, year % 1000, 3),
            Pat::Yy => num(&mut out, year % 100, 2),
            Pat::Y => num(&mut out, year % 10, 1),
            Pat::Iyyy | Pat::Iyy | Pat::Iy | Pat::I => {
                let iy = iso_week(days).1;
                let (modulo, width) = match pat {
                    Pat::Iyyy => (i64::MAX, 4),
                    Pat::Iyy => (1000, 3),
                    Pat::Iy => (100, 2),
                    _ => (10, 1),
                };
                num(&mut out, iy % modulo, width)
            }
            Pat::Month => name(&mut out, MONTH_NAMES[(c.month.clamp(1, 12) - 1) as usize], 9),
            Pat::Mon => name(&mut out, &MONTH_NAMES[(c.month.clamp(1, 12) - 1) as usize][..3], 0),
            Pat::Mm => num(&mut out, i64::from(c.month), 2),
            Pat::Day => name(&mut out, DAY_NAMES[calendar::weekday(days) as usize], 9),
            Pat::Dy => name(&mut out, &DAY_NAMES[calendar::weekday(days) as usize][..3], 0),
            Pat::Ddd => num(&mut out, days - calendar::days_from_civil(c.year, 1, 1) + 1, 3),
            Pat::Iddd => {
                let (week, _) = iso_week(days);
                let dow = i64::from((calendar::weekday(days) + 6) % 7) + 1;
                num(&mut out, (week - 1) * 7 + dow, 3)
            }
            Pat::Dd => num(&mut out, i64::from(c.day), 2),
            Pat::D => num(&mut out, i64::from(calendar::weekday(days)) + 1, 1),
            Pat::Id => num(&mut out, i64::from((calendar::weekday(days) + 6) % 7) + 1, 1),
            Pat::W => num(&mut out, (i64::from(c.day) - 1) / 7 + 1, 1),
            Pat::Ww => num(&mut out, (days - calendar::days_from_civil(c.year, 1, 1)) / 7 + 1, 2),
            Pat::Iw => num(&mut out, iso_week(days).0, 2),
            Pat::Cc => {
                let cc = if m.is_interval {
                    c.year / 100
                } else if c.year > 0 {
                    (c.year + 99) / 100
                } else {
                    -((99 - (c.year - 1)) / 100)
                };
                num(&mut out, cc, 2)
            }
            Pat::J => num(&mut out, days + calendar::UNIX_EPOCH_JULIAN, 0),
            Pat::Q => num(&mut out, i64::from((c.month.clamp(1, 12) - 1) / 3 + 1), 0),
            Pat::Rm => name(&mut out, ROMAN[(c.month.clamp(1, 12) - 1) as usize], 4),
            Pat::Tz | Pat::Tzh | Pat::Tzm | Pat::Of => {
                let Some((east, abbrev)) = &m.zone else { continue };
                let sign = if *east < 0 { '-' } else { '+' };
                let (h, mi) = (east.unsigned_abs() / 3600, east.unsigned_abs() / 60 % 60);
                match pat {
                    Pat::Tz => out.push_str(&cased(
                        abbrev,
                        if case == Case::Lower { Case::Lower } else { Case::Upper },
                    )),
                    Pat::Tzh => out.push_str(&format!("{sign}{h:02}")),
                    Pat::Tzm => out.push_str(&format!("{mi:02}")),
                    _ if mi == 0 => out.push_str(&format!("{sign}{h:02}")),
                    _ => out.push_str(&format!("{sign}{h:02}:{mi:02}")),
                }
            }
        }
    }
    out
}

/// `to_char(value, template)` for dates, timestamps and intervals (infinite ones give
/// NULL in PostgreSQL; here the empty result is the caller's NULL).
pub fn to_char(value: &Value, template: &str) -> Result<String> {
    let nodes = compile(template);
    let moment = match value {
        Value::Date(d) => {
            let (year, month, day) = calendar::civil_from_days(*d);
            Moment {
                civil: Civil { year, month, day, ..Civil::default() },
                days: Some(*d),
                hours: 0,
                zone: None,
                is_interval: false,
            }
        }
        Value::Timestamp(t) => local_moment(*t, None),
        Value::TimestampTz(t) => {
            let zone = &settings::current().settings.zone;
            let offset = zone.offset_at(*t);
            let local = t.checked_add(i64::from(offset.east) * SECOND).unwrap_or(*t);
            local_moment(local, Some((offset.east, offset.abbreviation)))
        }
        Value::Time(t) => Moment {
            civil: Civil::from_micros(*t),
            days: Some(0),
            hours: t / calendar::HOUR,
            zone: None,
            is_interval: false,
        },
        Value::Interval(i) => interval_moment(i),
        other => {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                format!("to_char of {} is not supported (numbers are not done yet)", other.data_type()),
            ));
        }
    };
    Ok(render(&nodes, &moment))
}

fn local_moment(local: i64, zone: Option<(i32, String)>) -> Moment {
    let civil = Civil::from_micros(local);
    Moment { civil, days: Some(local.div_euclid(DAY)), hours: civil.hour, zone, is_interval: false }
}

fn interval_moment(i: &Interval) -> Moment {
    let hours = i.micros / calendar::HOUR;
    let rest = i.micros % calendar::HOUR;
    let civil = Civil {
        year: i64::from(i.months / 12),
        month: (i.months % 12).unsigned_abs(),
        day: i.days.unsigned_abs(),
        hour: hours,
        minute: rest / calendar::MINUTE,
        second: rest % calendar::MINUTE / SECOND,
        micro: rest % SECOND,
    };
    Moment { civil, days: None, hours, zone: None, is_interval: true }
}

/// What input parsing collects.
#[derive(Default)]
struct Parsed {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    doy: Option<i64>,
    julian: Option<i64>,
    hour: i64,
    minute: i64,
    second: i64,
    micro: i64,
    pm: Option<bool>,
    twelve_hour: bool,
    bc: bool,
    zone: Option<i32>,
    two_digit_year: bool,
}

fn bad_value(text: &str, pat: &str) -> Error {
    Error::new(SqlState::InvalidDatetimeFormat, format!("invalid value \"{text}\" for \"{pat}\""))
}

/// Reads `to_date` / `to_timestamp` input.
fn parse_input(input: &str, template: &str) -> Result<Parsed> {
    let nodes = compile(template);
    let mut p = Parsed::default();
    let mut s = input;
    for node in &nodes {
        match node {
            Node::Literal(lit) => {
                // Outside FX mode a separator matches any run of non-alphanumerics (or
                // nothing), and a space any run of spaces.
                for ch in lit.chars() {
                    if ch.is_whitespace() {
                        s = s.trim_start();
                    } else if let Some(rest) = s.strip_prefix(ch) {
                        s = rest;
                    } else if !ch.is_alphanumeric() {
                        s = s.trim_start_matches(|c: char| !c.is_alphanumeric() && c != '-' && c != '+');
                    } else if let Some(c) = s.chars().next() {
                        s = &s[c.len_utf8()..];
                    }
                }
            }
            Node::Pattern { pat, .. } => {
                s = s.trim_start();
                let pat = *pat;
                let digits = |s: &str, max: usize| -> (String, usize) {
                    let signed = s.starts_with('-') || s.starts_with('+');
                    let body: String =
                        s[usize::from(signed)..].chars().take_while(char::is_ascii_digit).take(max).collect();
                    let used = body.len() + usize::from(signed && !body.is_empty());
                    let text = if signed && !body.is_empty() { format!("{}{body}", &s[..1]) } else { body };
                    (text, used)
                };
                let name_of = pat_name(pat);
                let number = |s: &mut &str, max: usize| -> Result<i64> {
                    let (text, used) = digits(s, max);
                    if text.is_empty() {
                        let shown: String = s.chars().take(max.min(10)).collect();
                        return Err(bad_value(&shown, name_of).with_detail("Value must be an integer."));
                    }
                    *s = &s[used..];
                    text.parse().map_err(|_| bad_value(&text, name_of))
                };
                match pat {
                    Pat::Yyyy | Pat::Iyyy => {
                        p.year = Some(number(&mut s, 9)?);
                    }
                    Pat::YearComma => {
                        let thousands = number(&mut s, 3)?;
                        s = s.strip_prefix(',').unwrap_or(s);
                        p.year = Some(thousands * 1000 + number(&mut s, 3)?);
                    }
                    Pat::Yyy | Pat::Iyy => {
                        let y = number(&mut s, 3)?;
                        p.year = Some(if y < 70 {
                            y + 2000
                        } else if y < 100 {
                            y + 1900
                        } else if y < 1000 {
                            y + 1000
                        } else {
                            y
                        });
                    }
                    Pat::Yy | Pat::Iy => {
                        let y = number(&mut s, 2)?;
                        p.year = Some(if y < 70 { y + 2000 } else { y + 1900 });
                        p.two_digit_year = true;
                    }
                    Pat::Y | Pat::I => p.year = Some(2000 + number(&mut s, 1)?),
                    Pat::Mm => p.month = Some(number(&mut s, 2)?),
                    Pat::Dd => p.day = Some(number(&mut s, 2)?),
                    Pat::Ddd | Pat::Iddd => p.doy = Some(number(&mut s, 3)?),
                    Pat::J => p.julian = Some(number(&mut s, 9)?),
                    Pat::Hh24 => p.hour = number(&mut s, 2)?,
                    Pat::Hh | Pat::Hh12 => {
                        p.hour = number(&mut s, 2)?;
                        p.twelve_hour = true;
                        if !(1..=12).contains(&p.hour) {
                            return Err(Error::new(
                                SqlState::InvalidDatetimeFormat,
                                format!("hour \"{}\" is invalid for the 12-hour clock", p.hour),
                            )
                            .with_hint("Use the 24-hour clock, or give an hour between 1 and 12."));
                        }
                    }
                    Pat::Mi => p.minute = number(&mut s, 2)?,
                    Pat::Ss => p.second = number(&mut s, 2)?,
                    Pat::Sssss | Pat::Ssss => {
                        let total = number(&mut s, 5)?;
                        p.hour = total / 3600;
                        p.minute = total / 60 % 60;
                        p.second = total % 60;
                    }
                    Pat::Ms => p.micro = number(&mut s, 3)? * 1000,
                    Pat::Us => p.micro = number(&mut s, 6)?,
                    Pat::Ff(n) => {
                        let (text, used) = digits(s, usize::from(n));
                        s = &s[used..];
                        let padded = format!("{text:0<6}");
                        p.micro = padded.parse().map_err(|_| bad_value(&text, name_of))?;
                    }
                    Pat::Am | Pat::Pm | Pat::AmDots | Pat::PmDots => {
                        let upper = s.to_ascii_uppercase();
                        let (is_pm, used) = if upper.starts_with("A.M.") {
                            (false, 4)
                        } else if upper.starts_with("P.M.") {
                            (true, 4)
                        } else if upper.starts_with("AM") {
                            (false, 2)
                        } else if upper.starts_with("PM") {
                            (true, 2)
                        } else {
                            let shown: String = s.chars().take(4).collect();
                            return Err(bad_value(&shown, name_of).with_detail(
                                "The given value did not match any of the allowed values for this field.",
                            ));
                        };
                        p.pm = Some(is_pm);
                        s = &s[used..];
                    }
                    Pat::Ad | Pat::Bc | Pat::AdDots | Pat::BcDots => {
                        let upper = s.to_ascii_uppercase();
                        for (word, bc) in [("B.C.", true), ("A.D.", false), ("BC", true), ("AD", false)] {
                            if upper.starts_with(word) {
                                p.bc = bc;
                                s = &s[word.len()..];
                                break;
                            }
                        }
                    }
                    Pat::Month | Pat::Mon | Pat::Rm => {
                        let lower = s.to_ascii_lowercase();
                        let found = if pat == Pat::Rm {
                            let upper = s.to_ascii_uppercase();
                            (0..12).rev().find(|&i| upper.starts_with(ROMAN[i])).map(|i| (i, ROMAN[i].len()))
                        } else {
                            MONTH_NAMES.iter().enumerate().find_map(|(i, m)| {
                                let m = m.to_ascii_lowercase();
                                if pat == Pat::Month && lower.starts_with(&m) {
                                    Some((i, m.len()))
                                } else if lower.starts_with(&m[..3]) {
                                    Some((
                                        i,
                                        if pat == Pat::Month && lower.starts_with(&m) { m.len() } else { 3 },
                                    ))
                                } else {
                                    None
                                }
                            })
                        };
                        let Some((i, used)) = found else {
                            let shown: String = s.chars().take(9).collect();
                            return Err(bad_value(&shown, name_of).with_detail(
                                "The given value did not match any of the allowed values for this field.",
                            ));
                        };
                        p.month = Some(i as i64 + 1);
                        s = &s[used..];
                    }
                    Pat::Day | Pat::Dy => {
                        let lower = s.to_ascii_lowercase();
                        let used = DAY_NAMES.iter().find_map(|d| {
                            let d = d.to_ascii_lowercase();
                            if lower.starts_with(&d) {
                                Some(d.len())
                            } else if lower.starts_with(&d[..3]) {
                                Some(3)
                            } else {
                                None
                            }
                        });
                        let Some(used) = used else {
                            let shown: String = s.chars().take(9).collect();
                            return Err(bad_value(&shown, name_of));
                        };
                        s = &s[used..];
                    }
                    Pat::D | Pat::Id | Pat::W | Pat::Q => {
                        number(&mut s, 1)?;
                    }
                    Pat::Ww | Pat::Iw | Pat::Cc => {
                        number(&mut s, 2)?;
                    }
                    Pat::Tzh => {
                        let h = number(&mut s, 3)?;
                        let sign = if h < 0 || input.contains("-") && h == 0 { -1 } else { 1 };
                        p.zone = Some(i32::try_from(h * 3600).unwrap_or(0) + p.zone.unwrap_or(0) * sign);
                    }
                    Pat::Tzm => {
                        let m = number(&mut s, 2)?;
                        let base = p.zone.unwrap_or(0);
                        let m = i32::try_from(m * 60).unwrap_or(0);
                        p.zone = Some(if base < 0 { base - m } else { base + m });
                    }
                    Pat::Tz | Pat::Of => {
                        return Err(Error::new(
                            SqlState::FeatureNotSupported,
                            format!("formatting field \"{name_of}\" is only supported in to_char"),
                        ));
                    }
                }
            }
        }
    }
    Ok(p)
}

fn pat_name(pat: Pat) -> &'static str {
    KEYWORDS.iter().find(|(_, p)| *p == pat).map_or("?", |(k, _)| k)
}

/// The date of parsed input (22008 for one that does not exist).
fn date_of(p: &Parsed, input: &str) -> Result<i64> {
    let out_of_range = || {
        Error::new(
            SqlState::DatetimeFieldOverflow,
            format!("date/time field value out of range: \"{input}\""),
        )
    };
    if let Some(j) = p.julian {
        return Ok(j - calendar::UNIX_EPOCH_JULIAN);
    }
    let mut year = p.year.unwrap_or(1);
    if p.bc {
        year = 1 - year;
    }
    if let (Some(doy), None) = (p.doy, p.month) {
        return Ok(calendar::days_from_civil(year, 1, 1) + doy - 1);
    }
    let month = p.month.unwrap_or(1);
    let day = p.day.unwrap_or(1);
    if !(1..=12).contains(&month) || day < 1 || day > i64::from(calendar::days_in_month(year, month as u32)) {
        return Err(out_of_range());
    }
    let days = calendar::days_from_civil(year, month as u32, day as u32);
    if !calendar::date_in_range(days) {
        return Err(Error::new(SqlState::DatetimeFieldOverflow, format!("date out of range: \"{input}\"")));
    }
    Ok(days)
}

/// `to_date(text, template)`.
pub fn to_date(input: &str, template: &str) -> Result<i64> {
    let p = parse_input(input, template)?;
    date_of(&p, input)
}

/// `to_timestamp(text, template)`: a `timestamptz`, in the session's zone unless the
/// input gave an offset (`TZH`, `TZM`).
pub fn to_timestamp(input: &str, template: &str) -> Result<i64> {
    let p = parse_input(input, template)?;
    let days = date_of(&p, input)?;
    let mut hour = p.hour;
    if let Some(pm) = p.pm {
        if !(1..=12).contains(&hour) {
            return Err(Error::new(
                SqlState::InvalidDatetimeFormat,
                format!("hour \"{hour}\" is invalid for the 12-hour clock"),
            ));
        }
        if pm && hour != 12 {
            hour += 12;
        } else if !pm && hour == 12 {
            hour = 0;
        }
    }
    if !(0..=24).contains(&hour) || !(0..60).contains(&p.minute) || !(0..=60).contains(&p.second) {
        return Err(Error::new(
            SqlState::DatetimeFieldOverflow,
            format!("date/time field value out of range: \"{input}\""),
        ));
    }
    let local = days * DAY + ((hour * 60 + p.minute) * 60 + p.second) * SECOND + p.micro;
    let utc = match p.zone {
        Some(east) => local - i64::from(east) * SECOND,
        None => super::arith::local_to_timestamptz(local)?,
    };
    calendar::check_timestamp(utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_char_matches_postgres() {
        let ts =
            Value::Timestamp(calendar::days_from_civil(2024, 5, 7) * DAY + ((13 * 60 + 4) * 60 + 5) * SECOND);
        let f = |t: &str| to_char(&ts, t).expect("to_char");
        assert_eq!(
            f("Day, DD Month YYYY HH12:MI:SS AM dy Mon mon"),
            "Tuesday  , 07 May       2024 01:04:05 PM tue May may"
        );
        assert_eq!(
            f("FMDay FMDD FMMonth DDD IDDD D ID W WW IW CC J Q RM"),
            "Tuesday 7 May 128 128 3 2 1 19 19 21 2460438 2 V   "
        );
        assert_eq!(f("ddth DDTH FMDDth"), "07th 07TH 7th");
        assert_eq!(f("YYYY \"Week\" IW"), "2024 Week 19");
    }

    #[test]
    fn to_date_and_to_timestamp_read_templates() {
        assert_eq!(to_date("05 Dec 2000", "DD Mon YYYY").ok(), Some(calendar::days_from_civil(2000, 12, 5)));
        assert_eq!(to_date("2000JUN", "YYYYMON").ok(), Some(calendar::days_from_civil(2000, 6, 1)));
        assert!(to_date("2000-13-01", "YYYY-MM-DD").is_err());
        let t = to_timestamp("2011-12-18 11:38 PM", "YYYY-MM-DD HH12:MI PM").expect("to_timestamp");
        assert_eq!(t, calendar::days_from_civil(2011, 12, 18) * DAY + (23 * 60 + 38) * 60 * SECOND);
    }
}
