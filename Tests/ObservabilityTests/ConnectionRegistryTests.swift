import Observability
import Testing

/// Which connection the cap closes, as pure bookkeeping (no sockets): the oldest one awaiting its
/// headers for at least the grace, else the oldest idle one, else the oldest one awaiting headers;
/// never one in a request, never the new one.
struct ConnectionRegistryTests {
    /// Connections are names; time is in milliseconds, the grace 100 ms.
    private static func registry(cap: Int) -> ConnectionRegistry<String> {
        ConnectionRegistry(maximumConnections: cap, evictionGraceNanoseconds: 100_000_000)
    }

    private static func milliseconds(_ value: UInt64) -> UInt64 { value * 1_000_000 }

    @Test func underTheCapNothingIsEvicted() {
        var registry = Self.registry(cap: 3)
        for name in ["a", "b", "c"] {
            #expect(registry.open(name, nowNanoseconds: 0).evicted == nil)
        }
        #expect(registry.count == 3)
    }

    @Test func theOldestConnectionAwaitingHeadersGoesBeforeAnyIdleOne() {
        var registry = Self.registry(cap: 3)
        let a = registry.open("a", nowNanoseconds: 0).number
        _ = registry.open("b", nowNanoseconds: 0)
        _ = registry.open("c", nowNanoseconds: 0)
        registry.setPhase(.idle, of: a, nowNanoseconds: Self.milliseconds(10))
        let (_, evicted) = registry.open("d", nowNanoseconds: Self.milliseconds(500))
        #expect(evicted == "b", "a is idle and older, b awaits its headers")
        #expect(registry.open("e", nowNanoseconds: Self.milliseconds(500)).evicted == "c")
        #expect(registry.count == 3)
    }

    @Test func withNoneAwaitingHeadersTheOldestIdleOneGoes() {
        var registry = Self.registry(cap: 3)
        let numbers = ["a", "b", "c"].map { registry.open($0, nowNanoseconds: 0).number }
        registry.setPhase(.inRequest, of: numbers[0], nowNanoseconds: 0)
        registry.setPhase(.idle, of: numbers[1], nowNanoseconds: 0)
        registry.setPhase(.idle, of: numbers[2], nowNanoseconds: 0)
        #expect(registry.open("d", nowNanoseconds: Self.milliseconds(1)).evicted == "b", "a is in a request")
    }

    @Test func aConnectionInARequestIsNeverEvictedNorTheNewOne() {
        var registry = Self.registry(cap: 2)
        let numbers = ["a", "b"].map { registry.open($0, nowNanoseconds: 0).number }
        for number in numbers { registry.setPhase(.inRequest, of: number, nowNanoseconds: 0) }
        let (c, evicted) = registry.open("c", nowNanoseconds: Self.milliseconds(500))
        #expect(evicted == nil)
        #expect(registry.count == 3, "over the cap until the requests are answered")
        #expect(registry.phase(of: c) == .awaitingHeaders)
        registry.setPhase(.idle, of: numbers[1], nowNanoseconds: Self.milliseconds(600))
        #expect(registry.open("d", nowNanoseconds: Self.milliseconds(700)).evicted == "c")
    }

    /// A probe just accepted (its request not read yet) is not the first to go when the cap is
    /// full of idle connections: the idle ones go first until it has waited for the grace.
    @Test func aConnectionJustAcceptedGoesAfterIdleOnes() {
        var registry = Self.registry(cap: 3)
        let a = registry.open("a", nowNanoseconds: 0).number
        let b = registry.open("b", nowNanoseconds: 0).number
        registry.setPhase(.idle, of: a, nowNanoseconds: 0)
        registry.setPhase(.idle, of: b, nowNanoseconds: 0)
        _ = registry.open("probe", nowNanoseconds: Self.milliseconds(1000))
        let (c, afterC) = registry.open("c", nowNanoseconds: Self.milliseconds(1001))
        #expect(afterC == "a")
        let (d, afterD) = registry.open("d", nowNanoseconds: Self.milliseconds(1002))
        #expect(afterD == "b")
        // Only young connections awaiting headers are left: the oldest of them goes.
        #expect(registry.open("e", nowNanoseconds: Self.milliseconds(1003)).evicted == "probe")
        // Past the grace, the oldest awaiting headers goes before an idle one.
        registry.setPhase(.idle, of: d, nowNanoseconds: Self.milliseconds(1004))
        #expect(registry.phase(of: c) == .awaitingHeaders)
        #expect(
            registry.open("f", nowNanoseconds: Self.milliseconds(1200)).evicted == "c", "c waited 199 ms, d is idle")
    }

    /// An idle connection whose next request starts is young again: its grace runs from then.
    @Test func theGraceRunsFromTheStartOfTheRequest() {
        var registry = Self.registry(cap: 2)
        let a = registry.open("a", nowNanoseconds: 0).number
        let b = registry.open("b", nowNanoseconds: 0).number
        registry.setPhase(.idle, of: a, nowNanoseconds: 0)
        registry.setPhase(.idle, of: b, nowNanoseconds: 0)
        registry.setPhase(.awaitingHeaders, of: a, nowNanoseconds: Self.milliseconds(5000))
        #expect(registry.open("c", nowNanoseconds: Self.milliseconds(5001)).evicted == "b")
        #expect(registry.open("d", nowNanoseconds: Self.milliseconds(5200)).evicted == "a")
    }

    @Test func closedAndEvictedConnectionsAreForgotten() {
        var registry = Self.registry(cap: 2)
        let a = registry.open("a", nowNanoseconds: 0).number
        let b = registry.open("b", nowNanoseconds: 0).number
        #expect(registry.open("c", nowNanoseconds: Self.milliseconds(500)).evicted == "a")
        registry.setPhase(.idle, of: a, nowNanoseconds: Self.milliseconds(501))
        registry.remove(a)
        #expect(registry.phase(of: a) == nil)
        #expect(registry.count == 2)
        registry.remove(b)
        #expect(registry.count == 1)
        #expect(registry.removeAll() == ["c"])
        #expect(registry.count == 0)
    }
}
