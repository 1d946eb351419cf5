import CEventLoop
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What a registration waits for.
package struct EventInterest: OptionSet, Sendable {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }

    package static let readable = EventInterest(rawValue: CEVENTLOOP_EPOLLIN)
    package static let writable = EventInterest(rawValue: CEVENTLOOP_EPOLLOUT)
}

/// An epoll set whose registrations carry typed tokens. `wait` runs on one I/O thread and hands
/// each ready registration's token to a handler; `register`/`unregister` may be called from any
/// thread, also while the loop waits.
package final class EventLoop<Token: Sendable>: Sendable {
    /// Identifies one registration (its slot in the token table and a generation).
    package struct Registration: Sendable, Hashable {
        let slot: UInt32
        let generation: UInt32
        let descriptor: Int32
        var data: UInt64 { UInt64(generation) << 32 | UInt64(slot) }
    }

    private struct Slot {
        var token: Token?
        var generation: UInt32 = 0
    }

    private let epollDescriptor: Int32
    private let slots = Mutex<[Slot]>([])
    private let wakeEvent: EventFD
    private static var wakeData: UInt64 { UInt64.max }

    package init() throws(EventLoopError) {
        let fd = epoll_create1(CEVENTLOOP_EPOLL_CLOEXEC)
        guard fd >= 0 else { throw .systemCallFailed(name: "epoll_create1", errno: errno) }
        epollDescriptor = fd
        do {
            wakeEvent = try EventFD()
        } catch {
            close(fd)
            throw error
        }
        guard ceventloop_add(fd, wakeEvent.rawValue, CEVENTLOOP_EPOLLIN, Self.wakeData) == 0 else {
            let code = errno
            close(fd)
            throw .systemCallFailed(name: "epoll_ctl(ADD wake event)", errno: code)
        }
    }

    deinit {
        close(epollDescriptor)
    }

    /// The descriptors this loop owns: its epoll instance first, then its wake event.
    /// Tests watch them to see that releasing the loop closes them.
    package var ownedDescriptors: [Int32] { [epollDescriptor, wakeEvent.rawValue] }

    /// Watches `descriptor` for `interest`; `token` comes back from `wait` when it is ready.
    /// The caller keeps the descriptor open until it unregisters it.
    package func register(descriptor: Int32, interest: EventInterest = .readable, token: Token) throws(EventLoopError)
        -> Registration
    {
        let registration: Registration = slots.withLock { slots in
            let index = slots.firstIndex { $0.token == nil } ?? slots.count
            if index == slots.count { slots.append(Slot()) }
            slots[index].token = token
            slots[index].generation &+= 1
            return Registration(slot: UInt32(index), generation: slots[index].generation, descriptor: descriptor)
        }
        guard ceventloop_add(epollDescriptor, descriptor, interest.rawValue, registration.data) == 0 else {
            let code = errno
            slots.withLock { $0[Int(registration.slot)].token = nil }
            throw .systemCallFailed(name: "epoll_ctl(ADD fd \(descriptor))", errno: code)
        }
        return registration
    }

    /// Changes what `registration` waits for (e.g. stop reading a tap while the guest has no buffers).
    package func modify(_ registration: Registration, interest: EventInterest) throws(EventLoopError) {
        guard ceventloop_modify(epollDescriptor, registration.descriptor, interest.rawValue, registration.data) == 0
        else { throw .systemCallFailed(name: "epoll_ctl(MOD fd \(registration.descriptor))", errno: errno) }
    }

    /// Stops watching; a pending event of this registration is dropped.
    package func unregister(_ registration: Registration) {
        _ = ceventloop_delete(epollDescriptor, registration.descriptor)
        slots.withLock { slots in
            let index = Int(registration.slot)
            if index < slots.count, slots[index].generation == registration.generation { slots[index].token = nil }
        }
    }

    /// The number of live registrations.
    package var registrationCount: Int { slots.withLock { $0.filter { $0.token != nil }.count } }

    /// Wakes a `wait` in progress (it returns `false` from its handler loop once, see `run`).
    package func wake() {
        wakeEvent.signal()
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and calls `handler` with the token of each
    /// ready registration. Returns whether `wake()` was called.
    package func wait(timeoutMilliseconds: Int32 = -1, _ handler: (Token) -> Void) throws(EventLoopError) -> Bool {
        // SAFETY: two temporary arrays of 64 entries (on the stack: no allocation per turn of the
        // I/O thread), written by epoll_wait for `count` ≤ 64 entries and read only below that.
        let (count, woken) = withUnsafeTemporaryAllocation(of: UInt64.self, capacity: Self.batch) { data in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: Self.batch) { events in
                let count = ceventloop_wait(
                    epollDescriptor, data.baseAddress, events.baseAddress, Int32(Self.batch), timeoutMilliseconds)
                var woken = false
                for index in 0..<max(0, Int(count)) {
                    if data[index] == Self.wakeData {
                        _ = wakeEvent.drain()
                        woken = true
                        continue
                    }
                    let slot = Int(data[index] & 0xffff_ffff)
                    let generation = UInt32(truncatingIfNeeded: data[index] >> 32)
                    let token: Token? = slots.withLock { slots in
                        slot < slots.count && slots[slot].generation == generation ? slots[slot].token : nil
                    }
                    if let token { handler(token) }
                }
                return (count, woken)
            }
        }
        if count < 0 {
            if errno == EINTR { return false }
            throw .systemCallFailed(name: "epoll_wait", errno: errno)
        }
        return woken
    }

    /// Events taken per epoll_wait.
    static var batch: Int { 64 }
}
