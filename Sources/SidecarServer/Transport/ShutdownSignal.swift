import Atomics

/// Set once when a graceful shutdown begins, and read by every connection before it starts
/// a request: from then on no new request starts, even on a connection whose quiesce event
/// has not reached it yet.
final class ShutdownSignal: Sendable {
    private let flag = ManagedAtomic<Bool>(false)

    func trigger() {
        flag.store(true, ordering: .releasing)
    }

    var isTriggered: Bool {
        flag.load(ordering: .acquiring)
    }
}
