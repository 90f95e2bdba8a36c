import NIOCore

extension ChannelHandlerContext {
    /// Ends a connection the daemon is refusing, so that the peer still reads the last frame.
    ///
    /// Closing a socket with unread input makes the kernel send a reset, which can destroy the
    /// error frame before the peer reads it. So the write side is shut first, input keeps
    /// being read and discarded, and the socket is closed when the peer hangs up or after
    /// `linger`, whichever comes first.
    func closeAfterFlush(linger: TimeAmount = .seconds(2)) {
        let channel = self.channel
        self.close(mode: .output).whenComplete { _ in
            channel.eventLoop.scheduleTask(in: linger) { channel.close(promise: nil) }
        }
    }
}
