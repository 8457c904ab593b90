//! Conformance vectors: input → expected value, covering every grammar rule. The facts
//! follow the public SwimOS Recon test suites (swim-java's ReconParserSpec and
//! swim-rust's recon parser tests); the tests are our own.

use base64::Engine;
use num_bigint::BigInt;
use recon::{parse, Item, Record, Value};

fn t(s: &str) -> Value {
    Value::text(s)
}
fn i(n: i64) -> Value {
    Value::Int(n)
}
fn f(x: f64) -> Value {
    Value::Float(x)
}
fn b(x: bool) -> Value {
    Value::Bool(x)
}
fn d(b64: &str) -> Value {
    Value::data(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
}
fn big(s: &str) -> Value {
    Value::big_int(s.parse::<BigInt>().unwrap())
}
fn rec(items: Vec<Item>) -> Value {
    Value::Record(items.into_iter().collect::<Record>())
}
fn v(x: Value) -> Item {
    Item::Value(x)
}
fn a(name: &str) -> Item {
    Item::attr(name, Value::Extant)
}
fn av(name: &str, x: Value) -> Item {
    Item::attr(name, x)
}
fn s(k: &str, x: Value) -> Item {
    Item::slot(t(k), x)
}
fn vals(xs: Vec<Value>) -> Value {
    rec(xs.into_iter().map(v).collect())
}
fn ext() -> Value {
    Value::Extant
}

fn vectors() -> Vec<(&'static str, Value)> {
    vec![
        // Empty input and comments.
        ("", Value::Absent),
        ("#", Value::Absent),
        ("#comment", Value::Absent),
        ("#\n", Value::Absent),
        ("#comment\n", Value::Absent),
        // Records.
        ("{}", rec(vec![])),
        ("{1,2,\"3\",true}", vals(vec![i(1), i(2), t("3"), b(true)])),
        ("1,2,\"3\",true", vals(vec![i(1), i(2), t("3"), b(true)])),
        ("{{1,2},{3,4}}", vals(vec![vals(vec![i(1), i(2)]), vals(vec![i(3), i(4)])])),
        ("{1,2},{3,4}", vals(vec![vals(vec![i(1), i(2)]), vals(vec![i(3), i(4)])])),
        ("{#comment\n}", rec(vec![])),
        ("{#comment\n#comment\n}", rec(vec![])),
        // Data.
        ("%", Value::data(b"")),
        ("%AAAA", d("AAAA")),
        ("%AAA=", d("AAA=")),
        ("%AA==", d("AA==")),
        ("%ABCDabcd12/+", d("ABCDabcd12/+")),
        ("%YW55IGNhcm5hbCBwbGVhc3VyZQ==", Value::data(b"any carnal pleasure")),
        ("%YW55IGNhcm5hbCBwbGVhc3Vy", Value::data(b"any carnal pleasur")),
        // Markup.
        ("[]", rec(vec![])),
        ("[test]", vals(vec![t("test")])),
        ("[Hello, [good] world!]", vals(vec![t("Hello, "), t("good"), t(" world!")])),
        ("[\\\"\\$\\'\\\\\\/\\@\\{\\}\\[\\]\\b\\f\\n\\r\\t]", vals(vec![t("\"$'\\/@{}[]\u{8}\u{c}\n\r\t")])),
        ("[Hello{}world]", vals(vec![t("Hello"), t("world")])),
        ("[A: {\"answer\"}.]", vals(vec![t("A: "), t("answer"), t(".")])),
        ("[A: {%AA==}.]", vals(vec![t("A: "), d("AA=="), t(".")])),
        ("[A: {42}.]", vals(vec![t("A: "), i(42), t(".")])),
        ("[A: {true}.]", vals(vec![t("A: "), b(true), t(".")])),
        ("[A: {answer:0.0}.]", rec(vec![v(t("A: ")), s("answer", f(0.0)), v(t("."))])),
        ("[A: @answer.]", vals(vec![t("A: "), rec(vec![a("answer")]), t(".")])),
        ("[A: @answer().]", vals(vec![t("A: "), rec(vec![a("answer")]), t(".")])),
        ("[A: @answer(\"secret\").]", vals(vec![t("A: "), rec(vec![av("answer", t("secret"))]), t(".")])),
        ("[A: @good @answer.]", vals(vec![t("A: "), rec(vec![a("good")]), t(" "), rec(vec![a("answer")]), t(".")])),
        ("[A: @good@answer.]", vals(vec![t("A: "), rec(vec![a("good")]), rec(vec![a("answer")]), t(".")])),
        ("[Hello, @em[world]!]", vals(vec![t("Hello, "), rec(vec![a("em"), v(t("world"))]), t("!")])),
        ("[Hello, @em(\"italic\")[world]!]", vals(vec![t("Hello, "), rec(vec![av("em", t("italic")), v(t("world"))]), t("!")])),
        ("[A: @answer{42}.]", vals(vec![t("A: "), rec(vec![a("answer"), v(i(42))]), t(".")])),
        ("[A: @answer(\"secret\"){42}.]", vals(vec![t("A: "), rec(vec![av("answer", t("secret")), v(i(42))]), t(".")])),
        // Strings.
        ("\"\"", t("")),
        ("''", t("")),
        ("\"test\"", t("test")),
        ("'test'", t("test")),
        ("\"two words!\"", t("two words!")),
        ("\"two\\nlines!\"", t("two\nlines!")),
        ("\"\\\"\\\\\\/\\@\\{\\}\\[\\]\\b\\f\\n\\r\\t\"", t("\"\\/@{}[]\u{8}\u{c}\n\r\t")),
        ("'\\'\\\\\\/\\@\\{\\}\\[\\]\\b\\f\\n\\r\\t'", t("'\\/@{}[]\u{8}\u{c}\n\r\t")),
        ("\"\\u0041\\u00e9\"", t("Aé")),
        ("\"\\u2603\"", t("☃")),
        ("\"\\uD83D\\uDE00\"", t("😀")),
        ("\"\\ud83d\\ude00!\"", t("😀!")),
        ("\"\\u0000\"", t("\u{0}")),
        ("\"日本語\"", t("日本語")),
        ("\"with # hash\"", t("with # hash")),
        // Raw strings.
        ("``", t("")),
        ("``````", t("")),
        ("`test`", t("test")),
        ("```test```", t("test")),
        ("``` ` ```", t(" ` ")),
        ("``` `` ```", t(" `` ")),
        ("``` \\` ```", t(" ` ")),
        ("``` \\`\\` ```", t(" `` ")),
        ("``` \\ ```", t(" \\ ")),
        ("``` \\\\` ```", t(" \\` ")),
        // Identifiers.
        ("test", t("test")),
        ("_x", t("_x")),
        ("a-b_c1", t("a-b_c1")),
        ("À", t("À")),
        ("Ö", t("Ö")),
        ("ø", t("ø")),
        ("˿", t("˿")),
        ("Ͱ", t("Ͱ")),
        ("ͽ", t("ͽ")),
        ("Ϳ", t("Ϳ")),
        ("῿", t("῿")),
        ("⁰", t("⁰")),
        ("↏", t("↏")),
        ("Ⰰ", t("Ⰰ")),
        ("⿯", t("⿯")),
        ("、", t("、")),
        ("퟿", t("퟿")),
        ("豈", t("豈")),
        ("﷏", t("﷏")),
        ("ﷰ", t("ﷰ")),
        ("𐀀", t("𐀀")),
        ("_À", t("_À")),
        ("_ﷰ", t("_ﷰ")),
        ("x·y", t("x·y")),
        // Integers.
        ("0", i(0)),
        ("1", i(1)),
        ("15", i(15)),
        ("2147483647", i(2147483647)),
        ("9223372036854775807", i(i64::MAX)),
        ("-0", i(0)),
        ("-1", i(-1)),
        ("-2147483648", i(-2147483648)),
        ("-9223372036854775808", i(i64::MIN)),
        ("9223372036854775808", Value::UInt(9223372036854775808)),
        ("18446744073709551615", Value::UInt(u64::MAX)),
        ("18446744073709551616", big("18446744073709551616")),
        ("-9223372036854775809", big("-9223372036854775809")),
        ("259804429589205426119611", big("259804429589205426119611")),
        ("-259804429589205426119611", big("-259804429589205426119611")),
        // Hex and binary.
        ("0x0", i(0)),
        ("0xA", i(10)),
        ("0x0a5c", i(0x0a5c)),
        ("0xFFFFFFFF", i(0xFFFF_FFFF)),
        ("0xFEDCBA98", i(0xFEDC_BA98)),
        ("0x0123456789ABCDEF", i(0x0123_4567_89AB_CDEF)),
        ("0xFFFFFFFFFFFFFFFF", Value::UInt(u64::MAX)),
        ("0x10000000000000000", big("18446744073709551616")),
        ("-0x1", i(-1)),
        ("-0xAB00", i(-0xAB00)),
        ("0b0", i(0)),
        ("0b1", i(1)),
        ("0b0110", i(6)),
        ("-0b1100", i(-12)),
        // Floats.
        ("0.0", f(0.0)),
        ("0.5", f(0.5)),
        ("1.05", f(1.05)),
        ("-0.0", f(-0.0)),
        ("-10.5", f(-10.5)),
        ("4e0", f(4.0)),
        ("4E1", f(40.0)),
        ("4e+2", f(400.0)),
        ("4e-2", f(0.04)),
        ("4.0E-2", f(0.04)),
        ("-4.0e+02", f(-400.0)),
        ("3.135e12", f(3.135e12)),
        ("-0.135e-12", f(-0.135e-12)),
        ("4.9e-324", f(4.9e-324)),
        ("1.7976931348623157e308", f(1.797_693_134_862_315_7e308)),
        ("2.2250738585072014e-308", f(2.225_073_858_507_201_4e-308)),
        ("-inf", f(f64::NEG_INFINITY)),
        // Booleans.
        ("true", b(true)),
        ("false", b(false)),
        // Separators.
        ("1,", i(1)),
        ("1;", i(1)),
        ("  1, 2,3 ,4  ", vals(vec![i(1), i(2), i(3), i(4)])),
        ("{1; 2;3 ;4 }", vals(vec![i(1), i(2), i(3), i(4)])),
        ("{1, 2,3 ,4, }", vals(vec![i(1), i(2), i(3), i(4)])),
        ("  1, 2,3 ,4;  ", vals(vec![i(1), i(2), i(3), i(4)])),
        (" 1\n 2\n3 \n4  ", vals(vec![i(1), i(2), i(3), i(4)])),
        ("{1\r\n2}", vals(vec![i(1), i(2)])),
        (" 1, 2\n3 \n4; 5   ", vals(vec![i(1), i(2), i(3), i(4), i(5)])),
        ("{\n 1,\n 2,\n3 \n}", vals(vec![i(1), i(2), i(3)])),
        (" \n 1;\n 2;\n3 \n ", vals(vec![i(1), i(2), i(3)])),
        ("{1,,2}", vals(vec![i(1), ext(), i(2)])),
        ("{,}", vals(vec![ext()])),
        // Slots.
        ("a:1", rec(vec![s("a", i(1))])),
        ("{a:1,b:2}", rec(vec![s("a", i(1)), s("b", i(2))])),
        ("{a:}", rec(vec![s("a", ext())])),
        ("{a: ,b:2}", rec(vec![s("a", ext()), s("b", i(2))])),
        ("{ a : 1 }", rec(vec![s("a", i(1))])),
        ("{\"a b\":1}", rec(vec![Item::slot(t("a b"), i(1))])),
        ("{1:one,2:two}", rec(vec![Item::slot(i(1), t("one")), Item::slot(i(2), t("two"))])),
        ("{@a:1}", rec(vec![Item::slot(rec(vec![a("a")]), i(1))])),
        ("{x:{y:{z:1}}}", rec(vec![s("x", rec(vec![s("y", rec(vec![s("z", i(1))]))]))])),
        ("  extant:\n  record: {}\n  markup: []\n  \"\"\n  %AA==\n  integer: 0\n  decimal: 0.0\n  true\n  false\n",
         rec(vec![s("extant", ext()), s("record", rec(vec![])), s("markup", rec(vec![])), v(t("")), v(d("AA==")),
                  s("integer", i(0)), s("decimal", f(0.0)), v(b(true)), v(b(false))])),
        // Comments.
        ("#comment\ntest", t("test")),
        ("#comment\n1\n#comment\n2", vals(vec![i(1), i(2)])),
        ("{#comment\n1\n#comment\n2}", vals(vec![i(1), i(2)])),
        ("test#comment", t("test")),
        ("1#comment\n2#comment", vals(vec![i(1), i(2)])),
        ("{1#comment\n2#comment\n}", vals(vec![i(1), i(2)])),
        // Attributes.
        ("@test", rec(vec![a("test")])),
        ("@test()", rec(vec![a("test")])),
        ("@\"test\"", rec(vec![a("test")])),
        ("@\"@at\"()", rec(vec![a("@at")])),
        ("@hello([world])", rec(vec![av("hello", vals(vec![t("world")]))])),
        ("@hello(\"world\")", rec(vec![av("hello", t("world"))])),
        ("@hello(42)", rec(vec![av("hello", i(42))])),
        ("@hello(\"world\", %AA==, 42, true)", rec(vec![av("hello", vals(vec![t("world"), d("AA=="), i(42), b(true)]))])),
        ("@hello(\"world\"; %AA==; 42; true)", rec(vec![av("hello", vals(vec![t("world"), d("AA=="), i(42), b(true)]))])),
        ("@hello(\"world\"\n%AA==\n42\ntrue)", rec(vec![av("hello", vals(vec![t("world"), d("AA=="), i(42), b(true)]))])),
        ("@hello(name: \"world\")", rec(vec![av("hello", rec(vec![s("name", t("world"))]))])),
        ("@hello(name: \"world\", data: %AA==, number: 42, false)",
         rec(vec![av("hello", rec(vec![s("name", t("world")), s("data", d("AA==")), s("number", i(42)), v(b(false))]))])),
        ("@a@b", rec(vec![a("a"), a("b")])),
        ("@a @b", rec(vec![a("a"), a("b")])),
        ("@a() @b()", rec(vec![a("a"), a("b")])),
        ("@a({})@b([])", rec(vec![av("a", rec(vec![])), av("b", rec(vec![]))])),
        ("@a(1,2)", rec(vec![av("a", vals(vec![i(1), i(2)]))])),
        ("@a(true) @b(false)", rec(vec![av("a", b(true)), av("b", b(false))])),
        // Prefix attributes and flattening.
        ("@hello {}", rec(vec![a("hello")])),
        ("@hello(\"world\") {}", rec(vec![av("hello", t("world"))])),
        ("@hello { {}, [] }", rec(vec![a("hello"), v(rec(vec![])), v(rec(vec![]))])),
        ("@hello() { \"world\", 42 }", rec(vec![a("hello"), v(t("world")), v(i(42))])),
        ("@hello(\"world\") { number: 42, true }", rec(vec![av("hello", t("world")), s("number", i(42)), v(b(true))])),
        ("@hello(name: \"world\") { {1,2} }", rec(vec![av("hello", rec(vec![s("name", t("world"))])), v(vals(vec![i(1), i(2)]))])),
        ("@hello [test]", rec(vec![a("hello"), v(t("test"))])),
        ("@hello \"\"", rec(vec![a("hello"), v(t(""))])),
        ("@hello 'test'", rec(vec![a("hello"), v(t("test"))])),
        ("@hello %", rec(vec![a("hello"), v(Value::data(b""))])),
        ("@hello() %AAA=", rec(vec![a("hello"), v(d("AAA="))])),
        ("@hello 42", rec(vec![a("hello"), v(i(42))])),
        ("@hello() -42", rec(vec![a("hello"), v(i(-42))])),
        ("@hello(\"world\") 42.0", rec(vec![av("hello", t("world")), v(f(42.0))])),
        ("@hello true", rec(vec![a("hello"), v(b(true))])),
        ("@point{x:0,y:0}", rec(vec![a("point"), s("x", i(0)), s("y", i(0))])),
        ("@tag 5", rec(vec![a("tag"), v(i(5))])),
        // Postfix and infix attributes.
        ("{} @signed", rec(vec![a("signed")])),
        ("{} @signed(by: \"me\")", rec(vec![av("signed", rec(vec![s("by", t("me"))]))])),
        ("{ {}, [] } @signed", rec(vec![v(rec(vec![])), v(rec(vec![])), a("signed")])),
        ("{ number: 42, true } @signed(\"me\")", rec(vec![s("number", i(42)), v(b(true)), av("signed", t("me"))])),
        ("[test] @signed", rec(vec![v(t("test")), a("signed")])),
        ("\"test\" @signed", rec(vec![v(t("test")), a("signed")])),
        ("% @signed", rec(vec![v(Value::data(b"")), a("signed")])),
        ("42 @signed", rec(vec![v(i(42)), a("signed")])),
        ("-42.0 @signed(by: \"me\")", rec(vec![v(f(-42.0)), av("signed", rec(vec![s("by", t("me"))]))])),
        ("true @signed", rec(vec![v(b(true)), a("signed")])),
        ("{}@hello{}", rec(vec![a("hello")])),
        ("{{}}@hello{[]}", rec(vec![v(rec(vec![])), a("hello"), v(rec(vec![]))])),
        ("{42}@hello(){\"world\"}", rec(vec![v(i(42)), a("hello"), v(t("world"))])),
        ("[a]@hello[test]", rec(vec![v(t("a")), a("hello"), v(t("test"))])),
        ("\"a\"@hello\"test\"", rec(vec![v(t("a")), a("hello"), v(t("test"))])),
        ("''@hello('world')''", rec(vec![v(t("")), av("hello", t("world")), v(t(""))])),
        ("%AA==@hello%BB==", rec(vec![v(d("AA==")), a("hello"), v(Value::data([0x04]))])),
        ("2@hello 42", rec(vec![v(i(2)), a("hello"), v(i(42))])),
        ("-2@hello()-42", rec(vec![v(i(-2)), a("hello"), v(i(-42))])),
        ("true@hello true", rec(vec![v(b(true)), a("hello"), v(b(true))])),
        // Nesting and whitespace.
        ("{{{{}}}}", vals(vec![vals(vec![vals(vec![rec(vec![])])])])),
        ("\t{ a : 1 ;\tb:2 }\t", rec(vec![s("a", i(1)), s("b", i(2))])),
        ("@update(key:\"a\"){x:1,y:2}", rec(vec![av("update", rec(vec![s("key", t("a"))])), s("x", i(1)), s("y", i(2))])),
    ]
}

#[test]
fn every_vector_parses_to_its_value() {
    let vectors = vectors();
    assert!(vectors.len() >= 150, "only {} vectors", vectors.len());
    for (input, expected) in &vectors {
        let got = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(&got, expected, "input {input:?}");
        // Surrounding whitespace changes nothing (except for blanks).
        let padded = format!(" {input} ");
        if !input.contains('#') {
            assert_eq!(&parse(&padded).unwrap(), expected, "input {padded:?}");
        }
    }
}

#[test]
fn every_vector_round_trips_through_both_writers() {
    for (input, expected) in vectors() {
        if expected.is_extant() {
            continue;
        }
        let compact = recon::to_compact_string(&expected);
        assert_eq!(
            parse(&compact).unwrap(),
            expected,
            "{input:?} printed as {compact:?}"
        );
        let pretty = recon::to_pretty_string(&expected);
        assert_eq!(
            parse(&pretty).unwrap(),
            expected,
            "{input:?} pretty-printed as {pretty:?}"
        );
    }
}

#[test]
fn invalid_inputs_are_rejected() {
    let bad = [
        "{",
        "{#comment",
        "{1",
        "{1 ",
        "{1,",
        "{1#comment",
        "[",
        "[test",
        "[test{}",
        "\"",
        "'",
        "\"test",
        "\"test\\",
        "'test",
        "'test\\",
        "-",
        "1.",
        "1e",
        "1E",
        "1.e",
        "1.E",
        "1.0e",
        "1.0E",
        "1.0e+",
        "1.0E+",
        "1.0e-",
        "1.0E-",
        "%AAA",
        "%AA",
        "%A",
        "%AA=A",
        "@",
        "@()",
        ":",
        ":test",
        "{}{}",
        "1 2",
        "0x",
        "0b",
        "0xG",
        "0b2",
        "\"\\q\"",
        "\"\\u12\"",
        "\"\\uD83D\"",
        "\"\\uDE00\"",
        "\"\\uD83Dx\"",
        "{a::b}",
        "}",
        ")",
        "]",
        "{)",
        "@a(}",
        "(",
        "a b",
        "¬",
        "1abc",
    ];
    for input in bad {
        assert!(
            parse(input).is_err(),
            "{input:?} parsed as {:?}",
            parse(input)
        );
    }
}

#[test]
fn errors_name_line_column_and_expectation() {
    let e = parse("{a:1,\n  b:2\n  c d}").unwrap_err();
    assert_eq!((e.line, e.column), (3, 5));
    assert_eq!(
        e.to_string(),
        "3:5: expected ',', ';', a newline or '}', found 'd'"
    );

    let e = parse("{a:1").unwrap_err();
    assert_eq!((e.line, e.column), (1, 5));
    assert!(
        e.to_string().contains("expected '}', found end of input"),
        "{e}"
    );

    let e = parse("\"abc\\x\"").unwrap_err();
    assert_eq!((e.line, e.column), (1, 5));
    assert!(e.to_string().contains("invalid escape"), "{e}");

    let e = parse("x:  1.e5").unwrap_err();
    assert_eq!(e.column, 6);
    assert!(e.to_string().contains("digits after '.'"), "{e}");

    // Columns count characters, not bytes.
    let e = parse("\"日本\" 2").unwrap_err();
    assert_eq!(e.column, 6);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for open in ["{", "[", "@a(", "{a:"] {
        let input = open.repeat(100_000);
        let e = parse(&input).unwrap_err();
        assert_eq!(
            e.kind,
            recon::ErrorKind::TooDeep(recon::MAX_DEPTH),
            "{open}"
        );
    }
    let ok = format!("{}{}", "{".repeat(200), "}".repeat(200));
    assert!(parse(&ok).is_ok());
    let depth_ten = format!("{}{}", "{".repeat(10), "}".repeat(10));
    let e = recon::Parser::new(&depth_ten)
        .max_depth(5)
        .parse_document()
        .unwrap_err();
    assert_eq!(e.kind, recon::ErrorKind::TooDeep(5));
}

#[test]
fn huge_integer_literals_are_bounded() {
    let ok = "9".repeat(recon::MAX_INTEGER_DIGITS);
    assert!(parse(&ok).unwrap().is_integer());
    let too_long = "9".repeat(recon::MAX_INTEGER_DIGITS + 1);
    assert!(matches!(
        parse(&too_long).unwrap_err().kind,
        recon::ErrorKind::BadNumber(_)
    ));
}

#[test]
fn writer_output_is_canonical() {
    let cases = [
        ("@point{x:0,y:0}", "@point{x:0,y:0}"),
        (
            "@hello(name: \"world\") { number: 42, true }",
            "@hello(name:world){number:42,true}",
        ),
        ("{ a : 1 ; b : \"two words\" }", "{a:1,b:\"two words\"}"),
        ("@tag 5", "@tag 5"),
        ("@tag -5", "@tag -5"),
        ("@a(1,2)", "@a(1,2)"),
        ("@a({1})", "@a({1})"),
        ("@a{{1}}", "@a{{1}}"),
        ("42 @signed", "42@signed"),
        ("{1,2}@signed", "{1,2}@signed"),
        ("\"true\"", "\"true\""),
        ("\"a\\u0001b\"", "\"a\\u0001b\""),
        ("\"tab\\there\"", "\"tab\\there\""),
        ("1.0", "1.0"),
        ("4e2", "400.0"),
        ("1e300", "1e300"),
        ("%AA==", "%AA=="),
        ("{1,,2}", "{1,,2}"),
        ("{1,,}", "{1,,}"),
        ("{a:}", "{a:}"),
        ("@\"has space\"", "@\"has space\""),
        (
            "@event(node:\"/unit/1\",lane:info)@update(key:5) data",
            "@event(node:\"/unit/1\",lane:info)@update(key:5) data",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            recon::to_compact_string(&parse(input).unwrap()),
            expected,
            "{input:?}"
        );
    }
}

#[test]
fn pretty_printing_breaks_long_records() {
    let v = parse("@config{name:\"a long enough name to wrap\",ports:{80,443,8080},nested:{deeper:{value:\"still going on and on\"}}}").unwrap();
    let pretty = recon::to_pretty_string(&v);
    assert_eq!(
        pretty,
        "@config{\n  name: \"a long enough name to wrap\"\n  ports: {80,443,8080}\n  nested: {deeper:{value:\"still going on and on\"}}\n}"
    );
    assert_eq!(parse(&pretty).unwrap(), v);
    assert_eq!(format!("{v:#}"), pretty);
}
