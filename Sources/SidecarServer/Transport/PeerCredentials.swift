#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// The user and process on the other end of a Unix socket, as the kernel reports them
/// (`SO_PEERCRED`); a client cannot forge them.
struct PeerCredentials: Sendable, Hashable {
    var uid: UInt32
    var gid: UInt32
    var pid: Int32

    /// Reads the credentials of `channel`'s peer.
    static func read(from channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(PeerCredentialsUnavailable())
        }
        let future: EventLoopFuture<KernelCredentials> = provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return future.map { PeerCredentials(uid: $0.uid, gid: $0.gid, pid: $0.pid) }
    }

    /// Linux's `struct ucred` (`pid_t pid; uid_t uid; gid_t gid;`), which Glibc's Swift module
    /// does not export because it sits behind `_GNU_SOURCE`.
    private struct KernelCredentials: Sendable {
        var pid: Int32
        var uid: UInt32
        var gid: UInt32
    }
}

struct PeerCredentialsUnavailable: Error, CustomStringConvertible {
    var description: String { "the connection does not report peer credentials" }
}

/// Who may use the daemon: its own user, root, and any uid allowed by `--allow-uid`.
struct PeerPolicy: Sendable {
    var ownerUID: UInt32
    var allowedUIDs: Set<UInt32>

    func allows(_ uid: UInt32) -> Bool {
        uid == ownerUID || uid == 0 || allowedUIDs.contains(uid)
    }
}
