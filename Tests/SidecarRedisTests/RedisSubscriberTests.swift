import Glibc
import SidecarRedis
import SidecarTestSupport
import Testing

@Suite(.timeLimit(.minutes(2)))
struct RedisSubscriberTests {
    static let channel = "sidecar:test"

    @Test func publishedMessagesReachTheSubscriberInOrder() async throws {
        try await withRedisServer { server in
            let client = try makeClient(server)
            defer { client.close() }
            let subscriber = RedisSubscriber(endpoint: try RedisEndpoint(url: server.url), channel: Self.channel,
                                             logger: testLogger)
            defer { subscriber.stop() }
            let recorder = EventRecorder(subscriber.events)
            #expect(await recorder.wait { $0.connectedCount == 1 })

            let payloads: [[UInt8]] = [Array("first".utf8), [0, 13, 10, 255], [], Array("last".utf8)]
            for payload in payloads {
                #expect(try await client.publish(payload, to: Self.channel) == 1)
            }
            #expect(try await client.publish([1], to: "another channel") == 0)
            let expected = [RedisSubscriber.Event.connected] + payloads.map { .message($0) }
            #expect(await recorder.wait { $0.count >= expected.count })
            #expect(recorder.events == expected)
        }
    }

    @Test func aKilledAndRestartedRedisIsReportedAndResubscribed() async throws {
        try await withRedisServer { server in
            let client = try makeClient(server)
            defer { client.close() }
            let subscriber = RedisSubscriber(endpoint: try RedisEndpoint(url: server.url), channel: Self.channel,
                                             backoff: ReconnectBackoff(initialDelay: .milliseconds(20),
                                                                       maximumDelay: .milliseconds(200)),
                                             logger: testLogger)
            defer { subscriber.stop() }
            let recorder = EventRecorder(subscriber.events)
            #expect(await recorder.wait { $0.connectedCount == 1 })

            server.kill(signal: SIGKILL)
            #expect(await recorder.wait { $0.hasDisconnected })
            try await server.restart()
            #expect(await recorder.wait { $0.connectedCount == 2 })
            #expect(try await client.publish(Array("after restart".utf8), to: Self.channel) == 1)
            #expect(await recorder.wait { $0.count == 4 })

            let events = recorder.events
            #expect(events.count == 4)
            guard events.count == 4 else { return }
            #expect(events[0] == .connected)
            if case .disconnected(let reason) = events[1] {
                #expect(reason.isConnectionLoss, "\(reason)")
            } else {
                Issue.record("expected disconnected, got \(events[1])")
            }
            #expect(events[2] == .connected)
            #expect(events[3] == .message(Array("after restart".utf8)))
        }
    }

    @Test func aStoppedRedisIsNoticedByTheHealthCheck() async throws {
        try await withRedisServer { server in
            let subscriber = RedisSubscriber(endpoint: try RedisEndpoint(url: server.url), channel: Self.channel,
                                             timeout: .milliseconds(100), healthCheckInterval: .milliseconds(200),
                                             backoff: ReconnectBackoff(initialDelay: .milliseconds(20),
                                                                       maximumDelay: .milliseconds(200)),
                                             logger: testLogger)
            defer { subscriber.stop() }
            let recorder = EventRecorder(subscriber.events)
            #expect(await recorder.wait { $0.connectedCount == 1 })

            server.kill(signal: SIGSTOP)
            defer { server.kill(signal: SIGCONT) }
            #expect(await recorder.wait(timeout: 5) { $0.hasDisconnected })
            #expect(recorder.events.last == .disconnected(.timedOut))

            server.kill(signal: SIGCONT)
            #expect(await recorder.wait { $0.connectedCount == 2 })
        }
    }

    @Test func stopFinishesTheEventsPromptlyEvenWhileWaitingToReconnect() async throws {
        try await withRedisServer { server in
            let connected = RedisSubscriber(endpoint: try RedisEndpoint(url: server.url), channel: Self.channel,
                                            logger: testLogger)
            let connectedRecorder = EventRecorder(connected.events)
            #expect(await connectedRecorder.wait { $0.connectedCount == 1 })
            connected.stop()
            #expect(await connectedRecorder.waitUntilFinished(timeout: 1))
            #expect(connectedRecorder.events == [.connected])

            server.kill(signal: SIGKILL)
            // Its first attempt fails; it would then wait a minute before the next.
            let waiting = RedisSubscriber(endpoint: try RedisEndpoint(url: server.url), channel: Self.channel,
                                          backoff: ReconnectBackoff(initialDelay: .seconds(60)), logger: testLogger)
            let waitingRecorder = EventRecorder(waiting.events)
            waiting.stop()
            #expect(await waitingRecorder.waitUntilFinished(timeout: 1))
            #expect(waitingRecorder.events.isEmpty)
        }
    }
}
