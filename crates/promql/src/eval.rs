//! Evaluation of promql-parser's syntax tree, as Prometheus 2.x's engine evaluates it
//! (docs/PROMQL.md lists what differs): selectors with the lookback delta, offset and
//! @, aggregations, binary operators with vector matching, subqueries, and the
//! functions of [`crate::functions`]. A range query is the instant query at each step.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Result};
use promql_parser::label::Matcher;
use promql_parser::parser::token::{self, TokenType};
use promql_parser::parser::{
    value::ValueType, AggregateExpr, AtModifier, BinaryExpr, Call, Expr, LabelModifier, Offset, SubqueryExpr,
    VectorMatchCardinality, VectorSelector,
};

use crate::functions::{self, Arg, RangeArg};
use crate::store::{SeriesIndex, StoredSeries, METRIC_NAME};
use crate::value::{is_valid_label_name, label, without_name, Labels, QueryResult, RangeSeries, Sample, Value};

#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// How far back a selector looks for a series' latest sample (milliseconds).
    pub lookback: i64,
    /// increase() and rate() from the engine's exact, reset-aware increases.
    pub exact: bool,
    /// A subquery's step when it names none (Prometheus' evaluation_interval default).
    pub subquery_step: i64,
}

impl Default for EvalOptions {
    fn default() -> EvalOptions {
        EvalOptions { lookback: 5 * 60_000, exact: false, subquery_step: 60_000 }
    }
}

/// When a query is evaluated, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryTimes {
    Instant(i64),
    Range { start: i64, end: i64, step: i64 },
}

impl QueryTimes {
    pub fn first(self) -> i64 {
        match self {
            QueryTimes::Instant(t) => t,
            QueryTimes::Range { start, .. } => start,
        }
    }

    pub fn last(self) -> i64 {
        match self {
            QueryTimes::Instant(t) => t,
            QueryTimes::Range { end, .. } => end,
        }
    }
}

/// Evaluates `expr` over the stored series.
pub fn evaluate(index: &SeriesIndex, expr: &Expr, times: QueryTimes, options: &EvalOptions) -> Result<QueryResult> {
    let evaluator = Evaluator { index, options, start: times.first(), end: times.last() };
    match times {
        QueryTimes::Instant(t) => Ok(QueryResult { value: evaluator.eval(expr, t)?, time: t }),
        QueryTimes::Range { start, end, step } => {
            match expr.value_type() {
                ValueType::Vector | ValueType::Scalar => {}
                other => bail!("invalid expression type \"{}\" for range query, must be Scalar or instant Vector", {
                    match other {
                        ValueType::Matrix => "range vector",
                        _ => "string",
                    }
                }),
            }
            if step <= 0 {
                bail!("zero or negative query resolution step widths are not accepted");
            }
            let mut series: Vec<RangeSeries> = Vec::new();
            let mut by_labels: HashMap<Labels, usize> = HashMap::new();
            let mut t = start;
            while t <= end {
                let samples = match evaluator.eval(expr, t)? {
                    Value::Scalar(v) => vec![Sample { labels: Vec::new(), t, v }],
                    Value::Vector(v) => v,
                    other => bail!("unexpected {} in a range query", other.type_name()),
                };
                for s in samples {
                    let i = *by_labels.entry(s.labels.clone()).or_insert_with(|| {
                        series.push(RangeSeries { labels: s.labels.clone(), points: Vec::new(), increases: None });
                        series.len() - 1
                    });
                    if series[i].points.last().is_some_and(|&(last, _)| last == t) {
                        bail!("vector cannot contain metrics with the same labelset");
                    }
                    series[i].points.push((t, s.v));
                }
                match t.checked_add(step) {
                    Some(next) => t = next,
                    None => break,
                }
            }
            series.sort_by(|a, b| a.labels.cmp(&b.labels));
            Ok(QueryResult { value: Value::Matrix(series), time: end })
        }
    }
}

pub(crate) fn millis(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Steps a subquery may take at one evaluation (Prometheus bounds the samples a query
/// loads; a `[1y:1ms]` would otherwise run for hours).
const MAX_SUBQUERY_STEPS: i64 = 1_000_000;

fn offset_millis(offset: &Option<Offset>) -> i64 {
    match offset {
        Some(Offset::Pos(d)) => millis(d),
        Some(Offset::Neg(d)) => millis(d).saturating_neg(),
        None => 0,
    }
}

fn system_time_millis(t: &SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => millis(&d),
        Err(e) => millis(&e.duration()).saturating_neg(),
    }
}

pub struct Evaluator<'a> {
    pub index: &'a SeriesIndex,
    pub options: &'a EvalOptions,
    /// The query's start and end, for `@ start()` and `@ end()`.
    pub start: i64,
    pub end: i64,
}

/// Whether a series' labels satisfy a selector.
fn selects(vs: &VectorSelector, labels: &Labels) -> bool {
    let value = |name: &str| label(labels, name).unwrap_or("");
    if let Some(name) = &vs.name {
        if value(METRIC_NAME) != name {
            return false;
        }
    }
    let all = |ms: &[Matcher]| ms.iter().all(|m| m.is_match(value(&m.name)));
    all(&vs.matchers.matchers)
        && (vs.matchers.or_matchers.is_empty() || vs.matchers.or_matchers.iter().any(|group| all(group)))
}

/// The metric a selector names, when it names exactly one.
pub fn selector_name(vs: &VectorSelector) -> Option<&str> {
    vs.name.as_deref().or_else(|| {
        vs.matchers
            .matchers
            .iter()
            .find(|m| m.name == METRIC_NAME && matches!(m.op, promql_parser::label::MatchOp::Equal))
            .map(|m| m.value.as_str())
    })
}

impl Evaluator<'_> {
    fn reference_time(&self, at: &Option<AtModifier>, offset: &Option<Offset>, ts: i64) -> i64 {
        let base = match at {
            None => ts,
            Some(AtModifier::Start) => self.start,
            Some(AtModifier::End) => self.end,
            Some(AtModifier::At(t)) => system_time_millis(t),
        };
        base.saturating_sub(offset_millis(offset))
    }

    fn selected<'s>(&'s self, vs: &'s VectorSelector) -> impl Iterator<Item = &'s StoredSeries> + 's {
        self.index.candidates(selector_name(vs)).filter(move |s| selects(vs, &s.labels))
    }

    pub fn instant_vector(&self, vs: &VectorSelector, ts: i64) -> Vec<Sample> {
        let r = self.reference_time(&vs.at, &vs.offset, ts);
        let mut out = Vec::new();
        for s in self.selected(vs) {
            let i = s.points.partition_point(|p| p.t <= r);
            if i == 0 {
                continue;
            }
            let p = s.points[i - 1];
            if p.t >= r.saturating_sub(self.options.lookback) {
                out.push(Sample { labels: s.labels.clone(), t: p.t, v: p.v });
            }
        }
        out
    }

    fn range_vector(&self, vs: &VectorSelector, range: i64, ts: i64) -> RangeArg {
        let r = self.reference_time(&vs.at, &vs.offset, ts);
        let (from, to) = (r.saturating_sub(range), r);
        let mut series = Vec::new();
        for s in self.selected(vs) {
            let lo = s.points.partition_point(|p| p.t < from);
            let hi = s.points.partition_point(|p| p.t <= to);
            if lo >= hi {
                continue;
            }
            let points = &s.points[lo..hi];
            series.push(RangeSeries {
                labels: s.labels.clone(),
                points: points.iter().map(|p| (p.t, p.v)).collect(),
                increases: Some(points.iter().map(|p| p.increase).collect()),
            });
        }
        RangeArg { series, range, range_start: from, range_end: to, selector: Some(vs.clone()) }
    }

    fn subquery(&self, sq: &SubqueryExpr, ts: i64) -> Result<RangeArg> {
        let r = self.reference_time(&sq.at, &sq.offset, ts);
        let range = millis(&sq.range);
        let step = sq.step.as_ref().map(millis).filter(|&s| s > 0).unwrap_or(self.options.subquery_step);
        let first = r.saturating_sub(range);
        if range / step > MAX_SUBQUERY_STEPS {
            bail!("subquery [{}ms:{step}ms] would evaluate more than {MAX_SUBQUERY_STEPS} steps", range);
        }
        // The first step-aligned time in the range, as Prometheus aligns subqueries.
        let mut t = step * (first / step);
        if t < first {
            t += step;
        }
        let mut series: Vec<RangeSeries> = Vec::new();
        let mut by_labels: HashMap<Labels, usize> = HashMap::new();
        while t <= r {
            let samples = match self.eval(&sq.expr, t)? {
                Value::Vector(v) => v,
                Value::Scalar(v) => vec![Sample { labels: Vec::new(), t, v }],
                other => bail!("subquery is only allowed on instant vector, got {}", other.type_name()),
            };
            for s in samples {
                let i = *by_labels.entry(s.labels.clone()).or_insert_with(|| {
                    series.push(RangeSeries { labels: s.labels.clone(), points: Vec::new(), increases: None });
                    series.len() - 1
                });
                series[i].points.push((t, s.v));
            }
            t = t.saturating_add(step);
            if t == i64::MAX {
                break;
            }
        }
        let selector = match &*sq.expr {
            Expr::VectorSelector(vs) => Some(vs.clone()),
            _ => None,
        };
        Ok(RangeArg { series, range, range_start: first, range_end: r, selector })
    }

    /// A function's argument: a range vector keeps its range, for extrapolation.
    pub fn arg(&self, expr: &Expr, ts: i64) -> Result<Arg> {
        match expr {
            Expr::MatrixSelector(ms) => Ok(Arg::Range(self.range_vector(&ms.vs, millis(&ms.range), ts))),
            Expr::Subquery(sq) => Ok(Arg::Range(self.subquery(sq, ts)?)),
            Expr::Paren(p) => self.arg(&p.expr, ts),
            other => Ok(Arg::Value(self.eval(other, ts)?)),
        }
    }

    pub fn eval(&self, expr: &Expr, ts: i64) -> Result<Value> {
        Ok(match expr {
            Expr::NumberLiteral(n) => Value::Scalar(n.val),
            Expr::StringLiteral(s) => Value::String(s.val.clone()),
            Expr::Paren(p) => self.eval(&p.expr, ts)?,
            Expr::Unary(u) => match self.eval(&u.expr, ts)? {
                Value::Scalar(v) => Value::Scalar(-v),
                Value::Vector(v) => Value::Vector(
                    v.into_iter().map(|s| Sample { labels: without_name(&s.labels), t: ts, v: -s.v }).collect(),
                ),
                other => bail!("unary expression only allowed on expressions of type scalar or vector, got {}", {
                    other.type_name()
                }),
            },
            Expr::VectorSelector(vs) => Value::Vector(self.instant_vector(vs, ts)),
            Expr::MatrixSelector(ms) => Value::Matrix(self.range_vector(&ms.vs, millis(&ms.range), ts).series),
            Expr::Subquery(sq) => Value::Matrix(self.subquery(sq, ts)?.series),
            Expr::Call(call) => {
                let value = self.call(call, ts)?;
                if let Value::Vector(v) = &value {
                    reject_same_labelsets(v)?;
                }
                value
            }
            Expr::Aggregate(a) => self.aggregate(a, ts)?,
            Expr::Binary(b) => {
                let value = self.binary(b, ts)?;
                if let Value::Vector(v) = &value {
                    reject_same_labelsets(v)?;
                }
                value
            }
            Expr::Extension(_) => bail!("extension expressions are not supported"),
        })
    }

    fn call(&self, call: &Call, ts: i64) -> Result<Value> {
        if call.func.name == "timestamp" {
            // A selector's samples keep their own time; anything else is at `ts`.
            let mut arg = call.args.args.first().map(|a| &**a);
            while let Some(Expr::Paren(p)) = arg {
                arg = Some(&p.expr);
            }
            let v = match arg {
                Some(Expr::VectorSelector(vs)) => self.instant_vector(vs, ts),
                Some(e) => match self.eval(e, ts)? {
                    Value::Vector(v) => v,
                    other => bail!("timestamp() expects an instant vector, got {}", other.type_name()),
                },
                None => bail!("timestamp() takes one argument"),
            };
            let at = |s: Sample| Sample { labels: without_name(&s.labels), t: ts, v: s.t as f64 / 1000.0 };
            return Ok(Value::Vector(v.into_iter().map(at).collect()));
        }
        let mut args = Vec::with_capacity(call.args.args.len());
        for a in &call.args.args {
            args.push(self.arg(a, ts)?);
        }
        functions::call(call, args, ts, self.options.exact)
    }

    fn scalar_arg(&self, expr: &Expr, ts: i64, what: &str) -> Result<f64> {
        match self.eval(expr, ts)? {
            Value::Scalar(v) => Ok(v),
            other => bail!("expected a scalar {what}, got {}", other.type_name()),
        }
    }

    fn aggregate(&self, a: &AggregateExpr, ts: i64) -> Result<Value> {
        let op = a.op.id();
        let samples = match self.eval(&a.expr, ts)? {
            Value::Vector(v) => v,
            other => bail!("expected an instant vector in aggregation, got {}", other.type_name()),
        };
        let param = match &a.param {
            Some(p) if op == token::T_COUNT_VALUES => match self.eval(p, ts)? {
                Value::String(s) => Some(Param::Label(s)),
                other => bail!("count_values takes a string, got {}", other.type_name()),
            },
            Some(p) => Some(Param::Number(self.scalar_arg(p, ts, "parameter")?)),
            None => None,
        };
        aggregate(op, &a.modifier, param, samples, ts)
    }

    fn binary(&self, b: &BinaryExpr, ts: i64) -> Result<Value> {
        let op = b.op.id();
        if b.modifier.as_ref().is_some_and(|m| m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some()) {
            bail!("fill modifiers are Prometheus 3 and are not supported by metricsctl query");
        }
        let lhs = self.eval(&b.lhs, ts)?;
        let rhs = self.eval(&b.rhs, ts)?;
        let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
        Ok(match (lhs, rhs) {
            (Value::Scalar(l), Value::Scalar(r)) => {
                let (v, keep) = element_op(op, l, r)?;
                if is_comparison(op) {
                    Value::Scalar(if keep { 1.0 } else { 0.0 })
                } else {
                    Value::Scalar(v)
                }
            }
            (Value::Vector(l), Value::Scalar(r)) => Value::Vector(vector_scalar(op, l, r, false, return_bool, ts)?),
            (Value::Scalar(l), Value::Vector(r)) => Value::Vector(vector_scalar(op, r, l, true, return_bool, ts)?),
            (Value::Vector(l), Value::Vector(r)) => {
                let matching = b.modifier.as_ref().and_then(|m| m.matching.clone());
                let card = b.modifier.as_ref().map(|m| m.card.clone()).unwrap_or(VectorMatchCardinality::OneToOne);
                match op {
                    token::T_LAND => Value::Vector(set_and(l, r, &matching, true)),
                    token::T_LUNLESS => Value::Vector(set_and(l, r, &matching, false)),
                    token::T_LOR => Value::Vector(set_or(l, r, &matching)),
                    _ => Value::Vector(vector_vector(op, l, r, &matching, &card, return_bool, ts)?),
                }
            }
            (l, r) => bail!("binary operator between {} and {} is not supported", l.type_name(), r.type_name()),
        })
    }
}

/// Prometheus checks every function and operator result for this.
fn reject_same_labelsets(v: &[Sample]) -> Result<()> {
    if v.len() < 2 {
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(v.len());
    for s in v {
        if !seen.insert(&s.labels) {
            bail!("vector cannot contain metrics with the same labelset");
        }
    }
    Ok(())
}

fn is_comparison(op: u16) -> bool {
    TokenType::new(op).is_comparison_operator()
}

/// Arithmetic and comparison operators drop the metric name; so does `bool`.
fn drops_name(op: u16) -> bool {
    !is_comparison(op) && !TokenType::new(op).is_set_operator()
}

/// Go's math.Mod: the remainder with the sign of `x`, NaN for a zero divisor.
fn go_mod(x: f64, y: f64) -> f64 {
    x % y
}

/// The result of `l op r` and, for comparisons, whether the element is kept (its value
/// is then the left-hand side).
pub fn element_op(op: u16, l: f64, r: f64) -> Result<(f64, bool)> {
    Ok(match op {
        token::T_ADD => (l + r, true),
        token::T_SUB => (l - r, true),
        token::T_MUL => (l * r, true),
        token::T_DIV => (l / r, true),
        token::T_MOD => (go_mod(l, r), true),
        token::T_POW => (l.powf(r), true),
        token::T_ATAN2 => (l.atan2(r), true),
        token::T_EQLC => (l, l == r),
        token::T_NEQ => (l, l != r),
        token::T_GTR => (l, l > r),
        token::T_LSS => (l, l < r),
        token::T_GTE => (l, l >= r),
        token::T_LTE => (l, l <= r),
        other => bail!("operator {} is not supported between numbers", TokenType::new(other)),
    })
}

fn vector_scalar(
    op: u16,
    vector: Vec<Sample>,
    scalar: f64,
    scalar_on_left: bool,
    return_bool: bool,
    ts: i64,
) -> Result<Vec<Sample>> {
    let mut out = Vec::with_capacity(vector.len());
    for s in vector {
        let (l, r) = if scalar_on_left { (scalar, s.v) } else { (s.v, scalar) };
        let (mut value, mut keep) = element_op(op, l, r)?;
        // A comparison keeps the vector's own value, on whichever side it is.
        if is_comparison(op) && scalar_on_left {
            value = r;
        }
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
            keep = true;
        }
        if keep {
            let labels = if drops_name(op) || return_bool { without_name(&s.labels) } else { s.labels };
            out.push(Sample { labels, t: ts, v: value });
        }
    }
    Ok(out)
}

/// The labels two samples are matched on: `on(...)` the listed ones, otherwise all but
/// `ignoring(...)`'s and the metric name.
fn signature(labels: &Labels, matching: &Option<LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(on)) => {
            labels.iter().filter(|(k, _)| on.labels.iter().any(|l| l == k)).cloned().collect()
        }
        Some(LabelModifier::Exclude(ignoring)) => labels
            .iter()
            .filter(|(k, _)| k != METRIC_NAME && !ignoring.labels.iter().any(|l| l == k))
            .cloned()
            .collect(),
        None => without_name(labels),
    }
}

fn set_and(lhs: Vec<Sample>, rhs: Vec<Sample>, matching: &Option<LabelModifier>, keep_matched: bool) -> Vec<Sample> {
    let right: HashSet<Labels> = rhs.iter().map(|s| signature(&s.labels, matching)).collect();
    lhs.into_iter().filter(|s| right.contains(&signature(&s.labels, matching)) == keep_matched).collect()
}

fn set_or(lhs: Vec<Sample>, rhs: Vec<Sample>, matching: &Option<LabelModifier>) -> Vec<Sample> {
    let left: HashSet<Labels> = lhs.iter().map(|s| signature(&s.labels, matching)).collect();
    let mut out = lhs;
    out.extend(rhs.into_iter().filter(|s| !left.contains(&signature(&s.labels, matching))));
    out
}

fn labels_display(labels: &Labels) -> String {
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

fn vector_vector(
    op: u16,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    matching: &Option<LabelModifier>,
    card: &VectorMatchCardinality,
    return_bool: bool,
    ts: i64,
) -> Result<Vec<Sample>> {
    let one_to_many = matches!(card, VectorMatchCardinality::OneToMany(_));
    // One-to-many is many-to-one with the sides swapped back for the values.
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut one_side: HashMap<Labels, &Sample> = HashMap::with_capacity(one.len());
    for s in &one {
        let sig = signature(&s.labels, matching);
        if let Some(other) = one_side.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            bail!(
                "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                labels_display(&sig),
                labels_display(&s.labels),
                labels_display(&other.labels)
            );
        }
        one_side.insert(sig, s);
    }
    let include: Vec<String> = match card {
        VectorMatchCardinality::ManyToOne(l) | VectorMatchCardinality::OneToMany(l) => l.labels.clone(),
        _ => Vec::new(),
    };
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for s in &many {
        let sig = signature(&s.labels, matching);
        let Some(o) = one_side.get(&sig) else { continue };
        let (l, r) = if one_to_many { (o.v, s.v) } else { (s.v, o.v) };
        let (mut value, keep) = element_op(op, l, r)?;
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
        } else if !keep {
            continue;
        }
        let mut labels = result_labels(&s.labels, &o.labels, op, matching, one_to_one, &include);
        if return_bool {
            labels = without_name(&labels);
        }
        let seen = matched.entry(sig).or_default();
        if one_to_one {
            if !seen.is_empty() {
                bail!("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
            }
        } else if seen.contains(&labels) {
            bail!("multiple matches for matching labels grouping labels must ensure unique matches");
        }
        seen.insert(labels.clone());
        out.push(Sample { labels, t: ts, v: value });
    }
    Ok(out)
}

fn result_labels(
    many: &Labels,
    one: &Labels,
    op: u16,
    matching: &Option<LabelModifier>,
    one_to_one: bool,
    include: &[String],
) -> Labels {
    let mut labels: Labels = many.clone();
    if drops_name(op) {
        labels.retain(|(k, _)| k != METRIC_NAME);
    }
    if one_to_one {
        match matching {
            Some(LabelModifier::Include(on)) => labels.retain(|(k, _)| on.labels.iter().any(|l| l == k)),
            Some(LabelModifier::Exclude(ignoring)) => labels.retain(|(k, _)| !ignoring.labels.iter().any(|l| l == k)),
            None => {}
        }
    }
    for name in include {
        let value = label(one, name).unwrap_or("").to_string();
        crate::value::set_label(&mut labels, name, &value);
    }
    labels
}

enum Param {
    Number(f64),
    Label(String),
}

/// The labels of a sample's group.
fn group_labels(labels: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        Some(LabelModifier::Include(by)) => {
            labels.iter().filter(|(k, _)| by.labels.iter().any(|l| l == k)).cloned().collect()
        }
        Some(LabelModifier::Exclude(without)) => {
            labels.iter().filter(|(k, _)| k != METRIC_NAME && !without.labels.iter().any(|l| l == k)).cloned().collect()
        }
        None => Vec::new(),
    }
}

struct Group {
    labels: Labels,
    value: f64,
    mean: f64,
    count: u64,
    heap: Vec<Sample>,
    values: Vec<f64>,
    seen_value: bool,
}

/// Go's container/heap with Prometheus' orderings, so that ties are broken as
/// Prometheus breaks them.
struct GoHeap {
    top: bool,
}

impl GoHeap {
    fn less(&self, a: &Sample, b: &Sample) -> bool {
        if a.v.is_nan() {
            return true;
        }
        if self.top {
            a.v < b.v
        } else {
            a.v > b.v
        }
    }
    fn up(&self, h: &mut [Sample], mut j: usize) {
        while j > 0 {
            let i = (j - 1) / 2;
            if i == j || !self.less(&h[j], &h[i]) {
                break;
            }
            h.swap(i, j);
            j = i;
        }
    }
    fn down(&self, h: &mut [Sample], i0: usize) -> bool {
        let n = h.len();
        let mut i = i0;
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            let j2 = j1 + 1;
            if j2 < n && self.less(&h[j2], &h[j1]) {
                j = j2;
            }
            if !self.less(&h[j], &h[i]) {
                break;
            }
            h.swap(i, j);
            i = j;
        }
        i > i0
    }
    fn push(&self, h: &mut Vec<Sample>, s: Sample) {
        h.push(s);
        let n = h.len() - 1;
        self.up(h, n);
    }
    fn fix(&self, h: &mut [Sample], i: usize) {
        if !self.down(h, i) {
            self.up(h, i);
        }
    }
    fn pop(&self, h: &mut Vec<Sample>) -> Option<Sample> {
        let n = h.len().checked_sub(1)?;
        h.swap(0, n);
        self.down(&mut h[..n], 0);
        h.pop()
    }
}

/// Go's strconv.FormatFloat(v, 'f', -1, 64).
fn go_float_text(v: f64) -> String {
    metricsctl_format::record::format_float(v)
}

fn aggregate(
    op: u16,
    modifier: &Option<LabelModifier>,
    param: Option<Param>,
    samples: Vec<Sample>,
    ts: i64,
) -> Result<Value> {
    if !matches!(
        op,
        token::T_SUM
            | token::T_AVG
            | token::T_MIN
            | token::T_MAX
            | token::T_COUNT
            | token::T_GROUP
            | token::T_STDDEV
            | token::T_STDVAR
            | token::T_TOPK
            | token::T_BOTTOMK
            | token::T_QUANTILE
            | token::T_COUNT_VALUES
    ) {
        bail!("aggregation {} is not supported by metricsctl query (Prometheus 2.x has no such aggregation)", {
            TokenType::new(op)
        });
    }
    let k = match (&param, op) {
        (Some(Param::Number(k)), token::T_TOPK | token::T_BOTTOMK) => {
            if !(*k >= -9.223_372_036_854_776e18 && *k <= 9.223_372_036_854_776e18) {
                bail!("scalar value {k} overflows int64");
            }
            let k = *k as i64;
            if k < 1 {
                return Ok(Value::Vector(Vec::new()));
            }
            k as usize
        }
        _ => 0,
    };
    let q = match (&param, op) {
        (Some(Param::Number(q)), token::T_QUANTILE) => *q,
        _ => f64::NAN,
    };
    let value_label = match (&param, op) {
        (Some(Param::Label(l)), token::T_COUNT_VALUES) => {
            if !is_valid_label_name(l) {
                bail!("invalid label name {l:?}");
            }
            Some(l.clone())
        }
        _ => None,
    };
    let mut groups: Vec<Group> = Vec::new();
    let mut by_key: HashMap<Labels, usize> = HashMap::new();
    for s in samples {
        let mut labels = group_labels(&s.labels, modifier);
        if let Some(name) = &value_label {
            crate::value::set_label(&mut labels, name, &go_float_text(s.v));
        }
        let i = match by_key.get(&labels) {
            Some(&i) => i,
            None => {
                by_key.insert(labels.clone(), groups.len());
                groups.push(Group {
                    labels,
                    value: s.v,
                    mean: s.v,
                    count: 1,
                    heap: Vec::new(),
                    values: Vec::new(),
                    seen_value: false,
                });
                let g = groups.last_mut().expect("just pushed");
                match op {
                    token::T_STDDEV | token::T_STDVAR => {
                        g.value = 0.0;
                    }
                    token::T_TOPK | token::T_BOTTOMK => {
                        g.heap.push(s);
                    }
                    token::T_QUANTILE => g.values.push(s.v),
                    token::T_GROUP => g.value = 1.0,
                    _ => {}
                }
                g.seen_value = true;
                continue;
            }
        };
        let g = &mut groups[i];
        match op {
            token::T_SUM => g.value += s.v,
            token::T_AVG => {
                g.count += 1;
                if g.mean.is_infinite() {
                    if s.v.is_infinite() && (g.mean > 0.0) == (s.v > 0.0) {
                        continue;
                    }
                    if !s.v.is_infinite() && !s.v.is_nan() {
                        continue;
                    }
                }
                let n = g.count as f64;
                g.mean += s.v / n - g.mean / n;
            }
            token::T_GROUP => {}
            token::T_COUNT | token::T_COUNT_VALUES => g.count += 1,
            token::T_MAX => {
                if g.value < s.v || g.value.is_nan() {
                    g.value = s.v;
                }
            }
            token::T_MIN => {
                if g.value > s.v || g.value.is_nan() {
                    g.value = s.v;
                }
            }
            token::T_STDDEV | token::T_STDVAR => {
                g.count += 1;
                let delta = s.v - g.mean;
                g.mean += delta / g.count as f64;
                g.value += delta * (s.v - g.mean);
            }
            token::T_TOPK | token::T_BOTTOMK => {
                let heap = GoHeap { top: op == token::T_TOPK };
                if g.heap.len() < k {
                    heap.push(&mut g.heap, s);
                } else {
                    let head = g.heap[0].v;
                    let better = if op == token::T_TOPK { head < s.v } else { head > s.v };
                    if better || (head.is_nan() && !s.v.is_nan()) {
                        g.heap[0] = s;
                        if k > 1 {
                            heap.fix(&mut g.heap, 0);
                        }
                    }
                }
            }
            token::T_QUANTILE => g.values.push(s.v),
            other => bail!("aggregation {} is not supported", TokenType::new(other)),
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let v = match op {
            token::T_SUM | token::T_MAX | token::T_MIN | token::T_GROUP => g.value,
            token::T_AVG => g.mean,
            token::T_COUNT | token::T_COUNT_VALUES => g.count as f64,
            token::T_STDVAR => g.value / g.count as f64,
            token::T_STDDEV => (g.value / g.count as f64).sqrt(),
            token::T_QUANTILE => functions::quantile(q, g.values),
            token::T_TOPK | token::T_BOTTOMK => {
                let heap = GoHeap { top: op == token::T_TOPK };
                let mut h = g.heap;
                let mut sorted = Vec::with_capacity(h.len());
                while let Some(s) = heap.pop(&mut h) {
                    sorted.push(s);
                }
                sorted.reverse();
                out.extend(sorted.into_iter().map(|s| Sample { labels: s.labels, t: ts, v: s.v }));
                continue;
            }
            other => bail!("aggregation {} is not supported", TokenType::new(other)),
        };
        out.push(Sample { labels: g.labels, t: ts, v });
    }
    Ok(Value::Vector(out))
}
