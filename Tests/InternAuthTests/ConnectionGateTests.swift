import InternAuth
import Testing

/// The coordinator's bookkeeping of network connections whose peers have not authenticated, and
/// of which rejections get a log line: pure logic, no sockets.
@Suite struct ConnectionGateTests {
    private let limits = ConnectionGate.Limits(perAddress: 3, unauthenticated: 5, connections: 8, unauthenticatedMillis: 1_000)

    @Test func oneAddressHoldsAFewUnauthenticatedConnections_andAuthenticatingFreesItsPlace() {
        var gate = ConnectionGate(limits: limits)
        for id in UInt32(1)...3 {
            #expect(gate.open(id, address: "tcp://10.0.0.9:\(4000 + id)", local: false, now: 0) == .admit(evicting: []))
        }
        #expect(gate.open(4, address: "tcp://10.0.0.9:4004", local: false, now: 0)
            == .refuse(reason: "too many unauthenticated connections from this address (3)"))
        // Another address is not held back by this one.
        #expect(gate.open(5, address: "tcp://10.0.0.2:5000", local: false, now: 0) == .admit(evicting: []))
        gate.authenticated(1)
        #expect(gate.isAuthenticated(1))
        #expect(gate.open(6, address: "tcp://10.0.0.9:4006", local: false, now: 0) == .admit(evicting: []))
        #expect(gate.counts == (network: 5, unauthenticated: 4))
        gate.closed(2)
        #expect(gate.counts == (network: 4, unauthenticated: 3))
    }

    @Test func whenTooManyWaitInAll_theOldestOfTheMostCrowdedAddressMakesRoom() {
        var gate = ConnectionGate(limits: limits)
        _ = gate.open(1, address: "tcp://10.0.0.9:1", local: false, now: 0)
        _ = gate.open(2, address: "tcp://10.0.0.9:2", local: false, now: 1)
        _ = gate.open(3, address: "tcp://10.0.0.9:3", local: false, now: 2)
        _ = gate.open(4, address: "tcp://10.0.0.8:1", local: false, now: 3)
        _ = gate.open(5, address: "tcp://10.0.0.7:1", local: false, now: 4)
        // A newcomer (a genuine worker, say) gets in; the crowding address's oldest goes.
        #expect(gate.open(6, address: "tcp://10.0.0.2:1", local: false, now: 5) == .admit(evicting: [1]))
        #expect(gate.counts.unauthenticated == 5)
        // The evicted one is not counted again, nor timed out later.
        #expect(gate.expired(now: 10_000).map(\.id).sorted() == [2, 3, 4, 5, 6])
        #expect(gate.expired(now: 20_000).isEmpty)
    }

    @Test func connectionsThatDoNotAuthenticateInTime_expireOnce_withTheirAddress() {
        var gate = ConnectionGate(limits: limits)
        _ = gate.open(1, address: "tcp://10.0.0.9:1", local: false, now: 0)
        _ = gate.open(2, address: "tcp://10.0.0.9:2", local: false, now: 600)
        _ = gate.open(3, address: "tcp://[fe80::1]:7", local: false, now: 0)
        gate.authenticated(3)
        #expect(gate.expired(now: 1_000).isEmpty)
        let first = gate.expired(now: 1_001)
        #expect(first.map(\.id) == [1] && first.first?.address == "tcp://10.0.0.9:1")
        #expect(gate.expired(now: 1_601).map(\.id) == [2])
        #expect(gate.expired(now: 5_000).isEmpty)
        #expect(gate.address(of: 1) == "tcp://10.0.0.9:1")
        gate.closed(1)
        // Still named just after it closed (a rejection logged late), forgotten later.
        #expect(gate.address(of: 1) == "tcp://10.0.0.9:1")
        for id in UInt32(1_000)..<3_000 {
            _ = gate.open(id, address: "tcp://10.1.\(id / 250).\(id % 250):1", local: false, now: 2_000)
            gate.closed(id)
        }
        #expect(gate.address(of: 1) == nil)
    }

    @Test func aConnectionWhosePeerIsAlreadyGone_isDroppedWithoutAWord() {
        var gate = ConnectionGate(limits: limits)
        #expect(gate.open(1, address: nil, local: false, now: 0) == .drop)
        #expect(gate.counts == (network: 0, unauthenticated: 0))
    }

    @Test func localConnectionsAreNeverLimited_andTheTotalIs() {
        var gate = ConnectionGate(limits: limits)
        for id in UInt32(1)...20 {
            #expect(gate.open(id, address: "ipc:///run/x.sock", local: true, now: 0) == .admit(evicting: []))
            #expect(gate.isAuthenticated(id))
        }
        for id in UInt32(100)..<108 {
            _ = gate.open(id, address: "tcp://10.0.\(id).1:1", local: false, now: 0)
            gate.authenticated(id)
        }
        #expect(gate.open(200, address: "tcp://10.0.0.1:1", local: false, now: 0) == .refuse(reason: "too many connections (8)"))
        gate.closed(100)
        #expect(gate.open(200, address: "tcp://10.0.0.1:1", local: false, now: 0) == .admit(evicting: []))
    }

    @Test func hostsAreAddressesWithoutThePort() {
        #expect(ConnectionGate.host(of: "tcp://10.0.0.2:41234") == "10.0.0.2")
        #expect(ConnectionGate.host(of: "tcp://[::1]:41234") == "[::1]")
        #expect(ConnectionGate.host(of: "ipc:///tmp/x.sock") == "/tmp/x.sock")
        #expect(ConnectionGate.host(of: "an unknown address") == "an unknown address")
    }
}

@Suite struct RejectionLogTests {
    @Test func oneLinePerKeyPerInterval_carryingTheCountSince() {
        var log = RejectionLog()
        #expect(log.shouldLog("10.0.0.9 bad tag", now: 0) == 0)
        for t in 1...99 { #expect(log.shouldLog("10.0.0.9 bad tag", now: Int64(t)) == nil) }
        #expect(log.shouldLog("10.0.0.8 bad tag", now: 100) == 0)
        #expect(log.shouldLog("10.0.0.9 bad tag", now: RejectionLog.interval) == 99)
    }

    @Test func aFloodFromManyAddressesGetsAFewLines_andTheRestIsCountedInASummary() {
        var log = RejectionLog()
        var lines = 0
        for i in 0..<18_000 where log.shouldLog("10.\(i / 250).\(i % 250).1 wrong credentials", now: Int64(i / 10)) != nil {
            lines += 1
        }
        // 18,000 rejections over 1.8 s: at most 20 lines.
        #expect(lines == RejectionLog.linesPerInterval)
        let summary = log.summary(now: 1_800)
        #expect(summary?.rejections == 18_000 - lines)
        #expect(log.summary(now: 1_900) == nil)
    }

    @Test func whatAStoppedFloodDidNotLogIsStillReported() {
        var log = RejectionLog()
        _ = log.shouldLog("10.0.0.9 bad tag", now: 0)
        for t in 1...50 { _ = log.shouldLog("10.0.0.9 bad tag", now: Int64(t)) }
        #expect(log.summary(now: 5_000) == nil)  // the key may still log its count itself
        let summary = log.summary(now: RejectionLog.interval + 1)
        #expect(summary?.rejections == 50 && summary?.keys == 1)
        // Counted once: the key's next line starts from zero.
        #expect(log.shouldLog("10.0.0.9 bad tag", now: 3 * RejectionLog.interval) == 0)
    }
}

extension RejectionLogTests {
    @Test func aFinalSummaryReportsEveryCountNotYetLogged() {
        var log = RejectionLog()
        _ = log.shouldLog("10.0.0.9 bad tag", now: 0)
        for t in 1...7 { _ = log.shouldLog("10.0.0.9 bad tag", now: Int64(t)) }
        #expect(log.summary(now: 10) == nil)
        let summary = log.summary(now: 11, final: true)
        #expect(summary?.rejections == 7 && summary?.keys == 1)
    }
}
