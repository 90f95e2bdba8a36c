import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// The socket systemd (or `systemd-socket-activate`) passed us, if any.
public enum SocketActivation {
    /// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
    static let firstDescriptor: CInt = 3

    /// The listening Unix stream socket passed by socket activation, or `nil` when the
    /// process was not socket-activated. Clears `LISTEN_PID`/`LISTEN_FDS` so that child
    /// processes do not inherit them.
    /// - Throws: ``ServerStartupError`` when a socket was passed but is not a listening Unix stream socket.
    public static func takeListeningSocket() throws -> CInt? {
        let count = sd_listen_fds(1)  // 1: unset the environment variables
        guard count > 0 else { return nil }
        let descriptor = firstDescriptor
        guard sd_is_socket_unix(descriptor, Int32(SOCK_STREAM.rawValue), 1, nil, 0) > 0 else {
            throw ServerStartupError(
                "socket activation passed file descriptor \(descriptor), which is not a listening Unix stream socket; "
                    + "check ListenStream= in sidecar.socket"
            )
        }
        // Descriptors beyond the first are not ours to use; close them so they do not leak.
        if count > 1 {
            for extra in (descriptor + 1)..<(descriptor + count) { close(extra) }
        }
        return descriptor
    }

    /// The path a passed socket is bound to, for `sidecar.status`.
    static func boundPath(of descriptor: CInt) -> String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let result = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { return nil }
        return withUnsafeBytes(of: address.sun_path) { raw in
            let bytes = raw.prefix(while: { $0 != 0 })
            return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
        }
    }
}

/// A reason the daemon cannot start, worded for the person who started it.
public struct ServerStartupError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
