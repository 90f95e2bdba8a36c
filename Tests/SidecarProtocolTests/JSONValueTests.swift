import SidecarProtocol
import Testing

@Suite("JSONValue")
struct JSONValueTests {
    // MARK: - Equality

    /// Pairs that JSON considers the same value although they are spelled differently.
    static let equalPairs: [(JSONValue, JSONValue)] = [
        (1, 1.0),
        (.int(0), .double(-0.0)),
        (.int(-7), .double(-7)),
        (.int(1 << 53), .double(0x1p53)),
        (.int(.min), .double(-0x1p63)),
        (["a": 1, "b": 2], ["b": 2, "a": 1]),
        (["x": ["a": 1, "b": [1, 2.0]]], ["x": ["b": [1.0, 2], "a": 1.0]]),
        ([["k": 1, "l": nil]], [["l": nil, "k": 1]]),
        ("é", "é"),
        (nil, nil),
        ([], []),
        ([:], [:]),
    ]

    /// Pairs that are different values.
    static let unequalPairs: [(JSONValue, JSONValue)] = [
        (1, 1.5),
        (1, 2),
        (.int((1 << 53) + 1), .double(0x1p53)),
        (.int(.max), .double(0x1p63)),
        (0, false),
        (0, nil),
        (false, nil),
        ("", nil),
        ("1", 1),
        ("true", true),
        ([], [:]),
        ([], nil),
        ([1, 2], [2, 1]),
        ([1], [1, 1]),
        (["a": 1], ["a": 1, "b": 2]),
        (["a": 1, "b": 2], ["a": 1, "c": 2]),
        (["a": nil], [:]),
        (["a": 1], ["A": 1]),
        ([["a": 1]], [["a": 2]]),
    ]

    @Test("values JSON treats as equal are equal, both ways", arguments: equalPairs)
    func equal(lhs: JSONValue, rhs: JSONValue) {
        #expect(lhs == rhs)
        #expect(rhs == lhs)
    }

    @Test("different values are not equal, both ways", arguments: unequalPairs)
    func unequal(lhs: JSONValue, rhs: JSONValue) {
        #expect(lhs != rhs)
        #expect(rhs != lhs)
    }

    @Test("equal values hash alike", arguments: equalPairs)
    func hashing(lhs: JSONValue, rhs: JSONValue) {
        #expect(lhs.hashValue == rhs.hashValue)
    }

    @Test("sets and dictionary keys follow JSON equality")
    func setsAndDictionaries() {
        let set: Set<JSONValue> = [1, 1.0, 2, ["a": 1, "b": 2], ["b": 2, "a": 1.0], "1", nil, false]
        #expect(set.count == 6)
        var counts: [JSONValue: Int] = [:]
        counts[["x": 1, "y": 2], default: 0] += 1
        counts[["y": 2.0, "x": 1], default: 0] += 1
        #expect(counts.count == 1)
        #expect(counts[["x": 1, "y": 2]] == 2)
    }

    // MARK: - Accessors

    @Test("subscripts read object members and array elements")
    func subscripts() {
        let value: JSONValue = ["name": "sidecar", "tags": ["fast", "local"], "none": nil]
        #expect(value["name"] == "sidecar")
        #expect(value["none"] == .null)
        #expect(value["missing"] == nil)
        #expect(value["tags"]?[1] == "local")
        #expect(value["tags"]?[2] == nil)
        #expect(value["tags"]?[-1] == nil)
        #expect(value[0] == nil)
        #expect(JSONValue.array([1])["key"] == nil)
        #expect(JSONValue.string("text")[0] == nil)
    }

    @Test("typed accessors answer only for their own type")
    func typedAccessors() {
        #expect(JSONValue.null.isNull)
        #expect(!JSONValue.bool(false).isNull)
        #expect(JSONValue.string("s").stringValue == "s")
        #expect(JSONValue.int(1).stringValue == nil)
        #expect(JSONValue.bool(true).boolValue == true)
        #expect(JSONValue.int(1).boolValue == nil)
        #expect(JSONValue.array([1]).arrayValue == [1])
        #expect(JSONValue.object(["a": 1]).arrayValue == nil)
        #expect(JSONValue.object(["a": 1]).objectValue == ["a": 1])
        #expect(JSONValue.array([]).objectValue == nil)
    }

    @Test(
        "intValue is exact or nil",
        arguments: [
            (JSONValue.int(42), Int64?.some(42)),
            (.int(.min), .min),
            (.double(3.0), 3),
            (.double(-0.0), 0),
            (.double(-0x1p63), .min),
            (.double(3.5), nil),
            (.double(0x1p63), nil),
            (.double(1e300), nil),
            (.double(.infinity), nil),
            (.double(.nan), nil),
            (.string("3"), nil),
            (.bool(true), nil),
            (.null, nil),
        ]
    )
    func intValue(value: JSONValue, expected: Int64?) {
        #expect(value.intValue == expected)
    }

    @Test("doubleValue reads any number and nothing else")
    func doubleValue() {
        #expect(JSONValue.int(3).doubleValue == 3.0)
        #expect(JSONValue.double(2.5).doubleValue == 2.5)
        #expect(JSONValue.string("2.5").doubleValue == nil)
        #expect(JSONValue.null.doubleValue == nil)
    }

    @Test(
        "typeName uses JSON's words",
        arguments: [
            (JSONValue.null, "null"), (true, "boolean"), (1, "number"), (1.5, "number"),
            ("s", "string"), ([], "array"), ([:], "object"),
        ] as [(JSONValue, String)]
    )
    func typeName(value: JSONValue, expected: String) {
        #expect(value.typeName == expected)
    }

    // MARK: - Literals

    @Test("literals build the matching case")
    func literals() {
        #expect(isIdentical(nil, .null))
        #expect(isIdentical(true, .bool(true)))
        #expect(isIdentical(42, .int(42)))
        #expect(isIdentical(4.5, .double(4.5)))
        #expect(isIdentical("x", .string("x")))
        #expect(isIdentical([1, "a", nil], .array([.int(1), .string("a"), .null])))
        #expect(isIdentical(["z": 1, "a": 2], .object(["z": .int(1), "a": .int(2)])))
    }

    @Test("a dictionary literal keeps its order")
    func dictionaryLiteralOrder() {
        let value: JSONValue = ["z": 1, "a": 2, "m": 3]
        #expect(value.objectValue.map { Array($0.keys) } == ["z", "a", "m"])
    }

    @Test("a dictionary literal with a repeated key keeps the last value")
    func dictionaryLiteralDuplicates() {
        let value = JSONValue(dictionaryLiteral: ("a", 1), ("b", 2), ("a", 3))
        #expect(value == ["a": 3, "b": 2])
        #expect(value.objectValue?.count == 2)
    }

    @Test("description is the compact JSON text")
    func description() {
        let value: JSONValue = ["a": [1, 2.5, "x"], "b": nil]
        #expect(value.description == #"{"a":[1,2.5,"x"],"b":null}"#)
        #expect("\(JSONValue.string("q\""))" == #""q\"""#)
    }
}
