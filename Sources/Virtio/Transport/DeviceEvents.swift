import EventLoop
import Synchronization

/// A device's own name for a descriptor it watches, handed back to it when the descriptor is
/// ready: `.queue(n)` for queue n's notification eventfd (the transport turns it into
/// `queueNotified(n)`), `.source(n)` for the device's own sources (its tap, its block engine's
/// completion eventfd), delivered as `sourceReady(n)`.
package enum DeviceEventToken: Hashable, Sendable {
    case queue(Int)
    case source(Int)
}

/// One descriptor a device watches, until cancelled.
package protocol DeviceEventWatch: AnyObject, Sendable {
    /// Changes what it waits for (an empty set: stay registered, hear nothing).
    func change(interest: EventInterest) throws(EventLoopError)
    /// Stops watching; a pending event of this watch is dropped.
    func cancel()
}

/// What a machine offers its devices for watching descriptors: the I/O thread's event loop,
/// which calls the device's transport back with the token when a descriptor is ready.
package protocol DeviceEventRegistrar: Sendable {
    func watch(_ descriptor: Int32, token: DeviceEventToken, interest: EventInterest) throws(EventLoopError)
        -> any DeviceEventWatch
    /// A problem of the device's own for the operator (logged by the machine, rate-limited).
    func report(_ problem: String)
}

/// What an active device registers its event sources through. Each watch belongs to the
/// activation: the transport cancels every one when the device resets or fails to activate,
/// so a device that is not active hears nothing. Calls are serialized by the transport.
package final class DeviceEvents: Sendable {
    private let registrar: any DeviceEventRegistrar
    /// Each queue's notification eventfd (a KVM ioeventfd on QueueNotify), by queue index.
    private let queueNotifiers: [Int32]
    private let watches = Mutex<[any DeviceEventWatch]>([])

    package init(registrar: any DeviceEventRegistrar, queueNotifiers: [Int32]) {
        self.registrar = registrar
        self.queueNotifiers = queueNotifiers
    }

    /// Events for a device driven by hand (unit tests, fuzzing): nothing is watched.
    package static func unwatched() -> DeviceEvents {
        DeviceEvents(registrar: UnwatchedRegistrar(), queueNotifiers: [])
    }

    /// Watches the notification eventfd of every queue the driver enabled (token `.queue(n)`).
    package func watchQueues(_ queues: [SplitQueue?]) throws(VirtioDeviceError) {
        for (index, queue) in queues.enumerated() where queue != nil && index < queueNotifiers.count {
            _ = try watch(queueNotifiers[index], token: .queue(index), interest: .readable)
        }
    }

    /// Watches `descriptor`, one of the device's own, as `.source(source)`.
    package func watch(_ descriptor: Int32, source: Int, interest: EventInterest = .readable)
        throws(VirtioDeviceError) -> any DeviceEventWatch
    {
        try watch(descriptor, token: .source(source), interest: interest)
    }

    private func watch(_ descriptor: Int32, token: DeviceEventToken, interest: EventInterest)
        throws(VirtioDeviceError) -> any DeviceEventWatch
    {
        do {
            let watch = try registrar.watch(descriptor, token: token, interest: interest)
            watches.withLock { $0.append(watch) }
            return watch
        } catch {
            throw VirtioDeviceError("could not watch descriptor \(descriptor) (\(token)): \(error)")
        }
    }

    /// Tells the operator about a problem of the device's own (e.g. its tap was deleted).
    package func report(_ problem: String) {
        registrar.report(problem)
    }

    /// Ends every watch of the activation.
    package func cancelAll() {
        let ended = watches.withLock { watches in
            defer { watches = [] }
            return watches
        }
        for watch in ended { watch.cancel() }
    }
}

/// Watches nothing: for devices driven by hand.
private struct UnwatchedRegistrar: DeviceEventRegistrar {
    final class Watch: DeviceEventWatch {
        func change(interest: EventInterest) throws(EventLoopError) {}
        func cancel() {}
    }

    func watch(_ descriptor: Int32, token: DeviceEventToken, interest: EventInterest) throws(EventLoopError)
        -> any DeviceEventWatch
    { Watch() }

    func report(_ problem: String) {}
}
