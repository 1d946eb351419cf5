import EventLoop
import Foundation
import Testing

private enum Source: Equatable, Sendable {
    case first
    case second
    case timer
}

/// Open file descriptors of this process.
private func openDescriptorCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

@Suite struct EventLoopTests {
    @Test func readyDescriptorsComeBackWithTheirTokens() throws {
        let loop = try EventLoop<Source>()
        let first = try EventFD()
        let second = try EventFD()
        _ = try loop.register(descriptor: first.rawValue, token: .first)
        _ = try loop.register(descriptor: second.rawValue, token: .second)
        second.signal()
        var seen: [Source] = []
        _ = try loop.wait(timeoutMilliseconds: 1000) { seen.append($0) }
        #expect(seen == [.second])
        _ = second.drain()
        first.signal()
        second.signal()
        seen = []
        _ = try loop.wait(timeoutMilliseconds: 1000) { seen.append($0) }
        #expect(Set(seen.map { "\($0)" }) == ["first", "second"])
    }

    @Test func unregisteredDescriptorsAreNotReported() throws {
        let loop = try EventLoop<Source>()
        let event = try EventFD()
        let registration = try loop.register(descriptor: event.rawValue, token: .first)
        #expect(loop.registrationCount == 1)
        loop.unregister(registration)
        #expect(loop.registrationCount == 0)
        event.signal()
        var seen: [Source] = []
        _ = try loop.wait(timeoutMilliseconds: 50) { seen.append($0) }
        #expect(seen.isEmpty)
        // A new registration reuses the slot with a new generation.
        let again = try loop.register(descriptor: event.rawValue, token: .second)
        _ = try loop.wait(timeoutMilliseconds: 1000) { seen.append($0) }
        #expect(seen == [.second])
        #expect(again != registration)
    }

    @Test func interestCanBeSwitchedOffAndOn() throws {
        let loop = try EventLoop<Source>()
        let event = try EventFD()
        let registration = try loop.register(descriptor: event.rawValue, token: .first)
        event.signal()
        try loop.modify(registration, interest: [])
        var seen: [Source] = []
        _ = try loop.wait(timeoutMilliseconds: 50) { seen.append($0) }
        #expect(seen.isEmpty, "no interest: a ready descriptor stays quiet")
        try loop.modify(registration, interest: .readable)
        _ = try loop.wait(timeoutMilliseconds: 1000) { seen.append($0) }
        #expect(seen == [.first])
    }

    @Test func timersFireOnceOrPeriodically() throws {
        let loop = try EventLoop<Source>()
        let timer = try TimerFD()
        _ = try loop.register(descriptor: timer.rawValue, token: .timer)
        try timer.arm(afterNanoseconds: 5_000_000)
        var seen: [Source] = []
        _ = try loop.wait(timeoutMilliseconds: 1000) { seen.append($0) }
        #expect(seen == [.timer])
        #expect(timer.acknowledge() == 1)
        #expect(timer.acknowledge() == nil)
        try timer.arm(afterNanoseconds: 1_000_000, intervalNanoseconds: 1_000_000)
        Thread.sleep(forTimeInterval: 0.02)
        #expect((timer.acknowledge() ?? 0) >= 5)
        try timer.disarm()
    }

    @Test func wakeInterruptsAWaitFromAnotherThread() throws {
        let loop = try EventLoop<Source>()
        let started = Date()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { loop.wake() }
        let woken = try loop.wait(timeoutMilliseconds: 5000) { _ in }
        #expect(woken)
        #expect(Date().timeIntervalSince(started) < 2)
    }

    @Test func releasingTheLoopClosesItsDescriptors() throws {
        let before = openDescriptorCount()
        do {
            let loop = try EventLoop<Source>()
            let timer = try TimerFD()
            _ = try loop.register(descriptor: timer.rawValue, token: .timer)
            #expect(openDescriptorCount() == before + 3)
        }
        #expect(openDescriptorCount() == before)
    }
}
