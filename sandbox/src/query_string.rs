//! PHP-style query-string decoding: turns `where[0][value][1]=b&select=name` into the nested
//! structure PHP 8.2 builds for `$_GET` (and `parse_str`), which is what EspoCRM reads its list
//! parameters from. The sandbox needs the exact same decoding so that requests which work (or
//! fail) against a real EspoCRM behave the same way here, including PHP's odd corners: brackets
//! sent percent-encoded or literal, `+` as a space, `.` and spaces in top-level names becoming
//! `_`, unbalanced brackets, `[]` appends, over-deep nesting and the `max_input_vars` limit.
//!
//! The result is JSON: a PHP array whose keys are exactly `0..n-1` in insertion order becomes a
//! JSON array, any other array a JSON object with the keys written as strings; every leaf value
//! is a string. Bytes that are not valid UTF-8 after percent-decoding become U+FFFD.

use serde_json::{Map, Value};

/// PHP's default `max_input_nesting_level`: a variable nested deeper than this is dropped
/// entirely (together with anything already stored under its top-level name).
const MAX_NESTING_LEVEL: usize = 64;

/// PHP's default `max_input_vars`: variables after the first 1000 are ignored.
const MAX_INPUT_VARS: usize = 1000;

/// Decodes an `application/x-www-form-urlencoded` query string the way PHP builds `$_GET`.
///
/// Never fails and never panics: malformed input is handled the way PHP handles it (for
/// example `a[b=1` yields the key `a_b`, a name that starts with `[` is ignored, an invalid
/// percent escape is kept literally).
pub fn parse(query: &str) -> Map<String, Value> {
    let mut root = PhpArray::default();
    // PHP splits with strtok(), which skips empty pieces ("a=1&&b=2").
    for (count, var) in query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .enumerate()
    {
        if count >= MAX_INPUT_VARS {
            break;
        }
        let (name, value) = match var.split_once('=') {
            Some((name, value)) => (name, value),
            None => (var, ""),
        };
        register(
            &mut root,
            &url_decode(name.as_bytes()),
            url_decode(value.as_bytes()),
        );
    }
    root.entries
        .into_iter()
        .map(|(key, value)| (key.to_json_key(), value.into_json()))
        .collect()
}

/// `php_url_decode`: `+` is a space, `%XX` with two hex digits is that byte, anything else
/// (including a lone or malformed `%`) stays as it is.
fn url_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                input.get(i + 1).copied().and_then(hex_value),
                input.get(i + 2).copied().and_then(hex_value),
            ) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// A key of a PHP array: canonical decimal integers are stored as integers, everything else
/// as a (byte) string, exactly like `zend_symtable_update` does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Int(i64),
    Str(Vec<u8>),
}

impl Key {
    fn from_bytes(bytes: &[u8]) -> Key {
        match canonical_integer(bytes) {
            Some(number) => Key::Int(number),
            None => Key::Str(bytes.to_vec()),
        }
    }

    fn to_json_key(&self) -> String {
        match self {
            Key::Int(number) => number.to_string(),
            Key::Str(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        }
    }
}

/// `ZEND_HANDLE_NUMERIC_STR`: `0`, or an optional `-` followed by digits without a leading
/// zero, within the range of a 64-bit integer. `-0`, `01`, `1.0` and ` 1` stay strings.
fn canonical_integer(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits[0] == b'0' && bytes.len() > 1 {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

#[derive(Debug, Clone)]
enum PhpValue {
    Str(Vec<u8>),
    Array(PhpArray),
}

impl PhpValue {
    fn into_json(self) -> Value {
        match self {
            PhpValue::Str(bytes) => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
            PhpValue::Array(array) => array.into_json(),
        }
    }
}

/// An ordered PHP array. Lookups are linear: query strings are small and `max_input_vars`
/// bounds the work.
#[derive(Debug, Clone, Default)]
struct PhpArray {
    entries: Vec<(Key, PhpValue)>,
    /// `nNextFreeElement` as of PHP 8.2: one past the largest non-negative integer key.
    next_free: i64,
}

impl PhpArray {
    fn position(&self, key: &Key) -> Option<usize> {
        self.entries
            .iter()
            .position(|(existing, _)| existing == key)
    }

    fn note_key(&mut self, key: &Key) {
        if let Key::Int(number) = *key
            && number >= self.next_free
        {
            self.next_free = number.saturating_add(1);
        }
    }

    /// Stores `value` under `key`, keeping the position of an existing entry.
    fn set(&mut self, key: Key, value: PhpValue) {
        match self.position(&key) {
            Some(index) => self.entries[index].1 = value,
            None => {
                self.note_key(&key);
                self.entries.push((key, value));
            }
        }
    }

    /// `$array[] = value`. Returns the index of the new entry, or `None` when the next
    /// integer key is already taken (PHP then drops the value with a warning).
    fn append(&mut self, value: PhpValue) -> Option<usize> {
        let key = Key::Int(self.next_free);
        if self.position(&key).is_some() {
            return None;
        }
        self.note_key(&key);
        self.entries.push((key, value));
        Some(self.entries.len() - 1)
    }

    /// The array stored under `key`, created empty when missing and replacing a string.
    fn child_array(&mut self, key: Key) -> Option<&mut PhpArray> {
        let index = match self.position(&key) {
            Some(index) => {
                if !matches!(self.entries[index].1, PhpValue::Array(_)) {
                    self.entries[index].1 = PhpValue::Array(PhpArray::default());
                }
                index
            }
            None => {
                self.note_key(&key);
                self.entries
                    .push((key, PhpValue::Array(PhpArray::default())));
                self.entries.len() - 1
            }
        };
        self.array_at(index)
    }

    /// The array at entry `index` (always one for the callers; `None` keeps this total).
    fn array_at(&mut self, index: usize) -> Option<&mut PhpArray> {
        match self.entries.get_mut(index) {
            Some((_, PhpValue::Array(array))) => Some(array),
            _ => None,
        }
    }

    fn remove(&mut self, key: &Key) {
        self.entries.retain(|(existing, _)| existing != key);
    }

    fn into_json(self) -> Value {
        let is_list = self
            .entries
            .iter()
            .enumerate()
            .all(|(index, (key, _))| matches!(key, Key::Int(number) if i64::try_from(index) == Ok(*number)));
        if is_list {
            Value::Array(
                self.entries
                    .into_iter()
                    .map(|(_, value)| value.into_json())
                    .collect(),
            )
        } else {
            Value::Object(
                self.entries
                    .into_iter()
                    .map(|(key, value)| (key.to_json_key(), value.into_json()))
                    .collect(),
            )
        }
    }
}

/// `php_register_variable_ex` for one decoded `name=value` pair.
fn register(root: &mut PhpArray, name: &[u8], value: Vec<u8>) {
    // The name is a C string: a decoded %00 ends it.
    let name = match name.iter().position(|&byte| byte == 0) {
        Some(end) => &name[..end],
        None => name,
    };
    // Leading spaces are ignored.
    let start = name
        .iter()
        .position(|&byte| byte != b' ')
        .unwrap_or(name.len());
    let mut var = name[start..].to_vec();

    // In the base name (up to the first '['), spaces and dots become underscores.
    let mut base_len = var.len();
    for (index, byte) in var.iter_mut().enumerate() {
        match *byte {
            b' ' | b'.' => *byte = b'_',
            b'[' => {
                base_len = index;
                break;
            }
            _ => {}
        }
    }
    if base_len == 0 {
        return;
    }
    let base = Key::from_bytes(&var[..base_len]);
    if base_len == var.len() {
        root.set(base, PhpValue::Str(value));
        return;
    }

    // Walk the bracket groups. `path` holds one entry per complete group: `None` for `[]`.
    let mut path: Vec<Option<Vec<u8>>> = Vec::new();
    let mut ip = base_len; // index of the current '['
    loop {
        if path.len() + 1 > MAX_NESTING_LEVEL {
            root.remove(&base);
            return;
        }
        ip += 1;
        let index_start = ip;
        if var.get(ip) == Some(&b' ') {
            ip += 1;
        }
        if var.get(ip) == Some(&b']') {
            path.push(None);
        } else {
            match var[ip.min(var.len())..]
                .iter()
                .position(|&byte| byte == b']')
            {
                Some(offset) => {
                    let close = ip + offset;
                    path.push(Some(var[index_start..close].to_vec()));
                    ip = close;
                }
                None if path.is_empty() => {
                    // Not an index: the '[' and any later ' ', '.', '[' become '_' and the
                    // whole thing is a plain top-level name.
                    for byte in &mut var[base_len..] {
                        if matches!(*byte, b' ' | b'.' | b'[') {
                            *byte = b'_';
                        }
                    }
                    root.set(Key::from_bytes(&var), PhpValue::Str(value));
                    return;
                }
                // A later unterminated group is ignored: the value goes to the path so far.
                None => break,
            }
        }
        ip += 1; // past ']'
        if var.get(ip) != Some(&b'[') {
            // Anything after the last ']' that does not open a new group is ignored.
            break;
        }
    }
    assign(root, base, &path, value);
}

/// Stores `value` at `base[path[0]][path[1]]…`, creating (or replacing scalars by) arrays on
/// the way; a `None` step appends.
fn assign(root: &mut PhpArray, base: Key, path: &[Option<Vec<u8>>], value: Vec<u8>) {
    let Some((last, intermediate)) = path.split_last() else {
        root.set(base, PhpValue::Str(value));
        return;
    };
    let Some(mut container) = root.child_array(base) else {
        return;
    };
    for step in intermediate {
        let next = match step {
            Some(key) => container.child_array(Key::from_bytes(key)),
            None => match container.append(PhpValue::Array(PhpArray::default())) {
                Some(index) => container.array_at(index),
                // The next integer key is taken: PHP drops the value.
                None => return,
            },
        };
        let Some(next) = next else {
            return;
        };
        container = next;
    }
    match last {
        Some(key) => container.set(Key::from_bytes(key), PhpValue::Str(value)),
        None => {
            // A full array drops the value, as PHP does.
            let _ = container.append(PhpValue::Str(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn parsed(query: &str) -> Value {
        Value::Object(parse(query))
    }

    #[test]
    fn where_items_with_encoded_and_literal_brackets_parse_alike() {
        let encoded = "where%5B0%5D%5Btype%5D=in&where%5B0%5D%5Battribute%5D=industry\
                       &where%5B0%5D%5Bvalue%5D%5B0%5D=Software&where%5B0%5D%5Bvalue%5D%5B1%5D=Finance";
        let literal = "where[0][type]=in&where[0][attribute]=industry\
                       &where[0][value][0]=Software&where[0][value][1]=Finance";
        let expected = json!({"where": [{
            "type": "in", "attribute": "industry", "value": ["Software", "Finance"]
        }]});
        assert_eq!(parsed(encoded), expected);
        assert_eq!(parsed(literal), expected);
    }

    #[test]
    fn plus_is_a_space_and_percent_escapes_decode() {
        assert_eq!(
            parsed("q=In+Process%21&r=%7Bnot+json"),
            json!({"q": "In Process!", "r": "{not json"})
        );
    }

    #[test]
    fn empty_brackets_append() {
        assert_eq!(parsed("a[]=x&a[]=y"), json!({"a": ["x", "y"]}));
        assert_eq!(
            parsed("boolFilterList%5B%5D=onlyMy"),
            json!({"boolFilterList": ["onlyMy"]})
        );
        // Appending continues after the largest integer key.
        assert_eq!(parsed("a[5]=x&a[]=y"), json!({"a": {"5": "x", "6": "y"}}));
        // `[ ]` (one space) is an append too.
        assert_eq!(parsed("a[ ]=x"), json!({"a": ["x"]}));
        // Appending nested arrays creates a new element each time.
        assert_eq!(
            parsed("a[][x]=1&a[][x]=2"),
            json!({"a": [{"x": "1"}, {"x": "2"}]})
        );
    }

    #[test]
    fn nested_keys_build_objects_and_lists() {
        assert_eq!(
            parsed("a[b][c]=1&a[b][d]=2"),
            json!({"a": {"b": {"c": "1", "d": "2"}}})
        );
        assert_eq!(parsed("a[0]=x&a[1]=y"), json!({"a": ["x", "y"]}));
        // Keys out of order, gaps, non-canonical integers: objects.
        assert_eq!(parsed("a[1]=x&a[0]=y"), json!({"a": {"1": "x", "0": "y"}}));
        assert_eq!(parsed("a[0]=x&a[2]=y"), json!({"a": {"0": "x", "2": "y"}}));
        assert_eq!(parsed("a[01]=x"), json!({"a": {"01": "x"}}));
        assert_eq!(parsed("a[-0]=x"), json!({"a": {"-0": "x"}}));
        assert_eq!(parsed("a[-1]=x"), json!({"a": {"-1": "x"}}));
        // "0" and 0 are the same key.
        assert_eq!(
            parsed("a[0]=x&a[00]=y&a[0]=z"),
            json!({"a": {"0": "z", "00": "y"}})
        );
        // Inside brackets, dots and spaces are kept; a leading space too (unless it is alone).
        assert_eq!(
            parsed("a[b.c d]=1&a[ e]=2"),
            json!({"a": {"b.c d": "1", " e": "2"}})
        );
    }

    #[test]
    fn later_values_override_earlier_ones() {
        assert_eq!(parsed("a=1&a=2"), json!({"a": "2"}));
        assert_eq!(parsed("a=1&a[x]=2"), json!({"a": {"x": "2"}}));
        assert_eq!(parsed("a[x]=2&a=1"), json!({"a": "1"}));
        assert_eq!(parsed("a[x]=1&a[x][y]=2"), json!({"a": {"x": {"y": "2"}}}));
        // The position of the first occurrence is kept.
        assert_eq!(parsed("a=1&b=2&a=3"), json!({"a": "3", "b": "2"}));
    }

    #[test]
    fn top_level_names_replace_dots_and_spaces() {
        assert_eq!(
            parsed("a.b=1&c+d=2&e%20f=3"),
            json!({"a_b": "1", "c_d": "2", "e_f": "3"})
        );
        assert_eq!(parsed("+lead=1"), json!({"lead": "1"}));
        assert_eq!(parsed("a.b[c.d]=1"), json!({"a_b": {"c.d": "1"}}));
    }

    #[test]
    fn unbalanced_brackets_follow_php() {
        assert_eq!(parsed("a[b=1"), json!({"a_b": "1"}));
        assert_eq!(parsed("a[b.c[d=1"), json!({"a_b_c_d": "1"}));
        assert_eq!(parsed("a]=1"), json!({"a]": "1"}));
        // A later unterminated group is dropped; text after a `]` is ignored.
        assert_eq!(parsed("a[b][c=1"), json!({"a": {"b": "1"}}));
        assert_eq!(parsed("a[b]c=1"), json!({"a": {"b": "1"}}));
        assert_eq!(parsed("a[b]x[c]=1"), json!({"a": {"b": "1"}}));
        // `]` inside a key is impossible, `[` is fine.
        assert_eq!(parsed("a[b[c]=1"), json!({"a": {"b[c": "1"}}));
    }

    #[test]
    fn empty_names_are_ignored_and_missing_values_are_empty() {
        assert_eq!(parsed("=1&[a]=2&%20=3&&&"), json!({}));
        assert_eq!(parsed(""), json!({}));
        assert_eq!(parsed("flag&x="), json!({"flag": "", "x": ""}));
        assert_eq!(parsed("a=b=c"), json!({"a": "b=c"}));
    }

    #[test]
    fn malformed_escapes_and_bytes_do_not_fail() {
        assert_eq!(parsed("a=%zz%4&b=%"), json!({"a": "%zz%4", "b": "%"}));
        assert_eq!(parsed("a=%FF"), json!({"a": "\u{fffd}"}));
        assert_eq!(parsed("a=%C3%A9"), json!({"a": "é"}));
        // A NUL ends the name, but not the value.
        assert_eq!(parsed("a%00b=1&c=x%00y"), json!({"a": "1", "c": "x\u{0}y"}));
    }

    #[test]
    fn nesting_deeper_than_64_levels_drops_the_variable() {
        let ok = format!("keep=1&a{}=x", "[k]".repeat(64));
        let parsed_ok = parse(&ok);
        assert!(parsed_ok.contains_key("a"));
        let deep = format!("a=1&b=2&a{}=x", "[k]".repeat(65));
        assert_eq!(parsed(&deep), json!({"b": "2"}));
    }

    #[test]
    fn only_the_first_1000_variables_count() {
        let query: Vec<String> = (0..1005).map(|i| format!("v{i}=x")).collect();
        let parsed = parse(&query.join("&"));
        assert_eq!(parsed.len(), 1000);
        assert!(parsed.contains_key("v999"));
        assert!(!parsed.contains_key("v1000"));
    }

    /// A structure that can be written as a query string: containers are never empty and map
    /// keys never look like integers, so decoding gives it back unchanged.
    #[derive(Debug, Clone)]
    enum Node {
        Leaf(String),
        List(Vec<Node>),
        Map(Vec<(String, Node)>),
    }

    impl Node {
        fn to_json(&self) -> Value {
            match self {
                Node::Leaf(text) => Value::String(text.clone()),
                Node::List(items) => Value::Array(items.iter().map(Node::to_json).collect()),
                Node::Map(entries) => Value::Object(
                    entries
                        .iter()
                        .map(|(key, node)| (key.clone(), node.to_json()))
                        .collect(),
                ),
            }
        }
    }

    fn node() -> impl Strategy<Value = Node> {
        let leaf = any::<String>().prop_map(Node::Leaf);
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(Node::List),
                prop::collection::btree_map("[a-zA-Z][a-zA-Z0-9 ._-]{0,5}", inner, 1..4)
                    .prop_map(|entries| Node::Map(entries.into_iter().collect())),
            ]
        })
    }

    fn encode_component(text: &str) -> String {
        form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }

    /// Writes `name[k1][k2]=leaf` pairs in depth-first order; `literal` chooses between `[`/`]`
    /// as they are and `%5B`/`%5D`. Lists of leaves use `[]` when `append` is set.
    fn encode(prefix: &str, node: &Node, literal: bool, append: bool, out: &mut Vec<String>) {
        let (open, close) = if literal { ("[", "]") } else { ("%5B", "%5D") };
        match node {
            Node::Leaf(text) => out.push(format!("{prefix}={}", encode_component(text))),
            Node::List(items) => {
                let all_leaves = items.iter().all(|item| matches!(item, Node::Leaf(_)));
                for (index, item) in items.iter().enumerate() {
                    let key = if append && all_leaves {
                        String::new()
                    } else {
                        index.to_string()
                    };
                    encode(
                        &format!("{prefix}{open}{key}{close}"),
                        item,
                        literal,
                        append,
                        out,
                    );
                }
            }
            Node::Map(entries) => {
                for (key, item) in entries {
                    let key = encode_component(key);
                    encode(
                        &format!("{prefix}{open}{key}{close}"),
                        item,
                        literal,
                        append,
                        out,
                    );
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn never_panics_on_arbitrary_text(query in any::<String>()) {
            let _ = parse(&query);
        }

        #[test]
        fn never_panics_on_bracket_soup(query in "[\\[\\]%&=+. a-f0-9\u{0}é]{0,60}") {
            let _ = parse(&query);
        }

        #[test]
        fn nested_structures_round_trip(
            top in prop::collection::btree_map("[a-z][a-z0-9_]{0,5}", node(), 1..4),
            append in any::<bool>(),
        ) {
            let expected = Value::Object(
                top.iter().map(|(name, node)| (name.clone(), node.to_json())).collect(),
            );
            for literal in [false, true] {
                let mut pairs = Vec::new();
                for (name, node) in &top {
                    encode(name, node, literal, append, &mut pairs);
                }
                prop_assert_eq!(parsed(&pairs.join("&")), expected.clone());
            }
        }
    }
}
