#if canImport(Glibc)
    import Glibc
#endif

/// A file descriptor closed exactly once, when its owner is released.
package final class OwnedFileDescriptor: Sendable {
    /// The raw descriptor number.
    package let rawValue: Int32

    /// Takes ownership of `rawValue`.
    package init(taking rawValue: Int32) {
        self.rawValue = rawValue
    }

    deinit {
        close(rawValue)
    }
}
