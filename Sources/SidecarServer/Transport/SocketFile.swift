#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// Prepares the path the daemon binds: its directory (created 0700), and any socket file a
/// dead daemon left behind (removed). A live daemon on the path is never displaced.
enum SocketFile {
    /// Makes `path` ready to bind.
    /// - Throws: ``ServerStartupError`` when another daemon answers on `path`, when the path
    ///   is something other than a socket, or when the directory cannot be made.
    static func prepare(_ path: String, group: any EventLoopGroup) async throws {
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw ServerStartupError("socket path '\(path)' is too long for a Unix socket (at most 107 bytes); choose a shorter --socket")
        }
        try makeDirectory(containing: path)
        var status = stat()
        guard lstat(path, &status) == 0 else { return }  // nothing there: free to bind
        guard (status.st_mode & S_IFMT) == S_IFSOCK else {
            throw ServerStartupError("'\(path)' exists and is not a socket; remove it or choose another --socket")
        }
        if await isAnswering(path, group: group) {
            throw ServerStartupError("another sidecard is already listening on \(path); stop it first or choose another --socket")
        }
        // A socket file nobody listens on: a daemon died without cleaning up.
        guard unlink(path) == 0 || errno == ENOENT else {
            throw ServerStartupError("cannot remove the stale socket '\(path)': \(String(cString: strerror(errno)))")
        }
    }

    /// Restricts the bound socket to its owner.
    static func restrictToOwner(_ path: String) throws {
        guard chmod(path, 0o600) == 0 else {
            throw ServerStartupError("cannot set mode 0600 on '\(path)': \(String(cString: strerror(errno)))")
        }
    }

    private static func makeDirectory(containing path: String) throws {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        let directory = String(path[..<slash])
        var status = stat()
        if stat(directory, &status) == 0 { return }
        try makeDirectory(containing: directory)  // parents first, as `mkdir -p`
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw ServerStartupError("cannot create the socket directory '\(directory)': \(String(cString: strerror(errno)))")
        }
        // mkdir honours the umask; make the mode exactly 0700 whatever the umask was.
        _ = chmod(directory, 0o700)
    }

    /// Whether something accepts connections on the socket at `path`.
    private static func isAnswering(_ path: String, group: any EventLoopGroup) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: group).connect(unixDomainSocketPath: path).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }
}
