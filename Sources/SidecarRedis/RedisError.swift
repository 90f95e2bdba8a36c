/// Why a Redis call failed. Every message says what happened and, where it can, what to do.
///
/// After ``connectionFailed(_:)``, ``timedOut``, ``io(_:)`` or ``protocol(_:)`` the connection
/// that failed has been dropped; the next call connects again. ``server(_:)`` is Redis's own
/// answer to a command and leaves the connection as it was.
public enum RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Redis could not be reached, or refused the password or database of the URL.
    case connectionFailed(String)
    /// Redis did not answer within the timeout (it may be stopped, hung or overloaded).
    case timedOut
    /// Reading from or writing to Redis failed, or Redis closed the connection.
    case io(String)
    /// Redis answered the command with an error reply (`-ERR …`, `-WRONGTYPE …`).
    case server(String)
    /// Redis answered something this client did not expect.
    case `protocol`(String)
    /// The client or subscriber has been closed.
    case closed

    /// The message to show a person.
    public var description: String {
        switch self {
        case .connectionFailed(let message):
            return message
        case .timedOut:
            return "Redis did not answer within the timeout: check that redis-server is running and not stopped or "
                + "overloaded, or raise the Redis timeout"
        case .io(let message):
            return message
        case .server(let message):
            return "Redis answered with an error: \(message)"
        case .protocol(let message):
            return "unexpected answer from Redis: \(message)"
        case .closed:
            return "the Redis client has been closed"
        }
    }
}
