import Glibc

/// Low-level Unix domain socket calls; every descriptor is close-on-exec so that it never
/// leaks into a daemon another test spawns at the same time.
enum UnixSocket {
    /// A new socket of `type` (`SOCK_STREAM`, `SOCK_DGRAM`).
    static func make(_ type: __socket_type) throws -> CInt {
        let descriptor = socket(AF_UNIX, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SystemCallError("socket") }
        return descriptor
    }

    /// Calls `body` with `path` as a `sockaddr_un`.
    static func withAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) throws -> T {
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

    /// A connected stream socket, or the `errno` of the failed connect.
    static func connect(to path: String) throws -> CInt {
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
    static func bound(_ type: __socket_type, to path: String) throws -> CInt {
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
    static func listening(on path: String, backlog: Int32 = 128) throws -> CInt {
        let descriptor = try bound(SOCK_STREAM, to: path)
        guard listen(descriptor, backlog) == 0 else {
            let error = SystemCallError("listen \(path)")
            close(descriptor)
            throw error
        }
        return descriptor
    }

    /// Waits up to `timeout` seconds for `descriptor` to become readable.
    static func waitReadable(_ descriptor: CInt, timeout: Double) -> Bool {
        let deadline = Deadline(seconds: timeout)
        while true {
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let result = Glibc.poll(&entry, 1, deadline.remainingMilliseconds)
            if result > 0 { return true }
            if result == 0 || errno != EINTR { return false }
        }
    }
}
