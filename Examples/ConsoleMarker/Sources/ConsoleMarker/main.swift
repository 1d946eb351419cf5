// ConsoleMarker: boots the built-in test firmware with a scratch disk, streams its console with
// a prefix, asks the guest to power off as soon as a marker line appears, and prints what the
// machine counted. Exits with the machine's exit status.
//
//   swift run ConsoleMarker [MARKER]        (default marker: "fw: ready")
import Foundation
import Logging
import VMM

let marker = CommandLine.arguments.dropFirst().first ?? "fw: ready"

let host = KVMHost.check()
guard host.isUsable else {
    FileHandle.standardError.write(Data("console-marker: \(host)\n".utf8))
    exit(2)
}

// A 16 MiB scratch disk for the guest's virtio-blk self-test.
let diskPath = NSTemporaryDirectory() + "console-marker-\(getpid()).img"
_ = FileManager.default.createFile(atPath: diskPath, contents: nil)
defer { try? FileManager.default.removeItem(atPath: diskPath) }
let disk = try FileHandle(forWritingTo: URL(fileURLWithPath: diskPath))
try disk.truncate(atOffset: 16 << 20)
try disk.close()

var logger = Logger(label: "console-marker")
logger.logLevel = .notice
let configuration = VirtualMachineConfiguration(
    name: "console-marker", vcpuCount: 2, commandLine: "fw.test=blk fw.wait=button", console: .stream,
    disks: [DiskConfiguration(path: diskPath)])

let machine: Machine
do {
    machine = try Machine(configuration: configuration, logger: logger)
} catch {
    FileHandle.standardError.write(Data("console-marker: \(error)\n".utf8))
    exit(error.exitStatus)
}

let lines = machine.console!.lines()
try machine.start()
var sawMarker = false
for await line in lines {
    print("[guest] \(line)")
    if line == marker, !sawMarker {
        sawMarker = true
        print("[console-marker] saw \"\(marker)\": asking the guest to power off")
        // Runs while this loop keeps printing the guest's last lines.
        Task { _ = try await machine.requestStop(grace: .seconds(10)) }
    }
}
let end = try await machine.waitUntilStopped()
let counts = machine.statistics.exitCounts
print("[console-marker] \(end); exit status \(end.exitStatus)")
for (index, vcpu) in counts.enumerated() {
    print(
        "[console-marker] vcpu\(index): \(vcpu.total) exits (\(vcpu.portOut) port out, \(vcpu.portIn) port in,"
            + " \(vcpu.mmioWrite) MMIO write, \(vcpu.mmioRead) MMIO read), \(vcpu.runNanoseconds / 1_000_000) ms")
}
let console = machine.statistics.console
print("[console-marker] console: \(console.writtenBytes) bytes, \(console.droppedBytes) dropped")
print("[console-marker] disk notifications: \(machine.statistics.virtioNotificationCounts.map(\.throughEventFD))")
exit(sawMarker ? end.exitStatus : 1)
