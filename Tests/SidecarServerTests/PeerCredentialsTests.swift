import Foundation
import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// The peer check (SO_PEERCRED): only the daemon's own user, root and `--allow-uid` are served.
///
/// These tests need root, to run a client as `nobody` (uid 65534) with `setpriv`.
@Suite(
    "Peer credentials",
    .timeLimit(.minutes(1)),
    .enabled(if: getuid() == 0, "needs root to run a client under another uid (setpriv --reuid=65534)")
)
struct PeerCredentialsTests {
    static let nobody: UInt32 = 65534

    /// A client, run as `nobody`, that sends a ping and prints the reply frame's JSON on one
    /// line, then `EOF` if the daemon closed the connection within 1.5 s or `OPEN` if not.
    static let clientScript = #"""
        import socket, struct, sys
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(sys.argv[1])
        body = b'{"jsonrpc":"2.0","id":"from-nobody","method":"sidecar.ping"}'
        connection.sendall(struct.pack(">I", len(body)) + body)
        connection.settimeout(5)
        def read_exactly(count):
            data = b""
            while len(data) < count:
                chunk = connection.recv(count - len(data))
                if not chunk:
                    raise EOFError
                data += chunk
            return data
        try:
            (length,) = struct.unpack(">I", read_exactly(4))
            print(read_exactly(length).decode())
        except EOFError:
            print("NO-FRAME")
        connection.settimeout(1.5)
        try:
            print("EOF" if connection.recv(1) == b"" else "OPEN")
        except ConnectionResetError:
            print("EOF")
        except socket.timeout:
            print("OPEN")
        """#

    /// Runs the client as `nobody` against `daemon`, whose socket is opened up to everyone
    /// for this test only, and returns its output lines.
    private func runClientAsNobody(_ daemon: DaemonProcess) throws -> [String] {
        let setpriv = try #require(PackageLocation.executable(named: "setpriv"), "setpriv is not installed")
        let python = try #require(PackageLocation.executable(named: "python3"), "python3 is not installed")
        // Only the file system keeps other users out by default; open it so the peer check is
        // what decides.
        #expect(chmod(daemon.directory.path, 0o711) == 0)
        #expect(chmod(daemon.socketPath, 0o666) == 0)
        try daemon.directory.write(Self.clientScript, to: "client.py")
        #expect(chmod(daemon.directory.file("client.py"), 0o644) == 0)
        let result = try runCommand(
            setpriv,
            ["--reuid=\(Self.nobody)", "--regid=\(Self.nobody)", "--clear-groups", python, daemon.directory.file("client.py"), daemon.socketPath],
            environment: ["PATH": "/usr/bin:/bin", "HOME": "/"],
            in: daemon.directory
        )
        #expect(result.status == .exited(0), "client failed: \(result.standardError)")
        return result.standardOutput.split(separator: "\n").map(String.init)
    }

    @Test("a connection from another uid gets one -32007 (id null, data.uid) and is closed")
    func otherUserRefused() throws {
        try withDaemon { daemon in
            let output = try runClientAsNobody(daemon)
            try #require(output.count == 2, "\(output)")
            let reply = try JSONParser.parse(output[0])
            expectError(reply, code: -32007, id: nil)
            #expect(reply["error"]?["data"]?["uid"] == .int(Int64(Self.nobody)))
            #expect(output[1] == "EOF", "the refused connection was left open")
            #expect(daemon.standardError.contains("refusing connection from another user"), "\(daemon.standardError)")
            // The owner is still served, and the refusal is counted.
            let metrics = try daemon.connect().call("sidecar.metrics")
            #expect((metrics["result"]?["connections"]?["refused"]?.intValue ?? 0) >= 1, "\(metrics)")
        }
    }

    @Test("--allow-uid 65534 lets that user in")
    func allowedUserServed() throws {
        try withDaemon(["--allow-uid", "\(Self.nobody)"]) { daemon in
            let output = try runClientAsNobody(daemon)
            try #require(output.count == 2, "\(output)")
            expectResult(try JSONParser.parse(output[0]), "pong", id: "from-nobody")
            #expect(output[1] == "OPEN", "an allowed connection must stay open")
        }
    }
}

