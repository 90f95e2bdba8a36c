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
        let (id, initial) = try subscriptions.subscribe(try StateSelector(parsing: "/settings/llm"), subscriber: "a", document: document.root)
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

    @Test(
        "a JSONPath is re-evaluated only after changes above or below its leading names and indexes",
        arguments: [
            ("$.executions[?@.status=='running']", "/executions"),
            ("$['workspace'].tabs[0].title", "/workspace/tabs/0/title"),
            ("$.workspace.tabs[-1]", "/workspace/tabs"),
            ("$.settings.*.model", "/settings"),
            ("$..model", ""),
            ("$.items[?@.price < $.limit]", ""),
            ("$.items[?count(@.tags[?@ == $.tag]) > 0]", ""),
            ("$.items[?@.price < 10]", "/items"),
        ])
    func jsonPathScope(text: String, scope: String) throws {
        let path = try JSONPath(parsing: text)
        #expect(path.scope == (try JSONPointer(scope)))
        let selector = StateSelector.path(path)
        #expect(selector.mayBeAffected(byChangeAt: .root))
        #expect(selector.mayBeAffected(byChangeAt: try JSONPointer(scope + "/below")))
        #expect(selector.mayBeAffected(byChangeAt: try JSONPointer("/elsewhere")) == scope.isEmpty)
    }

    @Test("a filter that reads from $ is re-evaluated when what it reads changes")
    func filterReadingTheRoot() throws {
        var document = StateDocument(root: ["limit": 5, "items": [["price": 3], ["price": 8]]])
        var subscriptions = StateSubscriptions<Int>()
        let (_, initial) = try subscriptions.subscribe(try StateSelector(parsing: "$.items[?@.price < $.limit]"), subscriber: 1, document: document.root)
        #expect(initial == [["price": 3]])
        let change = try document.apply(.set(try JSONPointer("/limit"), 10))
        #expect(subscriptions.deliveries(forChangeAt: change.path, in: document.root).map(\.value) == [[["price": 3], ["price": 8]]])
    }

    @Test("removing an array element reaches the subscriptions of the elements after it")
    func arrayRemovalShifts() throws {
        var document = StateDocument(root: ["tabs": ["a", "b", "c"]])
        var subscriptions = StateSubscriptions<Int>()
        _ = try subscriptions.subscribe(try StateSelector(parsing: "/tabs/1"), subscriber: 1, document: document.root)
        _ = try subscriptions.subscribe(try StateSelector(parsing: "/tabs/0"), subscriber: 2, document: document.root)
        let change = try document.apply(.delete(try JSONPointer("/tabs/0")))
        let delivered = subscriptions.deliveries(forChangeAt: change.path, in: document.root)
        #expect(delivered.map(\.subscriber) == [1, 2])
        #expect(delivered.map(\.value) == ["c", "b"])
    }

    @Test("a JSONPath subscription delivers its node list when it changes")
    func jsonPathSelection() throws {
        var document = StateDocument(root: ["executions": ["e1": ["status": "done"]]])
        var subscriptions = StateSubscriptions<Int>()
        let selector = try StateSelector(parsing: "$.executions[?@.status=='running']")
        let (_, initial) = try subscriptions.subscribe(selector, subscriber: 1, document: document.root)
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
            _ = try subscriptions.subscribe(try StateSelector(parsing: "/workspace"), subscriber: connection, document: document.root)
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
