import NIOCore
import SidecarProtocol
import Testing

@Suite("JSONWriter")
struct JSONWriterTests {
    // MARK: - Round trips

    static let roundTripValues: [JSONValue] = [
        nil, true, false,
        0, 7, 10, -1, -10, .int(.max), .int(.min),
        0.5, 1.0, -0.0, 0.1, 1.5e300, -2.5e-300, 1e16, 123_456_789.123, 0.30000000000000004,
        .double(.greatestFiniteMagnitude), .double(.leastNonzeroMagnitude), .double(0x1p63), .double(1.0 / 3.0),
        "", "plain", "é😀日本", "\u{0}\u{1}\u{1F}\u{7F}", "\"\\/", "\n\r\t\u{8}\u{C}", "\u{2028}\u{2029}", "\u{FFFF}",
        [], [:], [nil, true, 1, 1.5, "s", [], [:]],
        ["b": 1, "a": 2, "c": 3],
        ["key with \"quotes\"": "value", "tab\tkey": ["nested": [1, [2, [3]]]], "": ""],
        ["ids": [.int(.max), .double(1.5), nil], "ok": true],
    ]

    @Test("parse(write(x)) is x: same cases, numbers and member order", arguments: roundTripValues)
    func roundTrip(value: JSONValue) throws {
        var buffer = ByteBuffer()
        JSONWriter.write(value, into: &buffer)
        let parsed = try JSONParser.parse(buffer)
        #expect(isIdentical(parsed, value), "wrote \(String(buffer: buffer))")
        #expect(try JSONParser.parse(JSONWriter.string(value)) == value)
    }

    @Test("a document nested to the parser's limit round-trips")
    func deepRoundTrip() throws {
        var value: JSONValue = ["leaf": true]
        for level in 1..<JSONParser.maximumDepth {
            value = level.isMultiple(of: 2) ? ["k": value] : [value]
        }
        #expect(isIdentical(try JSONParser.parse(JSONWriter.string(value)), value))
    }

    @Test("compact output has no whitespace and keeps member order")
    func compactShape() {
        let value: JSONValue = ["b": 1, "a": [true, nil, "x"], "c": [:], "d": []]
        #expect(JSONWriter.string(value) == #"{"b":1,"a":[true,null,"x"],"c":{},"d":[]}"#)
        #expect(value.description == JSONWriter.string(value))
    }

    @Test("write appends to what the buffer already holds")
    func appends() {
        var buffer = ByteBuffer(string: "prefix:")
        JSONWriter.write([1, 2], into: &buffer)
        JSONWriter.write(nil, into: &buffer)
        #expect(String(buffer: buffer) == "prefix:[1,2]null")
    }

    // MARK: - Strings

    @Test(
        "escapes quotes, backslashes and control characters, and nothing else",
        arguments: [
            ("\"", #""\"""#),
            ("\\", #""\\""#),
            ("\n", #""\n""#),
            ("\r", #""\r""#),
            ("\t", #""\t""#),
            ("\u{8}", #""\b""#),
            ("\u{C}", #""\f""#),
            ("\u{0}", #""\u0000""#),
            ("\u{1}", #""\u0001""#),
            ("\u{1B}", #""\u001b""#),
            ("\u{1F}", #""\u001f""#),
            (" ", #"" ""#),
            ("/", #""/""#),
            ("\u{7F}", "\"\u{7F}\""),
            ("a\"b\\c\u{1F}d", #""a\"b\\c\u001fd""#),
            ("\u{1F}\u{1F}", #""\u001f\u001f""#),
        ] as [(String, String)]
    )
    func escaping(string: String, expected: String) {
        #expect(JSONWriter.string(.string(string)) == expected)
        var buffer = ByteBuffer()
        JSONWriter.writeString(string, into: &buffer)
        #expect(String(buffer: buffer) == expected)
    }

    @Test("keys are escaped like values")
    func keyEscaping() {
        #expect(JSONWriter.string(["a\"\u{1}": 1]) == #"{"a\"\u0001":1}"#)
    }

    @Test("non-ASCII text passes through as UTF-8, not as \\u escapes", arguments: ["é", "😀", "日本語", "\u{2028}", "e\u{301}"])
    func nonASCII(string: String) {
        var buffer = ByteBuffer()
        JSONWriter.write(.string(string), into: &buffer)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        #expect(bytes == [0x22] + Array(string.utf8) + [0x22])
    }

    // MARK: - Numbers

    @Test(
        "integers print exactly",
        arguments: [
            (JSONValue.int(0), "0"), (.int(9), "9"), (.int(10), "10"), (.int(-1), "-1"),
            (.int(.max), "9223372036854775807"), (.int(.min), "-9223372036854775808"),
        ]
    )
    func integers(value: JSONValue, expected: String) {
        #expect(JSONWriter.string(value) == expected)
    }

    @Test(
        "doubles print the shortest text that reads back as the same double",
        arguments: [
            (0.1, "0.1"),
            (1.5, "1.5"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (100.0, "100.0"),
            (0.30000000000000004, "0.30000000000000004"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e300, "1e+300"),
            (1e-7, "1e-07"),
            (.leastNonzeroMagnitude, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ] as [(Double, String)]
    )
    func doubles(double: Double, expected: String) throws {
        let text = JSONWriter.string(.double(double))
        #expect(text == expected)
        // Whatever the exact spelling, it must be JSON and read back as the same double.
        let parsed = try JSONParser.parse(text)
        #expect(isIdentical(parsed, .double(double)))
    }

    @Test("a double with no fraction still reads back as a double", arguments: [1.0, -3.0, 1e16, 0x1p63])
    func integralDoublesStayDoubles(double: Double) throws {
        let parsed = try JSONParser.parse(JSONWriter.string(.double(double)))
        guard case .double(let value) = parsed else {
            Issue.record("\(double) read back as \(parsed)")
            return
        }
        #expect(value == double)
    }

    @Test("non-finite doubles, which JSON cannot express, are written as null", arguments: [Double.infinity, -.infinity, .nan])
    func nonFinite(double: Double) {
        #expect(JSONWriter.string(.double(double)) == "null")
        #expect(JSONWriter.string([.double(double)]) == "[null]")
    }

    // MARK: - Pretty printing

    @Test("pretty printing indents two spaces per level")
    func prettyShape() {
        let value: JSONValue = ["a": 1, "b": [true, nil], "c": [:], "d": [], "e": ["f": "g\n"]]
        let expected = """
            {
              "a": 1,
              "b": [
                true,
                null
              ],
              "c": {},
              "d": [],
              "e": {
                "f": "g\\n"
              }
            }
            """
        #expect(JSONWriter.prettyString(value) == expected)
    }

    @Test("pretty printing a scalar or an empty container is the compact text", arguments: [
        nil, true, 42, 1.5, "text", [], [:],
    ] as [JSONValue])
    func prettyScalars(value: JSONValue) {
        #expect(JSONWriter.prettyString(value) == JSONWriter.string(value))
    }

    @Test("pretty text parses back to the same value", arguments: roundTripValues)
    func prettyRoundTrip(value: JSONValue) throws {
        #expect(isIdentical(try JSONParser.parse(JSONWriter.prettyString(value)), value))
    }
}
