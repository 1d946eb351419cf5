import Testing
import VMM

/// Whether this host can boot guests: `KVMHost.check()` (the one way every test target decides
/// it — /dev/kvm opens read-write, the API version and the capabilities are there).
public let kvmUsable: Bool = KVMHost.check().isUsable

/// What a test that needs KVM says when it is skipped.
public let kvmSkipReason: Comment =
    "SKIPPED: needs read/write access to a usable /dev/kvm (KVMHost.check() says what is missing)"

extension Tag {
    /// Boots a guest (needs /dev/kvm); fast ones belong to `scripts/test.sh --fast`.
    @Tag public static var kvm: Self
    /// Boots Linux inside the nested-SVM QEMU harness (minutes each).
    @Tag public static var nested: Self
    /// Plays Kubernetes manifests with rootful podman.
    @Tag public static var podman: Self
    /// Takes more than about 20 s on 2 cores (left out of `scripts/test.sh --fast`).
    @Tag public static var slow: Self
}
