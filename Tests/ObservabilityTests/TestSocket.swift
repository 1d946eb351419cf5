import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A raw client socket for the hostile-client tests: blocking connects, raw writes of any bytes
/// (half a request, one byte), and waits that tell an open connection from one the server closed.
struct TestSocket {
    let descriptor: Int32

    /// Connects to 127.0.0.1:`port` from 127.0.0.2 — so that the thousands of ports the flood
    /// takes never collide with a port another suite binds on 127.0.0.1 meanwhile.
    static func tcp(port: Int) throws -> TestSocket {
        let descriptor = try open(AF_INET)
        try call("bind", descriptor, on: loopback(0x7f00_0002, port: 0), bind)
        try call("connect", descriptor, on: loopback(0x7f00_0001, port: port), connect)
        return TestSocket(descriptor: descriptor)
    }

    private static func open(_ family: Int32) throws -> Int32 {
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw TestSocketError.call("socket", errno) }
        return descriptor
    }

    private static func loopback(_ address: UInt32, port: Int) -> sockaddr_in {
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
        socketAddress.sin_addr.s_addr = in_addr_t(address.bigEndian)
        return socketAddress
    }

    /// Makes `function` (bind or connect) on `descriptor` with `address`; on failure closes the
    /// descriptor and throws, naming `name`.
    private static func call<Address>(
        _ name: String, _ descriptor: Int32, on address: Address,
        _ function: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32
    ) throws {
        var address = address
        // SAFETY: the call reads the local address (of its own size) during the call only.
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                function(descriptor, $0, socklen_t(MemoryLayout<Address>.size))
            }
        }
        guard result == 0 else {
            let error = errno
            Glibc.close(descriptor)
            throw TestSocketError.call(name, error)
        }
    }

    /// A TCP port of 127.0.0.1 free now (the kernel's pick for a socket bound to port 0).
    static func freePort() throws -> Int {
        let descriptor = try open(AF_INET)
        defer { Glibc.close(descriptor) }
        var address = loopback(0x7f00_0001, port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        // SAFETY: bind(2) reads and getsockname(2) writes at most `length` bytes of the local
        // sockaddr_in during each call.
        let named = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard named else { throw TestSocketError.call("bind", errno) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Connects to the unix socket at `path`.
    static func unix(path: String) throws -> TestSocket {
        let descriptor = try open(AF_UNIX)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path))
        // SAFETY: the path, shorter than sun_path (checked), is copied into the tuple's storage.
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        try call("connect", descriptor, on: address, connect)
        return TestSocket(descriptor: descriptor)
    }

    /// Writes `text` whole; false when the server closed the connection (EPIPE, ECONNRESET).
    @discardableResult
    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            // SAFETY: send(2) reads the array's bytes from `offset` during the call only.
            let sent = bytes.withUnsafeBytes { raw in
                Glibc.send(descriptor, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else {
                if sent < 0, errno == EINTR { continue }
                return false
            }
            offset += sent
        }
        return true
    }

    /// Waits up to `timeoutSeconds` for the server to close the connection, reading (and
    /// dropping) what it answered meanwhile: true once it reads end of file or a reset, false
    /// while the connection is still open at the end.
    func waitForClose(timeoutSeconds: Double) -> Bool {
        let end = Date().addingTimeInterval(timeoutSeconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let remaining = end.timeIntervalSinceNow
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(max(0, remaining * 1000)))
            if ready < 0, errno == EINTR { continue }
            guard ready > 0 else { return false }
            // SAFETY: recv(2) writes at most buffer.count bytes into the array during the call.
            let read = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if read == 0 || (read < 0 && errno != EAGAIN && errno != EINTR) { return true }
        }
    }

    /// Reads until the server closes (at most `timeoutSeconds`): the bytes read, as text.
    func readToEnd(timeoutSeconds: Double) -> String {
        let end = Date().addingTimeInterval(timeoutSeconds)
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let remaining = end.timeIntervalSinceNow
            guard remaining > 0 else { break }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(remaining * 1000) + 1)
            if ready < 0, errno == EINTR { continue }
            guard ready > 0 else { break }
            // SAFETY: recv(2) writes at most buffer.count bytes into the array during the call.
            let read = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if read > 0 {
                answer += buffer[..<read]
            } else if read == 0 || (errno != EAGAIN && errno != EINTR) {
                break
            }
        }
        return String(decoding: answer, as: UTF8.self)
    }

    /// Reads one answer of a keep-alive connection: up to the end of its body (`Content-Length`).
    func readAnswer(timeoutSeconds: Double) -> String {
        let end = Date().addingTimeInterval(timeoutSeconds)
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while end.timeIntervalSinceNow > 0 {
            let text = String(decoding: answer, as: UTF8.self)
            if let headerEnd = text.range(of: "\r\n\r\n") {
                let length =
                    text[..<headerEnd.lowerBound].split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text[..<headerEnd.upperBound].utf8.count >= length { return text }
            }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(end.timeIntervalSinceNow * 1000) + 1) > 0 else { break }
            // SAFETY: recv(2) writes at most buffer.count bytes into the array during the call.
            let read = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard read > 0 else { break }
            answer += buffer[..<read]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    func close() { Glibc.close(descriptor) }
}

enum TestSocketError: Error, CustomStringConvertible {
    case call(String, Int32)

    var description: String {
        switch self {
        case .call(let name, let error): return "\(name): \(String(cString: strerror(error)))"
        }
    }
}

/// The test process's own resources, from /proc.
enum ProcessResources {
    /// Open descriptors of this process.
    static func descriptorCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    /// Resident set size in bytes (/proc/self/statm's second field, in pages).
    static func residentBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return -1 }
        let fields = statm.split(separator: " ")
        return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// How many connections wait in the accept queue of this process's TCP listener on `port`
    /// (`/proc/net/tcp`: a listening socket's receive queue is its accept queue), 0 when none.
    static func acceptQueueLength(port: Int) -> Int {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return 0 }
        let local = String(format: ":%04X", port)
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[3] == "0A", fields[1].hasSuffix(local) else { continue }
            return Int(fields[4].split(separator: ":").last ?? "", radix: 16) ?? 0
        }
        return 0
    }

    /// Raises the soft descriptor limit to the hard one (thousands of sockets, both ends in this
    /// process); returns the soft limit now in force.
    @discardableResult
    static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return -1 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(limit.rlim_cur)
    }
}

/// Runs `body` on a thread of its own and awaits it: blocking socket calls, waits and sleeps
/// then hold neither of the cooperative pool's threads (one per core, two here), which the HTTP
/// server's handlers, its start and the other suites need.
func onOwnThread<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
