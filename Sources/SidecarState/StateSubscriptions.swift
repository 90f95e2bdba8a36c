import OrderedCollections
import SidecarProtocol

/// The subscriptions to slices of the state document, as a value: each remembers the value it
/// last delivered, and a change produces a notification only for those whose selected value
/// changed (deep JSON equality), never for writes elsewhere.
public struct StateSubscriptions<Subscriber: Sendable>: Sendable {
    /// One subscription's delivery: the subscriber and the newly selected value.
    public struct Delivery: Sendable {
        public var id: UInt64
        public var subscriber: Subscriber
        public var value: JSONValue
    }

    private struct Entry: Sendable {
        var selector: StateSelector
        var subscriber: Subscriber
        var lastValue: JSONValue
    }

    /// In subscription order (ids only grow), so a change walks them without sorting.
    private var entries: OrderedDictionary<UInt64, Entry> = [:]
    private var nextID: UInt64 = 1

    public init() {}

    /// The number of live subscriptions.
    public var count: Int { entries.count }

    /// The number of live subscriptions whose subscriber `belongs` accepts.
    public func count(where belongs: (Subscriber) -> Bool) -> Int {
        entries.values.reduce(0) { $0 + (belongs($1.subscriber) ? 1 : 0) }
    }

    /// Adds a subscription and returns its id and the currently selected value.
    /// - Throws: ``StateError/invalid(_:operationIndex:)`` when the selector is too costly to
    ///   evaluate (see ``JSONPath/maximumNodes``); nothing is added then.
    public mutating func subscribe(
        _ selector: StateSelector,
        subscriber: Subscriber,
        document: JSONValue
    ) throws(StateError) -> (id: UInt64, value: JSONValue) {
        guard let value = selector.select(in: document) else { throw StateError.selectorTooCostly }
        let id = nextID
        nextID += 1
        entries[id] = Entry(selector: selector, subscriber: subscriber, lastValue: value)
        return (id, value)
    }

    /// Removes a subscription; returns whether it existed.
    @discardableResult
    public mutating func unsubscribe(_ id: UInt64) -> Bool {
        entries.removeValue(forKey: id) != nil
    }

    /// Removes a subscription if `owner` accepts its subscriber; returns whether it did.
    public mutating func unsubscribe(_ id: UInt64, ifOwnedBy owner: (Subscriber) -> Bool) -> Bool {
        guard let entry = entries[id], owner(entry.subscriber) else { return false }
        entries[id] = nil
        return true
    }

    /// Removes every subscription of which `belongs` is true (a closed connection's).
    public mutating func removeAll(where belongs: (Subscriber) -> Bool) {
        entries.removeAll { belongs($0.value.subscriber) }
    }

    /// The deliveries a change at `changed` causes in `document` (the document after it),
    /// in subscription order; each subscription remembers its new value.
    public mutating func deliveries(forChangeAt changed: JSONPointer, in document: JSONValue) -> [Delivery] {
        guard !entries.isEmpty else { return [] }
        // Inserting or removing an array element moves the elements after it: the change
        // reaches the whole array. (Replacing one moves nothing, and a subscription whose
        // value stayed the same is not notified, so widening costs only the comparison.)
        let reach = document.value(at: changed, droppingLast: 1)?.arrayValue != nil ? changed.parent ?? changed : changed
        var deliveries: [Delivery] = []
        for index in entries.values.indices {
            let entry = entries.values[index]
            guard entry.selector.mayBeAffected(byChangeAt: reach) else { continue }
            // One that comes to select too many nodes is not notified until it selects fewer.
            guard let value = entry.selector.select(in: document), value != entry.lastValue else { continue }
            entries.values[index].lastValue = value
            deliveries.append(Delivery(id: entries.keys[index], subscriber: entry.subscriber, value: value))
        }
        return deliveries
    }
}
