import EventLoop
import Foundation
import Testing

private enum Source: Equatable, Sendable {
    case first
    case second
    case timer
}

/// The descriptors that the epoll instance `epollDescriptor` watches, from its fdinfo
/// (one `tfd:` line per watched open file). The kernel drops a watch when the watched file's
/// last descriptor closes, so this sees exactly those files, whatever other tests running in
/// parallel open or close meanwhile.
private func watchedDescriptors(of epollDescriptor: Int32) -> [Int32] {
    guard let info = try? String(contentsOfFile: "/proc/self/fdinfo/\(epollDescriptor)", encoding: .utf8)
    else { return [-1] }
    return info.split(separator: "\n").compactMap { line in
        guard line.hasPrefix("tfd:") else { return nil }
        return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int32($0) }
    }
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
        let observer = try EventLoop<Source>()
        let observerEpoll = try #require(observer.ownedDescriptors.first)
        let observerWake = observer.ownedDescriptors[1]
        var watched: Set<Int32> = []
        do {
            let loop = try EventLoop<Source>()
            let timer = try TimerFD()
            _ = try loop.register(descriptor: timer.rawValue, token: .timer)
            for descriptor in loop.ownedDescriptors + [timer.rawValue] {
                _ = try observer.register(descriptor: descriptor, token: .first)
                watched.insert(descriptor)
            }
            #expect(Set(watchedDescriptors(of: observerEpoll)) == watched.union([observerWake]))
        }
        #expect(
            watchedDescriptors(of: observerEpoll) == [observerWake], "the loop's epoll, wake event and timer are closed"
        )
    }
}
