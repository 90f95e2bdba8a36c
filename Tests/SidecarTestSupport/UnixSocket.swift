import Glibc

/// Low-level Unix domain socket calls; every descriptor is close-on-exec so that it never
/// leaks into a daemon another test spawns at the same time.
public enum UnixSocket {
    /// A new socket of `type` (`SOCK_STREAM`, `SOCK_DGRAM`).
    /// - Throws: ``SystemCallError`` when `socket` fails.
    public static func make(_ type: __socket_type) throws -> CInt {
        let descriptor = socket(AF_UNIX, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SystemCallError("socket") }
        return descriptor
    }

    /// Calls `body` with `path` as a `sockaddr_un`.
    /// - Throws: ``SystemCallError`` (`ENAMETOOLONG`) when `path` does not fit.
    public static func withAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) throws -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SystemCallError("socket path too long: \(path)", code: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    /// A stream socket connected to `path`.
    /// - Throws: ``SystemCallError`` with the `errno` of the failed connect.
    public static func connect(to path: String) throws -> CInt {
        let descriptor = try make(SOCK_STREAM)
        let result = try withAddress(path) { Glibc.connect(descriptor, $0, $1) }
        guard result == 0 else {
            let error = SystemCallError("connect \(path)")
            close(descriptor)
            throw error
        }
        return descriptor
    }

    /// A socket of `type` bound to `path` (which creates the socket file).
    public static func bound(_ type: __socket_type, to path: String) throws -> CInt {
        let descriptor = try make(type)
        let result = try withAddress(path) { bind(descriptor, $0, $1) }
        guard result == 0 else {
            let error = SystemCallError("bind \(path)")
            close(descriptor)
            throw error
        }
        return descriptor
    }

    /// A listening stream socket on `path`, as systemd would pass it.
    public static func listening(on path: String, backlog: Int32 = 128) throws -> CInt {
        let descriptor = try bound(SOCK_STREAM, to: path)
        guard listen(descriptor, backlog) == 0 else {
            let error = SystemCallError("listen \(path)")
            close(descriptor)
            throw error
        }
        return descriptor
    }

    /// Waits up to `timeout` seconds for `descriptor` to become readable.
    /// - Returns: whether it did (readable includes the end of the stream).
    public static func waitReadable(_ descriptor: CInt, timeout: Double) -> Bool {
        let deadline = Deadline(seconds: timeout)
        while true {
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let result = Glibc.poll(&entry, 1, deadline.remainingMilliseconds)
            if result > 0 { return true }
            if result == 0 || errno != EINTR { return false }
        }
    }
}
