import Foundation
import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// `state.subscribe` against a real daemon: notifications only when the selected slice changes,
/// in revision order, with the right action; many subscribers; a subscriber that never reads.
@Suite("State subscriptions over the socket", .timeLimit(.minutes(2)))
struct StateSubscriptionTests {
    @Test("notifications come only when the selected slice changes, in revision order, with the action")
    func firesOnlyOnChange() throws {
        try withDaemon { daemon in
            let writer = try daemon.connect()
            let watcher = try daemon.connect()
            _ = try writer.result("state.set", ["path": "/settings/theme", "value": "light"])
            let subscribed = try watcher.result("state.subscribe", ["selector": "/settings/theme"])
            #expect(subscribed["value"] == "light" && subscribed["revision"] == 1, "\(subscribed)")
            let id = try #require(subscribed["subscription"])

            // Writes elsewhere, a sibling, and the same value again: nothing. The write that does
            // change the slice is the next frame, so none came before it.
            _ = try writer.result("state.set", ["path": "/workspace", "value": ["open": []]])
            _ = try writer.result("state.set", ["path": "/settings/font", "value": 12])
            _ = try writer.result("state.set", ["path": "/settings/theme", "value": "light"])
            _ = try writer.result("state.set", ["path": "/settings/theme", "value": "dark", "action": "choose theme"])
            #expect(try watcher.notification() == ["subscription": id, "value": "dark", "revision": 5, "action": "choose theme"])

            // A write above the path that changes it, then one that leaves it as it was.
            _ = try writer.result("state.merge", ["path": "/settings", "value": ["theme": "blue"], "action": "merge"])
            _ = try writer.result("state.set", ["path": "/settings", "value": ["theme": "blue", "font": 14]])
            _ = try writer.result("state.delete", ["path": "/settings"])
            #expect(try watcher.notification() == ["subscription": id, "value": "blue", "revision": 6, "action": "merge"])
            #expect(try watcher.notification() == ["subscription": id, "value": nil, "revision": 8, "action": nil])
            #expect(watcher.next(timeout: 0.2) == .timedOut)
        }
    }

    @Test("a JSONPath selector delivers the node list, only when the list changes")
    func jsonPathSelector() throws {
        try withDaemon { daemon in
            let writer = try daemon.connect()
            let watcher = try daemon.connect()
            let subscribed = try watcher.result("state.subscribe", ["selector": "$.executions[?@.status=='running']"])
            #expect(subscribed["value"] == [] && subscribed["revision"] == 0, "\(subscribed)")

            _ = try writer.result("state.set", ["path": "/executions/e1", "value": ["status": "running", "step": 1]])
            #expect(try watcher.notification()["value"] == [["status": "running", "step": 1]])
            _ = try writer.result("state.set", ["path": "/executions/e2", "value": ["status": "done"]])
            _ = try writer.result("state.set", ["path": "/executions/e3", "value": ["status": "running"]])
            let both = try watcher.notification()
            #expect(both["value"] == [["status": "running", "step": 1], ["status": "running"]], "\(both)")
            #expect(both["revision"] == 3, "the write to e2 selected nothing new: \(both)")
            _ = try writer.result("state.set", ["path": "/executions/e1/status", "value": "done"])
            #expect(try watcher.notification()["value"] == [["status": "running"]])
        }
    }

    @Test("removing or inserting an array element notifies the watchers of the elements it shifts")
    func arrayShifts() throws {
        try withDaemon { daemon in
            let writer = try daemon.connect()
            let watcher = try daemon.connect()
            _ = try writer.result("state.set", ["path": "/workspace/tabs", "value": ["a", "b", "c"]])
            let second = try #require(try watcher.result("state.subscribe", ["selector": "/workspace/tabs/1"])["subscription"])
            let last = try #require(try watcher.result("state.subscribe", ["selector": "$.workspace.tabs[-1]"])["subscription"])

            _ = try writer.result("state.delete", ["path": "/workspace/tabs/0"])  // ["b", "c"]
            #expect(try watcher.notification() == ["subscription": second, "value": "c", "revision": 2, "action": nil])
            _ = try writer.result("state.patch", ["path": "/workspace/tabs", "ops": [["op": "add", "path": "/0", "value": "z"]]])  // ["z", "b", "c"]
            #expect(try watcher.notification() == ["subscription": second, "value": "b", "revision": 3, "action": nil])
            _ = try writer.result("state.set", ["path": "/workspace/tabs/-", "value": "d"])  // ["z", "b", "c", "d"]
            #expect(try watcher.notification() == ["subscription": last, "value": ["d"], "revision": 4, "action": nil])
            // Replacing an element shifts nothing: the others' watchers hear nothing.
            _ = try writer.result("state.set", ["path": "/workspace/tabs/0", "value": "y"])
            #expect(watcher.next(timeout: 0.2) == .timedOut)
        }
    }

    @Test("fireImmediately false leaves the value out of the reply; changes still come")
    func fireImmediatelyFalse() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            _ = try connection.result("state.set", ["path": "/a", "value": 1])
            let subscribed = try connection.result("state.subscribe", ["selector": "/a", "fireImmediately": false])
            #expect(subscribed["value"] == nil, "\(subscribed)")
            #expect(subscribed["subscription"]?.intValue != nil && subscribed["revision"] == 1, "\(subscribed)")
            try connection.send(RPC.request("state.set", params: ["path": "/a", "value": 2], id: "w"))
            let frames = [try connection.readMessage(), try connection.readMessage()]
            let change = try #require(frames.first { $0["method"] == "state.changed" }, "\(frames)")
            #expect(change["params"]?["value"] == 2 && change["params"]?["revision"] == 2, "\(frames)")
            #expect(frames.contains { $0["id"] == "w" && $0["result"] == ["revision": 2] }, "\(frames)")
        }
    }

    @Test("unsubscribe stops the notifications; only the subscribing connection can end it")
    func unsubscribe() throws {
        try withDaemon { daemon in
            let writer = try daemon.connect()
            let watcher = try daemon.connect()
            let watched = try #require(try watcher.result("state.subscribe", ["selector": "/a"])["subscription"])
            let marker = try #require(try watcher.result("state.subscribe", ["selector": "/marker"])["subscription"])

            #expect(try writer.result("state.unsubscribe", ["subscription": watched]) == ["unsubscribed": false])
            _ = try writer.result("state.set", ["path": "/a", "value": 1])
            #expect(try watcher.notification()["subscription"] == watched)

            #expect(try watcher.result("state.unsubscribe", ["subscription": watched]) == ["unsubscribed": true])
            #expect(try watcher.result("state.unsubscribe", ["subscription": watched]) == ["unsubscribed": false])
            _ = try writer.result("state.set", ["path": "/a", "value": 2])
            _ = try writer.result("state.set", ["path": "/marker", "value": true])
            let next = try watcher.notification()
            #expect(next["subscription"] == marker && next["revision"] == 3, "the unsubscribed path still notified: \(next)")
        }
    }

    @Test("an invalid selector is -32602 and subscribes nothing", arguments: ["/a~2", "$[?", "$..", "no-slash"])
    func invalidSelector(selector: String) throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let error = try connection.error("state.subscribe", ["selector": .string(selector)], code: -32602)
            #expect(error["message"]?.stringValue?.contains("selector") == true, "\(error)")
            #expect(try connection.result("sidecar.metrics", [:])["state"]?["subscriptions"] == 0)
        }
    }

    @Test("100 subscribers on one path (10 connections × 10) all get the change")
    func hundredSubscribers() throws {
        try withDaemon { daemon in
            let watchers = try (0..<10).map { _ in try daemon.connect() }
            var expected: [[JSONValue]] = []
            for watcher in watchers {
                expected.append(try (0..<10).map { _ in
                    try #require(try watcher.result("state.subscribe", ["selector": "/shared/value"])["subscription"])
                })
            }
            #expect(Set(expected.joined()).count == 100, "subscription ids are unique")
            let writer = try daemon.connect()
            _ = try writer.result("state.set", ["path": "/shared/value", "value": "hello", "action": "greet"])
            for (index, watcher) in watchers.enumerated() {
                var received: [JSONValue] = []
                for _ in 0..<10 {
                    let change = try watcher.notification()
                    #expect(change["value"] == "hello" && change["revision"] == 1 && change["action"] == "greet", "\(change)")
                    received.append(try #require(change["subscription"]))
                }
                #expect(Set(received) == Set(expected[index]), "connection \(index)")
                #expect(watcher.next(timeout: 0.05) == .timedOut)
            }
        }
    }

    @Test("closing a connection ends its subscriptions (sidecar.metrics state.subscriptions)")
    func closingEndsSubscriptions() throws {
        try withDaemon { daemon in
            let observer = try daemon.connect()
            let watcher = try daemon.connect()
            for index in 0..<5 {
                _ = try watcher.result("state.subscribe", ["selector": .string("/p\(index)")])
            }
            #expect(try observer.result("sidecar.metrics", [:])["state"]?["subscriptions"] == 5)
            watcher.close()
            let dropped = try waitUntil(timeout: 5) {
                try observer.result("sidecar.metrics", [:])["state"]?["subscriptions"] == 0
            }
            #expect(dropped, "subscriptions of a closed connection are still counted")
            // Writes to the watched paths still work.
            #expect(try observer.result("state.set", ["path": "/p0", "value": 1]) == ["revision": 1])
        }
    }

    @Test("a connection holds at most 1000 subscriptions: the next is -32602 until one ends; another connection is not affected")
    func subscriptionsPerConnection() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            // Pipelined, to keep the test short.
            var bytes: [UInt8] = []
            for index in 0..<1_000 {
                bytes += WireFrame.bytes(RPC.request("state.subscribe", params: ["selector": .string("/items/\(index)"), "fireImmediately": false],
                                                     id: .int(Int64(index))))
            }
            try connection.write(bytes)
            var first: JSONValue = nil
            for _ in 0..<1_000 {
                let reply = try connection.readMessage(timeout: 10)
                #expect(reply["result"]?["subscription"] != nil, "\(reply)")
                if reply["id"] == 0 { first = reply["result"]?["subscription"] ?? nil }
            }
            let refused = try connection.error("state.subscribe", ["selector": "/more"], code: -32602)
            #expect(refused["message"]?.stringValue?.contains("holds 1000 subscriptions") == true, "\(refused)")
            #expect(try daemon.connect().result("state.subscribe", ["selector": "/more"])["subscription"] != nil)
            #expect(try connection.result("state.unsubscribe", ["subscription": first]) == ["unsubscribed": true])
            #expect(try connection.result("state.subscribe", ["selector": "/more"])["subscription"] != nil)
        }
    }

    @Test("a subscriber that never reads stalls neither the writer nor another subscriber, keeps the daemon small, and ends on the latest value")
    func slowSubscriberIsCoalesced() throws {
        try withDaemon { daemon in
            let sleeper = try daemon.connect()
            let id = try #require(try sleeper.result("state.subscribe", ["selector": "/big", "fireImmediately": false])["subscription"])
            let reader = try daemon.connect()
            _ = try reader.result("state.subscribe", ["selector": "/big", "fireImmediately": false])
            let writer = try daemon.connect()
            // Warm up so the first allocations are not counted as growth.
            _ = try writer.result("state.set", ["path": "/big", "value": Self.bigValue(0)])
            #expect(try reader.notification()["value"] == Self.bigValue(0))
            let residentBefore = try #require(ProcessStatus.residentBytes(of: daemon.pid))
            // Each write changes the value, so the last one (revision 20,001) always notifies.
            let finalRevision: Int64 = 20_001
            let background = BackgroundSubscriber(reader, untilRevision: finalRevision, timeout: 90)

            let changeCount = 20_000
            let window = 200
            let start = ContinuousClock.now
            var acknowledged = 0
            for first in stride(from: 1, through: changeCount, by: window) {
                let last = min(first + window - 1, changeCount)
                var bytes: [UInt8] = []
                for index in first...last {
                    bytes += WireFrame.bytes(RPC.request("state.set", params: ["path": "/big", "value": Self.bigValue(index)],
                                                         id: .int(Int64(index))))
                }
                try writer.write(bytes)
                for _ in first...last {
                    let reply = try writer.readMessage(timeout: 10)
                    if reply["result"]?["revision"] != nil { acknowledged += 1 } else { Issue.record("\(reply)") }
                }
            }
            let elapsed = ContinuousClock.now - start
            #expect(acknowledged == changeCount)
            #expect(elapsed < .seconds(60), "20,000 writes took \(elapsed)")
            let residentAfter = try #require(ProcessStatus.residentBytes(of: daemon.pid))
            #expect(residentAfter - residentBefore < 50 * 1024 * 1024, "VmRSS \(residentBefore) → \(residentAfter)")

            // Pipelined requests run concurrently, so the last value sent need not be the last
            // one applied: the latest is what the document holds.
            let current = try writer.result("state.get", ["path": "/big"])
            #expect(current["revision"] == .int(finalRevision))
            let latest = try #require(current["value"])

            // The subscriber that reads got to the latest value, in order.
            let outcome = background.wait()
            #expect(outcome.lastValue == latest, "the reading subscriber stopped after \(outcome.count) notifications: \(outcome.problems)")
            #expect(outcome.problems.isEmpty, "\(outcome.problems)")

            // Now it reads: revisions only grow, and the last one is the latest value.
            var last: JSONValue?
            var received = 0
            var previousRevision: Int64 = 0
            let deadline = Deadline(seconds: 10)
            var ending = RawConnection.Event.timedOut
            while previousRevision < finalRevision, !deadline.hasPassed {
                ending = sleeper.next(timeout: Double(deadline.remainingMilliseconds) / 1000)
                guard case .frame(let body) = ending else { break }
                let message = try JSONParser.parse(bytes: body)
                let params = try #require(message["params"], "\(message)")
                #expect(params["subscription"] == id)
                let revision = try #require(params["revision"]?.intValue)
                #expect(revision > previousRevision, "out of order: \(revision) after \(previousRevision)")
                previousRevision = revision
                last = params["value"]
                received += 1
            }
            #expect(last == latest, "after \(received) notifications (last revision \(previousRevision)), \(ending)")
            #expect(sleeper.next(timeout: 0.2) == .timedOut, "a notification after the latest value")
            #expect(received < changeCount, "nothing was coalesced")
            let metrics = try writer.result("sidecar.metrics", [:])
            #expect((metrics["notifications"]?["coalesced"]?.intValue ?? 0) > 0, "\(String(describing: metrics["notifications"]))")
        }
    }

    /// About 1 KB, different for each `index`.
    private static func bigValue(_ index: Int) -> JSONValue {
        ["index": .int(Int64(index)), "text": .string(String(repeating: "x", count: 1000))]
    }
}

/// A subscriber read on its own thread while the test writes: it reads `state.changed`
/// notifications until one carries `finalRevision`, checking that revisions only grow.
private final class BackgroundSubscriber: @unchecked Sendable {
    struct Outcome {
        var lastValue: JSONValue?
        var count = 0
        var problems: [String] = []
    }

    private let finished = DispatchSemaphore(value: 0)
    // Written only by the reading thread before `finished` is signalled; read only after.
    private var outcome = Outcome()

    init(_ connection: RawConnection, untilRevision finalRevision: Int64, timeout: Double) {
        let box = UncheckedConnection(connection)
        DispatchQueue.global().async { [self] in
            let deadline = Deadline(seconds: timeout)
            var previous: Int64 = 0
            while !deadline.hasPassed {
                let event = box.connection.next(timeout: Double(deadline.remainingMilliseconds) / 1000)
                guard case .frame(let body) = event else {
                    outcome.problems.append("\(event)")
                    break
                }
                guard let params = (try? JSONParser.parse(bytes: body))?["params"], let revision = params["revision"]?.intValue else {
                    outcome.problems.append("not a notification: \(String(decoding: body, as: UTF8.self).prefix(200))")
                    break
                }
                if revision <= previous { outcome.problems.append("revision \(revision) after \(previous)") }
                previous = revision
                outcome.count += 1
                outcome.lastValue = params["value"]
                if revision >= finalRevision { break }
            }
            finished.signal()
        }
    }

    /// Waits for the reading thread to stop and returns what it saw.
    func wait() -> Outcome {
        finished.wait()
        return outcome
    }
}

/// A connection handed to one other thread, which alone uses it until it is done.
private struct UncheckedConnection: @unchecked Sendable {
    let connection: RawConnection
    init(_ connection: RawConnection) { self.connection = connection }
}

extension RawConnection {
    /// The next frame, which must be a `state.changed` notification; returns its params.
    func notification(timeout: Double = 5, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
        let message = try readMessage(timeout: timeout)
        #expect(message["method"] == "state.changed" && message["id"] == nil, "\(message)", sourceLocation: sourceLocation)
        return try #require(message["params"], "\(message)", sourceLocation: sourceLocation)
    }
}
