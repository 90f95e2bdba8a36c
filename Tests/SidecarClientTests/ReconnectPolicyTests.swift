import Testing

@testable import SidecarClient

@Suite struct ReconnectPolicyTests {
    @Test func delaysStartImmediatelyThenDoubleUpToTheMaximum() {
        let policy = ReconnectPolicy()
        let delays = (1...9).map { policy.delay(beforeAttempt: $0) }
        #expect(delays == [
            .zero, .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(400),
            .milliseconds(800), .milliseconds(1600), .seconds(2), .seconds(2),
        ])
    }

    @Test func attemptsStopAtTheLimitOrTheDeadline() {
        let policy = ReconnectPolicy(maximumAttempts: 3, giveUpAfter: .seconds(1))
        #expect(policy.allowsAttempt(3, elapsed: .zero))
        #expect(!policy.allowsAttempt(4, elapsed: .zero))
        // Attempt 2 waits 50 ms: it would start after the deadline.
        #expect(!policy.allowsAttempt(2, elapsed: .milliseconds(960)))
        #expect(policy.allowsAttempt(2, elapsed: .milliseconds(900)))

        let unlimited = ReconnectPolicy(maximumAttempts: nil, giveUpAfter: nil)
        #expect(unlimited.allowsAttempt(10_000, elapsed: .seconds(86_400)))
    }

    @Test func disabledNeverReconnects() {
        #expect(!ReconnectPolicy.disabled.isEnabled)
        #expect(!ReconnectPolicy.disabled.allowsAttempt(1, elapsed: .zero))
        #expect(ReconnectPolicy().isEnabled)
    }
}
