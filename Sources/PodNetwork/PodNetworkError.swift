import StrictCoding

#if canImport(Glibc)
    import Glibc
#endif

/// The pod network's one error type: a `pod.network` value it does not accept, or a set-up step
/// that failed — one line naming the key or the step, the bad value or the cause, and what to do.
/// The launcher maps `code` to its exit status (10 for an invalid value, as any other; 18 for a
/// set-up failure).
public struct PodNetworkError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure it is.
    public enum Code: Sendable, Equatable {
        /// A `pod.network` value (or a pod setting checked against it) out of what it accepts.
        case invalidValue
        /// Setting the network up failed: forwarding off, no /dev/net/tun or NET_ADMIN, no
        /// libnftables, an address clash, a refused system call.
        case setUpFailed
    }

    public var code: Code
    /// The key an invalid value concerns (`pod.network.subnet`); nil for a set-up failure.
    public var field: String?
    public var message: String

    /// A set-up failure with `message`.
    public init(message: String) {
        code = .setUpFailed
        field = nil
        self.message = message
    }

    /// A set-up step that failed: "pod network: STEP failed: strerror (errno N)", with `advice`
    /// appended when given.
    public init(step: String, errno code: Int32, advice: String? = nil) {
        var text = "pod network: \(step) failed: \(String(cString: strerror(code))) (errno \(code))"
        if let advice { text += "; \(advice)" }
        self.init(message: text)
    }

    /// `field` has `value`, which it does not accept; `expected` says what it does.
    public static func invalidValue(field: String, value: String, expected: String) -> PodNetworkError {
        var error = PodNetworkError(message: "\(field): '\(value)' is not valid; expected \(expected)")
        error.code = .invalidValue
        error.field = field
        return error
    }

    public var description: String { message }
}

/// A pod network value refused while decoding reaches the caller as it is.
extension PodNetworkError: ExplainedDecodingError {}
