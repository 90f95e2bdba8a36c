import SidecarProtocol
import SidecarState
import Testing

@Suite("JSON Merge Patch (RFC 7396)")
struct JSONMergePatchTests {
    /// RFC 7396 appendix A, every row: original, patch, result.
    static let appendixA: [(String, String, String)] = [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, #"null"#, #"null"#),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"e":null,"a":1}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ]

    @Test("RFC 7396 appendix A: every row of the table")
    func appendixATable() throws {
        var passed = 0
        for (number, row) in Self.appendixA.enumerated() {
            let original = try JSONParser.parse(row.0)
            let patch = try JSONParser.parse(row.1)
            let expected = try JSONParser.parse(row.2)
            let result = JSONMergePatch.apply(patch, to: original)
            var inPlace = original
            JSONMergePatch.merge(patch, into: &inPlace)
            #expect(result == expected, "row \(number + 1): \(row.0) + \(row.1) gave \(result)")
            #expect(inPlace == expected, "row \(number + 1) in place gave \(inPlace)")
            if result == expected && inPlace == expected { passed += 1 }
        }
        print("json-merge-patch: \(passed)/\(Self.appendixA.count) rows of RFC 7396 appendix A")
        #expect(passed == 15)
    }

    @Test("RFC 7396 section 3: the worked example, existing members keeping their place")
    func sectionThreeExample() throws {
        let target = try JSONParser.parse(#"""
            {"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],
             "content":"This will be unchanged"}
            """#)
        let patch = try JSONParser.parse(#"""
            {"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},"tags":["example"]}
            """#)
        let result = JSONMergePatch.apply(patch, to: target)
        #expect(JSONWriter.string(result) == #"{"title":"Hello!","author":{"givenName":"John"},"tags":["example"],"#
            + #""content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}"#)
        // The input value is not changed by apply.
        #expect(target["title"] == "Goodbye!")
    }

    // MARK: - Merging at a pointer

    @Test("mergeValue merges into the value at a pointer, creating missing parents")
    func mergeAtPointer() throws {
        var document: JSONValue = ["settings": ["llm": ["model": "a", "temperature": 0.5]]]
        try document.mergeValue(["model": "b", "temperature": nil, "topP": 0.9], at: try JSONPointer("/settings/llm"))
        #expect(JSONWriter.string(document) == #"{"settings":{"llm":{"model":"b","topP":0.9}}}"#)
        try document.mergeValue(["theme": "dark", "unset": nil], at: try JSONPointer("/settings/app/ui"))
        #expect(document.value(at: try JSONPointer("/settings/app")) == ["ui": ["theme": "dark"]])
    }

    @Test("mergeValue with null removes the value, and a missing value stays missing")
    func mergeNullAtPointer() throws {
        var document: JSONValue = ["a": ["b": 1, "c": 2]]
        try document.mergeValue(nil, at: try JSONPointer("/a/b"))
        try document.mergeValue(nil, at: try JSONPointer("/x/y"))
        #expect(JSONWriter.string(document) == #"{"a":{"c":2}}"#)
    }

    @Test("mergeValue of a non-object replaces, at the root as elsewhere")
    func mergeReplaces() throws {
        var document: JSONValue = ["a": ["b": 1]]
        try document.mergeValue([1, 2], at: try JSONPointer("/a"))
        #expect(document == ["a": [1, 2]])
        try document.mergeValue(["z": 1], at: .root)
        #expect(document == ["a": [1, 2], "z": 1])
    }

    @Test("mergeValue in an array merges into an element or appends")
    func mergeInArray() throws {
        var document: JSONValue = ["runs": [["id": 1, "status": "queued"]]]
        try document.mergeValue(["status": "running"], at: try JSONPointer("/runs/0"))
        try document.mergeValue(["id": 2, "note": nil], at: try JSONPointer("/runs/-"))
        #expect(document == ["runs": [["id": 1, "status": "running"], ["id": 2]]])
    }

    @Test("mergeValue inside a scalar fails naming the path and leaves the document as it was")
    func mergeInsideScalar() throws {
        var document: JSONValue = ["a": "text"]
        let error = try #require(throws: JSONPointerError.self) {
            try document.mergeValue(["c": 1], at: try JSONPointer("/a/b"))
        }
        #expect(error.kind == .notAContainer)
        #expect(error.message.contains("\"/a/b\""))
        #expect(document == ["a": "text"])
    }
}
