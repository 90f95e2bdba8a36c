import Foundation
import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// Many requests on one connection, and many connections at once.
@Suite("Pipelining and concurrency", .timeLimit(.minutes(1)))
struct PipeliningTests {
    @Test("1000 requests written in one go are all answered, each with its own id and result")
    func thousandPipelinedRequests() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            var bytes: [UInt8] = []
            var expected: [JSONValue: JSONValue] = [:]
            for index in 1...1000 {
                let id = JSONValue.int(Int64(index))
                if index.isMultiple(of: 3) {
                    bytes += WireFrame.bytes(RPC.echo(.string("value \(index)"), id: id))
                    expected[id] = .string("value \(index)")
                } else {
                    bytes += WireFrame.bytes(RPC.request("sidecar.ping", id: id))
                    expected[id] = "pong"
                }
            }
            try connection.write(bytes)
            var seen = Set<JSONValue>()
            for _ in 1...1000 {
                let reply = try connection.readMessage()
                let id = try #require(reply["id"])
                #expect(seen.insert(id).inserted, "id \(id) answered twice")
                #expect(reply["result"] == expected[id], "\(reply)")
            }
            #expect(seen == Set(expected.keys))
            #expect(connection.next(timeout: 0.1) == .timedOut, "more replies than requests")
        }
    }

    @Test("a slow echo does not hold up a ping sent after it on the same connection")
    func outOfOrderResponses() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let start = ContinuousClock.now
            try connection.write(
                WireFrame.bytes(RPC.echo("slow", delayMs: 300, id: "slow"))
                    + WireFrame.bytes(RPC.request("sidecar.ping", id: "fast"))
            )
            // Had the ping waited for the echo, the echo's answer would come first.
            expectResult(try connection.readMessage(), "pong", id: "fast")
            expectResult(try connection.readMessage(), "slow", id: "slow")
            #expect(ContinuousClock.now - start >= .milliseconds(300), "the echo did not wait its delay")
        }
    }

    @Test("a batch waiting for a slow member does not hold up a request sent after it")
    func slowBatchDoesNotBlock() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let batch: JSONValue = [
                RPC.request("sidecar.ping", id: "b1"),
                RPC.echo("slow", delayMs: 300, id: "b2"),
            ]
            try connection.write(WireFrame.bytes(batch) + WireFrame.bytes(RPC.request("sidecar.ping", id: "after")))
            expectResult(try connection.readMessage(), "pong", id: "after")
            let replies = try #require(try connection.readMessage().arrayValue)
            #expect(replies.count == 2)
            expectResult(try #require(replies.first { $0["id"] == "b1" }), "pong", id: "b1")
            expectResult(try #require(replies.first { $0["id"] == "b2" }), "slow", id: "b2")
        }
    }

    @Test("200 concurrent connections each doing a few pings are all answered")
    func twoHundredConnections() throws {
        try raiseOpenFileLimit(to: 1024)
        try withDaemon { daemon in
            let connections = try (0..<200).map { _ in try daemon.connect() }
            defer { connections.forEach { $0.close() } }
            let failures = FailureLog()
            let perThread = OnePerIteration(connections)
            DispatchQueue.concurrentPerform(iterations: connections.count) { index in
                let connection = perThread.values[index]
                do {
                    for round in 0..<3 {
                        var bytes: [UInt8] = []
                        for request in 0..<3 {
                            bytes += WireFrame.bytes(RPC.request("sidecar.ping", id: .string("\(index)-\(round)-\(request)")))
                        }
                        try connection.write(bytes)
                        for request in 0..<3 {
                            let reply = try connection.readMessage(timeout: 10)
                            if reply["id"] != .string("\(index)-\(round)-\(request)") || reply["result"] != "pong" {
                                failures.record("connection \(index): unexpected \(reply)")
                            }
                        }
                    }
                } catch {
                    failures.record("connection \(index): \(error)")
                }
            }
            #expect(failures.entries.isEmpty, "\(failures.entries.prefix(5))")
            // All 200 are still open and served: the daemon counts every one of them.
            let status = try connections[0].call("sidecar.status")
            #expect((status["result"]?["connections"]?.intValue ?? 0) >= 200, "\(status)")
        }
    }

    private func raiseOpenFileLimit(to wanted: rlim_t) throws {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { throw SystemCallError("getrlimit") }
        guard limit.rlim_cur < wanted else { return }
        limit.rlim_cur = min(wanted, limit.rlim_max)
        guard setrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { throw SystemCallError("setrlimit") }
    }
}

/// RLIMIT_NOFILE, which Glibc imports as an enum case.
private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

/// Values handed to `concurrentPerform`, where iteration `i` alone touches `values[i]`.
private struct OnePerIteration<Value>: @unchecked Sendable {
    let values: [Value]
    init(_ values: [Value]) { self.values = values }
}

/// Failures recorded from several threads.
private final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [String] = []

    func record(_ entry: String) { lock.withLock { recorded.append(entry) } }
    var entries: [String] { lock.withLock { recorded } }
}
