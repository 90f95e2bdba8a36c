import NIOCore

extension EventLoop {
    /// Runs `body` on this loop and returns its future: at once when the caller is already on
    /// the loop (no hop, no allocation for the hop), else after what is queued there. A thrown
    /// error becomes a failed future.
    ///
    /// The services that own their state on one event loop (state, cache, tasks) enter it
    /// through this, so a request from a connection on the same loop never changes thread.
    public func onLoop<T: Sendable>(_ body: @escaping @Sendable () throws -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        guard inEventLoop else {
            return flatSubmit { self.onLoop(body) }
        }
        do {
            return try body()
        } catch {
            return makeFailedFuture(error)
        }
    }
}
