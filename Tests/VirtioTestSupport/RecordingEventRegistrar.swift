import EventLoop
import Synchronization
@_spi(ExitPath) import Virtio

/// A registrar for device tests: records what a device watches, changes and cancels, and what
/// it reports, instead of watching anything.
package final class RecordingEventRegistrar: DeviceEventRegistrar {
    /// One thing a device did with its watches.
    package enum Action: Equatable, Sendable {
        case watch(DeviceEventToken, readable: Bool)
        case change(DeviceEventToken, readable: Bool)
        case cancel(DeviceEventToken)
    }

    private final class Watch: DeviceEventWatch {
        let token: DeviceEventToken
        let registrar: RecordingEventRegistrar

        init(token: DeviceEventToken, registrar: RecordingEventRegistrar) {
            self.token = token
            self.registrar = registrar
        }

        func change(interest: EventInterest) throws(EventLoopError) {
            registrar.record(.change(token, readable: interest.contains(.readable)))
        }

        func cancel() { registrar.record(.cancel(token)) }
    }

    private let actionLog = Mutex<[Action]>([])
    private let reportLog = Mutex<[String]>([])

    package init() {}

    /// Events a device activated with this registrar and `queueCount` queue notifiers gets
    /// (the notifier descriptors are placeholders: nothing is watched).
    package func events(queueCount: Int) -> DeviceEvents {
        DeviceEvents(registrar: self, queueNotifiers: Array(repeating: -1, count: queueCount))
    }

    /// Everything recorded so far, in order.
    package var actions: [Action] { actionLog.withLock { $0 } }
    /// What the device reported.
    package var reports: [String] { reportLog.withLock { $0 } }

    /// The tokens watched now (not cancelled), each with whether it waits for readability.
    package var watching: [DeviceEventToken: Bool] {
        var current: [DeviceEventToken: Bool] = [:]
        for action in actions {
            switch action {
            case .watch(let token, let readable), .change(let token, let readable): current[token] = readable
            case .cancel(let token): current[token] = nil
            }
        }
        return current
    }

    fileprivate func record(_ action: Action) { actionLog.withLock { $0.append(action) } }

    package func watch(_ descriptor: Int32, token: DeviceEventToken, interest: EventInterest) throws(EventLoopError)
        -> any DeviceEventWatch
    {
        record(.watch(token, readable: interest.contains(.readable)))
        return Watch(token: token, registrar: self)
    }

    package func report(_ problem: String) { reportLog.withLock { $0.append(problem) } }
}
