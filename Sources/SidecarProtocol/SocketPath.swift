#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the daemon listens and clients connect, decided the same way on both sides.
public enum SocketPath {
    /// The environment variable that names the socket when no `--socket` is given.
    public static let environmentVariable = "SIDECAR_SOCKET"

    /// The socket path: `explicit` if given, else `$SIDECAR_SOCKET`, else
    /// `$XDG_RUNTIME_DIR/sidecar/sidecar.sock`, else `/tmp/sidecar-$UID/sidecar.sock`.
    /// - Parameters:
    ///   - explicit: a path from the command line, which wins.
    ///   - environment: the process environment (injectable for tests).
    ///   - uid: the user id used in the `/tmp` fallback.
    public static func resolve(
        explicit: String? = nil,
        environment: [String: String],
        uid: UInt32 = getuid()
    ) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let path = environment[environmentVariable], !path.isEmpty { return path }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            return runtime + "/sidecar/sidecar.sock"
        }
        return "/tmp/sidecar-\(uid)/sidecar.sock"
    }
}
