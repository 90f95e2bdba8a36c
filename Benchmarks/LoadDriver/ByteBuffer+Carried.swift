import NIOCore

extension ByteBuffer {
    /// These bytes after `carried`, what an earlier read left unparsed (taken: it is `nil`
    /// afterwards); just these bytes when nothing was carried.
    ///
    /// ```swift
    /// var buffer = unwrapInboundIn(data).appended(to: &partial)
    /// ```
    func appended(to carried: inout ByteBuffer?) -> ByteBuffer {
        guard var pending = carried.take() else { return self }
        pending.discardReadBytes()
        var bytes = self
        pending.writeBuffer(&bytes)
        return pending
    }
}
