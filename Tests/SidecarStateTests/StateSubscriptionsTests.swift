import SidecarProtocol
import Testing

@testable import SidecarState

/// Slice subscriptions: a notification only when the selected value changes.
@Suite("State subscriptions")
struct StateSubscriptionsTests {
    @Test("a pointer subscription fires on a change of its value only, not on writes elsewhere or equal rewrites")
    func pointerFiresOnlyOnChange() throws {
        var document = StateDocument()
        var subscriptions = StateSubscriptions<String>()
        let (id, initial) = subscriptions.subscribe(try StateSelector(parsing: "/settings/llm"), subscriber: "a", document: document.root)
        #expect(initial == .null)

        func deliveries(_ edit: StateEdit) throws -> [JSONValue] {
            let change = try document.apply(edit)
            return subscriptions.deliveries(forChangeAt: change.path, in: document.root).map(\.value)
        }
        #expect(try deliveries(.set(try JSONPointer("/settings/llm/model"), "large")) == [["model": "large"]])
        #expect(try deliveries(.set(try JSONPointer("/settings/app/theme"), "dark")) == [], "a write elsewhere")
        #expect(try deliveries(.set(try JSONPointer("/settings/llm/model"), "large")) == [], "an equal value")
        #expect(try deliveries(.merge(try JSONPointer("/settings"), ["llm": ["model": "small"]])) == [["model": "small"]])
        #expect(try deliveries(.delete(try JSONPointer("/settings"))) == [.null])
        let removed = subscriptions.unsubscribe(id)
        #expect(removed)
        #expect(try deliveries(.set(try JSONPointer("/settings/llm/model"), "x")) == [])
    }

    @Test("a JSONPath subscription delivers its node list when it changes")
    func jsonPathSelection() throws {
        var document = StateDocument(root: ["executions": ["e1": ["status": "done"]]])
        var subscriptions = StateSubscriptions<Int>()
        let selector = try StateSelector(parsing: "$.executions[?@.status=='running']")
        let (_, initial) = subscriptions.subscribe(selector, subscriber: 1, document: document.root)
        #expect(initial == [])

        var change = try document.apply(.set(try JSONPointer("/executions/e2"), ["status": "running"]))
        #expect(subscriptions.deliveries(forChangeAt: change.path, in: document.root).map(\.value) == [[["status": "running"]]])
        change = try document.apply(.set(try JSONPointer("/unrelated"), 1))
        #expect(subscriptions.deliveries(forChangeAt: change.path, in: document.root).isEmpty)
        change = try document.apply(.set(try JSONPointer("/executions/e2/status"), "done"))
        #expect(subscriptions.deliveries(forChangeAt: change.path, in: document.root).map(\.value) == [[]])
    }

    @Test("100 subscribers on one path all get the change; a closed connection's subscriptions go")
    func manySubscribers() throws {
        var document = StateDocument()
        var subscriptions = StateSubscriptions<Int>()
        for connection in 0..<100 {
            _ = subscriptions.subscribe(try StateSelector(parsing: "/workspace"), subscriber: connection, document: document.root)
        }
        let change = try document.apply(.set(try JSONPointer("/workspace/open"), ["a.swift"]))
        let delivered = subscriptions.deliveries(forChangeAt: change.path, in: document.root)
        #expect(Set(delivered.map(\.subscriber)) == Set(0..<100))
        subscriptions.removeAll { $0 < 50 }
        #expect(subscriptions.count == 50)
    }

    @Test("a bad selector is an invalid-params error that says what is wrong")
    func badSelectors() {
        for text in ["/a~2", "$.a[?@.b=1]", "no-slash"] {
            #expect(throws: StateError.self, "\(text)") { _ = try StateSelector(parsing: text) }
        }
    }
}
