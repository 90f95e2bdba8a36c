/// Why a run stopped before its end.
enum LoadError: Error, CustomStringConvertible {
    case badReply(String)
    case cannotConnect(path: String, target: LoadTarget, underlying: String)
    case noReplies(seconds: Double)
    case connectionClosed(repliesReceived: UInt64)
    case notStarted
    case timedOut(seconds: Double)

    var description: String {
        switch self {
        case .badReply(let detail): return "the server sent \(detail)"
        case .connectionClosed(let replies):
            return "the server closed a connection during the run (after \(replies) counted replies)"
        case .cannotConnect(let path, let target, let underlying):
            return "cannot connect to \(path): \(underlying). Is the \(target.rawValue) server listening there?"
        case .noReplies(let seconds):
            return "no replies in the \(seconds) s measured; is the server the one --target names?"
        case .notStarted: return "the connection closed before the run started"
        case .timedOut(let seconds): return "no reply within \(seconds) s"
        }
    }
}
