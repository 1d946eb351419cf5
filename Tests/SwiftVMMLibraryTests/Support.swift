import Foundation
import Synchronization
import Testing
import VMM

// These tests use only the library's public API (`import VMM`, no @testable), as an embedder does.

// The KVM gate (kvmUsable, kvmSkipReason: KVMHost.check(), public API), the tags and waits.
@_exported import TestSupport

/// The embedded test firmware with `switches` on its command line, its console as streams.
func firmware(_ switches: String, vcpus: Int = 1, name: String = "test") -> VirtualMachineConfiguration {
    VirtualMachineConfiguration(name: name, vcpuCount: vcpus, commandLine: switches, console: .stream)
}

/// Collects a machine's console lines from the moment it is made (make it before `start()`).
final class ConsoleCollector: Sendable {
    private let collected = Mutex<[String]>([])
    private let reader = Mutex<Task<Void, Never>?>(nil)

    init(_ console: MachineConsole) {
        let lines = console.lines()
        let task = Task { [self] in
            for await line in lines { collected.withLock { $0.append(line) } }
        }
        reader.withLock { $0 = task }
    }

    /// The lines so far.
    var lines: [String] { collected.withLock { $0 } }

    /// The number of lines so far that satisfy `predicate`.
    func count(where predicate: (String) -> Bool) -> Int { collected.withLock { $0.filter(predicate).count } }

    /// Waits until a line satisfies `predicate` (polling every 10 ms); false after `timeout`.
    func waitFor(_ timeout: Duration = .seconds(30), _ predicate: (String) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if collected.withLock({ $0.contains(where: predicate) }) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// Waits until the stream has ended (the machine stopped).
    func waitForEnd() async {
        await reader.withLock { $0 }?.value
    }
}

/// This process's threads and open descriptors, from /proc/self.
struct ProcessResources: Equatable, CustomStringConvertible {
    let threads: Int
    let descriptors: Int

    static var current: ProcessResources {
        let fileManager = FileManager.default
        return ProcessResources(
            threads: (try? fileManager.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1,
            descriptors: (try? fileManager.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1)
    }

    /// Waits up to `timeout` for the threads and descriptors to come back to `baseline` or fewer
    /// (threads of other tests running in parallel may come and go, so this is only a bound).
    static func settle(to baseline: ProcessResources, timeout: Duration = .seconds(5)) async -> ProcessResources {
        let deadline = ContinuousClock.now + timeout
        var now = current
        while ContinuousClock.now < deadline, now.threads > baseline.threads || now.descriptors > baseline.descriptors {
            try? await Task.sleep(for: .milliseconds(20))
            now = current
        }
        return now
    }

    var description: String { "\(threads) threads, \(descriptors) descriptors" }
}
