#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SidecarProtocol
import Testing

/// The daemon and its clients must find the same socket: explicit path, then `$SIDECAR_SOCKET`,
/// then `$XDG_RUNTIME_DIR/sidecar/sidecar.sock`, then `/tmp/sidecar-$UID/sidecar.sock`.
@Suite("SocketPath")
struct SocketPathTests {
    private let fullEnvironment = [
        "SIDECAR_SOCKET": "/env/sidecar.sock",
        "XDG_RUNTIME_DIR": "/run/user/1000",
    ]

    @Test("an explicit path wins over the environment")
    func explicitWins() {
        #expect(SocketPath.resolve(explicit: "/explicit.sock", environment: fullEnvironment, uid: 1000) == "/explicit.sock")
    }

    @Test("relative explicit paths are taken as given")
    func explicitRelative() {
        #expect(SocketPath.resolve(explicit: "run/s.sock", environment: [:], uid: 1000) == "run/s.sock")
    }

    @Test("SIDECAR_SOCKET comes next")
    func environmentVariable() {
        #expect(SocketPath.environmentVariable == "SIDECAR_SOCKET")
        #expect(SocketPath.resolve(explicit: nil, environment: fullEnvironment, uid: 1000) == "/env/sidecar.sock")
        #expect(SocketPath.resolve(environment: fullEnvironment, uid: 1000) == "/env/sidecar.sock")
    }

    @Test("then XDG_RUNTIME_DIR, in a sidecar directory of its own")
    func runtimeDirectory() {
        #expect(SocketPath.resolve(environment: ["XDG_RUNTIME_DIR": "/run/user/1000"], uid: 1000) == "/run/user/1000/sidecar/sidecar.sock")
    }

    @Test("then a per-user directory in /tmp", arguments: [0, 1000, 4_294_967_294] as [UInt32])
    func temporaryDirectory(uid: UInt32) {
        #expect(SocketPath.resolve(environment: [:], uid: uid) == "/tmp/sidecar-\(uid)/sidecar.sock")
    }

    @Test("the /tmp fallback uses the calling user's id by default")
    func defaultUID() {
        #expect(SocketPath.resolve(environment: [:]) == "/tmp/sidecar-\(getuid())/sidecar.sock")
    }

    @Test("empty values count as unset at every step")
    func emptyValues() {
        let emptyEnvironment = ["SIDECAR_SOCKET": "", "XDG_RUNTIME_DIR": ""]
        #expect(SocketPath.resolve(explicit: "", environment: fullEnvironment, uid: 7) == "/env/sidecar.sock")
        #expect(SocketPath.resolve(environment: ["SIDECAR_SOCKET": "", "XDG_RUNTIME_DIR": "/run/user/7"], uid: 7) == "/run/user/7/sidecar/sidecar.sock")
        #expect(SocketPath.resolve(explicit: "", environment: emptyEnvironment, uid: 7) == "/tmp/sidecar-7/sidecar.sock")
    }

    @Test("unrelated variables are ignored")
    func unrelatedVariables() {
        let environment = ["HOME": "/home/u", "TMPDIR": "/var/tmp", "SIDECAR_SOCKET_PATH": "/nope"]
        #expect(SocketPath.resolve(environment: environment, uid: 5) == "/tmp/sidecar-5/sidecar.sock")
    }
}
