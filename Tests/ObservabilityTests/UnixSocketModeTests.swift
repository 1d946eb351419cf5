import Foundation
import Logging
import Observability
import Synchronization
import Testing
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// A unix socket of the HTTP servers is owner-only from the moment its file exists. (Both tests
/// tell 0600 from what a socket gets otherwise — 0777 less the umask, 0755 under the usual 022;
/// under a umask of 077 they could not tell.)
@Suite(.serialized)
struct UnixSocketModeTests {
    /// A fresh directory of its own (only the test's socket is created in it).
    private static func scratchDirectory() throws -> String {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("swiftvmm-socket-mode-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        return directory
    }

    private static func mode(_ path: String) -> mode_t? {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mode & 0o777 : nil
    }

    /// The socket is 0600 when `bind` returns, before anything could `chmod` it. Without the
    /// `fchmod` before `bind` it is 0755.
    @Test func theBoundSocketIsOwnerOnlyAsSoonAsItExists() throws {
        let directory = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/bound.sock"
        let descriptor = try UnixSocketPath.bindOwnerOnly(path, field: "test")
        defer { close(descriptor) }
        #expect(Self.mode(path).map { String($0, radix: 8) } == "600")
    }

    /// The endpoint on a unix socket, its directory watched with inotify: the mode read the
    /// moment the file is created is already 0600 (the code before this check bound the socket,
    /// then chmod'ed it once the server ran: 10 runs of 10 saw 0755 here), and /healthz answers
    /// over it.
    @Test func theEndpointsSocketIsNeverOpenToOthers() async throws {
        let directory = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/endpoint.sock"
        let watch = inotify_init1(Int32(IN_CLOEXEC))
        try #require(watch >= 0, "inotify_init1: \(String(cString: strerror(errno)))")
        defer { close(watch) }
        try #require(inotify_add_watch(watch, directory, UInt32(IN_CREATE)) >= 0)
        let firstMode = Mutex<mode_t?>(nil)
        let seen = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var event = [UInt8](repeating: 0, count: 4096)
            // SAFETY: read(2) writes at most event.count bytes into the array during the call.
            let read = event.withUnsafeMutableBytes { Glibc.read(watch, $0.baseAddress, $0.count) }
            if read > 0 { firstMode.withLock { $0 = Self.mode(path) } }
            seen.signal()
        }
        let endpoint = try await onOwnThread {
            try ObservabilityEndpoint.start(
                address: .unixSocket(path: path), field: "test", machine: CurrentMachine(), metrics: MachineMetrics(),
                readiness: try Readiness(rule: .bootTimer), logger: Logger(label: "test"))
        }
        defer { endpoint.stop() }
        let answer = try await onOwnThread {
            let client = try TestSocket.unix(path: path)
            defer { client.close() }
            client.send("GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            return client.readToEnd(timeoutSeconds: 5)
        }
        let sawCreation = try await onOwnThread { seen.wait(timeout: .now() + 10) == .success }
        #expect(sawCreation, "no inotify event")
        #expect(firstMode.withLock { $0 }.map { String($0, radix: 8) } == "600", "the mode when the file appeared")
        #expect(Self.mode(path).map { String($0, radix: 8) } == "600")
        #expect(answer.hasPrefix("HTTP/1.1 200"))
    }
}
