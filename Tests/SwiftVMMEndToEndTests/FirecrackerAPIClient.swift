import Foundation
import Testing

/// Talks to `swiftvmm serve`'s socket: curl for well-formed requests, a raw connection for
/// malformed ones.
struct FirecrackerAPIClient {
    let socketPath: String

    /// One request through curl --unix-socket: (HTTP status, body).
    func call(_ method: String, _ path: String, _ body: String? = nil, timeoutSeconds: Int = 10) throws -> (
        Int, String
    ) {
        let curl = try HostTool.require("curl", package: "curl")
        var arguments = [
            "-s", "-m", "\(timeoutSeconds)", "--unix-socket", socketPath, "-X", method, "-w", "\n%{http_code}",
        ]
        if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
        arguments.append("http://localhost\(path)")
        let process = try RunningProcess(executable: URL(fileURLWithPath: curl), arguments: arguments)
        _ = process.waitForExit(timeoutSeconds: Double(timeoutSeconds) + 5)
        let output = process.standardOutput.text
        guard let newline = output.lastIndex(of: "\n") else { return (Int(output) ?? 0, "") }
        return (Int(output[output.index(after: newline)...]) ?? 0, String(output[..<newline]))
    }

    /// The `fault_message` of a 400 answer (a failed expectation otherwise).
    func fault(_ method: String, _ path: String, _ body: String? = nil) throws -> String {
        let (status, text) = try call(method, path, body)
        #expect(status == 400, "\(method) \(path): \(status) \(text)")
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        return try #require(object?["fault_message"] as? String, "\(method) \(path): \(text)")
    }

    /// GET /'s `state`.
    func state() throws -> String? {
        let (_, text) = try call("GET", "/")
        let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        return object?["state"] as? String
    }

    /// Waits until the socket answers GET / (the server is up).
    func waitUntilServing(timeoutSeconds: Double = 30) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: socketPath), try call("GET", "/", timeoutSeconds: 2).0 == 200 {
                return true
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }
}

/// A raw stream connection to a unix socket.
final class RawUnixConnection {
    let descriptor: Int32

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let result = Self.withAddress(path) { connect(descriptor, $0, $1) }
        guard result == 0 else {
            close(descriptor)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    deinit { close(descriptor) }

    /// Calls `body` with a sockaddr_un for `path` and its length (connect, bind).
    static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Sends `bytes`; false when the peer closed the connection.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    /// Reads what arrives within `timeoutSeconds`, until the peer closes or `until` appears;
    /// `closed` tells whether the peer closed.
    func receive(timeoutSeconds: Double, until marker: String? = nil) -> (text: String, closed: Bool) {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var bytes: [UInt8] = []
        while Date() < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let remaining = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&poller, 1, min(remaining, 200)) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return (String(decoding: bytes, as: UTF8.self), true) }
            bytes += buffer[..<count]
            if let marker, String(decoding: bytes, as: UTF8.self).contains(marker) { break }
        }
        return (String(decoding: bytes, as: UTF8.self), false)
    }
}
