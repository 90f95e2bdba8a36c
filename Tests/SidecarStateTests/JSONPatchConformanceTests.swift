import SidecarProtocol
import SidecarState
import Testing

/// RFC 6902 conformance: every record of the json-patch-tests suite, plus the behaviour around
/// it that the state service relies on (error kinds, atomicity, round trips).
@Suite("JSON Patch (RFC 6902)")
struct JSONPatchConformanceTests {
    /// Cases of the suite that are knowingly not supported, by comment, with the reason.
    /// Empty: every enabled case passes.
    static let unsupported: [String: String] = [:]

    /// Runs every enabled record of a suite file and returns (passed, run).
    private func runSuite(_ file: String) throws -> (passed: Int, run: Int, disabled: Int) {
        let records = try #require(try ConformanceSuite.load("json-patch/\(file)").arrayValue)
        var passed = 0
        var run = 0
        var disabled = 0
        for (number, record) in records.enumerated() {
            // Records that are disabled or only a comment are not tests.
            if record["disabled"]?.boolValue == true {
                disabled += 1
                continue
            }
            guard let document = record["doc"], let patchJSON = record["patch"] else { continue }
            let name = "\(file) #\(number)" + (record["comment"]?.stringValue.map { " (\($0))" } ?? "")
            if let reason = Self.unsupported[record["comment"]?.stringValue ?? ""] {
                print("json-patch: \(name) knowingly unsupported: \(reason)")
                continue
            }
            run += 1
            if try check(name: name, document: document, patchJSON: patchJSON, record: record) { passed += 1 }
        }
        return (passed, run, disabled)
    }

    /// Checks one record; records an issue and returns false when it fails.
    private func check(name: String, document: JSONValue, patchJSON: JSONValue, record: JSONValue) throws -> Bool {
        let outcome: Result<JSONValue, JSONPatchError>
        do throws(JSONPatchError) {
            outcome = .success(try JSONPatch(json: patchJSON).applied(to: document))
        } catch {
            outcome = .failure(error)
        }

        // The in-place form must agree, and leave the document untouched when it fails.
        var inPlace = document
        let inPlaceError: JSONPatchError?
        do throws(JSONPatchError) {
            try JSONPatch(json: patchJSON).apply(to: &inPlace)
            inPlaceError = nil
        } catch {
            inPlaceError = error
        }

        if let expectedError = record["error"] {
            guard case .failure(let error) = outcome else {
                Issue.record("\(name): expected an error (\(expectedError)), but the patch applied")
                return false
            }
            guard inPlaceError == error, JSONWriter.string(inPlace) == JSONWriter.string(document) else {
                Issue.record("\(name): in-place apply did not fail the same way or changed the document: \(inPlace)")
                return false
            }
            return true
        }
        switch outcome {
        case .failure(let error):
            Issue.record("\(name): unexpected error: \(error)")
            return false
        case .success(let result):
            if let expected = record["expected"], result != expected {
                Issue.record("\(name): got \(result), expected \(expected)")
                return false
            }
            guard inPlaceError == nil, JSONWriter.string(inPlace) == JSONWriter.string(result) else {
                Issue.record("\(name): in-place apply gave \(inPlace) / \(String(describing: inPlaceError)), not \(result)")
                return false
            }
            return true
        }
    }

    @Test("every enabled case of json-patch tests.json and spec_tests.json")
    func conformanceSuite() throws {
        var total = (passed: 0, run: 0, disabled: 0)
        for file in ["tests.json", "spec_tests.json"] {
            let result = try runSuite(file)
            print("json-patch \(file): \(result.passed)/\(result.run) cases (\(result.disabled) disabled records skipped)")
            total.passed += result.passed
            total.run += result.run
            total.disabled += result.disabled
        }
        print("json-patch: \(total.passed)/\(total.run) cases")
        #expect(total.run > 100, "the suites hold over 100 enabled cases; were the files found?")
        #expect(total.passed == total.run)
    }

    @Test("a patch's JSON text is its JSON value written compactly, for every kind of operation")
    func jsonTextMatchesValue() throws {
        let patch = try JSONPatch(json: try JSONParser.parse("""
            [{"op":"add","path":"/a~1b","value":{"x":[1,2.5,"\\u00e9\\n"]}},{"op":"remove","path":"/c"},
             {"op":"replace","path":"","value":null},{"op":"move","from":"/d","path":"/e"},
             {"op":"copy","from":"/f","path":"/g/0"},{"op":"test","path":"/h","value":"q\\"uote"}]
            """))
        #expect(patch.jsonText == JSONWriter.string(patch.jsonValue))
        #expect(try JSONPatch(json: try JSONParser.parse(patch.jsonText)) == patch)
        #expect(try JSONPatch(json: []).jsonText == "[]")
    }

    // MARK: - Error kinds

    private func patchError(_ patch: String, on document: JSONValue) throws -> JSONPatchError? {
        let json = try JSONParser.parse(patch)
        do throws(JSONPatchError) {
            _ = try JSONPatch(json: json).applied(to: document)
            return nil
        } catch {
            return error
        }
    }

    @Test("a failing test is a conflict naming the operation's index")
    func failingTestIsConflict() throws {
        let error = try #require(try patchError(
            #"[{"op":"add","path":"/b","value":2},{"op":"test","path":"/a","value":"2"}]"#, on: ["a": 1]))
        #expect(error.kind == .testFailed)
        #expect(error.isConflict)
        #expect(error.operationIndex == 1)
        #expect(error.message.contains("\"/a\""))
    }

    @Test("a missing path is a conflict naming the operation's index and the path")
    func missingPathIsConflict() throws {
        let cases = [
            #"[{"op":"test","path":"/a","value":1},{"op":"remove","path":"/missing"}]"#,
            #"[{"op":"test","path":"/a","value":1},{"op":"add","path":"/x/y","value":1}]"#,
            #"[{"op":"test","path":"/a","value":1},{"op":"replace","path":"/list/5","value":1}]"#,
            #"[{"op":"test","path":"/a","value":1},{"op":"move","from":"/nope","path":"/b"}]"#,
            #"[{"op":"test","path":"/a","value":1},{"op":"add","path":"/a/b","value":1}]"#,
            #"[{"op":"test","path":"/a","value":1},{"op":"test","path":"/list/01","value":1}]"#,
        ]
        for patch in cases {
            let error = try #require(try patchError(patch, on: ["a": 1, "list": [1, 2]]), "\(patch)")
            #expect(error.kind == .pathNotFound, "\(patch): \(error)")
            #expect(error.isConflict)
            #expect(error.operationIndex == 1, "\(patch)")
        }
    }

    @Test("a malformed operation is malformed, not a conflict, with its index and the member at fault")
    func malformedOperation() throws {
        let cases: [(patch: String, mentions: String)] = [
            (#"[{"op":"test","path":"/a","value":1},{"op":"add","value":1}]"#, "\"path\""),
            (#"[{"op":"test","path":"/a","value":1},{"op":"add","path":"/b"}]"#, "\"value\""),
            (#"[{"op":"test","path":"/a","value":1},{"op":"copy","path":"/b"}]"#, "\"from\""),
            (#"[{"op":"test","path":"/a","value":1},{"op":"jump","path":"/b"}]"#, "jump"),
            (#"[{"op":"test","path":"/a","value":1},{"path":"/b"}]"#, "\"op\""),
            (#"[{"op":"test","path":"/a","value":1},{"op":"add","path":"b","value":1}]"#, "\"b\""),
            (#"[{"op":"test","path":"/a","value":1},{"op":"add","path":"/~2","value":1}]"#, "~0"),
            (#"[{"op":"test","path":"/a","value":1},{"op":"add","path":7,"value":1}]"#, "number"),
            (#"[{"op":"test","path":"/a","value":1},"add"]"#, "string"),
            (#"[{"op":"test","path":"/a","value":1},{"op":"move","from":"/a","path":"/a/b"}]"#, "child"),
        ]
        for (patch, mentions) in cases {
            let error = try #require(try patchError(patch, on: ["a": 1]), "\(patch)")
            #expect(error.kind == .malformed, "\(patch): \(error)")
            #expect(!error.isConflict)
            #expect(error.operationIndex == 1, "\(patch)")
            #expect(error.message.contains(mentions), "\(patch): \(error.message)")
        }
    }

    @Test("a patch that is not an array is malformed with no operation index")
    func patchNotAnArray() throws {
        let error = try #require(try patchError(#"{"op":"add","path":"/a","value":1}"#, on: [:]))
        #expect(error.kind == .malformed)
        #expect(error.operationIndex == nil)
    }

    @Test("removing the whole document is malformed")
    func removeRoot() throws {
        let error = try #require(try patchError(#"[{"op":"remove","path":""}]"#, on: ["a": 1]))
        #expect(error.kind == .malformed)
        #expect(error.operationIndex == 0)
    }

    // MARK: - Atomicity

    @Test("a patch that fails part way leaves the document exactly as it was, member order included")
    func failedPatchLeavesDocumentExactly() throws {
        let original = try JSONParser.parse(
            #"{"a":1,"b":{"c":[1,2,3],"d":"x"},"e":[{"f":1},{"g":2}],"h":null}"#)
        let patch = try JSONPatch(json: try JSONParser.parse(#"""
            [{"op":"remove","path":"/a"},
             {"op":"add","path":"/b/c/1","value":"new"},
             {"op":"replace","path":"/b/d","value":"y"},
             {"op":"move","from":"/e/0","path":"/e/-"},
             {"op":"copy","from":"/b","path":"/copy"},
             {"op":"add","path":"","value":{"replaced":true}},
             {"op":"add","path":"/z","value":1},
             {"op":"test","path":"/z","value":2}]
            """#))
        var document = original
        #expect(throws: JSONPatchError.self) { try patch.apply(to: &document) }
        #expect(JSONWriter.string(document) == JSONWriter.string(original))
    }

    @Test("a single move whose destination fails puts the value back where it was")
    func failedMoveRestores() throws {
        let original = try JSONParser.parse(#"{"a":1,"b":2,"c":3}"#)
        var document = original
        let patch = JSONPatch([.move(from: try JSONPointer("/b"), path: try JSONPointer("/missing/x"))])
        #expect(throws: JSONPatchError.self) { try patch.apply(to: &document) }
        #expect(JSONWriter.string(document) == #"{"a":1,"b":2,"c":3}"#)
    }

    @Test("random patches: in place equals applied, and a failing last op undoes everything exactly")
    func randomPatches() throws {
        var random = SplitMix64(seed: 0x5EED)
        var applied = 0
        for round in 0..<400 {
            let original = random.container(depth: 3)
            var operations: [JSONPatch.Operation] = []
            var scratch = original
            for _ in 0..<random.below(6) + 1 {
                // Keep only operations that apply, so the patch as a whole succeeds.
                let operation = random.operation(on: scratch)
                if let next = try? JSONPatch([operation]).applied(to: scratch) {
                    operations.append(operation)
                    scratch = next
                }
            }
            let patch = JSONPatch(operations)
            var inPlace = original
            try patch.apply(to: &inPlace)
            #expect(inPlace == scratch, "round \(round)")
            #expect(try patch.applied(to: original) == scratch, "round \(round)")
            applied += operations.count

            let failing = JSONPatch(operations + [.test(path: .root, value: "no document equals this")])
            var document = original
            #expect(throws: JSONPatchError.self) { try failing.apply(to: &document) }
            #expect(JSONWriter.string(document) == JSONWriter.string(original), "round \(round): \(patch.jsonValue)")
        }
        #expect(applied > 400)
    }

    // MARK: - In place

    /// The address of the storage of the array at `pointer`, to tell whether it was copied.
    private func storage(of document: JSONValue, at pointer: String) throws -> UnsafeRawPointer? {
        guard case .array(let elements)? = document.value(at: try JSONPointer(pointer)) else { return nil }
        return elements.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
    }

    @Test("changes in place reuse a deep array's storage instead of copying it")
    func inPlaceDoesNotCopy() throws {
        var document: JSONValue = ["a": ["b": ["big": .array((0..<1000).map { .int(Int64($0)) })]], "z": 1]
        let before = try #require(try storage(of: document, at: "/a/b/big"))

        try JSONPatch([
            .replace(path: try JSONPointer("/a/b/big/5"), value: "five"),
            .remove(path: try JSONPointer("/a/b/big/999")),
            .add(path: try JSONPointer("/a/b/big/3"), value: "three"),
            .test(path: try JSONPointer("/a/b/big/3"), value: "three"),
        ]).apply(to: &document)
        #expect(try storage(of: document, at: "/a/b/big") == before)

        try document.setValue("six", at: try JSONPointer("/a/b/big/6"))
        try document.mergeValue(["seven": 7], at: try JSONPointer("/a/b/big/7"))
        try document.removeValue(at: try JSONPointer("/a/b/big/0"))
        #expect(try storage(of: document, at: "/a/b/big") == before)
        #expect(document.value(at: try JSONPointer("/a/b/big/6")) == ["seven": 7])

        // A failing patch undoes its changes in place too.
        #expect(throws: JSONPatchError.self) {
            try JSONPatch([
                .replace(path: try JSONPointer("/a/b/big/1"), value: nil),
                .test(path: try JSONPointer("/z"), value: 2),
            ]).apply(to: &document)
        }
        #expect(try storage(of: document, at: "/a/b/big") == before)

        // A copy held elsewhere is never changed: that change must copy.
        let snapshot = document
        try document.setValue("new", at: try JSONPointer("/a/b/big/1"))
        #expect(try storage(of: document, at: "/a/b/big") != before)
        #expect(snapshot.value(at: try JSONPointer("/a/b/big/1")) == 2)
    }

    // MARK: - Round trip

    @Test("a patch's JSON form reads back as the same patch")
    func jsonRoundTrip() throws {
        let text = #"""
            [{"op":"add","path":"/a~1b","value":[1]},{"op":"remove","path":"/x/0"},
             {"op":"replace","path":"","value":null},{"op":"move","from":"/a","path":"/b"},
             {"op":"copy","from":"/~0","path":"/c"},{"op":"test","path":"/d","value":{"e":1}}]
            """#
        let patch = try JSONPatch(json: try JSONParser.parse(text))
        #expect(patch.operations.count == 6)
        #expect(try JSONPatch(json: patch.jsonValue) == patch)
        #expect(patch.jsonValue == (try JSONParser.parse(text)))
    }

    @Test("test compares numbers by value and objects without regard to member order")
    func testUsesJSONEquality() throws {
        let document = try JSONParser.parse(#"{"n":1,"o":{"a":1,"b":[1.0,2]}}"#)
        let patch = try JSONPatch(json: try JSONParser.parse(
            #"[{"op":"test","path":"/n","value":1.0},{"op":"test","path":"/o","value":{"b":[1,2.0],"a":1}}]"#))
        #expect(try patch.applied(to: document) == document)
    }
}

// MARK: - Random documents and operations

/// A small deterministic generator (SplitMix64), so a failure reproduces.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func key() -> String { ["a", "b", "c", "d", "a/b", "~"][below(6)] }

    /// An object or array at the top, like a state document.
    mutating func container(depth: Int) -> JSONValue {
        var value = document(depth: depth)
        while value.objectValue == nil && value.arrayValue == nil { value = document(depth: depth) }
        return value
    }

    mutating func document(depth: Int) -> JSONValue {
        switch depth == 0 ? below(3) : below(5) {
        case 0: return .int(Int64(below(10)))
        case 1: return .string(key())
        case 2: return .null
        case 3:
            var members = JSONObject()
            for _ in 0..<below(4) { members[key()] = document(depth: depth - 1) }
            return .object(members)
        default:
            return .array((0..<below(4)).map { _ in document(depth: depth - 1) })
        }
    }

    /// A pointer into `document`: usually to an existing value, sometimes one token further.
    mutating func pointer(in document: JSONValue) -> JSONPointer {
        var tokens: [String] = []
        var current = document
        while below(3) != 0 {
            switch current {
            case .object(let members) where !members.isEmpty:
                let index = below(members.count)
                tokens.append(members.keys[index])
                current = members.values[index]
            case .array(let elements) where !elements.isEmpty:
                let index = below(elements.count)
                tokens.append(String(index))
                current = elements[index]
            default:
                if below(2) == 0 { tokens.append(below(2) == 0 ? "-" : key()) }
                return JSONPointer(tokens: tokens)
            }
        }
        return JSONPointer(tokens: tokens)
    }

    mutating func operation(on document: JSONValue) -> JSONPatch.Operation {
        let path = pointer(in: document)
        switch below(6) {
        case 0: return .add(path: path, value: self.document(depth: 1))
        case 1: return .remove(path: path)
        case 2: return .replace(path: path, value: self.document(depth: 1))
        case 3: return .move(from: pointer(in: document), path: path)
        case 4: return .copy(from: pointer(in: document), path: path)
        default: return .test(path: path, value: document.value(at: path) ?? .null)
        }
    }
}


