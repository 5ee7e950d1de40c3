//! Tests of the declared bodies: every registered shape's validator (`check`) and its JSON
//! Schema (`json_schema`, read by an independent validator of the JSON Schema subset it
//! emits, with an ECMA-262 regex subset) agree on generated valid and invalid bodies.

use super::*;
use crate::domain::inputs::INPUTS;
use serde_json::json;

// ---- A regex subset (what the patterns use), ECMA-262 semantics ------------------------

#[derive(Debug, Clone)]
enum Node {
    Char(char),
    Class(Vec<(char, char)>, bool),
    Start,
    End,
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, usize, Option<usize>),
}

struct Parser<'a> {
    s: &'a [char],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }
    fn next(&mut self) -> char {
        let c = self.s[self.i];
        self.i += 1;
        c
    }
    fn alt(&mut self) -> Node {
        let mut alts = vec![self.concat()];
        while self.peek() == Some('|') {
            self.i += 1;
            alts.push(self.concat());
        }
        Node::Alt(alts)
    }
    fn concat(&mut self) -> Node {
        let mut v = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom();
            v.push(self.quantified(atom));
        }
        Node::Concat(v)
    }
    fn number(&mut self) -> usize {
        let mut n = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            n = n * 10 + d as usize;
            self.i += 1;
        }
        n
    }
    fn quantified(&mut self, atom: Node) -> Node {
        let (min, max) = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => {
                self.i += 1;
                let min = self.number();
                let max = if self.peek() == Some(',') {
                    self.i += 1;
                    if self.peek() == Some('}') {
                        None
                    } else {
                        Some(self.number())
                    }
                } else {
                    Some(min)
                };
                assert_eq!(self.next(), '}');
                return Node::Repeat(Box::new(atom), min, max);
            }
            _ => return atom,
        };
        self.i += 1;
        assert!(self.peek() != Some('?'), "lazy quantifiers are not used");
        Node::Repeat(Box::new(atom), min, max)
    }
    fn escape(&mut self) -> char {
        match self.next() {
            't' => '\t',
            'r' => '\r',
            'n' => '\n',
            'u' => {
                let hex: String = (0..4).map(|_| self.next()).collect();
                char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap()
            }
            c if "\\.-+*?()[]{}|^$/".contains(c) => c,
            c => panic!("escape \\{c} is outside the subset"),
        }
    }
    fn atom(&mut self) -> Node {
        match self.next() {
            '(' => {
                assert!(self.next() == '?' && self.next() == ':', "groups are (?:…)");
                let inner = self.alt();
                assert_eq!(self.next(), ')');
                inner
            }
            '[' => {
                let neg = self.peek() == Some('^');
                if neg {
                    self.i += 1;
                }
                let mut ranges = Vec::new();
                while self.peek() != Some(']') {
                    let a = match self.next() {
                        '\\' => self.escape(),
                        c => c,
                    };
                    if self.peek() == Some('-') && self.s.get(self.i + 1) != Some(&']') {
                        self.i += 1;
                        let b = match self.next() {
                            '\\' => self.escape(),
                            c => c,
                        };
                        assert!(a <= b);
                        ranges.push((a, b));
                    } else {
                        ranges.push((a, a));
                    }
                }
                self.i += 1;
                Node::Class(ranges, neg)
            }
            '^' => Node::Start,
            '$' => Node::End,
            '\\' => Node::Char(self.escape()),
            c => {
                assert!(!".".contains(c), "'.' is outside the subset");
                Node::Char(c)
            }
        }
    }
}

#[derive(Debug, Clone)]
enum St {
    Match,
    Char(char, usize),
    Class(Vec<(char, char)>, bool, usize),
    Split(usize, usize),
    Start(usize),
    End(usize),
}

/// A Thompson NFA of a pattern, matched by state-set simulation (no backtracking).
struct Regex(Vec<St>, usize);

fn comp(prog: &mut Vec<St>, n: &Node, next: usize) -> usize {
    let push = |prog: &mut Vec<St>, s: St| {
        prog.push(s);
        prog.len() - 1
    };
    match n {
        Node::Char(c) => push(prog, St::Char(*c, next)),
        Node::Class(r, neg) => push(prog, St::Class(r.clone(), *neg, next)),
        Node::Start => push(prog, St::Start(next)),
        Node::End => push(prog, St::End(next)),
        Node::Concat(v) => v.iter().rev().fold(next, |k, x| comp(prog, x, k)),
        Node::Alt(v) => {
            let starts: Vec<usize> = v.iter().map(|x| comp(prog, x, next)).collect();
            let mut k = starts[starts.len() - 1];
            for s in starts[..starts.len() - 1].iter().rev() {
                k = push(prog, St::Split(*s, k));
            }
            k
        }
        Node::Repeat(x, min, max) => {
            let mut k = match max {
                Some(m) => {
                    let mut k = next;
                    for _ in *min..*m {
                        let s = comp(prog, x, k);
                        k = push(prog, St::Split(s, next));
                    }
                    k
                }
                None => {
                    let l = push(prog, St::Split(0, 0));
                    let body = comp(prog, x, l);
                    prog[l] = St::Split(body, next);
                    l
                }
            };
            for _ in 0..*min {
                k = comp(prog, x, k);
            }
            k
        }
    }
}

impl Regex {
    fn new(pattern: &str) -> Regex {
        let chars: Vec<char> = pattern.chars().collect();
        let mut p = Parser { s: &chars, i: 0 };
        let node = p.alt();
        assert_eq!(p.i, chars.len(), "unbalanced pattern {pattern}");
        let mut prog = vec![St::Match];
        let start = comp(&mut prog, &node, 0);
        Regex(prog, start)
    }
    fn add(&self, set: &mut Vec<usize>, seen: &mut [bool], s: usize, pos: usize, len: usize) {
        if seen[s] {
            return;
        }
        seen[s] = true;
        match self.0[s] {
            St::Split(a, b) => {
                self.add(set, seen, a, pos, len);
                self.add(set, seen, b, pos, len);
            }
            St::Start(n) if pos == 0 => self.add(set, seen, n, pos, len),
            St::End(n) if pos == len => self.add(set, seen, n, pos, len),
            St::Start(_) | St::End(_) => {}
            _ => set.push(s),
        }
    }
    /// A match anywhere in `s` (JSON Schema `pattern` is not anchored by itself).
    fn search(&self, s: &str) -> bool {
        let s: Vec<char> = s.chars().collect();
        let mut cur: Vec<usize> = Vec::new();
        let mut seen = vec![false; self.0.len()];
        for i in 0..=s.len() {
            self.add(&mut cur, &mut seen, self.1, i, s.len());
            if cur.iter().any(|&k| matches!(self.0[k], St::Match)) {
                return true;
            }
            if i == s.len() {
                break;
            }
            let mut next = Vec::new();
            let mut seen2 = vec![false; self.0.len()];
            for &k in &cur {
                let to = match &self.0[k] {
                    St::Char(c, n) if *c == s[i] => Some(*n),
                    St::Class(r, neg, n)
                        if r.iter().any(|(a, b)| (*a..=*b).contains(&s[i])) != *neg =>
                    {
                        Some(*n)
                    }
                    _ => None,
                };
                if let Some(n) = to {
                    self.add(&mut next, &mut seen2, n, i + 1, s.len());
                }
            }
            cur = next;
            seen = seen2;
        }
        false
    }
}

pub(crate) fn re_match(pattern: &str, s: &str) -> bool {
    Regex::new(pattern).search(s)
}

// ---- A JSON Schema subset validator (the keywords `json_schema` emits) ------------------

const KEYWORDS: &[&str] = &[
    "type",
    "enum",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "items",
    "minItems",
    "maxItems",
    "properties",
    "required",
    "additionalProperties",
    "anyOf",
    "description",
    "default",
    "examples",
];

fn known_keywords_only(s: &Value) {
    let o = s.as_object().expect("a schema is an object");
    for (k, v) in o {
        assert!(KEYWORDS.contains(&k.as_str()), "unknown keyword {k}");
        match k.as_str() {
            "items" => known_keywords_only(v),
            "properties" => v
                .as_object()
                .unwrap()
                .values()
                .for_each(known_keywords_only),
            "anyOf" => v.as_array().unwrap().iter().for_each(known_keywords_only),
            "pattern" => {
                Regex::new(v.as_str().unwrap());
            }
            _ => {}
        }
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// RFC 3339 `date-time` (section 5.6), as JSON Schema's `format` reads it.
fn date_time_format(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let p = b.get(r)?;
        p.iter()
            .all(u8::is_ascii_digit)
            .then(|| p.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let at = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    let (Some(y), Some(m), Some(d), Some(h), Some(mi), Some(sec)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return false;
    };
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt") && at(13, b":") && at(16, b":")) {
        return false;
    }
    let dim = match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&m) || !(1..=dim).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return false;
    }
    let mut i = 19;
    if at(i, b".") {
        let start = i + 1;
        i = start;
        while at(i, b"0123456789") {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    let rest = &b[i..];
    let two = |x: u8, y: u8| {
        (x.is_ascii_digit() && y.is_ascii_digit()).then(|| i64::from((x - b'0') * 10 + (y - b'0')))
    };
    let offset = match rest {
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => match (two(*h1, *h2), two(*m1, *m2)) {
            (Some(oh), Some(om)) if oh <= 23 && om <= 59 => Some(if *sign == b'-' {
                -(oh * 60 + om)
            } else {
                oh * 60 + om
            }),
            _ => None,
        },
        _ => None,
    };
    // A leap second only at 23:59:60 UTC.
    offset.is_some_and(|o| sec < 60 || (h * 60 + mi - o).rem_euclid(1440) == 1439)
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        _ => panic!("type {t}"),
    }
}

pub(crate) fn valid(schema: &Value, v: &Value) -> bool {
    let s = schema.as_object().unwrap();
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => type_ok(t, v),
            Value::Array(ts) => ts.iter().any(|t| type_ok(t.as_str().unwrap(), v)),
            _ => panic!("type"),
        };
        if !ok {
            return false;
        }
    }
    if let Some(e) = s.get("enum") {
        if !e.as_array().unwrap().contains(v) {
            return false;
        }
    }
    let num = |k: &str| s.get(k).and_then(Value::as_f64);
    let count = |k: &str| s.get(k).and_then(Value::as_u64).map(|n| n as usize);
    if let Some(x) = v.as_str() {
        let n = x.chars().count();
        if count("minLength").is_some_and(|m| n < m) || count("maxLength").is_some_and(|m| n > m) {
            return false;
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            if !re_match(p, x) {
                return false;
            }
        }
        if s.get("format").and_then(Value::as_str) == Some("date-time") && !date_time_format(x) {
            return false;
        }
    }
    if let Some(x) = v.as_f64() {
        if num("minimum").is_some_and(|m| x < m) || num("maximum").is_some_and(|m| x > m) {
            return false;
        }
    }
    if let Some(a) = v.as_array() {
        if count("minItems").is_some_and(|m| a.len() < m)
            || count("maxItems").is_some_and(|m| a.len() > m)
        {
            return false;
        }
        if let Some(items) = s.get("items") {
            if !a.iter().all(|x| valid(items, x)) {
                return false;
            }
        }
    }
    if let Some(o) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(req) = s.get("required").and_then(Value::as_array) {
            if !req.iter().all(|k| o.contains_key(k.as_str().unwrap())) {
                return false;
            }
        }
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(ps) if !valid(ps, x) => return false,
                Some(_) => {}
                None if s.get("additionalProperties") == Some(&json!(false)) => return false,
                None => {}
            }
        }
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
        if !any.iter().any(|x| valid(x, v)) {
            return false;
        }
    }
    true
}

// ---- Samples generated from the declaration ---------------------------------------------

fn strs(v: &[&str]) -> Vec<Value> {
    v.iter().map(|s| json!(s)).collect()
}

/// Values every field is tried with: wrong types, null, blanks and odd characters.
fn common() -> Vec<Value> {
    let mut v = vec![
        Value::Null,
        json!(true),
        json!(false),
        json!(0),
        json!(1),
        json!(-1),
        json!(1.5),
        json!(7.0),
        json!([]),
        json!(["a"]),
        json!({}),
        json!({"a": 1}),
    ];
    v.extend(strs(&[
        "", " ", "\t\n", "\u{85}", "\u{a0}", "\u{feff}", "\u{1c}", "\u{200b}", "\u{3000}", "a",
        "é", "😀", "x\n", "1", "true", "null",
    ]));
    v
}

fn rep(s: &str, n: usize) -> String {
    s.repeat(n)
}

/// Samples of a kind; the first one is valid.
fn samples(kind: &Kind) -> Vec<Value> {
    let mut v: Vec<Value> = match *kind {
        Kind::Text(max) => {
            let mut v = strs(&["a", " x ", "   ", "\u{85}x\u{2028}", "\u{a0}"]);
            for (s, n) in [
                ("a", max),
                ("a", max + 1),
                ("é", max),
                ("😀", max),
                ("😀", max + 1),
            ] {
                v.push(json!(rep(s, n)));
            }
            v.push(json!(format!(" {} ", rep("a", max - 2))));
            v.push(json!(format!(" {} ", rep("a", max - 1))));
            v.push(json!(rep(" ", max + 1)));
            v
        }
        Kind::Str(min, max) => {
            let mut v = vec![json!(rep("a", min.max(1)))];
            for n in [min.saturating_sub(1), min, max, max + 1] {
                for s in ["a", " ", "😀"] {
                    v.push(json!(rep(s, n)));
                }
            }
            v
        }
        Kind::Email => {
            let mut v = strs(&[
                "ann@example.com",
                "A@B.CO",
                " a@b.co\t",
                "a@b",
                "a@.b",
                "a@b.",
                "@b.co",
                "a@@b.co",
                "a@b@c.d",
                "a b@c.d",
                "a\u{0}@b.co",
                "a\u{7f}@b.co",
                "a@b.c\u{9f}",
                "a\u{85}@b.co",
                "a\u{a0}@b.co",
                "é@ü.de",
                "a@b..c",
                "a@.",
                "a.@b.c",
                "\u{2028}a@b.co\u{3000}",
                "a@b.c\u{200b}",
                "😀@😀.😀",
                ".@..a",
            ]);
            v.push(json!(format!("{}@b.co", rep("a", 249))));
            v.push(json!(format!("{}@b.co", rep("a", 250))));
            v.push(json!(format!(" {}@b.co", rep("a", 249))));
            v
        }
        Kind::Phone => {
            let mut v = strs(&[
                "+1 555 0100",
                "12345",
                "1234",
                "(12) 34-56.78",
                "12345x",
                " 12345 ",
                "\t12345\n",
                "１２３４５",
                "١٢٣٤٥",
                "1 2 3 4 5",
                "+-.() 12345",
                "\u{a0}12345",
            ]);
            v.push(json!(rep("1", 20)));
            v.push(json!(rep("1", 21)));
            v.push(json!(format!("{}12345", rep("+", 27))));
            v.push(json!(format!("{}12345", rep("+", 28))));
            v.push(json!(format!("{}12345{}", rep(" ", 14), rep(" ", 13))));
            v
        }
        Kind::Int(min, max) => {
            let mut v = vec![json!(min), json!(max), json!(min - 1), json!(max + 1)];
            v.extend([
                json!(min as f64),
                json!(max as f64),
                json!((min as f64) + 0.5),
                json!(format!("{min}")),
                json!(1e300),
                json!(-1e300),
                json!(i64::MAX),
                json!(i64::MIN),
                json!(u64::MAX),
                json!(-0.0),
            ]);
            v
        }
        Kind::Money => vec![
            json!(1),
            json!(MAX_MINOR),
            json!(0),
            json!(MAX_MINOR + 1),
            json!(5.0),
            json!(1e13),
            json!(1.00000000000001e13),
            json!(1.5),
            json!("5"),
            json!(-1),
            json!(u64::MAX),
        ],
        Kind::Currency => strs(&["EUR", "eur", "EURO", "EU", "ÉUR", " EUR", "E1R"]),
        Kind::Enum(values) => {
            let mut v = strs(values);
            v.push(json!(values[0].to_uppercase()));
            v.push(json!(format!(" {}", values[0])));
            v.push(json!(format!("{}\n", values[0])));
            v.push(json!("nope"));
            v
        }
        Kind::Ref(_) => {
            let mut v = strs(&["c_1", "a/b", "a b", "ä", "u@x.y", "a\n", "-._@", "a*"]);
            v.push(json!(rep("a", 128)));
            v.push(json!(rep("a", 129)));
            v
        }
        Kind::Pattern(p) => {
            let e = p.example;
            let mut v = strs(&[e, "", "a", "*", "-", "A", "system:", "user:", "public"]);
            for s in [
                format!("{e}!"),
                e.to_uppercase(),
                format!(" {e}"),
                format!("{e}\n"),
                format!("-{e}"),
                format!("{e}-"),
                format!("{e}*"),
                format!("{e}:x"),
                rep(e, 10),
                rep("a", p.max_len.unwrap_or(64) + 1),
                rep("a", p.max_len.unwrap_or(64)),
            ] {
                v.push(json!(s));
            }
            v
        }
        Kind::DateTime => strs(&[
            "2026-11-23T10:00:00Z",
            "2026-11-23T10:00:00+01:00",
            "2026-11-23t10:00:00.123456789z",
            "2024-02-29T00:00:00-23:59",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-23 10:00:00Z",
            " 2026-11-23T10:00:00Z",
            "2026-11-23T10:00:00Z ",
            "2026-11-23T10:00:60Z",
            "2026-12-31T23:59:60Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T10:00:00+24:00",
            "2026-11-23T10:00:00.0000000000000000000Z",
            "2026-11-23T10:00:00.00000000000000000000Z",
            "0000-01-01T00:00:00Z",
            "2026-11-23T10:00Z",
            "2026-11-23",
            "2026-11-23T10:00:00",
            "2026-11-23T10:00:00.Z",
            "2026-11-23T10:00:00+0100",
            "２026-11-23T10:00:00Z",
        ]),
        Kind::List(item, min, max) => {
            let items = samples(item);
            let ok = items[0].clone();
            let mut v = vec![json!(vec![ok.clone(); min.max(1)])];
            for n in [0, max, max + 1] {
                v.push(json!(vec![ok.clone(); n]));
            }
            for bad in items.iter().skip(1).take(12) {
                v.push(json!([ok.clone(), bad.clone()]));
            }
            v.push(json!([Value::Null]));
            v
        }
        Kind::Bool => vec![json!(true), json!(false), json!("true"), json!(1)],
        Kind::Object => vec![json!({}), json!({"a": [1]}), json!([]), json!("x")],
        Kind::Ip => {
            let mut v = strs(&[
                "203.0.113.7",
                " 203.0.113.7\t",
                "01.2.3.4",
                "256.1.1.1",
                "1.2.3",
                "1.2.3.4.5",
                "::1",
                "::",
                "2001:DB8::1",
                "::ffff:1.2.3.4",
                "1:2:3:4:5:6:7:8",
                "1:2:3:4:5:6:7:8:9",
                "1:2:3:4:5:6:1.2.3.4",
                "1::2::3",
                "fe80::1%eth0",
                "12345::",
                ":::",
                "1:2:3:4:5:6:7::",
                "::1:2:3:4:5:6:7",
                "[::1]",
                "1.2.3.4::",
            ]);
            v.push(json!("\u{a0}::1"));
            v
        }
    };
    v.extend(common());
    v
}

/// The bodies a shape is tried with.
fn bodies(shape: &Shape) -> Vec<Value> {
    let first = |f: &Field| samples(&f.kind)[0].clone();
    let mut base = Map::new();
    let mut full = Map::new();
    for f in shape.fields {
        if shape.mode == Mode::Create && f.required {
            base.insert(f.name.into(), first(f));
        }
        full.insert(f.name.into(), first(f));
    }
    if shape.mode == Mode::Patch {
        if let Some(f) = shape.fields.iter().find(|f| !f.meta) {
            base.insert(f.name.into(), first(f));
        }
    }
    let mut out = vec![
        Value::Object(base.clone()),
        Value::Object(full.clone()),
        json!({}),
        json!([]),
        json!("x"),
        json!(1),
        Value::Null,
        json!({"version": 3}),
    ];
    for o in [&base, &full] {
        let mut extra = o.clone();
        extra.insert("zz_unknown".into(), json!(1));
        out.push(Value::Object(extra));
        for f in shape.fields {
            let mut without = o.clone();
            without.remove(f.name);
            out.push(Value::Object(without));
            for s in samples(&f.kind) {
                let mut b = o.clone();
                b.insert(f.name.into(), s);
                out.push(Value::Object(b));
            }
        }
    }
    out
}

fn one_field(kind: Kind, blank_null: bool) -> &'static Shape {
    let mut f = opt("v", kind).not_null();
    if blank_null {
        f = f.blank_is_null();
    }
    let fields: &'static [Field] = Box::leak(Box::new([f]));
    Box::leak(Box::new(Shape::create("T", fields, &[])))
}

fn agree(shape: &Shape, body: &Value) -> Result<(), String> {
    let schema = json_schema(shape);
    let (_, errs) = check(shape, body);
    let by_schema = valid(&schema, body);
    if errs.is_empty() == by_schema {
        Ok(())
    } else {
        Err(format!(
            "{}: check {} but the schema {} {body}\n{errs:?}",
            shape.name,
            if errs.is_empty() {
                "accepts"
            } else {
                "refuses"
            },
            if by_schema { "accepts" } else { "refuses" },
        ))
    }
}

// ---- The tests ---------------------------------------------------------------------------

#[test]
fn every_registered_body_agrees_with_its_schema() {
    let (mut n, mut accepted) = (0, 0);
    for shape in INPUTS {
        known_keywords_only(&json_schema(shape));
        let bodies = bodies(shape);
        assert!(
            check(shape, &bodies[0]).1.is_empty(),
            "{}: {}",
            shape.name,
            bodies[0]
        );
        for b in &bodies {
            agree(shape, b).unwrap();
            n += 1;
            accepted += usize::from(check(shape, b).1.is_empty());
        }
    }
    assert!(
        n > 5_000 && accepted > 1_000 && n - accepted > 1_000,
        "{n} bodies, {accepted} valid"
    );
}

#[test]
fn declarations_are_consistent() {
    fn kinds(k: &Kind, out: &mut Vec<Kind>) {
        out.push(*k);
        if let Kind::List(item, ..) = k {
            kinds(item, out);
        }
    }
    for shape in INPUTS {
        let s = json_schema(shape);
        for f in shape.fields {
            // A blank string reads as null only where null is accepted.
            assert!(
                !f.blank_null || f.nullable_in(shape.mode),
                "{}.{}",
                shape.name,
                f.name
            );
            let mut ks = Vec::new();
            kinds(&f.kind, &mut ks);
            for k in ks {
                if let Kind::Int(a, b) = k {
                    assert!(a.abs() <= MAX_SAFE_INT && b.abs() <= MAX_SAFE_INT);
                }
            }
            if let Some(d) = f.default {
                let d: Value = serde_json::from_str(d).unwrap();
                assert!(
                    valid(&s["properties"][f.name], &d),
                    "{}.{}",
                    shape.name,
                    f.name
                );
            }
        }
        for r in shape.rules {
            let t = r.text;
            assert!(t.ends_with('.') || t.ends_with(')'), "{}: {t}", shape.name);
            for f in r.fields {
                assert!(
                    shape.fields.iter().any(|x| x.name == *f),
                    "{}: the rule {t:?} names {f}, not a field",
                    shape.name
                );
                assert!(
                    t.contains(f),
                    "{}: the rule {t:?} does not say {f}",
                    shape.name
                );
            }
        }
    }
}

#[test]
fn every_kind_agrees_with_its_schema() {
    let mut all: Vec<(Kind, bool)> = Vec::new();
    for shape in INPUTS {
        for f in shape.fields {
            all.push((f.kind, f.blank_null));
        }
    }
    for (kind, blank_null) in all {
        let shape = one_field(kind, blank_null);
        for v in samples(&kind) {
            agree(shape, &json!({ "v": v })).unwrap();
        }
    }
}

/// A small deterministic generator.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
    fn string(&mut self, alphabet: &[&str], max: usize) -> String {
        let n = self.next(max + 1);
        (0..n)
            .map(|_| alphabet[self.next(alphabet.len())])
            .collect()
    }
}

#[test]
fn string_kinds_agree_on_random_strings() {
    let mut r = Lcg(7);
    let cases: Vec<(Kind, &[&str], usize)> = vec![
        (
            Kind::Email,
            &[
                "a", "@", ".", " ", "\t", "\u{0}", "\u{85}", "é", "\u{a0}", "b", "😀",
            ],
            9,
        ),
        (
            Kind::Phone,
            &[
                "1", "2", " ", "+", "-", ".", "(", ")", "\t", "x", "１", "\u{3000}",
            ],
            34,
        ),
        (
            Kind::Ip,
            &[
                "1", "0", "01", "255", "256", "ffff", "12345", ":", "::", ".", "1.2.3.4", " ", "a",
            ],
            10,
        ),
        (
            Kind::DateTime,
            &[
                "2", "0", "1", "9", "-", ":", "T", "t", " ", "Z", "z", "+", ".", "6", "3",
            ],
            30,
        ),
        (
            Kind::Text(6),
            &["a", " ", "\u{85}", "\u{feff}", "\t", "😀"],
            8,
        ),
        (
            Kind::Ref("t"),
            &["a", "Z", "0", "_", "-", ".", "@", "/", " ", "é"],
            130,
        ),
    ];
    for (kind, alphabet, max) in cases {
        for blank_null in [false, true] {
            let shape = one_field(kind, blank_null);
            for _ in 0..3_000 {
                let s = r.string(alphabet, max);
                agree(shape, &json!({ "v": s })).unwrap();
            }
        }
    }
    // Dates near the real grammar: mutate a valid one.
    let shape = one_field(Kind::DateTime, false);
    let base = "2024-02-29T23:59:59.5+05:30";
    for _ in 0..5_000 {
        let mut c: Vec<char> = base.chars().collect();
        for _ in 0..1 + r.next(2) {
            let i = r.next(c.len());
            c[i] = "0123456789Tt :-+Zz.".chars().nth(r.next(19)).unwrap_or('0');
        }
        let s: String = c.into_iter().collect();
        agree(shape, &json!({ "v": s })).unwrap();
    }
}

#[test]
fn patterns_are_their_checks() {
    let mut patterns: Vec<&Pattern> = Vec::new();
    fn collect(k: &Kind, out: &mut Vec<&'static Pattern>) {
        match k {
            Kind::Pattern(p) => out.push(p),
            Kind::List(item, ..) => collect(item, out),
            _ => {}
        }
    }
    for shape in INPUTS {
        for f in shape.fields {
            collect(&f.kind, &mut patterns);
        }
    }
    assert!(patterns.len() >= 8);
    let alphabet = [
        "a",
        "z",
        "A",
        "Z",
        "0",
        "9",
        "-",
        "_",
        ".",
        "@",
        ":",
        "*",
        " ",
        "é",
        "/",
        "\n",
        "f",
        "system:",
        "user:",
        "role:",
        "entity:",
        "admin",
        "public",
        "tenant",
        "dashboard",
    ];
    let mut r = Lcg(11);
    for p in patterns {
        assert!((p.test)(p.example), "{}", p.regex);
        let mut tried = vec![p.example.to_string()];
        for _ in 0..4_000 {
            tried.push(r.string(&alphabet, 12));
        }
        let max = p.max_len.unwrap_or(128);
        for n in [max - 1, max, max + 1] {
            tried.push(format!(
                "{}{}",
                p.example,
                rep("a", n - p.example.len().min(n))
            ));
        }
        for s in tried {
            let by_regex =
                re_match(p.regex, &s) && p.max_len.is_none_or(|m| s.chars().count() <= m);
            assert_eq!((p.test)(&s), by_regex, "{} on {s:?}", p.regex);
        }
    }
    // Ids in paths and bodies.
    for _ in 0..4_000 {
        let s = r.string(&alphabet, 70);
        assert_eq!(
            crate::domain::ids::valid_path_id(&s),
            re_match(crate::domain::ids::PATH_ID_PATTERN, &s),
            "{s:?}"
        );
        assert_eq!(
            crate::domain::auth::valid_user_id(&s),
            re_match(ID_PATTERN, &s),
            "{s:?}"
        );
    }
}

#[test]
fn whitespace_class_is_trims() {
    let ws = Regex::new(&format!("^[{WS_CLASS}]$"));
    for c in (0..=0x10ffff_u32).filter_map(char::from_u32) {
        if c.is_whitespace() || (c as u32) < 0x3100 {
            assert_eq!(
                ws.search(&c.to_string()),
                c.is_whitespace(),
                "{:x}",
                c as u32
            );
        }
    }
}

#[test]
fn regex_subset_reads_ecma_patterns() {
    assert!(re_match("^a{2,3}$", "aa") && !re_match("^a{2,3}$", "aaaa"));
    assert!(!re_match("^abc$", "abc\n"), "$ is the end of input");
    assert!(re_match("b", "abc") && !re_match("^b", "abc"));
    assert!(re_match("^(?:x|yz)+$", "xyzx") && !re_match("^(?:x|yz)+$", "xy"));
    assert!(re_match(r"^[^\u0000-\u0020]$", "é") && !re_match(r"^[^\u0000-\u0020]$", " "));
    assert!(re_match("^[+. ()-]*$", "(-)") && re_match(r"^\.$", "."));
}

#[test]
fn schema_states_the_contract() {
    let c = json_schema(&crate::domain::customer::INPUT);
    assert_eq!(c["required"], json!(["name"]));
    assert_eq!(c["additionalProperties"], json!(false));
    assert_eq!(c["properties"]["email"]["type"], json!(["string", "null"]));
    assert_eq!(
        c["properties"]["status"]["enum"].as_array().unwrap().len(),
        5
    );
    assert_eq!(c["properties"]["status"]["default"], json!("lead"));
    let p = json_schema(&crate::domain::customer::PATCH);
    assert!(p.get("required").is_none());
    assert_eq!(
        p["anyOf"].as_array().unwrap().len(),
        6,
        "version alone is no change"
    );
    assert_eq!(p["properties"]["version"]["minimum"], json!(1));
    let s = json_schema(&crate::domain::card::SCAN);
    assert!(
        s.get("additionalProperties").is_none(),
        "unknown fields are ignored"
    );
    assert_eq!(s["properties"]["source"]["enum"][3], Value::Null);
    let r = json_schema(&crate::domain::report::INPUT);
    assert!(r["description"]
        .as_str()
        .unwrap()
        .contains("to must be after from"));
    let st = json_schema(&crate::domain::finance::SETTINGS_INPUT);
    assert_eq!(st["required"], json!(["broker_rate_override_max_bps"]));
    assert_eq!(
        st["properties"]["broker_rate_override_max_bps"]["type"],
        json!(["integer", "null"])
    );
}

// ---- The record-style resources ---------------------------------------------------------

const KINDS: &[&str] = &["a", "b"];
const FIELDS: &[Field] = &[
    req("name", Kind::Text(10)),
    opt("email", Kind::Email),
    opt("phone", Kind::Phone),
    dflt("kind", Kind::Enum(KINDS), "\"a\""),
    opt("n", Kind::Int(0, 5)),
    opt("tags", Kind::List(&Kind::Text(5), 0, 3)),
    dflt("active", Kind::Bool, "true"),
];
fn min_le_max(m: &Map<String, Value>, errs: &mut FieldErrors) {
    if m["n"].as_i64().is_some_and(|n| n == 3) {
        errs.add("n", "three is not allowed");
    }
}
const INPUT: Shape = Shape::create("ThingInput", FIELDS, &[rule(&["n"], "n is not 3.")]);
const PATCH: Shape = Shape::patch("ThingPatch", FIELDS, &[rule(&["n"], "n is not 3.")]);
const SPEC: Spec = Spec {
    name: "thing",
    table: "things",
    id_prefix: "thg",
    events: "things:thing",
    fields: FIELDS,
    input: &INPUT,
    patch: &PATCH,
    filters: &[],
    check: min_le_max,
};

#[test]
fn create_applies_defaults_and_limits() {
    let m = validate_create(&SPEC, &json!({"name": " Ann ", "tags": ["x", "x", "y"]})).unwrap();
    assert_eq!(m["name"], "Ann");
    assert_eq!(m["kind"], "a");
    assert_eq!(m["active"], true);
    assert_eq!(m["tags"], json!(["x", "y"]));
    assert_eq!(m["email"], Value::Null);
    let e = validate_create(&SPEC, &json!({"email": "nope", "phone": "abc", "kind": "c", "n": 9, "tags": ["toolong"], "zz": 1})).unwrap_err();
    let f = &e.details.unwrap()["fields"];
    for k in ["name", "email", "phone", "kind", "n", "tags", "zz"] {
        assert!(f[k].is_string(), "{k}: {f}");
    }
    assert!(validate_create(&SPEC, &json!({"name": "x", "n": 3})).is_err());
}

#[test]
fn patch_changes_only_given_fields() {
    let cur = validate_create(&SPEC, &json!({"name": "Ann", "n": 1})).unwrap();
    let p = validate_patch(&SPEC, &json!({"n": null, "email": "a@b.co"}), &cur).unwrap();
    assert_eq!(p.len(), 2);
    assert!(validate_patch(&SPEC, &json!({"name": null}), &cur).is_err());
    assert!(validate_patch(&SPEC, &json!({"kind": null}), &cur).is_err());
    assert!(validate_patch(&SPEC, &json!({}), &cur).is_err());
    assert!(validate_patch(&SPEC, &json!({"n": 3}), &cur).is_err());
}

/// Each body's domain validator: whether it accepts a body, and whether it checks rules of
/// its own beyond the declaration (then it may refuse what the schema accepts, never the
/// reverse).
fn domain_validator(name: &str) -> (fn(&Value) -> bool, bool) {
    use crate::domain::{
        calendar, card, crm, customer, finance, identity, inputs, matching, owners, publishing,
        report, user,
    };
    fn configured() -> Vec<String> {
        vec!["idealista".into(), "fotocasa".into()]
    }
    match name {
        "AppointmentInput" => (|b| calendar::validate(b).is_ok(), true),
        "AppointmentCompleteInput" => (|b| calendar::validate_complete(b).is_ok(), false),
        "AppointmentPatch" => (
            |b| calendar::validate_patch(&scheduled_appointment(), b).is_ok(),
            true,
        ),
        "AppointmentCancelInput" => (|b| calendar::validate_cancel(b).is_ok(), false),
        "BlockIpInput" => (|b| inputs::validate_block_ip(b).is_ok(), false),
        "CardInput" => (|b| card::validate(b).is_ok(), false),
        "CardPatch" => (|b| card::validate_patch(&a_card(), b).is_ok(), false),
        "CardScanInput" => (|b| card::validate_scan(b).is_ok(), false),
        "CardLeadInput" => (|b| crate::domain::lead::validate(b).is_ok(), true),
        "CommissionRateInput" => (|b| finance::validate_rate(b).is_ok(), false),
        "CustomerInput" => (|b| customer::validate_create(b).is_ok(), false),
        "CustomerPatch" => (|b| customer::validate_update(b).is_ok(), false),
        "CustomerAssignInput" => (|b| customer::validate_assign(b).is_ok(), false),
        "FinanceSettingsInput" => (|b| finance::validate_settings(b).is_ok(), false),
        "FollowupInput" => (|b| crm::validate_followup(b).is_ok(), false),
        "FollowupPatch" => (|b| crm::validate_followup_change(b).is_ok(), false),
        "HubAppendInput" => (|b| inputs::validate_hub_append(b).is_ok(), false),
        "InteractionInput" => (|b| crm::validate_interaction(b).is_ok(), false),
        "ListingInput" => (
            |b| publishing::validate_listing(b, &configured()).is_ok(),
            true,
        ),
        "ListingPatch" => (
            |b| publishing::validate_listing_patch(&a_listing(), b).is_ok(),
            false,
        ),
        "ListingUnpublishInput" => (
            |b| publishing::validate_unpublish(b, &a_listing()).is_ok(),
            true,
        ),
        "ListingPublishInput" => (
            |b| publishing::validate_publish(b, &configured()).is_ok(),
            true,
        ),
        "LoginInput" => (|b| identity::validate_login(b).is_ok(), false),
        "MatchingRunInput" => (|b| matching::validate_run(b).is_ok(), false),
        "MatchDecisionInput" => (|b| matching::validate_decision(b).is_ok(), false),
        "OwnerInput" => (|b| validate_create(&owners::OWNER, b).is_ok(), false),
        "OwnerPatch" => (
            |b| validate_patch(&owners::OWNER, b, &Map::new()).is_ok(),
            false,
        ),
        "PaymentInput" => (|b| finance::validate_payment(b).is_ok(), false),
        "RefundInput" => (|b| finance::validate_refund(b).is_ok(), false),
        "PropertyInput" => (|b| validate_create(&owners::PROPERTY, b).is_ok(), false),
        "PropertyPatch" => (
            |b| validate_patch(&owners::PROPERTY, b, &Map::new()).is_ok(),
            false,
        ),
        "PublishInput" => (|b| inputs::validate_publish(b).is_ok(), true),
        "RefreshInput" => (|b| identity::validate_refresh_body(b).is_ok(), false),
        "ReportInput" => (|b| report::validate(b).is_ok(), true),
        "RoomInput" => (|b| inputs::validate_room(b).is_ok(), false),
        "RoomPublishInput" => (|b| inputs::validate_room_publish(b).is_ok(), true),
        "SaleInput" => (|b| finance::validate_sale(b).is_ok(), false),
        "ScheduleInput" => (
            |b| {
                let now = time::parse_rfc3339("2026-11-23T09:00:00Z").unwrap_or(0);
                publishing::validate_schedule(b, now, &configured()).is_ok()
            },
            true,
        ),
        "SeekerInput" => (|b| validate_create(&owners::SEEKER, b).is_ok(), true),
        "SeekerPatch" => (
            |b| validate_patch(&owners::SEEKER, b, &Map::new()).is_ok(),
            true,
        ),
        "SmsInput" => (|b| customer::sms_message(b).is_ok(), false),
        "UserInput" => (|b| user::validate_create(b).is_ok(), false),
        "InviteInput" => (|b| user::validate_invite(b).is_ok(), false),
        "AcceptInviteInput" => (|b| user::validate_accept(b).is_ok(), false),
        "TenantInput" => (|b| user::validate_new_tenant(b).is_ok(), false),
        "SettingsPatch" => (
            |b| crate::domain::settings::apply(&some_settings(), b, &configured()).is_ok(),
            true,
        ),
        "UserPatch" => (|b| user::validate_update(b).is_ok(), false),
        other => panic!("no domain validator listed for {other}"),
    }
}

/// Settings a patch is checked against.
fn some_settings() -> crate::domain::settings::Settings {
    crate::domain::settings::Settings {
        name: "Casa".into(),
        timezone: "UTC".into(),
        currency: "EUR".into(),
        commission_default_bps: 300,
        commission_max_bps: None,
        publishing_platforms: vec![],
        cors_origins: vec![],
        updated_by: None,
        updated_at: None,
    }
}

/// A listing published on both configured platforms.
fn a_listing() -> crate::domain::publishing::Listing {
    use crate::domain::publishing::{Listing, Publication};
    use crate::domain::status::{ListingStatus, PublicationStatus};
    let published = |p: &str| Publication {
        platform: p.into(),
        status: PublicationStatus::Published,
        job_id: None,
        external_id: None,
        url: None,
        attempts: 1,
        last_error: None,
        published_at: None,
        updated_at: "2026-11-22T09:00:00.000Z".into(),
    };
    Listing {
        id: "lst_1".into(),
        property_id: "prop_1".into(),
        title: "Flat".into(),
        description: None,
        price_minor: 100,
        currency: "EUR".into(),
        city: None,
        kind: None,
        bedrooms: None,
        platforms: vec!["idealista".into(), "fotocasa".into()],
        status: ListingStatus::Published,
        publications: vec![published("idealista"), published("fotocasa")],
        created_by: "b1".into(),
        created_at: "2026-11-22T09:00:00.000Z".into(),
        updated_at: "2026-11-22T09:00:00.000Z".into(),
        published_at: None,
    }
}

/// The card a patch is checked against.
fn a_card() -> crate::domain::card::Card {
    crate::domain::card::Card {
        id: "card_1".into(),
        slug: "jane-doe".into(),
        owner_id: "b1".into(),
        display_name: "Jane".into(),
        title: None,
        phone: None,
        email: None,
        bio: None,
        scans: 0,
        created_at: "2026-11-22T09:00:00.000Z".into(),
        updated_at: "2026-11-22T09:00:00.000Z".into(),
    }
}

/// The appointment a patch is checked against (an hour, the day of the generated bodies).
fn scheduled_appointment() -> crate::domain::calendar::Appointment {
    crate::domain::calendar::Appointment {
        id: "apt_1".into(),
        title: "Viewing".into(),
        customer_id: None,
        assigned_to: "b1".into(),
        starts_at: "2026-11-23T09:00:00.000Z".into(),
        ends_at: "2026-11-23T10:00:00.000Z".into(),
        location: None,
        notes: None,
        status: crate::domain::status::AppointmentStatus::Scheduled,
        outcome: None,
        created_by: "b1".into(),
        created_at: "2026-11-22T09:00:00.000Z".into(),
        updated_at: "2026-11-22T09:00:00.000Z".into(),
    }
}

#[test]
fn domain_validators_are_their_declarations() {
    for shape in INPUTS {
        let (accepts, own_rules) = domain_validator(shape.name);
        let schema = json_schema(shape);
        let mut accepted = 0;
        for b in bodies(shape) {
            let (ok, by_schema) = (accepts(&b), valid(&schema, &b));
            assert!(
                !ok || by_schema,
                "{}: accepts what the schema refuses: {b}",
                shape.name
            );
            assert!(
                own_rules || ok == by_schema,
                "{}: refuses what the schema accepts: {b}",
                shape.name
            );
            accepted += usize::from(ok);
        }
        assert!(accepted > 0, "{} accepts nothing", shape.name);
    }
}

/// The document's example bodies pass the validators they document, so "Try it out" starts
/// from a body the server accepts (rules that need other rows aside).
#[test]
fn every_input_example_passes_its_own_check() {
    for shape in crate::domain::inputs::INPUTS {
        let body = example(shape);
        let (_, errs) = check(shape, &body);
        assert!(
            errs.is_empty(),
            "{}: example {body} is refused: {errs:?}",
            shape.name
        );
    }
}
