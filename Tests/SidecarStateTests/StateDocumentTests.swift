import SidecarProtocol
import Testing

@testable import SidecarState

/// The state document as a value: edits, revisions, compare-and-set, and the patches that
/// redo and undo each change.
@Suite("State document")
struct StateDocumentTests {
    private func pointer(_ text: String) throws -> JSONPointer { try JSONPointer(text) }

    @Test("set creates missing parents, bumps the revision, and records one add of the new subtree")
    func setCreatesParents() throws {
        var document = StateDocument()
        let change = try document.apply(.set(try pointer("/settings/llm/model"), "large"), action: "pick model", timeMilliseconds: 7)
        #expect(document.revision == 1)
        #expect(document.root == ["settings": ["llm": ["model": "large"]]])
        #expect(change.revision == 1)
        #expect(change.action == "pick model")
        #expect(change.timeMilliseconds == 7)
        #expect(change.path == (try pointer("/settings")))
        #expect(change.patch == JSONPatch([.add(path: try pointer("/settings"), value: ["llm": ["model": "large"]])]))
        #expect(change.inverse == JSONPatch([.remove(path: try pointer("/settings"))]))
    }

    @Test("every kind of edit is undone exactly by its inverse and redone by its patch")
    func patchesRoundTrip() throws {
        var document = StateDocument(root: ["settings": ["theme": "dark", "size": 12], "list": [1, 2, 3]])
        let edits: [StateEdit] = [
            .set(try pointer("/settings/theme"), "light"),
            .set(try pointer("/list/-"), 4),
            .merge(try pointer("/settings"), ["size": .null, "font": "mono"]),
            .patch(try JSONPatch(json: [["op": "remove", "path": "/1"], ["op": "add", "path": "/0", "value": 0]]), base: try pointer("/list")),
            .delete(try pointer("/settings/font")),
            .delete(try pointer("/missing/path")),
        ]
        for edit in edits {
            let before = document.root
            let change = try document.apply(edit)
            let after = document.root
            #expect(try change.inverse.applied(to: after) == before, "inverse of \(edit)")
            #expect(try change.patch.applied(to: before) == after, "patch of \(edit)")
        }
        #expect(document.revision == Int64(edits.count))
        #expect(document.root == ["settings": ["theme": "light"], "list": [0, 1, 3, 4]])
    }

    @Test("ifRevision: a stale revision is a conflict carrying the current one, and nothing changes")
    func compareAndSet() throws {
        var document = StateDocument()
        _ = try document.apply(.set(try pointer("/a"), 1))
        #expect(throws: StateError.revisionMismatch(expected: 0, current: 1)) {
            try document.apply(.set(try pointer("/a"), 2), ifRevision: 0)
        }
        #expect(document.root == ["a": 1])
        let error = StateError.revisionMismatch(expected: 0, current: 1).rpcError
        #expect(error.code == .conflict)
        #expect(error.data?["revision"] == .int(1))
        _ = try document.apply(.set(try pointer("/a"), 2), ifRevision: 1)
        #expect(document.root == ["a": 2] && document.revision == 2)
    }

    @Test("a failing patch changes nothing and names the failing operation (test → conflict, malformed → invalid)")
    func patchAtomicity() throws {
        var document = StateDocument(root: ["a": 1, "b": 2])
        let failingTest = try JSONPatch(json: [
            ["op": "replace", "path": "/a", "value": 10],
            ["op": "test", "path": "/b", "value": 3],
        ])
        do {
            _ = try document.apply(.patch(failingTest, base: .root))
            Issue.record("a failed test must throw")
        } catch {
            guard case .patchConflict(_, let index) = error else { throw error }
            #expect(index == 1)
            #expect(error.rpcError.code == .conflict)
            #expect(error.rpcError.data?["op"] == .int(1))
        }
        #expect(document.root == ["a": 1, "b": 2])
        #expect(document.revision == 0)
    }

    @Test("setting inside a scalar is invalid and names the path; the root cannot be deleted or made a non-object")
    func invalidEdits() throws {
        var document = StateDocument(root: ["name": "sidecar"])
        #expect(throws: StateError.self) { try document.apply(.set(try pointer("/name/first"), "x")) }
        let inside = try pointer("/name/first")
        do {
            _ = try document.apply(.set(inside, "x"))
        } catch {
            #expect(error.rpcError.code == .invalidParams)
            #expect(error.description.contains("/name"), "\(error)")
        }
        #expect(throws: StateError.self) { try document.apply(.delete(.root)) }
        #expect(throws: StateError.self) { try document.apply(.set(.root, 42)) }
        #expect(document.root == ["name": "sidecar"] && document.revision == 0)
    }

    @Test("replaying recorded changes rebuilds the same document and revision")
    func replay() throws {
        var original = StateDocument()
        var changes: [StateChange] = []
        changes.append(try original.apply(.set(try pointer("/executions/e1"), ["status": "running"])))
        changes.append(try original.apply(.merge(try pointer("/executions/e1"), ["status": "done", "exit": 0])))
        changes.append(try original.apply(.delete(try pointer("/executions/e1/exit"))))
        var rebuilt = StateDocument()
        for change in changes { try rebuilt.replay(change) }
        #expect(rebuilt.root == original.root)
        #expect(rebuilt.revision == original.revision)
        #expect(throws: StateError.self) { try rebuilt.replay(changes[0]) }
    }
}
