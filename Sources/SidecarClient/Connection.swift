import Logging
import NIOCore
import NIOPosix
import SidecarProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One open connection to the daemon.
struct Connection: Sendable {
    var channel: any Channel
    /// Completes when the connection ends, with the daemon's connection-level error if it sent one.
    var closed: EventLoopFuture<RPCError?>

    /// Connects to the Unix domain socket at `path` and sets up the pipeline:
    /// frame decoder → ``RPCClientHandler``.
    /// - Throws: ``SidecarClientError/cannotConnect(path:reason:)`` naming `path`.
    static func open(
        path: String,
        configuration: SidecarClient.Configuration,
        notifications: AsyncStream<RPCNotification>.Continuation,
        intercept: (@Sendable (RPCNotification) -> Bool)? = nil
    ) async throws(SidecarClientError) -> Connection {
        let maximumFrameLength = configuration.maximumFrameLength
        let logger = configuration.logger
        do {
            return try await ClientBootstrap(group: configuration.eventLoopGroup)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .connect(unixDomainSocketPath: path) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let closed = channel.eventLoop.makePromise(of: RPCError?.self)
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(ClientFrameDecoder(maximumFrameLength: maximumFrameLength)),
                            RPCClientHandler(closed: closed, notifications: notifications, intercept: intercept, logger: logger)
                        )
                        return Connection(channel: channel, closed: closed.futureResult)
                    }
                }
        } catch {
            throw .cannotConnect(path: path, reason: Self.describe(error))
        }
    }

    /// The reason a connect failed, in the words `strerror` uses where there is an errno.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as IOError:
            return String(cString: strerror(error.errnoCode))
        case let error as SocketAddressError:
            if case .unixDomainSocketPathTooLong = error {
                return "the path is too long for a Unix domain socket (at most 103 bytes)"
            }
            return "\(error)"
        case ChannelError.connectTimeout(let amount):
            return "no answer within \(amount.nanoseconds / 1_000_000) ms"
        default:
            return "\(error)"
        }
    }
}
