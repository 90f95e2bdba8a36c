import Glibc
import SidecarTestSupport

/// A notify socket the test listens on, as systemd's `NOTIFY_SOCKET`, and the datagrams
/// (`READY=1`, `STATUS=…`, `STOPPING=1`) the daemon sent to it.
final class NotifySocket {
    let descriptor: CInt
    private(set) var messages: [String] = []

    init(path: String) throws {
        descriptor = try UnixSocket.bound(SOCK_DGRAM, to: path)
    }

    deinit { close(descriptor) }

    /// Receives datagrams until one holds `line`, or `timeout` seconds pass.
    func waitFor(_ line: String, timeout: Double) -> Bool {
        receive(until: { $0.last?.split(separator: "\n").contains(Substring(line)) ?? false }, timeout: timeout)
    }

    /// Receives datagrams until `done` holds for all received so far, or `timeout` seconds pass.
    func receive(until done: ([String]) -> Bool, timeout: Double) -> Bool {
        let deadline = Deadline(seconds: timeout)
        while !deadline.hasPassed {
            guard UnixSocket.waitReadable(descriptor, timeout: Double(deadline.remainingMilliseconds) / 1000) else { break }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { continue }
            messages.append(String(decoding: buffer[..<count], as: UTF8.self))
            if done(messages) { return true }
        }
        return false
    }
}
