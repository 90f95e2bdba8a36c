import SidecarProtocol
import Testing

@testable import SidecarClient

@Suite struct ConnectionStateMachineTests {
    typealias Machine = ConnectionStateMachine<String, String>

    @Test func aDropStartsOneReconnectAndCallsWaitForIt() {
        var machine = Machine(connection: "first", reconnectEnabled: true)
        guard case .use("first", generation: 0) = machine.acquire() else {
            Issue.record("a connected machine hands out its connection")
            return
        }
        let firstDrop = machine.connectionLost(generation: 0, reason: nil)
        #expect(firstDrop == .startReconnect)
        // News of the same drop twice (close future and a failed write) starts nothing more.
        let sameDropAgain = machine.connectionLost(generation: 0, reason: nil)
        #expect(sameDropAgain == .none)
        guard case .wait(startReconnect: false) = machine.acquire() else {
            Issue.record("a call during a reconnect waits")
            return
        }
        let addedA = machine.addWaiter("a", id: 1)
        #expect(addedA)
        let addedB = machine.addWaiter("b", id: 2)
        #expect(addedB)
        let removed = machine.removeWaiter(id: 2)
        #expect(removed == "b")

        guard case .resume(let waiters, let generation) = machine.reconnected("second") else {
            Issue.record("a reconnect resumes the waiters")
            return
        }
        #expect(waiters == ["a"])
        #expect(generation == 1)
        // The old connection's late close does not disturb the new one.
        let lateClose = machine.connectionLost(generation: 0, reason: nil)
        #expect(lateClose == .none)
        #expect(machine.currentGeneration == 1)
    }

    @Test func aFailedRoundFailsWaitersAndTheNextCallStartsAnother() {
        var machine = Machine(connection: "first", reconnectEnabled: true)
        _ = machine.connectionLost(generation: 0, reason: nil)
        let added = machine.addWaiter("a", id: 1)
        #expect(added)
        let error = SidecarClientError.cannotConnect(path: "/tmp/s.sock", reason: "Connection refused")
        let failedWaiters = machine.reconnectFailed(error)
        #expect(failedWaiters == ["a"])
        guard case .wait(startReconnect: true) = machine.acquire() else {
            Issue.record("the next call after a failed round starts a new one")
            return
        }
    }

    @Test func permissionDeniedIsNotRetriedAutomatically() {
        var machine = Machine(connection: "first", reconnectEnabled: true)
        let denied = RPCError.permissionDenied(uid: 1001)
        let action = machine.connectionLost(generation: 0, reason: denied)
        #expect(action == .none)
        guard case .disconnected(let lastError) = machine.state else {
            Issue.record("expected disconnected")
            return
        }
        #expect(lastError == .rpc(denied))
    }

    @Test func withReconnectDisabledCallsFailWithConnectionClosed() {
        var machine = Machine(connection: "first", reconnectEnabled: false)
        let action = machine.connectionLost(generation: 0, reason: nil)
        #expect(action == .none)
        guard case .fail(.connectionClosed) = machine.acquire() else {
            Issue.record("expected the call to fail")
            return
        }
    }

    @Test func closingDuringAReconnectClosesTheNewConnection() {
        var machine = Machine(connection: "first", reconnectEnabled: true)
        _ = machine.connectionLost(generation: 0, reason: nil)
        let added = machine.addWaiter("a", id: 1)
        #expect(added)
        let closed = machine.close()
        #expect(closed.connection == nil)
        #expect(closed.waiters == ["a"])
        guard case .close("second") = machine.reconnected("second") else {
            Issue.record("a connection made after close must be closed")
            return
        }
        guard case .fail(.clientClosed) = machine.acquire() else {
            Issue.record("calls after close fail")
            return
        }
    }
}
