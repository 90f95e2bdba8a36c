import NIOCore
import SidecarProtocol
import Testing

/// RFC 8259 conformance of ``JSONParser``, with cases in the spirit of JSONTestSuite
/// (`y_` must be accepted, `n_` must be rejected), written inline.
@Suite("JSONParser")
struct JSONParserTests {
    // MARK: - Accepted texts

    @Test(
        "accepts structures, literals and whitespace",
        arguments: [
            ("[]", JSONValue.array([])),
            ("{}", .object([:])),
            ("[[]   ]", [[]]),
            ("[null, true, false]", [nil, true, false]),
            ("null", nil),
            ("true", true),
            ("false", false),
            ("\"asd\"", "asd"),
            ("42", 42),
            (" \t\r\n[1]\n\r\t ", [1]),
            ("[1,\n2\t,\r3 ]", [1, 2, 3]),
            ("{ \"a\" : [ { \"b\" : null } ] }", ["a": [["b": nil]]]),
            ("{\"\":0}", ["": 0]),
            ("[\"a\",{\"b\":[]},[{}]]", ["a", ["b": []], [[:]]]),
        ] as [(String, JSONValue)]
    )
    func acceptsStructure(text: String, expected: JSONValue) throws {
        let value = try JSONParser.parse(text)
        #expect(isIdentical(value, expected), "\(text) parsed as \(value)")
    }

    @Test(
        "accepts numbers in every RFC 8259 form",
        arguments: [
            ("0", JSONValue.int(0)),
            ("-0", .int(0)),
            ("-0.0", .double(-0.0)),
            ("123", .int(123)),
            ("-123", .int(-123)),
            ("1.5", .double(1.5)),
            ("-1.5", .double(-1.5)),
            ("1e5", .double(100_000)),
            ("1E+2", .double(100)),
            ("1E-2", .double(0.01)),
            ("1e-2", .double(0.01)),
            ("0e1", .double(0)),
            ("0.0", .double(0)),
            ("20e1", .double(200)),
            ("123.456e78", .double(123.456e78)),
            ("1.0e+28", .double(1e28)),
            ("[1E22]", [.double(1e22)]),
            ("1e0001", .double(10)),
            ("1.7976931348623157e308", .double(.greatestFiniteMagnitude)),
            ("5e-324", .double(.leastNonzeroMagnitude)),
            ("1e-400", .double(0)),
            ("9223372036854775807", .int(.max)),
            ("-9223372036854775808", .int(.min)),
            ("9223372036854775808", .double(0x1p63)),
            ("-9223372036854775809", .double(-0x1p63)),
            ("100000000000000000000", .double(1e20)),
        ] as [(String, JSONValue)]
    )
    func acceptsNumber(text: String, expected: JSONValue) throws {
        let value = try JSONParser.parse(text)
        #expect(isIdentical(value, expected), "\(text) parsed as \(value)")
    }

    @Test("-0 is the number zero")
    func negativeZero() throws {
        let value = try JSONParser.parse("-0")
        #expect(value == 0)
        #expect(value.intValue == 0)
    }

    @Test("integers beyond 64 bits become doubles, exact integers stay exact")
    func integerRange() throws {
        #expect(try JSONParser.parse("9223372036854775807").intValue == Int64.max)
        #expect(try JSONParser.parse("-9223372036854775808").intValue == Int64.min)
        let twoToThe63 = try JSONParser.parse("9223372036854775808")
        #expect(twoToThe63.intValue == nil)
        #expect(twoToThe63.doubleValue == 0x1p63)
    }

    @Test(
        "accepts strings with every escape",
        arguments: [
            (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{8}\u{C}\n\r\t"),
            (#""\u0061""#, "a"),
            (#""\u00e9\u00E9""#, "éé"),
            (#""\u0000""#, "\u{0}"),
            (#""\u001f""#, "\u{1F}"),
            (#""\u0123\u4567\u89AB\uCDEF\uabcd\uef4A""#, "\u{0123}\u{4567}\u{89AB}\u{CDEF}\u{ABCD}\u{EF4A}"),
            (#""\uD83D\uDE00""#, "😀"),
            (#""\ud834\udd1e""#, "𝄞"),
            (#""\uDBFF\uDFFF""#, "\u{10FFFF}"),
            (#""\uFFFF""#, "\u{FFFF}"),
            (#""\u2028\u2029""#, "\u{2028}\u{2029}"),
            (#""a\/b""#, "a/b"),
            (#""\\u0041""#, "\\u0041"),
            (#""é\n😀""#, "é\n😀"),
            ("\"é😀日本\"", "é😀日本"),
            ("\"\u{7F}\"", "\u{7F}"),
            ("\"\"", ""),
        ] as [(String, String)]
    )
    func acceptsString(text: String, expected: String) throws {
        let value = try JSONParser.parse(text)
        #expect(value.stringValue?.utf8.elementsEqual(expected.utf8) == true, "\(text) parsed as \(value)")
    }

    // MARK: - Rejected texts

    @Test(
        "rejects malformed structure",
        arguments: [
            "", " ", "\n\t",
            "[", "]", "{", "}", "[1", "[1,", "{\"a\"", "{\"a\":", "{\"a\":1",
            "[1,]", "[,1]", "[1 2]", "[1,,2]", "[,]", "[1:2]",
            "{\"a\":1,}", "{,}", "{\"a\" 1}", "{\"a\":}", "{a:1}", "{'a':1}", "{1:1}", "{\"a\":1 \"b\":2}",
            "{\"a\",\"b\"}", "{null:1}", "{[]:1}",
            "[][]", "{}x", "{} {}", "\"\"x", "1 2", "null null", "{\"a\":1}}", "[1]]",
            "[1] // comment", "/* c */ 1", "[\u{C}]", "\u{A0}1", "[1]\u{0}", "\u{FEFF}{}",
            "'single'", "[tru]", "nul", "tru", "fals", "True", "NULL", "nulll", "truefalse", "[True]",
        ]
    )
    func rejectsStructure(text: String) {
        #expect(throws: JSONParseError.self, "\(text.debugDescription) was accepted") {
            try JSONParser.parse(text)
        }
    }

    @Test(
        "rejects malformed numbers",
        arguments: [
            "-", "--1", "+1", ".5", "-.5", "01", "-01", "00", "012", "-012", "1.", "-1.", "2.e3", "0.e1",
            "1e", "1e+", "1E-", "1.0e", "1.0e+", "1ea", "1.5e", "- 1", "0x1", "0x42", "Infinity", "-Infinity",
            "NaN", "-NaN", "inf", "1e400", "-1e400", "1.5e999999", "1e9999999999999999999", "\u{FF11}", "1_000",
            "[1.2.3]", "[1e1e1]", "[.1]", "[-]", "[1.]",
        ]
    )
    func rejectsNumber(text: String) {
        #expect(throws: JSONParseError.self, "\(text.debugDescription) was accepted") {
            try JSONParser.parse(text)
        }
    }

    @Test(
        "rejects malformed strings",
        arguments: [
            "\"abc", "\"", "[\"a]", "\"\\\"", "\"\\", "\"\\u", "\"\\u00", "\"\\u00A\"", "\"\\u00G0\"",
            "\"\\x00\"", "\"\\a\"", "\"\\UA66D\"", "\"\\'\"", "\"\\0\"", "\"\\😀\"", "\"\\ \"",
            "\"\\uD800\"", "\"\\uDBFF\"", "\"\\uDC00\"", "\"\\uDFFF\"", "\"\\uD800\\uD800\"", "\"\\uD800\\n\"",
            "\"\\uD800x\"", "\"\\uD800\\\"", "\"\\uDFFF\\uD800\"", "\"\\uD800\\u0041\"", "\"\\uD800\\u\"",
            "\"a\tb\"", "\"a\nb\"", "\"a\rb\"", "\"\u{0}\"", "\"\u{1}\"", "\"\u{1F}\"", "\"\\n\u{1F}\"",
            "{\"a\u{1}\":1}",
        ]
    )
    func rejectsString(text: String) {
        #expect(throws: JSONParseError.self, "\(text.debugDescription) was accepted") {
            try JSONParser.parse(text)
        }
    }

    @Test(
        "rejects invalid UTF-8 inside strings",
        arguments: [
            [0x22, 0xFF, 0x22],  // never valid in UTF-8
            [0x22, 0xFE, 0x22],
            [0x22, 0x61, 0x80, 0x22],  // lone continuation byte
            [0x22, 0xC0, 0xAF, 0x22],  // overlong "/"
            [0x22, 0xE0, 0x80, 0xAF, 0x22],  // overlong, three bytes
            [0x22, 0xC3, 0x22],  // truncated two-byte sequence
            [0x22, 0xE2, 0x82, 0x22],  // truncated three-byte sequence
            [0x22, 0xF0, 0x9F, 0x98, 0x22],  // truncated four-byte sequence
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // UTF-16 surrogate encoded in UTF-8
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0x5C, 0x6E, 0xFF, 0x22],  // after an escape ("\n" then 0xFF)
            [0x22, 0xE2, 0x82, 0x5C, 0x6E, 0x22],  // truncated sequence cut by an escape
            [0x22, 0x5C, 0x75, 0x30, 0x30, 0x65, 0x39, 0xA9, 0x22],  // stray continuation after "\u00e9"
            [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D],  // in an object key
            [0x22, 0xC3],  // truncated and unterminated
        ] as [[UInt8]]
    )
    func rejectsInvalidUTF8InString(bytes: [UInt8]) {
        #expect(throws: JSONParseError.self, "\(bytes) was accepted") {
            try JSONParser.parse(bytes: bytes)
        }
    }

    @Test(
        "rejects invalid UTF-8 and non-ASCII outside strings",
        arguments: [
            [0xFF],
            [0x5B, 0xFF, 0x5D],  // [ 0xFF ]
            [0xC0, 0xAF],
            [0xE5],
            [0x5B, 0x31, 0x5D, 0x80],  // [1] then a continuation byte
            [0x31, 0xC3, 0xA9],  // 1é
            [0xC3, 0xA9],  // é, valid UTF-8 but not a JSON value
        ] as [[UInt8]]
    )
    func rejectsInvalidUTF8OutsideString(bytes: [UInt8]) {
        #expect(throws: JSONParseError.self, "\(bytes) was accepted") {
            try JSONParser.parse(bytes: bytes)
        }
    }

    // MARK: - Error positions and reasons

    @Test(
        "errors say where and what",
        arguments: [
            ("", 0, "empty"),
            ("   ", 3, "no JSON value"),
            ("[1,]", 3, "unexpected character ']'"),
            ("[@]", 1, "'@'"),
            ("{\"a\":1} x", 8, "after the JSON value"),
            ("{\"a\" 1}", 5, "':'"),
            ("{1:1}", 1, "string key"),
            ("[1 2]", 3, "',' or ']'"),
            ("\"ab\u{1}\"", 3, "control character"),
            ("[\"abc", 1, "unterminated string"),
            ("[\"\\q\"]", 2, "invalid escape '\\q'"),
            ("\"\\u12G4\"", 5, "hex digit"),
            ("\"\\uDC00\"", 1, "surrogate"),
            ("[\"ab\\uD800\\u0041\"]", 4, "surrogate"),
            ("01", 0, "leading zero"),
            ("[-]", 1, "invalid number"),
            ("[1.]", 1, "after '.'"),
            ("[1e400]", 1, "out of range"),
            ("[tru]", 1, "invalid literal"),
        ] as [(String, Int, String)]
    )
    func errorPositionAndReason(text: String, offset: Int, reasonFragment: String) {
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
        #expect(error?.offset == offset)
        #expect(error?.reason.contains(reasonFragment) == true, "reason: \(error?.reason ?? "none")")
    }

    @Test(
        "invalid UTF-8 is reported at the opening quote of the string that holds it",
        arguments: [
            [0x5B, 0x22, 0x61, 0xFF, 0x22, 0x5D],  // ["a<FF>"]
            [0x5B, 0x22, 0x5C, 0x6E, 0xFF, 0x22, 0x5D],  // ["\n<FF>"], the escaped path
        ] as [[UInt8]]
    )
    func invalidUTF8Position(bytes: [UInt8]) {
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes: bytes) }
        #expect(error?.offset == 1)
        #expect(error?.reason.contains("UTF-8") == true)
    }

    @Test("a byte that is not printable is shown in hex")
    func unprintableByteInReason() {
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes: [0xFF]) }
        #expect(error?.offset == 0)
        #expect(error?.reason.contains("\\xff") == true)
    }

    @Test("the error's description carries reason and offset")
    func errorDescription() {
        let error = JSONParseError(offset: 7, reason: "expected ':' after object key")
        #expect(error.description == "expected ':' after object key at byte 7")
    }

    // MARK: - Depth

    @Test("512 nested arrays are accepted")
    func depthLimitArrays() throws {
        let depth = JSONParser.maximumDepth
        #expect(depth == 512)
        var value = try JSONParser.parse(String(repeating: "[", count: depth) + String(repeating: "]", count: depth))
        var levels = 0
        while case .array(let elements) = value {
            levels += 1
            value = elements.first ?? .null
        }
        #expect(levels == depth)
    }

    @Test("512 nested objects are accepted")
    func depthLimitObjects() throws {
        let depth = JSONParser.maximumDepth
        let text = String(repeating: "{\"a\":", count: depth - 1) + "{}" + String(repeating: "}", count: depth - 1)
        var value = try JSONParser.parse(text)
        var levels = 1
        while let inner = value["a"] {
            levels += 1
            value = inner
        }
        #expect(levels == depth)
    }

    @Test("513 nested containers are rejected at the 513th", arguments: ["[", "{\"k\":"])
    func depthLimitExceeded(opener: String) {
        let closer = opener == "[" ? "]" : "}"
        let text = String(repeating: opener, count: 513) + "1" + String(repeating: closer, count: 513)
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
        #expect(error?.offset == 512 * opener.utf8.count)
        #expect(error?.reason.contains("512") == true)
    }

    @Test("hostile nesting is rejected without exhausting the stack")
    func hostileNesting() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(String(repeating: "[", count: 100_000)) }
        #expect(throws: JSONParseError.self) {
            try JSONParser.parse(String(repeating: "[{\"a\":", count: 50_000))
        }
    }

    @Test("depth is nesting, not the number of containers")
    func manySiblingsAreNotDeep() throws {
        let text = "[" + Array(repeating: "[[]]", count: 2000).joined(separator: ",") + "]"
        #expect(try JSONParser.parse(text).arrayValue?.count == 2000)
    }

    // MARK: - Objects

    @Test("duplicate keys: the last value wins, in the first key's place")
    func duplicateKeys() throws {
        let value = try JSONParser.parse(#"{"a":1,"b":2,"a":3}"#)
        #expect(value["a"] == 3)
        #expect(value.objectValue.map { Array($0.keys) } == ["a", "b"])
    }

    @Test("member order is preserved")
    func keyOrder() throws {
        let value = try JSONParser.parse(#"{"z":1,"a":2,"m":3,"b":{"y":0,"x":0}}"#)
        #expect(value.objectValue.map { Array($0.keys) } == ["z", "a", "m", "b"])
        #expect(value["b"]?.objectValue.map { Array($0.keys) } == ["y", "x"])
    }

    @Test("escaped keys are decoded")
    func escapedKeys() throws {
        let value = try JSONParser.parse(#"{"\u0061\n":true}"#)
        #expect(value["a\n"] == true)
    }

    // MARK: - Inputs

    @Test("a ByteBuffer's readable bytes are parsed and not consumed")
    func parsesByteBuffer() throws {
        var buffer = ByteBuffer(string: "garbage{\"ok\":true}")
        buffer.moveReaderIndex(forwardBy: "garbage".utf8.count)
        let readerIndex = buffer.readerIndex
        #expect(try JSONParser.parse(buffer) == ["ok": true])
        #expect(buffer.readerIndex == readerIndex)
        #expect(buffer.readableBytes == "{\"ok\":true}".utf8.count)
    }

    @Test("a slice of a ByteBuffer is parsed on its own")
    func parsesSlice() throws {
        let buffer = ByteBuffer(string: "[1,2][3]")
        let slice = try #require(buffer.getSlice(at: 5, length: 3))
        #expect(try JSONParser.parse(slice) == [3])
    }

    @Test("an empty ByteBuffer is an error")
    func emptyBuffer() {
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(ByteBuffer()) }
        #expect(error?.reason == "empty message")
    }

    @Test("a byte sequence and a string parse alike")
    func bytesAndString() throws {
        let text = #"{"name":"sidecar","tags":["fast","local"],"port":7,"ratio":0.5}"#
        let fromString = try JSONParser.parse(text)
        let fromBytes = try JSONParser.parse(bytes: Array(text.utf8))
        let fromSlice = try JSONParser.parse(bytes: Array(text.utf8)[...])
        #expect(isIdentical(fromString, fromBytes))
        #expect(isIdentical(fromString, fromSlice))
    }
}
