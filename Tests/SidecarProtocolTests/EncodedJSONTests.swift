import SidecarProtocol
import Testing

/// Results written straight to JSON text read back as the values they stand for.
@Suite("Encoded JSON")
struct EncodedJSONTests {
    @Test("an object written member by member is the JSON text of the same object")
    func objectMatchesTheWriter() throws {
        let value: JSONValue = ["nested": ["a": [1, 2.5, nil, true]], "text": "line\n\"quoted\" é \u{1}"]
        var encodedValue: [UInt8] = []
        JSONWriter.write(value, into: &encodedValue)

        var object = EncodedJSON.Object(capacity: 8)
        object.add("hit", true)
        object.add("miss", false)
        object.add("value", encoded: encodedValue)
        object.add("tier", string: "l1")
        object.add("ttl", 300)
        object.add("negative", -42)
        object.add("none", nil as Int64?)
        object.add("label", string: nil)
        object.add("tree", value: value)
        object.add("absent", value: nil)
        let expected: JSONValue = [
            "hit": true, "miss": false, "value": value, "tier": "l1", "ttl": 300, "negative": -42,
            "none": nil, "label": nil, "tree": value, "absent": nil,
        ]
        let json = object.finish()
        #expect(String(decoding: json.bytes, as: UTF8.self) == JSONWriter.string(expected))
        #expect(try json.decoded() == expected)
    }

    @Test("an object with no members is {}")
    func emptyObject() throws {
        var object = EncodedJSON.Object()
        #expect(object.finish().bytes == Array("{}".utf8))
    }
}
