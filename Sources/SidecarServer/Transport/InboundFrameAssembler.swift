import NIOCore
import SidecarProtocol

/// Cuts the inbound byte stream at frame boundaries, as a value the connection handler owns.
///
/// Whole frames are handed out as slices of the read buffer (no copy). Only a frame split
/// across reads is carried over, copied into a buffer of its own, so a few trailing bytes
/// never pin the channel's receive buffer. Each length prefix is checked against the limit
/// as soon as it arrives, before any of its body is buffered; after an oversized prefix the
/// stream can no longer be trusted and nothing more is read from it.
///
/// The connection handler cuts frames itself rather than through a `ByteToMessageHandler`
/// stage: one pipeline event per read, and no accumulation buffer in the common case where
/// a read ends on a frame boundary.
///
/// ```swift
/// frames.append(bytes)
/// while let frame = try frames.next(allocator: allocator) { handle(frame) }
/// ```
struct InboundFrameAssembler {
    /// Why the stream stopped: a prefix stated more than the limit.
    struct FrameTooLarge: Error {
        var length: UInt64
    }

    private let decoder: FrameDecoder
    /// The bytes being cut: the latest read, after what earlier reads left over.
    private var buffer: ByteBuffer?
    /// Whether ``buffer`` is a buffer of our own (carried over) rather than the channel's.
    private var isOwn = false
    private var failed = false

    init(maximumFrameLength: Int) {
        self.decoder = FrameDecoder(maximumFrameLength: maximumFrameLength)
    }

    /// Bytes held for a frame that has not fully arrived.
    var carriedBytes: Int { buffer?.readableBytes ?? 0 }

    /// Adds a read's bytes after whatever is left of the earlier ones.
    mutating func append(_ bytes: ByteBuffer) {
        guard !failed else { return }
        if var carried = buffer.take() {
            var bytes = bytes
            carried.writeBuffer(&bytes)
            buffer = carried
        } else {
            buffer = bytes
            isOwn = false
        }
    }

    /// The body of the next whole frame, or `nil` when the rest has not arrived yet (the
    /// incomplete tail is then kept, in a buffer of its own, for the next read).
    /// - Throws: ``FrameTooLarge`` for a prefix above the limit; nothing more is returned after it.
    mutating func next(allocator: ByteBufferAllocator) throws(FrameTooLarge) -> ByteBuffer? {
        guard var bytes = buffer.take() else { return nil }
        switch decoder.decode(&bytes) {
        case .frame(let frame):
            buffer = bytes
            return frame
        case .tooLarge(let length):
            failed = true
            throw FrameTooLarge(length: length)
        case .needMoreData:
            carry(bytes, allocator: allocator)
            return nil
        }
    }

    /// Keeps the incomplete frame at the front of `bytes` in a buffer of our own with room for
    /// all of it. A buffer carried before that still holds just this frame simply keeps growing.
    private mutating func carry(_ bytes: ByteBuffer, allocator: ByteBufferAllocator) {
        guard bytes.readableBytes > 0 else { return }
        var bytes = bytes
        let stated = bytes.getInteger(at: bytes.readerIndex, endianness: .big, as: UInt32.self).map(Int.init) ?? 0
        let whole = Frame.prefixLength + stated
        if isOwn, bytes.readerIndex == 0, bytes.capacity >= whole {
            buffer = bytes
            return
        }
        var own = allocator.buffer(capacity: max(whole, bytes.readableBytes))
        own.writeBuffer(&bytes)
        buffer = own
        isOwn = true
    }

    /// Forgets a partial frame: its sender has gone, and there is no one to answer.
    mutating func discard() {
        buffer = nil
    }
}
