import Foundation
import Testing

/// What /proc says of each thread of a running process: its capabilities, no_new_privs and
/// seccomp state.
struct ThreadPrivileges: CustomStringConvertible {
    let task: String
    let name: String
    let capabilities: [String: String]
    let noNewPrivileges: Bool
    /// 2: a seccomp filter is loaded.
    let seccompMode: Int
    let filterCount: Int
    /// A kernel worker of the thread group (io_uring's, KVM's NX recovery worker): it runs no
    /// user code and takes no signal.
    let isKernelWorker: Bool

    var description: String {
        "\(name)/\(task): \(capabilities) no_new_privs \(noNewPrivileges) seccomp \(seccompMode) (\(filterCount) filters)"
    }

    var holdsCapabilities: Bool { capabilities.values.contains { $0 != "0000000000000000" } }

    /// Every thread of process `pid`.
    static func of(_ pid: Int32) -> [ThreadPrivileges] {
        let tasks = "/proc/\(pid)/task"
        return ((try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []).sorted().compactMap { task in
            guard let status = try? String(contentsOfFile: "\(tasks)/\(task)/status", encoding: .utf8),
                let stat = try? String(contentsOfFile: "\(tasks)/\(task)/stat", encoding: .utf8)
            else { return nil }
            func field(_ name: String) -> String {
                status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map {
                    $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
                } ?? ""
            }
            // Field 9 of stat (after the parenthesised name): the task's flags.
            let afterName = stat[stat.index(after: stat.lastIndex(of: ")") ?? stat.startIndex)...]
            let fields = afterName.split(separator: " ")
            let flags = fields.count > 6 ? UInt64(fields[6]) ?? 0 : 0
            let kernelWorker = flags & (0x10 | 0x4000 | 0x20_0000) != 0
            return ThreadPrivileges(
                task: task, name: field("Name"),
                capabilities: Dictionary(
                    uniqueKeysWithValues: ["CapInh", "CapPrm", "CapEff", "CapAmb"].map { ($0, field($0)) }),
                noNewPrivileges: field("NoNewPrivs") == "1", seccompMode: Int(field("Seccomp")) ?? -1,
                filterCount: Int(field("Seccomp_filters")) ?? -1, isKernelWorker: kernelWorker)
        }
    }

    /// Expects every user thread of `pid` to hold no capability, to have no_new_privs and a
    /// seccomp filter (`expectedThreads` name prefixes must be among them); returns the threads.
    @discardableResult
    static func expectUnprivileged(
        _ pid: Int32, including expectedThreads: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) -> [ThreadPrivileges] {
        let threads = of(pid)
        for thread in threads where !thread.isKernelWorker {
            #expect(!thread.holdsCapabilities, "\(thread)", sourceLocation: sourceLocation)
            #expect(thread.noNewPrivileges, "\(thread)", sourceLocation: sourceLocation)
            #expect(thread.seccompMode == 2 && thread.filterCount >= 1, "\(thread)", sourceLocation: sourceLocation)
        }
        for prefix in expectedThreads {
            #expect(
                threads.contains { $0.name.hasPrefix(prefix) }, "no thread named \(prefix)*: \(threads)",
                sourceLocation: sourceLocation)
        }
        return threads
    }
}
