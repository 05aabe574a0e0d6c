use super::*;

fn map(node: &Node) -> &[(Key, Node)] {
    match &node.kind {
        Kind::Map(entries) => entries,
        other => panic!("expected a map, got {other:?}"),
    }
}

#[test]
fn children_carry_their_own_lines_and_columns() {
    let doc = parse("a: 1\nb:\n  c: hello\n").unwrap();
    let top = map(&doc);
    assert_eq!(top[0].0.name, "a");
    assert_eq!((top[0].0.loc.line, top[0].0.loc.column), (1, 1));
    let inner = map(&top[1].1);
    assert_eq!(inner[0].0.name, "c");
    assert_eq!((inner[0].0.loc.line, inner[0].0.loc.column), (3, 3));
    assert_eq!(inner[0].1.kind, Kind::Str("hello".into()));
    assert_eq!((inner[0].1.loc.line, inner[0].1.loc.column), (3, 6));
    assert_eq!(inner[0].1.loc.offset, 13);
    assert_eq!(inner[0].1.loc.len, 5);
}

#[test]
fn duplicate_keys_reach_validation_with_both_lines() {
    let doc = parse("x: 1\ny: 2\nx: 3\n").unwrap();
    let lines: Vec<(String, usize)> =
        map(&doc).iter().map(|(k, _)| (k.name.clone(), k.loc.line)).collect();
    assert_eq!(lines, [("x".into(), 1), ("y".into(), 2), ("x".into(), 3)]);
}

#[test]
fn yaml_1_1_booleans_and_octals_stay_strings() {
    let doc = parse("a: NO\nb: 0755\nc: true\nd: 12\n").unwrap();
    let kinds: Vec<Kind> = map(&doc).iter().map(|(_, v)| v.kind.clone()).collect();
    assert_eq!(
        kinds,
        [Kind::Str("NO".into()), Kind::Str("0755".into()), Kind::Bool(true), Kind::Int(12)]
    );
}

#[test]
fn merge_keys_are_expanded() {
    let doc = parse("d: &d {r: 90d}\ns: {<<: *d, g: 1}\n").unwrap();
    let s = map(&map(&doc)[1].1);
    let names: Vec<&str> = s.iter().map(|(k, _)| k.name.as_str()).collect();
    assert!(names.contains(&"r"), "{names:?}");
    assert!(!names.contains(&"<<"), "{names:?}");
}

#[test]
fn syntax_errors_have_a_location() {
    let error = parse("a: [1, 2\nb: 3\n").unwrap_err();
    assert!(error.loc.is_some(), "{error:?}");
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = (b'a' + i - 1) as char;
        let cur = (b'a' + i) as char;
        text.push_str(&format!(
            "{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, \
             *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    assert!(parse(&text).is_err());
}

fn seq(node: &Node) -> &[Node] {
    match &node.kind {
        Kind::Seq(items) => items,
        other => panic!("expected a list, got {other:?}"),
    }
}

/// The value of the only entry of a one-entry document.
fn value(text: &str) -> Node {
    let doc = parse(text).unwrap_or_else(|error| panic!("{text:?}: {error:?}"));
    let entries = map(&doc);
    assert_eq!(entries.len(), 1, "{text:?}");
    entries[0].1.clone()
}

fn syntax_error(text: &str) -> SyntaxError {
    match parse(text) {
        Ok(node) => panic!("{text:?} parsed as {node:?}"),
        Err(error) => error,
    }
}

fn line_column(loc: Option<Loc>) -> (usize, usize) {
    let loc = loc.expect("a location");
    (loc.line, loc.column)
}

fn names(entries: &[(Key, Node)]) -> Vec<&str> {
    entries.iter().map(|(key, _)| key.name.as_str()).collect()
}

#[test]
fn plain_scalars_resolve_by_the_core_schema() {
    let table = [
        ("null", Kind::Null),
        ("Null", Kind::Null),
        ("NULL", Kind::Null),
        ("~", Kind::Null),
        ("", Kind::Null),
        ("nULL", Kind::Str("nULL".into())),
        ("true", Kind::Bool(true)),
        ("True", Kind::Bool(true)),
        ("TRUE", Kind::Bool(true)),
        ("false", Kind::Bool(false)),
        ("False", Kind::Bool(false)),
        ("FALSE", Kind::Bool(false)),
        ("tRUE", Kind::Str("tRUE".into())),
        ("yes", Kind::Str("yes".into())),
        ("No", Kind::Str("No".into())),
        ("on", Kind::Str("on".into())),
        ("OFF", Kind::Str("OFF".into())),
        ("y", Kind::Str("y".into())),
        ("12", Kind::Int(12)),
        ("0", Kind::Int(0)),
        ("-0", Kind::Int(0)),
        ("+7", Kind::Int(7)),
        ("-12", Kind::Int(-12)),
        ("0755", Kind::Str("0755".into())),
        ("-012", Kind::Str("-012".into())),
        ("+00", Kind::Str("+00".into())),
        ("0o17", Kind::Int(15)),
        ("0x1F", Kind::Int(31)),
        ("0xff", Kind::Int(255)),
        ("0o18", Kind::Str("0o18".into())),
        ("0x", Kind::Str("0x".into())),
        ("0x+1", Kind::Str("0x+1".into())),
        ("-0x1F", Kind::Str("-0x1F".into())),
        ("0b11", Kind::Str("0b11".into())),
        ("1_000", Kind::Str("1_000".into())),
        ("170141183460469231731687303715884105727", Kind::Int(i128::MAX)),
        (
            "170141183460469231731687303715884105728",
            Kind::Str("170141183460469231731687303715884105728".into()),
        ),
        ("1.0", Kind::Float(1.0)),
        ("1.", Kind::Float(1.0)),
        (".5", Kind::Float(0.5)),
        ("-.5", Kind::Float(-0.5)),
        ("+1.5e3", Kind::Float(1500.0)),
        ("1e3", Kind::Float(1000.0)),
        ("1E-2", Kind::Float(0.01)),
        ("2.5E+1", Kind::Float(25.0)),
        ("01.5", Kind::Float(1.5)),
        (".inf", Kind::Float(f64::INFINITY)),
        ("+.Inf", Kind::Float(f64::INFINITY)),
        ("-.INF", Kind::Float(f64::NEG_INFINITY)),
        (".", Kind::Str(".".into())),
        ("+", Kind::Str("+".into())),
        ("1e", Kind::Str("1e".into())),
        ("e3", Kind::Str("e3".into())),
        ("1.2.3", Kind::Str("1.2.3".into())),
        ("inf", Kind::Str("inf".into())),
        ("nan", Kind::Str("nan".into())),
        ("-.nan", Kind::Str("-.nan".into())),
        ("90d", Kind::Str("90d".into())),
        ("12 34", Kind::Str("12 34".into())),
    ];
    for (text, expected) in table {
        assert_eq!(value(&format!("v: {text}\n")).kind, expected, "{text:?}");
    }
    for text in [".nan", ".NaN", ".NAN"] {
        let kind = value(&format!("v: {text}\n")).kind;
        assert!(matches!(kind, Kind::Float(f) if f.is_nan()), "{text:?}: {kind:?}");
    }
}

#[test]
fn quoted_and_block_scalars_are_strings() {
    for (text, expected) in [
        ("'12'", "12"),
        ("\"true\"", "true"),
        ("'null'", "null"),
        ("''", ""),
        ("\"0x1F\"", "0x1F"),
        ("|\n  12\n", "12\n"),
        (">-\n  true\n", "true"),
    ] {
        assert_eq!(value(&format!("v: {text}\n")).kind, Kind::Str(expected.into()), "{text:?}");
    }
}

#[test]
fn scalar_locations_cover_the_whole_token() {
    let doc =
        parse("a: 'it''s'\nb: \"x\\ty\"\nc: |\n  one\n  two\nd: plain\n  more\ne: é\n").unwrap();
    let locs: Vec<(usize, usize, usize, usize)> = map(&doc)
        .iter()
        .map(|(_, v)| (v.loc.line, v.loc.column, v.loc.offset, v.loc.len))
        .collect();
    // The block scalar's range is its content, which is what masking must cover.
    assert_eq!(locs, [(1, 4, 3, 7), (2, 4, 14, 6), (4, 3, 28, 10), (6, 4, 41, 12), (8, 4, 57, 2)]);
}

#[test]
fn collections_are_located_at_their_start() {
    let doc = parse("a: [1]\nb: {c: 1}\nd:\n  - x\n").unwrap();
    let locs: Vec<Loc> = map(&doc).iter().map(|(_, v)| v.loc).collect();
    assert_eq!(locs[0], Loc { line: 1, column: 4, offset: 3, len: 1 });
    assert_eq!(locs[1], Loc { line: 2, column: 4, offset: 10, len: 1 });
    assert_eq!(locs[2], Loc { line: 4, column: 3, offset: 22, len: 0 });
    assert_eq!(doc.loc, Loc { line: 1, column: 1, offset: 0, len: 0 });
}

#[test]
fn core_tags_are_honoured_when_the_text_fits() {
    for (text, expected) in [
        ("!!str 12", Kind::Str("12".into())),
        ("!!str true", Kind::Str("true".into())),
        ("!!str", Kind::Str(String::new())),
        ("!!int \"12\"", Kind::Int(12)),
        ("!!int 0755", Kind::Int(755)),
        ("!!int 0x1F", Kind::Int(31)),
        ("!!float 1", Kind::Float(1.0)),
        ("!!float '2.5'", Kind::Float(2.5)),
        ("!!bool 'false'", Kind::Bool(false)),
        ("!!null ''", Kind::Null),
        ("!!null ~", Kind::Null),
        ("!<tag:yaml.org,2002:str> 1", Kind::Str("1".into())),
        ("! 12", Kind::Str("12".into())),
    ] {
        assert_eq!(value(&format!("v: {text}\n")).kind, expected, "{text:?}");
    }
    assert_eq!(seq(&value("v: !!seq [1]\n")).len(), 1);
    assert_eq!(map(&value("v: !!map {a: 1}\n")).len(), 1);
}

#[test]
fn a_core_tag_that_does_not_fit_is_an_error_at_the_tag() {
    for (text, message) in [
        ("v: !!int twelve\n", "the value does not fit its `!!int` tag"),
        ("v: !!int 1.5\n", "the value does not fit its `!!int` tag"),
        (
            "v: !!int 170141183460469231731687303715884105728\n",
            "the value does not fit its `!!int` tag",
        ),
        ("v: !!float abc\n", "the value does not fit its `!!float` tag"),
        ("v: !!bool yes\n", "the value does not fit its `!!bool` tag"),
        ("v: !!null 0\n", "the value does not fit its `!!null` tag"),
        ("v: !!str [1]\n", "the `!!str` tag does not fit a list"),
        ("v: !!map [1]\n", "the `!!map` tag does not fit a list"),
        ("v: !!seq {a: 1}\n", "the `!!seq` tag does not fit a mapping"),
        ("v: !!seq text\n", "the `!!seq` tag does not fit text"),
    ] {
        let error = syntax_error(text);
        assert_eq!(error.message, message, "{text:?}");
        assert_eq!(line_column(error.loc), (1, 4), "{text:?}");
    }
}

#[test]
fn other_tags_are_unsupported() {
    for text in [
        "v: !vault secret/db\n",
        "v: !!binary aGk=\n",
        "v: !!timestamp 2001-12-14\n",
        "v: !vault {path: x}\n",
        "v: !vault [x]\n",
        "!vault k: v\n",
    ] {
        let error = syntax_error(text);
        assert_eq!(
            error.message,
            "unsupported tag: a Secretfile accepts only `!!str`, `!!int`, `!!float`, `!!bool` \
             and `!!null`",
            "{text:?}"
        );
        let expected = if text.starts_with('!') { (1, 1) } else { (1, 4) };
        assert_eq!(line_column(error.loc), expected, "{text:?}");
    }
}

#[test]
fn keys_are_their_text_as_written() {
    let doc = parse("1: a\ntrue: b\n0x1F: c\n1.50: d\n'q': e\n!!str null: f\nNO: g\n").unwrap();
    assert_eq!(names(map(&doc)), ["1", "true", "0x1F", "1.50", "q", "null", "NO"]);
    let key = &map(&doc)[4].0;
    assert_eq!(key.loc, Loc { line: 5, column: 1, offset: 29, len: 3 });
}

#[test]
fn null_keys_are_errors() {
    for (text, at) in [
        ("~: a\n", (1, 1)),
        ("b: 1\nnull: a\n", (2, 1)),
        ("{NULL: a}\n", (1, 2)),
        ("!!null '': a\n", (1, 8)),
    ] {
        let error = syntax_error(text);
        assert_eq!(error.message, "null key: mapping keys must be text", "{text:?}");
        assert_eq!(line_column(error.loc), at, "{text:?}");
    }
}

#[test]
fn non_scalar_keys_are_errors() {
    for (text, at, found) in [
        ("? [a, b]\n: c\n", (1, 3), "a list"),
        ("x: 1\n? {a: 1}\n: c\n", (2, 3), "a mapping"),
        ("{[a]: c}\n", (1, 2), "a list"),
        ("l: &l [1]\n*l : c\n", (2, 1), "a list"),
    ] {
        let error = syntax_error(text);
        assert_eq!(error.message, format!("a mapping key must be text, found {found}"), "{text:?}");
        assert_eq!(line_column(error.loc), at, "{text:?}");
    }
}

#[test]
fn aliases_copy_the_anchored_node() {
    let doc = parse("base: &b {x: 1, y: [a]}\nuse: *b\ns: &s hello\nt: *s\n").unwrap();
    let top = map(&doc);
    assert_eq!(top[1].1.kind, top[0].1.kind);

    // The copy sits at the alias; what is inside it stays at its definition.
    assert_eq!(top[1].1.loc, Loc { line: 2, column: 6, offset: 29, len: 2 });
    let copied = map(&top[1].1);
    assert_eq!((copied[0].0.loc.line, copied[0].0.loc.column), (1, 11));
    assert_eq!((copied[0].1.loc.line, copied[0].1.loc.column), (1, 14));

    assert_eq!(top[3].1.kind, Kind::Str("hello".into()));
    assert_eq!(top[3].1.loc, Loc { line: 4, column: 4, offset: 47, len: 2 });
}

#[test]
fn an_alias_refers_to_the_latest_anchor_of_its_name() {
    let doc = parse("a: &x 1\nb: &x 2\nc: *x\n").unwrap();
    assert_eq!(map(&doc)[2].1.kind, Kind::Int(2));
}

#[test]
fn an_alias_can_name_a_key() {
    let doc = parse("k: &k name\nm: {*k : v}\nn: &n 12\no: {*n : v}\n").unwrap();
    let top = map(&doc);
    assert_eq!(names(map(&top[1].1)), ["name"]);
    assert_eq!((map(&top[1].1)[0].0.loc.line, map(&top[1].1)[0].0.loc.column), (2, 5));
    assert_eq!(names(map(&top[3].1)), ["12"]);
}

#[test]
fn an_unknown_alias_is_an_error_at_the_alias() {
    let error = syntax_error("a: 1\nb: *nowhere\n");
    assert_eq!(error.message, "an alias refers to an anchor not defined before it");
    assert_eq!(line_column(error.loc), (2, 4));
}

#[test]
fn an_alias_inside_its_own_anchor_is_an_error() {
    let error = syntax_error("a: &a [1, *a]\n");
    assert_eq!(error.message, "an alias refers to the collection that contains it");
    assert_eq!(line_column(error.loc), (1, 11));
}

#[test]
fn alias_expansion_is_bounded_with_a_location() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12u8 {
        let (prev, cur) = ((b'a' + i - 1) as char, (b'a' + i) as char);
        let aliases = vec![format!("*{prev}"); 10].join(", ");
        text.push_str(&format!("{cur}: &{cur} [{aliases}]\n"));
    }
    // Fully expanded this is 10^12 nodes: that the error comes at all, at the alias that
    // crosses the limit, shows the expansion stopped there (no timing is asserted).
    let error = syntax_error(&text);
    assert_eq!(
        error.message,
        format!(
            "the document expands to more than {} nodes through aliases",
            MAX_ALIAS_COPIES.nodes
        )
    );
    // Levels b to e copy 122,340 nodes; each alias in f copies 111,111 more, and the eighth
    // crosses the limit.
    assert_eq!(line_column(error.loc), (6, 36));
}

#[test]
fn alias_copies_of_long_text_are_bounded() {
    // Eight copies of 8 MiB reach the limit exactly; the ninth alias would pass it.
    let long = "x".repeat(MAX_ALIAS_COPIES.bytes / 8);
    let text = format!("a: &a {long}\nb: [{}]\n", ["*a"; 9].join(", "));
    let error = syntax_error(&text);
    assert_eq!(
        error.message,
        format!(
            "the document expands to more than {} bytes of text through aliases",
            MAX_ALIAS_COPIES.bytes
        )
    );
    assert_eq!(line_column(error.loc), (2, 37));
}

#[test]
fn anchors_nested_in_one_another_are_bounded() {
    // Each anchored list is kept aside with the 2 MiB text inside it, so the copies kept grow
    // by 2 MiB a level and pass 64 MiB at the 32nd list from the inside.
    let long = "x".repeat(MAX_ANCHORED.bytes / 32);
    let depth = 40;
    let opening: String = (0..depth).map(|i| format!("&a{i} [")).collect();
    let text = format!("{opening}&s {long}{}\n", "]".repeat(depth));
    let error = syntax_error(&text);
    assert_eq!(
        error.message,
        format!("the document's anchors hold more than {} bytes of text", MAX_ANCHORED.bytes)
    );
    // The 32nd list from the inside is the 9th from the outside: `&a8 [` after eight others.
    assert_eq!(line_column(error.loc), (1, 8 * 5 + 5));
}

#[test]
fn an_anchored_key_can_be_copied_as_a_value() {
    let doc = parse("&k 12: a\nb: *k\n").unwrap();
    let top = map(&doc);
    assert_eq!(top[0].0.name, "12");
    assert_eq!(top[1].1.kind, Kind::Int(12));
}

#[test]
fn merge_keys_yield_to_explicit_keys_and_earlier_merges() {
    let text = "\
a: &a {x: a, y: a, z: a}
b: &b {y: b, w: b}
m:
  x: own
  <<: [*a, *b]
  w: own
";
    let doc = parse(text).unwrap();
    let m = map(&map(&doc)[2].1);
    let entries: Vec<(&str, Kind)> =
        m.iter().map(|(k, v)| (k.name.as_str(), v.kind.clone())).collect();
    assert_eq!(
        entries,
        [
            ("x", Kind::Str("own".into())),
            ("w", Kind::Str("own".into())),
            ("y", Kind::Str("a".into())),
            ("z", Kind::Str("a".into())),
        ]
    );

    // Merged entries keep the locations of their definitions.
    assert_eq!((m[2].0.loc.line, m[2].0.loc.column), (1, 14));
    assert_eq!((m[2].1.loc.line, m[2].1.loc.column), (1, 17));
}

#[test]
fn merge_keys_take_inline_mappings_and_repeat() {
    let doc = parse("m: {<<: {a: 1}, <<: {a: 2, b: 2}, c: 3}\n").unwrap();
    let m = map(&map(&doc)[0].1);
    let entries: Vec<(&str, &Kind)> = m.iter().map(|(k, v)| (k.name.as_str(), &v.kind)).collect();
    assert_eq!(entries, [("c", &Kind::Int(3)), ("a", &Kind::Int(1)), ("b", &Kind::Int(2))]);
}

#[test]
fn merged_mappings_can_be_anchored_and_merged_again() {
    let doc = parse("a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b}\n").unwrap();
    assert_eq!(names(map(&map(&doc)[2].1)), ["y", "x"]);
}

#[test]
fn a_quoted_merge_key_is_an_ordinary_key() {
    let doc = parse("m: {'<<': {a: 1}}\n").unwrap();
    assert_eq!(names(map(&map(&doc)[0].1)), ["<<"]);
}

#[test]
fn a_merge_key_needs_mappings() {
    for (text, at) in [
        ("m:\n  <<: 1\n", (2, 3)),
        ("m: {<<: [a]}\n", (1, 5)),
        ("a: &a {x: 1}\nm: {<<: [*a, 2]}\n", (2, 5)),
        ("m:\n  <<:\n", (2, 3)),
    ] {
        let error = syntax_error(text);
        assert_eq!(error.message, "a merge key `<<` takes a mapping or a list of mappings");
        assert_eq!(line_column(error.loc), at, "{text:?}");
    }
}

#[test]
fn a_second_document_is_an_error_at_its_start() {
    let error = syntax_error("a: 1\n---\nb: 2\n");
    assert_eq!(error.message, "a Secretfile holds one YAML document");
    assert_eq!(line_column(error.loc), (2, 1));
    assert!(parse("---\na: 1\n...\n").is_ok());
}

#[test]
fn empty_documents_are_null_at_the_start() {
    for text in ["", "\n", "# only a comment\n", "---\n", "# c\n---\n...\n"] {
        let doc = parse(text).unwrap();
        assert_eq!(doc.kind, Kind::Null, "{text:?}");
        assert_eq!((doc.loc.line, doc.loc.column), (1, 1), "{text:?}");
    }
    let written = parse("# c\n~\n").unwrap();
    assert_eq!((written.kind, written.loc.line, written.loc.column), (Kind::Null, 2, 1));
}

#[test]
fn a_leading_byte_order_mark_is_tolerated() {
    let doc = parse("\u{feff}a: 1\n").unwrap();
    assert_eq!(map(&doc)[0].0.loc, Loc { line: 1, column: 1, offset: 3, len: 1 });
}

#[test]
fn nesting_deeper_than_the_limit_is_an_error() {
    let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    assert!(parse(&nested(MAX_DEPTH)).is_ok());
    let error = syntax_error(&nested(MAX_DEPTH + 1));
    assert_eq!(error.message, format!("collections nest deeper than {MAX_DEPTH} levels"));
    assert_eq!(line_column(error.loc), (1, MAX_DEPTH + 1));

    // Copies count at the depth they land, so aliases cannot stack deep trees on each other.
    let deep = format!("a: &a {}\nb: {}*a{}\n", nested(100), "[".repeat(28), "]".repeat(28));
    let error = syntax_error(&deep);
    assert_eq!(line_column(error.loc), (2, 32));
}

#[test]
fn messages_never_quote_the_document() {
    const CANARY: &str = "s3cr3t-canary";
    for text in [
        "a: \"s3cr3t-canary\n",
        "a: 's3cr3t-canary\n",
        "a:\n\t- s3cr3t-canary\n",
        "a: s3cr3t-canary\u{7}\n",
        "a: \"s3cr3t-canary\\q\"\n",
        "a: b: s3cr3t-canary\n",
        "a: [s3cr3t-canary\n",
        "a: {s3cr3t-canary\n",
        "a: s3cr3t-canary\n  b: c\n",
        "a: !!int s3cr3t-canary\n",
        "a: !s3cr3t-canary x\n",
        "a: *s3cr3t-canary\n",
        "a: &s3cr3t-canary [*s3cr3t-canary]\n",
        "a: @s3cr3t-canary\n",
        "a: s3cr3t-canary\n---\nb: s3cr3t-canary\n",
        "s3cr3t-canary: 1\n- x\n",
        "? [s3cr3t-canary]\n: x\n",
        "{<<: s3cr3t-canary}\n",
    ] {
        let error = syntax_error(text);
        assert!(!format!("{error:?}").contains(CANARY), "{text:?}: {error:?}");
        assert!(error.loc.is_some(), "{text:?}: {error:?}");
    }
}
