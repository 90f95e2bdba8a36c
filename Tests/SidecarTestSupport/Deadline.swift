import Glibc

/// A point in time a wait must not pass, on the monotonic clock.
///
/// ```swift
/// let deadline = Deadline(seconds: 5)
/// while !ready() && !deadline.hasPassed { pause(seconds: 0.01) }
/// ```
public struct Deadline: Sendable {
    private let instant: ContinuousClock.Instant

    /// A deadline `seconds` from now.
    public init(seconds: Double) {
        instant = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    }

    /// Whether the deadline is now or in the past.
    public var hasPassed: Bool { ContinuousClock.now >= instant }

    /// What is left, in whole milliseconds (at least 0), as `poll(2)` takes it.
    public var remainingMilliseconds: Int32 {
        let remaining = instant - ContinuousClock.now
        let milliseconds = remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, milliseconds))
    }
}

/// Checks `condition` every `interval` seconds until it holds or `timeout` seconds have passed.
/// - Parameters:
///   - timeout: how long to keep checking, in seconds.
///   - interval: the pause between checks, in seconds.
///   - condition: the check; an error it throws ends the wait.
/// - Returns: whether the condition held in time.
public func waitUntil(timeout: Double, interval: Double = 0.01, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Deadline(seconds: timeout)
    while true {
        if try condition() { return true }
        if deadline.hasPassed { return false }
        pause(seconds: interval)
    }
}

/// ``waitUntil(timeout:interval:_:)`` for async tests: checks `condition` every `interval`
/// seconds until it holds or `timeout` seconds have passed, suspending (not blocking a
/// thread) between checks.
/// - Returns: whether the condition held in time.
public func pollUntil(timeout: Double, interval: Double = 0.02, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Deadline(seconds: timeout)
    while true {
        if try await condition() { return true }
        if deadline.hasPassed { return false }
        try? await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
    }
}

/// Blocks the calling thread; for pacing writes and polling loops, never to wait for an event.
public func pause(seconds: Double) {
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR {
        request = remaining
    }
}
