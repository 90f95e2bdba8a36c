import Foundation
import Glibc

/// A fresh directory under /tmp, short enough for Unix socket paths (at most 107 bytes),
/// removed with everything in it by ``remove()``.
///
/// Prefer ``withTemporaryDirectory(_:)``, which always removes it.
public final class TemporaryDirectory: Sendable {
    /// The directory's absolute path.
    public let path: String

    /// Creates the directory (mode 0700).
    /// - Throws: ``SystemCallError`` when `mkdtemp` fails.
    public init() throws {
        var template = Array("/tmp/sidecar-test.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemCallError("mkdtemp") }
        path = String(cString: made)
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to the file `name` in the directory.
    public func write(_ text: String, to name: String) throws {
        try text.write(toFile: file(name), atomically: false, encoding: .utf8)
    }

    /// Removes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with a fresh temporary directory, removed afterwards whatever happens.
public func withTemporaryDirectory<T>(_ body: (TemporaryDirectory) throws -> T) throws -> T {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    return try body(directory)
}

/// Runs the asynchronous `body` with a fresh temporary directory, removed afterwards whatever happens.
public func withTemporaryDirectory<T>(_ body: (TemporaryDirectory) async throws -> T) async throws -> T {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    return try await body(directory)
}

/// A failed system call, with the `errno` it left.
public struct SystemCallError: Error, CustomStringConvertible {
    /// The call (and its argument, where that helps), such as `connect /tmp/x/s.sock`.
    public var call: String
    /// The `errno` value.
    public var code: Int32

    /// A failure of `call` with `code`, by default the current `errno`.
    public init(_ call: String, code: Int32 = errno) {
        self.call = call
        self.code = code
    }

    /// The call and `strerror` of the code.
    public var description: String { "\(call) failed: \(String(cString: strerror(code)))" }
}
