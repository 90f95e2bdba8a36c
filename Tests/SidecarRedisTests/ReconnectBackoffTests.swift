import SidecarRedis
import Testing

@Suite struct ReconnectBackoffTests {
    @Test func doublesUpToTheMaximumAndStartsOverAfterReset() {
        var backoff = ReconnectBackoff(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(300))
        let delays = (0..<6).map { _ in backoff.next() }
        #expect(delays == [50, 100, 200, 300, 300, 300].map { Duration.milliseconds($0) })
        backoff.reset()
        #expect(backoff.next() == .milliseconds(50))
    }

    @Test func aMaximumBelowTheInitialDelayIsRaisedToIt() {
        var backoff = ReconnectBackoff(initialDelay: .seconds(1), maximumDelay: .milliseconds(10))
        #expect(backoff.next() == .seconds(1))
        #expect(backoff.next() == .seconds(1))
    }
}
