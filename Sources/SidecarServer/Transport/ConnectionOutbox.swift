import NIOCore
import OrderedCollections
import SidecarProtocol

/// What a connection has to send, as a value: encoded frames waiting for the end of the read
/// burst, and the notifications held while the peer is not reading.
///
/// Responses are never dropped or merged. Notifications are: while the connection is not
/// writable, at most one is held per coalescing key, the newest, so a slow reader costs
/// memory bounded by its keys (a state subscription's slice, a task), never by how often
/// things change. A key can stand for each of many tasks, so the held notifications are also
/// bounded in bytes: past ``maximumHeldBytes`` the connection is to be closed, as one whose
/// responses pile up is.
struct ConnectionOutbox {
    /// What became of a notification handed to ``enqueue(_:coalescingKey:writable:)``.
    enum NotificationOutcome: Equatable {
        /// Encoded, to go out with the next flush.
        case queued
        /// Held until the connection is writable again.
        case held
        /// Held in place of an older one with the same key, which will never be sent.
        case replacedOlder
        /// Not held: the notifications held already take ``ConnectionOutbox/maximumHeldBytes``.
        /// The peer has stopped reading; close the connection.
        case overflowed
    }

    /// The most capacity kept between bursts; a buffer that a large response grew is let go.
    static let retainedCapacity = 64 * 1024
    private static let initialCapacity = 4096

    /// The most bytes of encoded notifications held for a peer that is not reading, and the
    /// largest answer sent: a larger one is replaced by a `-32008` error before it is written
    /// out (it could never get past the outbound cap, and writing it out could take gigabytes).
    let maximumHeldBytes: Int
    private var pending: [UInt8] = []
    /// Held notifications, as encoded frames, newest per key.
    private var held: OrderedDictionary<String, [UInt8]> = [:]
    private(set) var heldBytes = 0

    init(maximumHeldBytes: Int = 8 * 1024 * 1024) {
        self.maximumHeldBytes = maximumHeldBytes
        pending.reserveCapacity(Self.initialCapacity)
    }

    /// Whether encoded frames wait for a flush.
    var hasPendingBytes: Bool { !pending.isEmpty }

    /// The capacity kept for encoding, whatever is in use.
    var reservedBytes: Int { pending.capacity }

    /// The number of notifications held for a reader that is behind.
    var heldCount: Int { held.count }

    /// Encodes `response` as a frame to go out with the next flush, or a `-32008` error in its
    /// place when its result would take more than ``maximumHeldBytes`` of JSON (measured, not
    /// written, to find out).
    mutating func append(_ response: RPCResponse) {
        if case .success(let result) = response.outcome, result.encodedSize(upTo: maximumHeldBytes) == nil {
            Frame.write(RPCResponse(id: response.id, error: .replyTooLarge(maximum: maximumHeldBytes)), into: &pending)
            return
        }
        Frame.write(response, into: &pending)
    }

    /// Writes a response whose result is JSON text already, as a frame to go out with the next
    /// flush (or a `-32008` error, as ``append(_:)``).
    mutating func append(id: RPCID, encodedResult: EncodedJSON) {
        guard encodedResult.bytes.count <= maximumHeldBytes else {
            Frame.write(RPCResponse(id: id, error: .replyTooLarge(maximum: maximumHeldBytes)), into: &pending)
            return
        }
        Frame.write(id: id, encodedResult: encodedResult, into: &pending)
    }

    /// Encodes a batch reply as one frame to go out with the next flush.
    mutating func append(batch responses: [RPCResponse]) {
        Frame.write(batch: responses, into: &pending)
    }

    /// Queues `notification` when the connection is writable; otherwise holds it, newest per key,
    /// unless that would hold more than ``maximumHeldBytes``.
    mutating func enqueue(_ notification: RPCNotification, coalescingKey: String, writable: Bool) -> NotificationOutcome {
        // One larger than the bound could be neither held nor sent past the outbound cap.
        if let params = notification.params, params.encodedSize(upTo: maximumHeldBytes) == nil { return .overflowed }
        guard writable else {
            var frame: [UInt8] = []
            Frame.write(notification.jsonValue, into: &frame)
            let replacedBytes = held[coalescingKey]?.count ?? 0
            guard heldBytes - replacedBytes + frame.count <= maximumHeldBytes else { return .overflowed }
            heldBytes += frame.count - replacedBytes
            return held.updateValue(frame, forKey: coalescingKey) == nil ? .held : .replacedOlder
        }
        Frame.write(notification.jsonValue, into: &pending)
        return .queued
    }

    /// Queues every held notification, in the order their keys were first held.
    /// - Returns: how many were queued.
    mutating func releaseHeld() -> Int {
        let count = held.count
        for frame in held.values {
            pending.append(contentsOf: frame)
        }
        held.removeAll()
        heldBytes = 0
        return count
    }

    /// Moves the pending frames into `buffer` (cleared first, so its storage is reused once
    /// the channel has let go of it).
    /// - Returns: the number of bytes moved.
    mutating func drain(into buffer: inout ByteBuffer) -> Int {
        let count = pending.count
        buffer.clear()
        buffer.writeBytes(pending)
        if pending.capacity > Self.retainedCapacity {
            pending = []
            pending.reserveCapacity(Self.initialCapacity)
        } else {
            pending.removeAll(keepingCapacity: true)
        }
        return count
    }

    /// Forgets everything: the connection has closed.
    mutating func discard() {
        pending.removeAll()
        held.removeAll()
        heldBytes = 0
    }
}
