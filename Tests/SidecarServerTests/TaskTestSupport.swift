import Foundation
import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

// MARK: - Waiting without blocking

/// Suspends for `seconds`: only to let time pass that the test measures (a lease, a downtime),
/// never to wait for something that can be polled.
func letTimePass(_ seconds: Double) async {
    try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
}

/// Nothing came, or the connection closed, while a test waited for a frame.
struct NoMessage: Error, CustomStringConvertible {
    var description: String
}

// MARK: - Calling tasks methods

extension RawConnection {
    /// The next message, waited for by polling the socket and suspending between polls, so
    /// that a long poll (`tasks.claim` with `wait`, `tasks.wait`) holds no thread.
    /// - Throws: ``NoMessage`` when nothing comes within `timeout` seconds or the connection closes.
    func nextMessage(within timeout: Double) async throws -> JSONValue {
        let deadline = Deadline(seconds: timeout)
        while true {
            switch next(timeout: 0) {
            case .frame(let bytes):
                return try JSONParser.parse(bytes: bytes)
            case .closed:
                throw NoMessage(description: "the daemon closed the connection")
            case .timedOut:
                if deadline.hasPassed { throw NoMessage(description: "no message within \(timeout) s") }
                try await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    /// Sends a request and waits, suspending, for its reply (whole message).
    func reply(_ method: String, _ params: JSONValue, id: JSONValue = 1, within timeout: Double = 10) async throws -> JSONValue {
        try send(RPC.request(method, params: params, id: id))
        return try await nextMessage(within: timeout)
    }

    /// Sends a request and waits, suspending, for its result; fails the test on an error reply.
    func awaitResult(
        _ method: String,
        _ params: JSONValue,
        within timeout: Double = 10,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        let message = try await reply(method, params, within: timeout)
        return try #require(message["result"], "\(method) \(params): \(message)", sourceLocation: sourceLocation)
    }

    /// `tasks.submit`, expecting a new task; returns its id.
    func submitTask(_ params: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let reply = try result("tasks.submit", params, sourceLocation: sourceLocation)
        #expect(reply["created"] == true, "tasks.submit \(params): \(reply)", sourceLocation: sourceLocation)
        return try #require(reply["id"]?.stringValue, "tasks.submit \(params): \(reply)", sourceLocation: sourceLocation)
    }

    /// `tasks.submitMany`, expecting every task new; returns their ids in order. Waiting for a
    /// big batch's commit suspends rather than blocks.
    func submitTasks(_ tasks: [JSONValue], sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String] {
        let reply = try await reply("tasks.submitMany", ["tasks": .array(tasks)], within: 30)
        let results = try #require(reply["result"]?["tasks"]?.arrayValue, "tasks.submitMany: \(reply)", sourceLocation: sourceLocation)
        #expect(results.count == tasks.count, sourceLocation: sourceLocation)
        #expect(results.allSatisfy { $0["created"] == true }, "\(reply)", sourceLocation: sourceLocation)
        return results.compactMap { $0["id"]?.stringValue }
    }

    /// `tasks.get`.
    func task(_ id: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
        try result("tasks.get", ["id": .string(id)], sourceLocation: sourceLocation)
    }

    /// Polls `tasks.get` until the task satisfies `condition`, suspending between polls.
    /// - Returns: the task as last read.
    @discardableResult
    func waitForTask(
        _ id: String,
        timeout: Double = 10,
        sourceLocation: SourceLocation = #_sourceLocation,
        until condition: (JSONValue) -> Bool
    ) async throws -> JSONValue {
        var last: JSONValue = nil
        let reached = try await pollUntil(timeout: timeout) {
            last = try task(id, sourceLocation: sourceLocation)
            return condition(last)
        }
        #expect(reached, "task \(id) did not get there within \(timeout) s: \(last)", sourceLocation: sourceLocation)
        return last
    }

    /// Polls `tasks.get` until the task's status is `status`.
    @discardableResult
    func waitForTask(
        _ id: String,
        status: String,
        timeout: Double = 10,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        try await waitForTask(id, timeout: timeout, sourceLocation: sourceLocation) { $0["status"] == .string(status) }
    }

    /// Every task `tasks.list` returns for `filter`, page by page (`limit` 1000).
    func allTasks(_ filter: JSONObject = [:], sourceLocation: SourceLocation = #_sourceLocation) throws -> [JSONValue] {
        var tasks: [JSONValue] = []
        var after: String?
        repeat {
            var params = filter
            params["limit"] = 1000
            if let after { params["after"] = .string(after) }
            let page = try result("tasks.list", .object(params), sourceLocation: sourceLocation)
            tasks += page["tasks"]?.arrayValue ?? []
            after = page["next"]?.stringValue
        } while after != nil
        return tasks
    }

    /// `tasks.schedules`' entry for `name`, if any.
    func schedule(named name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue? {
        let schedules = try result("tasks.schedules", [:], sourceLocation: sourceLocation)["schedules"]?.arrayValue ?? []
        return schedules.first { $0["name"] == .string(name) }
    }

    /// Calls `method` and expects `-32602` naming `field` in `data.field`.
    func expectInvalid(
        _ method: String,
        _ params: JSONValue,
        field: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let error = try error(method, params, code: -32602, sourceLocation: sourceLocation)
        #expect(error["data"]?["field"] == .string(field), "\(method) \(params): \(error)", sourceLocation: sourceLocation)
        // The message names the member; which element of a batch it is in is data.field's job.
        let member = field.hasPrefix("tasks[") ? String(field.drop { $0 != "." }.dropFirst()) : field
        #expect(error["message"]?.stringValue?.contains(member) == true, "the message names \(member): \(error)", sourceLocation: sourceLocation)
    }
}

// MARK: - Timing that must not depend on the cooperative pool

/// A value handed to one other thread, which alone uses it until it is done.
struct Handoff<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Runs `body` on a thread of its own and suspends until it returns: for a loop whose timing
/// matters (heartbeats within a lease), which must not wait for a turn on the cooperative
/// pool while other tests occupy it.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.start()
    }
}

// MARK: - Task JSON

/// An `exec` task's params running `sh -c script`, with `extra` members (priority, timeout…).
func shellTask(_ script: String, _ extra: JSONObject = [:]) -> JSONValue {
    var task: JSONObject = ["kind": "exec", "payload": ["argv": ["sh", "-c", .string(script)]]]
    task.merge(extra) { _, new in new }
    return .object(task)
}

/// The instant a task time (`createdAt`, `startedAt`, `errors[].at`…) stands for: RFC 3339 in UTC
/// with milliseconds, `2026-11-25T14:30:00.123Z`.
func taskTime(_ value: JSONValue?) -> Date? {
    guard let text = value?.stringValue else { return nil }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let date = formatter.date(from: text) { return date }
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.date(from: text)
}

/// `date` as RFC 3339 in UTC with milliseconds, as `runAt` and `at` take it.
func rfc3339(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: date)
}

/// Seconds from `earlier` to `later`, two task times.
func secondsBetween(_ earlier: JSONValue?, _ later: JSONValue?) -> Double? {
    guard let start = taskTime(earlier), let end = taskTime(later) else { return nil }
    return end.timeIntervalSince(start)
}

// MARK: - Processes an exec task started

/// The pid a task's shell wrote to `path`, once it is there.
func pidWritten(to path: String) -> pid_t? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8),
        let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1
    else { return nil }
    return pid
}

/// Whether `pid` is gone: `kill(pid, 0)` fails, or only a zombie is left (an orphan whose
/// reaper has not come by yet is dead all the same).
func processIsGone(_ pid: pid_t) -> Bool {
    if kill(pid, 0) != 0 { return errno == ESRCH }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return true }
    let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
    return state == "Z" || state == "X"
}

// MARK: - Daemons

/// ``withDaemon(_:environment:_:)-async`` whatever `body` awaits: waiting for the daemon to be
/// ready suspends rather than blocks, also for a test body that never awaits (which would
/// otherwise pick the blocking overload).
func withTaskDaemon<T>(_ arguments: [String] = [], _ body: (DaemonProcess) async throws -> T) async throws -> T {
    try await withDaemon(arguments, environment: [:], body)
}
