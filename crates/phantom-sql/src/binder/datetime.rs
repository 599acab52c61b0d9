//! Binding the date and time functions, `EXTRACT`, `AT TIME ZONE`, interval literals
//! with qualifiers (`INTERVAL '1' YEAR TO MONTH`) and casts to date/time types with a
//! modifier (`interval(0)`, `timestamp(3)`).
//!
//! Arguments are typed as PostgreSQL resolves them: an untyped literal takes the type
//! the function wants, a DATE passes where a timestamp is wanted (as `timestamptz` where
//! PostgreSQL's preferred-type rule picks it: `date_trunc`, `age`, `to_char`), and
//! anything else is 42883 naming the argument types.

use sqlparser::ast;

use super::Binder;
use super::expr::{Cx, Typed, plain_args};
use crate::error::{Error, Result, SqlState};
use crate::exec::datetime_functions::DateTimeFunction as F;
use crate::planner::expr::{Expr, Function};
use crate::types::datetime::interval::{self, IntervalTypmod};
use crate::types::{DataType, Value};

/// The interval field bit of a SQL interval qualifier field.
fn interval_field(field: &ast::DateTimeField) -> Option<u8> {
    use ast::DateTimeField as D;
    Some(match field {
        D::Year | D::Years => interval::FIELD_YEAR,
        D::Month | D::Months => interval::FIELD_MONTH,
        D::Day | D::Days => interval::FIELD_DAY,
        D::Hour | D::Hours => interval::FIELD_HOUR,
        D::Minute | D::Minutes => interval::FIELD_MINUTE,
        D::Second | D::Seconds => interval::FIELD_SECOND,
        _ => return None,
    })
}

fn ast_interval_fields(fields: &ast::IntervalFields) -> u8 {
    use ast::IntervalFields as I;
    use interval::{
        FIELD_DAY as D, FIELD_HOUR as H, FIELD_MINUTE as MI, FIELD_MONTH as MO, FIELD_SECOND as S,
    };
    match fields {
        I::Year => interval::FIELD_YEAR,
        I::Month => MO,
        I::Day => D,
        I::Hour => H,
        I::Minute => MI,
        I::Second => S,
        I::YearToMonth => interval::FIELD_YEAR | MO,
        I::DayToHour => D | H,
        I::DayToMinute => D | H | MI,
        I::DayToSecond => D | H | MI | S,
        I::HourToMinute => H | MI,
        I::HourToSecond => H | MI | S,
        I::MinuteToSecond => MI | S,
    }
}

/// A fractional-seconds precision: 0 to 6 (more is reduced to 6, as PostgreSQL does
/// with a warning).
fn precision(p: u64) -> u8 {
    p.min(6) as u8
}

/// The modifier of a date/time type name, if it has one that changes values.
pub(super) enum DateTimeTypmod {
    Interval(IntervalTypmod),
    /// Seconds rounded to this many digits.
    Precision(u8),
}

pub(super) fn datetime_typmod(t: &ast::DataType) -> Option<DateTimeTypmod> {
    match t {
        ast::DataType::Interval { fields, precision: p } if fields.is_some() || p.is_some() => {
            Some(DateTimeTypmod::Interval(IntervalTypmod {
                fields: fields.as_ref().map(ast_interval_fields),
                precision: p.map(precision),
            }))
        }
        ast::DataType::Timestamp(Some(p), _) | ast::DataType::Time(Some(p), _) if *p < 6 => {
            Some(DateTimeTypmod::Precision(precision(*p)))
        }
        _ => None,
    }
}

impl Binder<'_> {
    /// The type of a column: a date/time modifier that would change values is refused
    /// (it is not kept with the column yet, and PostgreSQL would round every value).
    pub(super) fn column_type(&self, t: &ast::DataType) -> Result<DataType> {
        if datetime_typmod(t).is_some() {
            return Err(Error::new(
                SqlState::FeatureNotSupported,
                format!("columns of type {t} are not supported yet (the modifier would not be kept)"),
            ));
        }
        self.data_type(t)
    }

    /// Applies the modifier of the cast target `t` (if any) to an expression already
    /// cast to its base type. A string literal cast to a qualified interval is read with
    /// the qualifier, since it decides what a bare number means.
    pub(super) fn apply_datetime_typmod(
        &mut self,
        t: &ast::DataType,
        source: Option<&str>,
        x: Typed,
    ) -> Result<Typed> {
        let Some(typmod) = datetime_typmod(t) else { return Ok(x) };
        let ty = x.ty;
        let func = match typmod {
            DateTimeTypmod::Interval(typmod) => {
                if let Some(text) = source {
                    let value = interval::parse_interval_typmod(text, &typmod)?;
                    return Ok(Typed::new(Expr::Constant(Value::Interval(value)), DataType::Interval));
                }
                F::IntervalTypmod(typmod)
            }
            DateTimeTypmod::Precision(p) => F::Precision(p),
        };
        Ok(self.fold(Expr::Call(Function::DateTime(func), vec![x.expr], ty), ty))
    }

    /// A constant call evaluated now, anything else left as a call.
    fn fold(&self, e: Expr, ty: DataType) -> Typed {
        let e = match &e {
            Expr::Call(_, args, _) if args.iter().all(|a| matches!(a, Expr::Constant(_))) => {
                match e.eval(&[]) {
                    Ok(v) => Expr::Constant(v),
                    Err(_) => e,
                }
            }
            _ => e,
        };
        Typed::new(e, ty)
    }

    /// `INTERVAL 'text' [qualifier]`.
    pub(super) fn interval_literal(&mut self, i: &ast::Interval) -> Result<Typed> {
        let text = match i.value.as_ref() {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::SingleQuotedString(s) => s.clone(),
                ast::Value::Number(n, _) => n.clone(),
                other => other.to_string(),
            },
            other => return Err(Error::new(SqlState::FeatureNotSupported, format!("INTERVAL {other}"))),
        };
        let mut typmod = IntervalTypmod::default();
        if let Some(leading) = &i.leading_field {
            let from = interval_field(leading).ok_or_else(|| {
                Error::new(SqlState::SyntaxError, format!("syntax error at or near \"{leading}\""))
            })?;
            let to = i.last_field.as_ref().map(|l| interval_field(l).unwrap_or(0));
            typmod = IntervalTypmod::range(from, to)
                .ok_or_else(|| Error::new(SqlState::SyntaxError, "syntax error in interval qualifier"))?;
        }
        // `SECOND(p)` alone puts its precision where a leading precision goes.
        let seconds_only =
            matches!(i.leading_field, Some(ast::DateTimeField::Second | ast::DateTimeField::Seconds))
                && i.last_field.is_none();
        let p = i.fractional_seconds_precision.or(if seconds_only { i.leading_precision } else { None });
        typmod.precision = p.map(precision);
        let value = interval::parse_interval_typmod(&text, &typmod)?;
        Ok(Typed::new(Expr::Constant(Value::Interval(value)), DataType::Interval))
    }

    /// `EXTRACT(field FROM x)`: NUMERIC.
    pub(super) fn extract(
        &mut self,
        field: &ast::DateTimeField,
        x: &ast::Expr,
        cx: &mut Cx<'_>,
    ) -> Result<Typed> {
        let name = match field {
            ast::DateTimeField::Custom(i) => i.value.to_lowercase(),
            other => other.to_string().to_lowercase(),
        };
        let x = self.expr(x, cx)?;
        let x = self.temporal_arg(x, "extract", &[DataType::Timestamp])?;
        let field = Expr::Constant(Value::Text(name));
        let ty = DataType::Numeric(None);
        Ok(self.fold(Expr::Call(Function::DateTime(F::Extract), vec![field, x.0], ty), ty))
    }

    /// `x AT TIME ZONE zone`.
    pub(super) fn at_time_zone(
        &mut self,
        ts: &ast::Expr,
        zone: &ast::Expr,
        cx: &mut Cx<'_>,
    ) -> Result<Typed> {
        let ts = self.expr(ts, cx)?;
        let zone = self.expr(zone, cx)?;
        self.timezone_call(zone, ts)
    }

    fn timezone_call(&mut self, zone: Typed, ts: Typed) -> Result<Typed> {
        let zone = self.zone_arg(zone)?;
        let (ts, ty) = self.temporal_arg(ts, "timezone", &[DataType::TimestampTz])?;
        let result = match ty {
            DataType::TimestampTz => DataType::Timestamp,
            DataType::Timestamp => DataType::TimestampTz,
            other => {
                return Err(Error::undefined_function(format!(
                    "function timezone(text, {other}) does not exist"
                )));
            }
        };
        Ok(self.fold(Expr::Call(Function::DateTime(F::AtTimeZone), vec![zone, ts], result), result))
    }

    /// A zone argument: text or an interval.
    fn zone_arg(&mut self, x: Typed) -> Result<Expr> {
        if x.ty == DataType::Interval || x.ty == DataType::Null {
            return Ok(x.expr);
        }
        self.text_arg(x, "timezone")
    }

    fn text_arg(&mut self, x: Typed, what: &str) -> Result<Expr> {
        if x.ty.is_string() || x.ty == DataType::Null || x.literal {
            return self.coerce(x, DataType::Text, what);
        }
        Err(Error::undefined_function(format!("function {what}({}) does not exist", x.ty)))
    }

    /// A date/time argument. A literal takes `literal_as[0]`; a DATE becomes the first
    /// timestamp type of `literal_as` when one is wanted.
    fn temporal_arg(&mut self, x: Typed, what: &str, literal_as: &[DataType]) -> Result<(Expr, DataType)> {
        if x.literal {
            let ty = literal_as[0];
            return Ok((self.coerce(x, ty, what)?, ty));
        }
        match x.ty {
            DataType::Date
                if literal_as.contains(&DataType::TimestampTz) && !literal_as.contains(&DataType::Date) =>
            {
                Ok((Expr::Cast(x.expr.boxed(), DataType::TimestampTz), DataType::TimestampTz))
            }
            DataType::Date
            | DataType::Time
            | DataType::Timestamp
            | DataType::TimestampTz
            | DataType::Interval => Ok((x.expr, x.ty)),
            DataType::Null => Ok((x.expr, literal_as[0])),
            other => Err(Error::undefined_function(format!("function {what}({other}) does not exist"))),
        }
    }

    fn number_arg(&mut self, x: Typed, ty: DataType, what: &str) -> Result<Expr> {
        if x.ty.is_numeric() && ty.is_integer() && !x.ty.is_integer() {
            return Ok(Expr::Cast(x.expr.boxed(), ty));
        }
        self.coerce(x, ty, what)
    }

    /// The date and time functions by name; `None` for other names.
    pub(super) fn datetime_function(
        &mut self,
        name: &str,
        f: &ast::Function,
        cx: &mut Cx<'_>,
    ) -> Result<Option<Typed>> {
        let func = match name {
            "now" | "current_timestamp" | "transaction_timestamp" => F::Now,
            "statement_timestamp" => F::StatementTimestamp,
            "clock_timestamp" => F::ClockTimestamp,
            "timeofday" => F::TimeOfDay,
            "current_date" => F::CurrentDate,
            "localtimestamp" => F::LocalTimestamp,
            "localtime" | "current_time" => F::LocalTime,
            "date_part" => F::DatePart,
            "date_trunc" => F::DateTrunc,
            "date_bin" => F::DateBin,
            "age" => F::Age,
            "justify_days" => F::JustifyDays,
            "justify_hours" => F::JustifyHours,
            "justify_interval" => F::JustifyInterval,
            "make_date" => F::MakeDate,
            "make_time" => F::MakeTime,
            "make_timestamp" => F::MakeTimestamp,
            "make_timestamptz" => F::MakeTimestampTz,
            "make_interval" => F::MakeInterval,
            "isfinite" => F::IsFinite,
            "to_timestamp" => F::ToTimestamp,
            "to_date" => F::ToDate,
            "to_char" => F::ToChar,
            "timezone" => F::AtTimeZone,
            _ => return Ok(None),
        };
        if func == F::MakeInterval {
            return self.make_interval(f, cx).map(Some);
        }
        let mut args = Vec::new();
        for a in plain_args(f)? {
            args.push(self.expr(&a, cx)?);
        }
        let wrong = |args: &[Typed]| {
            let types: Vec<String> = args
                .iter()
                .map(|a| if a.literal { "unknown".to_string() } else { a.ty.to_string() })
                .collect();
            Error::undefined_function(format!("function {name}({}) does not exist", types.join(", ")))
        };
        let arity = |min: usize, max: usize| -> Result<()> {
            if args.len() < min || args.len() > max { Err(wrong(&args)) } else { Ok(()) }
        };
        use DataType::*;
        let (func, exprs, ty) = match func {
            F::Now | F::StatementTimestamp | F::ClockTimestamp | F::LocalTimestamp | F::LocalTime => {
                // current_timestamp(p) and friends round to p digits.
                arity(0, 1)?;
                let ty = match func {
                    F::LocalTimestamp => Timestamp,
                    F::LocalTime => Time,
                    _ => TimestampTz,
                };
                let call = Expr::Call(Function::DateTime(func), Vec::new(), ty);
                if let Some(p) = args.pop() {
                    let Expr::Constant(Value::Int(p)) = p.expr else { return Err(wrong(&[p])) };
                    let p = u8::try_from(p.clamp(0, 6)).unwrap_or(6);
                    return Ok(Some(Typed::new(
                        Expr::Call(Function::DateTime(F::Precision(p)), vec![call], ty),
                        ty,
                    )));
                }
                return Ok(Some(Typed::new(call, ty)));
            }
            F::TimeOfDay => {
                arity(0, 0)?;
                (func, Vec::new(), Text)
            }
            F::CurrentDate => {
                arity(0, 0)?;
                (func, Vec::new(), Date)
            }
            F::DatePart => {
                arity(2, 2)?;
                let x = args.pop().ok_or_else(|| wrong(&[]))?;
                let field = self.text_arg(args.remove(0), name)?;
                let (x, _) = self.temporal_arg(x, name, &[Timestamp])?;
                (func, vec![field, x], Double)
            }
            F::DateTrunc => {
                arity(2, 3)?;
                let zone = if args.len() == 3 { args.pop() } else { None };
                let x = args.pop().ok_or_else(|| wrong(&[]))?;
                let field = self.text_arg(args.remove(0), name)?;
                let (x, ty) = self.temporal_arg(x, name, &[Timestamp, TimestampTz])?;
                let ty = if ty == Date { TimestampTz } else { ty };
                if ty == Time || (zone.is_some() && ty != TimestampTz) {
                    return Err(Error::undefined_function(format!(
                        "function {name}(text, {ty}) does not exist"
                    )));
                }
                let mut exprs = vec![field, x];
                if let Some(z) = zone {
                    exprs.push(self.zone_arg(z)?);
                }
                (func, exprs, ty)
            }
            F::DateBin => {
                arity(3, 3)?;
                let origin = args.pop().ok_or_else(|| wrong(&[]))?;
                let source = args.pop().ok_or_else(|| wrong(&[]))?;
                let stride = self.coerce(args.remove(0), Interval, name)?;
                let (source, ty) = self.temporal_arg(source, name, &[Timestamp])?;
                let (source, ty) = if ty == Date {
                    (Expr::Cast(source.boxed(), Timestamp), Timestamp)
                } else {
                    (source, ty)
                };
                if !matches!(ty, Timestamp | TimestampTz) {
                    return Err(Error::undefined_function(format!(
                        "function {name}(interval, {ty}) does not exist"
                    )));
                }
                let origin = self.coerce(origin, ty, name)?;
                (func, vec![stride, source, origin], ty)
            }
            F::Age => {
                arity(1, 2)?;
                let mut exprs = Vec::new();
                let mut ty = Null;
                for a in args {
                    let (e, t) = self.temporal_arg(a, name, &[Timestamp, TimestampTz])?;
                    let t = if t == Date { TimestampTz } else { t };
                    if !matches!(t, Timestamp | TimestampTz) {
                        return Err(Error::undefined_function(format!(
                            "function {name}({t}) does not exist"
                        )));
                    }
                    if ty == Null || t == TimestampTz {
                        ty = t;
                    }
                    exprs.push(e);
                }
                // Mixed kinds compare as timestamptz, as PostgreSQL's implicit cast does.
                let exprs = exprs
                    .into_iter()
                    .map(|e| if ty == TimestampTz { Expr::Cast(e.boxed(), TimestampTz) } else { e })
                    .collect();
                (func, exprs, Interval)
            }
            F::JustifyDays | F::JustifyHours | F::JustifyInterval => {
                arity(1, 1)?;
                (func, vec![self.coerce(args.remove(0), Interval, name)?], Interval)
            }
            F::MakeDate => {
                arity(3, 3)?;
                let exprs =
                    args.into_iter().map(|a| self.number_arg(a, Integer, name)).collect::<Result<_>>()?;
                (func, exprs, Date)
            }
            F::MakeTime => {
                arity(3, 3)?;
                let mut exprs = Vec::new();
                for (i, a) in args.into_iter().enumerate() {
                    exprs.push(self.number_arg(a, if i < 2 { Integer } else { Double }, name)?);
                }
                (func, exprs, Time)
            }
            F::MakeTimestamp | F::MakeTimestampTz => {
                if func == F::MakeTimestamp {
                    arity(6, 6)?
                } else {
                    arity(6, 7)?
                };
                let mut exprs = Vec::new();
                for (i, a) in args.into_iter().enumerate() {
                    exprs.push(match i {
                        0..=4 => self.number_arg(a, Integer, name)?,
                        5 => self.number_arg(a, Double, name)?,
                        _ => self.text_arg(a, name)?,
                    });
                }
                (func, exprs, if func == F::MakeTimestamp { Timestamp } else { TimestampTz })
            }
            F::IsFinite => {
                arity(1, 1)?;
                let (e, _) = self.temporal_arg(args.remove(0), name, &[Timestamp])?;
                (func, vec![e], Boolean)
            }
            F::ToTimestamp if args.len() == 1 => {
                let e = self.number_arg(args.remove(0), Double, name)?;
                (F::ToTimestampEpoch, vec![e], TimestampTz)
            }
            F::ToTimestamp | F::ToDate => {
                arity(2, 2)?;
                let template = self.text_arg(args.pop().ok_or_else(|| wrong(&[]))?, name)?;
                let text = self.text_arg(args.remove(0), name)?;
                (func, vec![text, template], if func == F::ToDate { Date } else { TimestampTz })
            }
            F::ToChar => {
                arity(2, 2)?;
                let template = self.text_arg(args.pop().ok_or_else(|| wrong(&[]))?, name)?;
                let x = args.remove(0);
                if x.ty.is_numeric() {
                    return Err(Error::new(
                        SqlState::FeatureNotSupported,
                        "to_char of numbers is not supported yet (dates, times and intervals are)",
                    ));
                }
                let (x, _) = self.temporal_arg(x, name, &[TimestampTz])?;
                (func, vec![x, template], Text)
            }
            F::AtTimeZone => {
                arity(2, 2)?;
                let ts = args.pop().ok_or_else(|| wrong(&[]))?;
                let zone = args.remove(0);
                return self.timezone_call(zone, ts).map(Some);
            }
            _ => return Err(wrong(&args)),
        };
        Ok(Some(self.fold(Expr::Call(Function::DateTime(func), exprs, ty), ty)))
    }

    /// `make_interval(years, months, weeks, days, hours, mins, secs)`, arguments by
    /// position or by name (`make_interval(days => 10)`), each defaulting to 0.
    fn make_interval(&mut self, f: &ast::Function, cx: &mut Cx<'_>) -> Result<Typed> {
        const NAMES: [&str; 7] = ["years", "months", "weeks", "days", "hours", "mins", "secs"];
        let mut slots: Vec<Option<ast::Expr>> = vec![None; 7];
        if let ast::FunctionArguments::List(list) = &f.args {
            let mut position = 0;
            for arg in &list.args {
                match arg {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                        if position >= 7 {
                            return Err(Error::undefined_function(
                                "function make_interval() does not take that many arguments",
                            ));
                        }
                        slots[position] = Some(e.clone());
                        position += 1;
                    }
                    ast::FunctionArg::Named { name, arg: ast::FunctionArgExpr::Expr(e), .. }
                    | ast::FunctionArg::ExprNamed {
                        name: ast::Expr::Identifier(name),
                        arg: ast::FunctionArgExpr::Expr(e),
                        ..
                    } => {
                        let n = name.value.to_lowercase();
                        let at = NAMES.iter().position(|x| *x == n).ok_or_else(|| {
                            Error::undefined_function(format!(
                                "function make_interval({n} => ...) does not exist"
                            ))
                        })?;
                        slots[at] = Some(e.clone());
                    }
                    other => {
                        return Err(Error::new(
                            SqlState::FeatureNotSupported,
                            format!("function argument not supported: {other}"),
                        ));
                    }
                }
            }
        }
        let mut exprs = Vec::new();
        for (i, slot) in slots.into_iter().enumerate() {
            let x = match slot {
                Some(e) => self.expr(&e, cx)?,
                None => Typed::new(Expr::Constant(Value::Int(0)), DataType::Integer),
            };
            let ty = if i == 6 { DataType::Double } else { DataType::Integer };
            exprs.push(self.number_arg(x, ty, "make_interval")?);
        }
        let ty = DataType::Interval;
        Ok(self.fold(Expr::Call(Function::DateTime(F::MakeInterval), exprs, ty), ty))
    }
}
