#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SidecarProtocol

/// How an `exec` run ended and what it printed: what ``ProcessRunner/run(_:timeout:killGrace:outputLimit:cancellation:)``
/// returns once the process has ended.
///
/// As the task's `result` (``jsonValue``) it reads
///
/// ```json
/// {"exitCode": 0, "stdout": "hello\n", "stderr": ""}
/// ```
///
/// with `"exitCode": null` and `"signal": 9` when a signal ended the process, and
/// `"truncated": {"stdout": true, "stderr": false}` when a stream was longer than the limit
/// (1 MiB by default). `stdout` and `stderr` are decoded as UTF-8: an invalid sequence
/// becomes U+FFFD, and a character the limit cut in half is dropped.
public struct ProcessOutput: Sendable, Hashable {
    /// Why the process ended.
    public enum Reason: String, Sendable, Hashable {
        /// On its own: it exited or a signal not sent by the runner ended it.
        case exited
        /// It ran past its timeout and the runner stopped it.
        case timedOut
        /// The run was cancelled and the runner stopped it.
        case cancelled
    }

    /// What the process wrote to one of its output streams.
    public struct Stream: Sendable, Hashable {
        /// The first bytes written, at most the runner's output limit.
        public var bytes: [UInt8]
        /// How many bytes the process wrote in all (more than `bytes.count` when truncated).
        public var totalByteCount: Int

        public init(bytes: [UInt8] = [], totalByteCount: Int? = nil) {
            self.bytes = bytes
            self.totalByteCount = totalByteCount ?? bytes.count
        }

        /// Whether the process wrote more than was kept.
        public var isTruncated: Bool { totalByteCount > bytes.count }

        /// The kept bytes as UTF-8 text, invalid sequences replaced by U+FFFD; when truncated,
        /// a character cut in half at the end is dropped rather than replaced.
        public var text: String {
            guard isTruncated else { return String(decoding: bytes, as: UTF8.self) }
            return String(decoding: bytes[..<Self.endOfLastCompleteCharacter(bytes)], as: UTF8.self)
        }

        /// The end of `bytes` without an incomplete UTF-8 sequence at its tail.
        private static func endOfLastCompleteCharacter(_ bytes: [UInt8]) -> Int {
            // Step back over at most 3 continuation bytes (10xxxxxx) to the last lead byte.
            var index = bytes.count - 1
            var continuations = 0
            while index >= 0, continuations < 3, bytes[index] & 0b1100_0000 == 0b1000_0000 {
                index -= 1
                continuations += 1
            }
            guard index >= 0 else { return bytes.count }
            let lead = bytes[index]
            let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
            return index + length > bytes.count ? index : bytes.count
        }
    }

    /// Why the process ended.
    public var reason: Reason
    /// The process's exit status when it exited (`exit(3)` gives 3); `nil` when a signal ended it
    /// or it was never started (cancelled first).
    public var exitCode: Int32?
    /// The signal that ended the process (15 for SIGTERM, 9 for SIGKILL); `nil` when it exited.
    public var signal: Int32?
    /// What it wrote to standard output.
    public var stdout: Stream
    /// What it wrote to standard error.
    public var stderr: Stream
    /// From the start of the process to the end of the run.
    public var duration: Duration

    public init(
        reason: Reason,
        exitCode: Int32?,
        signal: Int32?,
        stdout: Stream = Stream(),
        stderr: Stream = Stream(),
        duration: Duration = .zero
    ) {
        self.reason = reason
        self.exitCode = exitCode
        self.signal = signal
        self.stdout = stdout
        self.stderr = stderr
        self.duration = duration
    }

    /// Whether the run counts as a success: the process exited on its own with status 0.
    public var succeeded: Bool { reason == .exited && exitCode == 0 }

    /// Why the run failed, for the task's `error`; `nil` when it succeeded.
    ///
    /// "exited with status 2", "killed by signal 9 (SIGKILL)", "timed out (killed by signal 15 (SIGTERM))",
    /// "cancelled (exited with status 1)", "cancelled before it started".
    public var failureMessage: String? {
        if succeeded { return nil }
        let ending: String?
        if let signal {
            ending = "killed by signal \(signal)\(Self.signalName(signal).map { " (\($0))" } ?? "")"
        } else if let exitCode {
            ending = "exited with status \(exitCode)"
        } else {
            ending = nil  // never started, or reaped by someone else (a daemon ignoring SIGCHLD)
        }
        switch reason {
        case .exited: return ending ?? "ended with an unknown status"
        case .timedOut: return ending.map { "timed out (\($0))" } ?? "timed out"
        case .cancelled: return ending.map { "cancelled (\($0))" } ?? "cancelled before it started"
        }
    }

    /// The run as the task's `result`: `exitCode`, `stdout`, `stderr`, plus `signal` when a
    /// signal ended the process and `truncated` when an output stream was cut.
    public var jsonValue: JSONValue {
        var object: JSONObject = [
            "exitCode": exitCode.map { .int(Int64($0)) } ?? .null,
            "stdout": .string(stdout.text),
            "stderr": .string(stderr.text),
        ]
        if let signal { object["signal"] = .int(Int64(signal)) }
        if stdout.isTruncated || stderr.isTruncated {
            object["truncated"] = ["stdout": .bool(stdout.isTruncated), "stderr": .bool(stderr.isTruncated)]
        }
        return .object(object)
    }

    /// "SIGTERM" for 15 and so on, for the signals a task is likely to die of.
    static func signalName(_ signal: Int32) -> String? {
        switch signal {
        case SIGHUP: "SIGHUP"
        case SIGINT: "SIGINT"
        case SIGQUIT: "SIGQUIT"
        case SIGILL: "SIGILL"
        case SIGTRAP: "SIGTRAP"
        case SIGABRT: "SIGABRT"
        case SIGBUS: "SIGBUS"
        case SIGFPE: "SIGFPE"
        case SIGKILL: "SIGKILL"
        case SIGUSR1: "SIGUSR1"
        case SIGSEGV: "SIGSEGV"
        case SIGUSR2: "SIGUSR2"
        case SIGPIPE: "SIGPIPE"
        case SIGALRM: "SIGALRM"
        case SIGTERM: "SIGTERM"
        case SIGXCPU: "SIGXCPU"
        case SIGXFSZ: "SIGXFSZ"
        default: nil
        }
    }
}
