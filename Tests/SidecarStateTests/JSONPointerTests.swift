import SidecarProtocol
import SidecarState
import Testing

@Suite("JSON Pointer (RFC 6901)")
struct JSONPointerTests {
    /// The example document of RFC 6901 section 5.
    static let rfcDocument: JSONValue = [
        "foo": ["bar", "baz"],
        "": 0,
        "a/b": 1,
        "c%d": 2,
        "e^f": 3,
        "g|h": 4,
        "i\\j": 5,
        "k\"l": 6,
        " ": 7,
        "m~n": 8,
    ]

    // MARK: - Parsing and text

    @Test(
        "RFC 6901 section 5: every example pointer finds its value and prints back as written",
        arguments: [
            ("", rfcDocument),
            ("/foo", ["bar", "baz"]),
            ("/foo/0", "bar"),
            ("/", 0),
            ("/a~1b", 1),
            ("/c%d", 2),
            ("/e^f", 3),
            ("/g|h", 4),
            ("/i\\j", 5),
            ("/k\"l", 6),
            ("/ ", 7),
            ("/m~0n", 8),
        ] as [(String, JSONValue)]
    )
    func rfcExamples(text: String, expected: JSONValue) throws {
        let pointer = try JSONPointer(text)
        #expect(Self.rfcDocument.value(at: pointer) == expected)
        #expect(pointer.description == text)
    }

    @Test("tokens are unescaped, ~01 being \"~1\" and not \"/\"")
    func unescaping() throws {
        #expect(try JSONPointer("/a~1b/~0c").tokens == ["a/b", "~c"])
        #expect(try JSONPointer("/~01").tokens == ["~1"])
        #expect(try JSONPointer("/~10").tokens == ["/0"])
        #expect(try JSONPointer("").tokens == [])
        #expect(try JSONPointer("/").tokens == [""])
        #expect(try JSONPointer("//").tokens == ["", ""])
        #expect(try JSONPointer("/a/").tokens == ["a", ""])
        #expect(try JSONPointer("/é/😀").tokens == ["é", "😀"])
        #expect(try JSONPointer("").isRoot)
    }

    @Test("a pointer has at most 512 tokens, as deep as the parser reads; one more is an error that says so")
    func tokenLimit() throws {
        let longest = String(repeating: "/a", count: JSONPointer.maximumTokens)
        #expect(try JSONPointer(longest).tokens.count == 512)
        let error = #expect(throws: JSONPointerError.self) { try JSONPointer(longest + "/a") }
        #expect(error?.kind == .tooDeep)
        #expect(error?.message.contains("513 reference tokens; at most 512") == true, "\(error?.message ?? "")")
    }

    @Test("printing escapes ~ before / so the text parses back to the same tokens")
    func printing() throws {
        let pointer = JSONPointer(tokens: ["a/b", "~c", "~1", ""])
        #expect(pointer.description == "/a~1b/~0c/~01/")
        #expect(try JSONPointer(pointer.description) == pointer)
        #expect(JSONPointer.root.description == "")
    }

    @Test(
        "a bad escape or a missing leading slash is a syntax error that says what to write",
        arguments: [
            ("/a~2", "~0"), ("/a~", "~0"), ("/~", "~0"), ("/a/b~x/c", "~0"), ("a/b", "start with \"/\""),
            ("foo", "start with \"/\""), ("#/foo", "start with \"/\""),
        ]
    )
    func syntaxErrors(text: String, advice: String) {
        #expect {
            _ = try JSONPointer(text)
        } throws: { error in
            guard let error = error as? JSONPointerError else { return false }
            return error.kind == .invalidSyntax && error.pointer == text && error.message.contains(advice)
        }
    }

    @Test("hasPrefix: a pointer is inside itself and its ancestors, not its siblings")
    func prefixes() throws {
        let pointer = try JSONPointer("/a/b/c")
        #expect(pointer.hasPrefix(.root))
        #expect(pointer.hasPrefix(try JSONPointer("/a/b")))
        #expect(pointer.hasPrefix(pointer))
        #expect(!pointer.hasPrefix(try JSONPointer("/a/bc")))
        #expect(!(try JSONPointer("/a")).hasPrefix(pointer))
        #expect(pointer.parent == (try JSONPointer("/a/b")))
        #expect(JSONPointer.root.parent == nil)
        #expect(try JSONPointer("/a").appending("b/c").description == "/a/b~1c")
    }

    // MARK: - Reading

    @Test(
        "array tokens: only 0 or digits without a leading zero, and within range, address an element",
        arguments: ["/foo/01", "/foo/00", "/foo/-", "/foo/2", "/foo/-1", "/foo/1e0", "/foo/+1", "/foo/ 1", "/foo/",
            "/foo/99999999999999999999999", "/foo/0/x", "/1"]
    )
    func arrayIndexesThatMissAreAbsent(text: String) throws {
        #expect(Self.rfcDocument.value(at: try JSONPointer(text)) == nil)
    }

    @Test("a member named like a number is an ordinary key of an object")
    func numericKeyInObject() throws {
        let document: JSONValue = ["01": "a", "-": "b", "1e0": "c"]
        #expect(document.value(at: try JSONPointer("/01")) == "a")
        #expect(document.value(at: try JSONPointer("/-")) == "b")
        #expect(document.value(at: try JSONPointer("/1e0")) == "c")
    }

    // MARK: - set

    @Test("set creates missing parent objects")
    func setCreatesParents() throws {
        var document: JSONValue = ["keep": true]
        try document.setValue("gpt-5", at: try JSONPointer("/settings/llm/model"))
        #expect(JSONWriter.string(document) == #"{"keep":true,"settings":{"llm":{"model":"gpt-5"}}}"#)
        try document.setValue(0.2, at: try JSONPointer("/settings/llm/temperature"))
        #expect(document.value(at: try JSONPointer("/settings/llm")) == ["model": "gpt-5", "temperature": 0.2])
    }

    @Test("set replaces an existing member where it stands and puts new members last")
    func setKeepsOrder() throws {
        var document: JSONValue = ["a": 1, "b": 2, "c": 3]
        try document.setValue(["x": nil], at: try JSONPointer("/b"))
        try document.setValue(4, at: try JSONPointer("/d"))
        #expect(JSONWriter.string(document) == #"{"a":1,"b":{"x":null},"c":3,"d":4}"#)
    }

    @Test("set at the root replaces the whole document")
    func setRoot() throws {
        var document: JSONValue = ["a": 1]
        try document.setValue([1, 2], at: .root)
        #expect(document == [1, 2])
    }

    @Test("set inside a string, number, boolean or null fails naming the path and the value in the way")
    func setInsideScalar() throws {
        for scalar: JSONValue in ["text", 5, true, nil] {
            let original: JSONValue = ["a": ["b": scalar], "z": 1]
            var document = original
            let error = try #require(throws: JSONPointerError.self) {
                try document.setValue(1, at: try JSONPointer("/a/b/c/d"))
            }
            #expect(error.kind == .notAContainer)
            #expect(error.pointer == "/a/b/c/d")
            #expect(error.message.contains("\"/a/b/c/d\""), "\(error.message)")
            #expect(error.message.contains("\"/a/b\" is a \(scalar.typeName)"), "\(error.message)")
            #expect(JSONWriter.string(document) == JSONWriter.string(original))
        }
    }

    @Test("a failed set removes the parents it created on the way")
    func failedSetLeavesNoParents() throws {
        var document: JSONValue = ["list": [1]]
        #expect(throws: JSONPointerError.self) { try document.setValue(1, at: try JSONPointer("/list/5")) }
        #expect(throws: JSONPointerError.self) { try document.setValue(1, at: try JSONPointer("/list/3/name")) }
        #expect(document == ["list": [1]])
    }

    @Test("set in an array: an index replaces, the count or - appends, past the end or not an index fails")
    func setInArray() throws {
        var document: JSONValue = ["list": ["a", "b"]]
        try document.setValue("A", at: try JSONPointer("/list/0"))
        try document.setValue("c", at: try JSONPointer("/list/2"))
        try document.setValue("d", at: try JSONPointer("/list/-"))
        #expect(document == ["list": ["A", "b", "c", "d"]])

        let pastEnd = try #require(throws: JSONPointerError.self) {
            try document.setValue("x", at: try JSONPointer("/list/9"))
        }
        #expect(pastEnd.kind == .notFound)
        #expect(pastEnd.message.contains("4 elements") && pastEnd.message.contains("\"/list/-\""), "\(pastEnd.message)")

        for bad in ["/list/01", "/list/x", "/list/-1"] {
            let error = try #require(throws: JSONPointerError.self) { try document.setValue("x", at: try JSONPointer(bad)) }
            #expect(error.kind == .invalidArrayIndex, "\(bad)")
            #expect(error.message.contains(bad), "\(error.message)")
        }
        #expect(document == ["list": ["A", "b", "c", "d"]])
    }

    @Test("set does not create array elements on the way")
    func setThroughMissingElement() throws {
        var document: JSONValue = ["list": [["name": "a"]]]
        try document.setValue("b", at: try JSONPointer("/list/0/name"))
        let error = try #require(throws: JSONPointerError.self) {
            try document.setValue("c", at: try JSONPointer("/list/1/name"))
        }
        #expect(error.kind == .notFound)
        #expect(document == ["list": [["name": "b"]]])
    }

    // MARK: - remove

    @Test("remove returns the removed value and keeps the order of the rest")
    func removeExisting() throws {
        var document: JSONValue = ["a": 1, "b": [10, 20, 30], "c": 3]
        #expect(try document.removeValue(at: try JSONPointer("/a")) == 1)
        #expect(try document.removeValue(at: try JSONPointer("/b/1")) == 20)
        #expect(JSONWriter.string(document) == #"{"b":[10,30],"c":3}"#)
    }

    @Test(
        "remove of a missing value is nil and changes nothing",
        arguments: ["/missing", "/a/deeper", "/b/3", "/b/-", "/b/01", "/c/x/y", "/b/0/x"]
    )
    func removeMissing(text: String) throws {
        var document: JSONValue = ["a": 1, "b": [10], "c": ["x": nil]]
        #expect(try document.removeValue(at: try JSONPointer(text)) == nil)
        #expect(JSONWriter.string(document) == #"{"a":1,"b":[10],"c":{"x":null}}"#)
    }

    @Test("removing the root is an error; a document always has a value")
    func removeRoot() throws {
        var document: JSONValue = ["a": 1]
        let error = try #require(throws: JSONPointerError.self) { try document.removeValue(at: .root) }
        #expect(error.kind == .rootNotRemovable)
        #expect(document == ["a": 1])
    }

    // MARK: - RFC 6902 index rules through single operations

    private func apply(_ operation: JSONPatch.Operation, to document: JSONValue) -> Result<JSONValue, JSONPatchError> {
        do throws(JSONPatchError) {
            return .success(try JSONPatch([operation]).applied(to: document))
        } catch {
            return .failure(error)
        }
    }

    @Test("add may insert at the count or -, the other operations need an existing element")
    func patchIndexRules() throws {
        let document: JSONValue = ["list": ["a", "b"]]
        let end = try JSONPointer("/list/2")
        let dash = try JSONPointer("/list/-")
        #expect(try apply(.add(path: end, value: "c"), to: document).get() == ["list": ["a", "b", "c"]])
        #expect(try apply(.add(path: dash, value: "c"), to: document).get() == ["list": ["a", "b", "c"]])
        #expect(try apply(.add(path: try JSONPointer("/list/0"), value: "z"), to: document).get() == ["list": ["z", "a", "b"]])
        for operation: JSONPatch.Operation in [
            .add(path: try JSONPointer("/list/3"), value: 1),
            .add(path: try JSONPointer("/list/01"), value: 1),
            .replace(path: end, value: 1), .replace(path: dash, value: 1),
            .remove(path: end), .remove(path: dash),
            .test(path: dash, value: nil),
            .copy(from: dash, path: try JSONPointer("/x")),
            .move(from: end, path: try JSONPointer("/x")),
        ] {
            guard case .failure(let error) = apply(operation, to: document) else {
                Issue.record("\(operation) applied")
                continue
            }
            #expect(error.kind == .pathNotFound, "\(operation): \(error)")
        }
    }
}

