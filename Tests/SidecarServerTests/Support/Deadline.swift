import Glibc

/// A point in time a wait must not pass, on the monotonic clock.
struct Deadline {
    private let instant: ContinuousClock.Instant

    init(seconds: Double) {
        instant = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    }

    var hasPassed: Bool { ContinuousClock.now >= instant }

    /// What is left, in whole milliseconds (at least 0), as `poll(2)` takes it.
    var remainingMilliseconds: Int32 {
        let remaining = instant - ContinuousClock.now
        let milliseconds = remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, milliseconds))
    }
}

/// Checks `condition` every `interval` seconds until it holds or `timeout` seconds have passed.
/// - Returns: whether the condition held in time.
func waitUntil(timeout: Double, interval: Double = 0.01, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Deadline(seconds: timeout)
    while true {
        if try condition() { return true }
        if deadline.hasPassed { return false }
        pause(seconds: interval)
    }
}

/// Blocks the calling thread; for pacing writes and polling loops, never to wait for an event.
func pause(seconds: Double) {
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR {
        request = remaining
    }
}
