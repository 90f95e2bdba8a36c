/// How a child process ended, decoded from `waitpid`'s status.
public enum ExitStatus: Equatable, Sendable, CustomStringConvertible {
    /// It returned from `main` or called `exit` with this status.
    case exited(Int32)
    /// A signal (this number) ended it.
    case signaled(Int32)

    init(waitStatus: Int32) {
        // WIFEXITED/WEXITSTATUS/WTERMSIG are C macros Swift cannot import.
        let signal = waitStatus & 0x7f
        self = signal == 0 ? .exited((waitStatus >> 8) & 0xff) : .signaled(signal)
    }

    /// "exited with status N" or "killed by signal N".
    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .signaled(let signal): return "killed by signal \(signal)"
        }
    }
}
