import EmbeddedFirmware
import Foundation
import Testing
import VMM

@testable import FirecrackerAPI

/// The log and metrics files a client names are hostile paths: not opened through a link, never
/// blocking on a named pipe without a reader.
struct FirecrackerOutputFileTests {
    let controller = FirecrackerController(instanceID: "test_vm", starter: RefusingStarter())
    let files: ScratchFiles

    init() throws { files = try ScratchFiles() }

    func call(_ method: String, _ path: String, _ body: String) async -> (status: Int, body: String) {
        let response = await controller.handle(method: method, path: path, body: Array(body.utf8))
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    @Test func linksAreRefusedAndTheirTargetsUntouched() async throws {
        let target = files.file("target", bytes: 0)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: target))
        for name in ["log", "metrics"] {
            try FileManager.default.createSymbolicLink(
                atPath: "\(files.directory)/\(name)", withDestinationPath: target)
        }
        let log = await call("PUT", "/logger", #"{"log_path": "\#(files.directory)/log"}"#)
        #expect(log.status == 400 && log.body.contains("symbolic link"), "\(log)")
        let metrics = await call("PUT", "/metrics", #"{"metrics_path": "\#(files.directory)/metrics"}"#)
        #expect(metrics.status == 400 && metrics.body.contains("symbolic link"), "\(metrics)")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep")
    }

    @Test func aNamedPipeWithoutAReaderIsRefusedAtOnce() async throws {
        let pipe = "\(files.directory)/pipe"
        try #require(mkfifo(pipe, 0o600) == 0)
        let log = await call("PUT", "/logger", #"{"log_path": "\#(pipe)"}"#)
        #expect(log.status == 400 && log.body.contains("no reader"), "\(log)")
    }

    @Test func aNewLogFileIsOwnerOnly() async throws {
        let path = "\(files.directory)/new.log"
        #expect(await call("PUT", "/logger", #"{"log_path": "\#(path)"}"#).status == 204)
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600)
    }
}

/// An embedder's starter that declares each disk's size (`size_mib`), as `swiftvmm launch` and
/// library users can: the machine then holds its disks to it.
struct SizedDiskStarter: MachineStarter {
    var sizeMiB: Int

    func start(_ configuration: VirtualMachineConfiguration) throws(FirecrackerFault) -> Machine {
        var sized = configuration
        for index in sized.disks.indices { sized.disks[index].sizeMiB = sizeMiB }
        return try InProcessStarter().start(sized)
    }
}

/// PATCH /drives holds a replacement image to the disk's declared size, as the boot does.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct FirecrackerDriveSizeTests {
    @Test func aReplacementSmallerThanTheDeclaredSizeIsRefused() async throws {
        let files = try ScratchFiles()
        let kernel = "\(files.directory)/firmware.elf"
        FileManager.default.createFile(atPath: kernel, contents: Data(EmbeddedFirmware.elf))
        let root = files.file("root.img", bytes: 2 << 20)
        let small = files.file("small.img", bytes: 1 << 20)
        let large = files.file("large.img", bytes: 4 << 20)
        let controller = FirecrackerController(instanceID: "sized", starter: SizedDiskStarter(sizeMiB: 2))
        func call(_ method: String, _ path: String, _ body: String) async -> (status: Int, body: String) {
            let response = await controller.handle(method: method, path: path, body: Array(body.utf8))
            return (response.status, String(decoding: response.body, as: UTF8.self))
        }
        #expect(
            await call("PUT", "/boot-source", #"{"kernel_image_path": "\#(kernel)", "boot_args": "fw.wait=button"}"#)
                .status == 204)
        #expect(await call("PUT", "/serial", #"{"serial_out_path": "/dev/null"}"#).status == 204)
        #expect(
            await call(
                "PUT", "/drives/root", #"{"drive_id": "root", "path_on_host": "\#(root)", "is_root_device": true}"#
            )
            .status == 204)
        let start = await call("PUT", "/actions", #"{"action_type": "InstanceStart"}"#)
        try #require(start.status == 204, "\(start)")
        let machine = try #require(controller.machine)

        let refused = await call("PATCH", "/drives/root", #"{"drive_id": "root", "path_on_host": "\#(small)"}"#)
        #expect(refused.status == 400 && refused.body.contains("less than the declared 2 MiB"), "\(refused)")
        #expect(machine.statistics.disks.first?.path == root, "the disk keeps its image")
        // The same image, shrunk on the host below the declared size: refused as well.
        try #require(truncate(root, 1 << 20) == 0)
        let shrunk = await call("PATCH", "/drives/root", #"{"drive_id": "root", "path_on_host": "\#(root)"}"#)
        #expect(shrunk.status == 400 && shrunk.body.contains("less than the declared 2 MiB"), "\(shrunk)")
        let accepted = await call("PATCH", "/drives/root", #"{"drive_id": "root", "path_on_host": "\#(large)"}"#)
        #expect(accepted.status == 204, "\(accepted)")
        #expect(machine.statistics.disks.first?.path == large)
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
    }
}
