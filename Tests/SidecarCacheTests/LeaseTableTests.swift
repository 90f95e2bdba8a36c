import SidecarCache
import SidecarProtocol
import Testing

/// Single flight for `cache.fetch`, as decisions: who computes, who waits, who is resumed.
@Suite("Lease table")
struct LeaseTableTests {
    typealias Table = LeaseTable

    /// Acquires and expects a lease.
    static func grant(
        _ table: inout Table, _ key: String, connection: UInt64, lease: Int64 = 1_000, now: Int64,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Table.Lease? {
        let acquisition = table.acquire(key: key, connectionID: connection, leaseDuration: lease, waitDeadline: nil, now: now)
        guard case .granted(let granted) = acquisition else {
            Issue.record("expected a lease, got \(acquisition)", sourceLocation: sourceLocation)
            return nil
        }
        return granted
    }

    /// Acquires and expects to wait.
    static func wait(
        _ table: inout Table, _ key: String, connection: UInt64, lease: Int64 = 1_000, deadline: Int64? = nil, now: Int64,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Table.WaiterID? {
        let acquisition = table.acquire(key: key, connectionID: connection, leaseDuration: lease, waitDeadline: deadline, now: now)
        guard case .wait(let waiter) = acquisition else {
            Issue.record("expected to wait, got \(acquisition)", sourceLocation: sourceLocation)
            return nil
        }
        return waiter
    }

    @Test("the first caller gets the lease, the others wait, and the holder's set delivers to all of them")
    func singleFlight() throws {
        var table = Table(tokenPrefix: "t-")
        let lease = try #require(Self.grant(&table, "report", connection: 1, now: 0))
        #expect(lease.token == "t-1")
        #expect(lease.connectionID == 1)
        #expect(lease.expiresAt == 1_000)
        let second = try #require(Self.wait(&table, "report", connection: 2, now: 10))
        let third = try #require(Self.wait(&table, "report", connection: 3, now: 20))
        // Another key is independent.
        let other = try #require(Self.grant(&table, "other", connection: 2, now: 20))
        #expect(other.token == "t-2")
        #expect(table.leaseCount == 2)
        #expect(table.waiterCount == 2)

        #expect(table.complete(key: "report", token: lease.token, now: 500) == .accepted(waiters: [second, third]))
        #expect(table.lease(for: "report") == nil)
        #expect(table.waiterCount == 0)
        // Once set, a later miss (say after the value expired) starts a new flight with a new token.
        let again = try #require(Self.grant(&table, "report", connection: 4, now: 600))
        #expect(again.token != lease.token)
    }

    @Test("a set with a wrong, stale or expired token is refused as a conflict")
    func rejections() throws {
        var table = Table(tokenPrefix: "t-")
        #expect(table.complete(key: "k", token: "t-1", now: 0) == .rejected(.noLease(key: "k")))
        let lease = try #require(Self.grant(&table, "k", connection: 1, now: 0))
        #expect(table.complete(key: "k", token: "guess", now: 1) == .rejected(.superseded(key: "k")))
        #expect(table.complete(key: "k", token: lease.token, now: 1_000) == .rejected(.expired(key: "k", expiredAt: 1_000)))
        #expect(table.lease(for: "k") == lease, "a refused set changes nothing")

        let error = LeaseTable.Rejection.superseded(key: "k").rpcError
        #expect(error.code == .conflict)
        #expect(error.code.rawValue == -32005)
        #expect(error.data == ["key": "k"])
    }

    @Test("an expired lease passes to the oldest waiter; the old holder's set is then refused")
    func expiryPassesLease() throws {
        var table = Table(tokenPrefix: "t-")
        let first = try #require(Self.grant(&table, "k", connection: 1, lease: 1_000, now: 0))
        let second = try #require(Self.wait(&table, "k", connection: 2, lease: 2_000, now: 100))
        let third = try #require(Self.wait(&table, "k", connection: 3, now: 200))
        #expect(table.nextDeadline == 1_000)
        #expect(table.expire(now: 999) == [])

        let actions = table.expire(now: 1_000)
        let passed = Table.Lease(key: "k", token: "t-2", connectionID: 2, expiresAt: 3_000)
        #expect(actions == [.grant(passed, to: second)])
        #expect(table.lease(for: "k") == passed)
        #expect(table.nextDeadline == 3_000)

        #expect(table.complete(key: "k", token: first.token, now: 1_100) == .rejected(.superseded(key: "k")))
        #expect(table.complete(key: "k", token: passed.token, now: 1_200) == .accepted(waiters: [third]))
    }

    @Test("an expired lease with nobody waiting is granted anew, or forgotten by expire")
    func expiryWithoutWaiters() throws {
        var table = Table(tokenPrefix: "t-")
        _ = try #require(Self.grant(&table, "a", connection: 1, now: 0))
        let renewed = try #require(Self.grant(&table, "a", connection: 2, now: 1_000))
        #expect(renewed.token == "t-2")
        #expect(renewed.connectionID == 2)

        _ = try #require(Self.grant(&table, "b", connection: 1, now: 0))
        #expect(table.expire(now: 2_000) == [])
        #expect(table.leaseCount == 0)
        #expect(table.nextDeadline == nil)
    }

    @Test("a caller arriving after the lease expired queues behind the older waiters")
    func lateCallerQueues() throws {
        var table = Table(tokenPrefix: "t-")
        _ = try #require(Self.grant(&table, "k", connection: 1, now: 0))
        let early = try #require(Self.wait(&table, "k", connection: 2, now: 500))
        let late = try #require(Self.wait(&table, "k", connection: 3, now: 1_500))
        #expect(table.nextDeadline == 1_000, "already past: the owner's timer fires at once")
        let actions = table.expire(now: 1_500)
        #expect(actions == [.grant(Table.Lease(key: "k", token: "t-2", connectionID: 2, expiresAt: 2_500), to: early)])
        #expect(table.complete(key: "k", token: "t-2", now: 1_600) == .accepted(waiters: [late]))
    }

    @Test("a holder's connection closing passes its leases on and cancels its waiters")
    func holderDisconnects() throws {
        var table = Table(tokenPrefix: "t-")
        _ = try #require(Self.grant(&table, "x", connection: 1, now: 0))
        let waiterOnX = try #require(Self.wait(&table, "x", connection: 2, lease: 500, now: 10))
        _ = try #require(Self.grant(&table, "y", connection: 2, now: 0))
        let connectionOneOnY = try #require(Self.wait(&table, "y", connection: 1, now: 20))
        _ = try #require(Self.grant(&table, "z", connection: 1, now: 0))

        let actions = table.releaseLeases(ownedBy: 1, now: 100)
        #expect(actions.count == 2)
        #expect(actions.contains(.grant(Table.Lease(key: "x", token: "t-4", connectionID: 2, expiresAt: 600), to: waiterOnX)))
        #expect(actions.contains(.cancel(connectionOneOnY)))
        #expect(table.lease(for: "x")?.connectionID == 2)
        #expect(table.lease(for: "y")?.connectionID == 2, "connection 2's lease stays")
        #expect(table.lease(for: "z") == nil, "nobody waited for z: forgotten")
        #expect(table.waiterCount == 0)
        #expect(table.complete(key: "y", token: "t-2", now: 200) == .accepted(waiters: []))
    }

    @Test("a waiter whose own deadline passes times out, and does not get the lease")
    func waiterTimesOut() throws {
        var table = Table(tokenPrefix: "t-")
        _ = try #require(Self.grant(&table, "k", connection: 1, lease: 1_000, now: 0))
        let impatient = try #require(Self.wait(&table, "k", connection: 2, deadline: 300, now: 0))
        let patient = try #require(Self.wait(&table, "k", connection: 3, deadline: 5_000, now: 0))
        #expect(table.nextDeadline == 300)
        #expect(table.expire(now: 300) == [.timeOut(impatient)])
        #expect(table.nextDeadline == 1_000)

        let impatientToo = try #require(Self.wait(&table, "k", connection: 4, deadline: 1_000, now: 400))
        let actions = table.expire(now: 1_000)
        #expect(actions == [
            .timeOut(impatientToo),
            .grant(Table.Lease(key: "k", token: "t-2", connectionID: 3, expiresAt: 2_000), to: patient),
        ])
    }

    @Test("a cancelled waiter is no longer resumed; a holder can give its lease up")
    func cancelAndRelease() throws {
        var table = Table(tokenPrefix: "t-")
        let lease = try #require(Self.grant(&table, "k", connection: 1, now: 0))
        let gone = try #require(Self.wait(&table, "k", connection: 2, now: 0))
        let staying = try #require(Self.wait(&table, "k", connection: 3, now: 0))
        let cancelled = table.cancelWaiter(gone)
        let cancelledTwice = table.cancelWaiter(gone)
        #expect(cancelled)
        #expect(!cancelledTwice)

        #expect(table.release(key: "k", token: "wrong", now: 50) == nil)
        let actions = table.release(key: "k", token: lease.token, now: 50)
        #expect(actions == [.grant(Table.Lease(key: "k", token: "t-2", connectionID: 3, expiresAt: 1_050), to: staying)])
        #expect(table.release(key: "k", token: "t-2", now: 60) == [], "released by its new holder, with nobody waiting")
        #expect(table.leaseCount == 0)
    }

    @Test("a value stored another way resolves the waiters and ends the lease")
    func resolve() throws {
        var table = Table(tokenPrefix: "t-")
        let lease = try #require(Self.grant(&table, "k", connection: 1, now: 0))
        let waiter = try #require(Self.wait(&table, "k", connection: 2, now: 0))
        #expect(table.resolve(key: "k") == [waiter])
        #expect(table.resolve(key: "k") == [])
        #expect(table.complete(key: "k", token: lease.token, now: 10) == .rejected(.noLease(key: "k")))
    }

    @Test("tokens are unique per table and start with a random prefix by default")
    func tokens() throws {
        var first = Table()
        var second = Table()
        let a = try #require(Self.grant(&first, "k", connection: 1, now: 0))
        let b = try #require(Self.grant(&second, "k", connection: 1, now: 0))
        let c = try #require(Self.grant(&first, "j", connection: 1, now: 0))
        #expect(a.token != c.token)
        // Two tables share a prefix with probability 2^-32.
        #expect(a.token != b.token)
        #expect(second.complete(key: "k", token: a.token, now: 1) == .rejected(.superseded(key: "k")))
    }
}
