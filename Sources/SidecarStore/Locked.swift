import Foundation

/// A value guarded by a lock: the single owner of state that GRDB's connection queues and
/// Swift tasks touch concurrently.
///
/// The store's metrics and its queue of pending writes are updated from GRDB's trace hooks,
/// which run synchronously on each connection's own dispatch queue, so an actor (which would
/// need an `await` that a C callback cannot make) does not fit. Critical sections are a few
/// arithmetic operations and never call out while holding the lock.
///
/// `Synchronization.Mutex` would do the same but needs macOS 15 and the package supports 14.
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked: every access to `value` goes through `lock`.
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
