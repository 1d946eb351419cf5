@_spi(ExitPath) import KVM
import Testing

/// Tests that boot guests need a usable /dev/kvm; elsewhere they are skipped with this reason.
let kvmAvailable = KVMSystem.isUsable()
let kvmSkipReason: Comment = "SKIPPED: needs read/write access to /dev/kvm (KVM with hardware or PVM virtualization)"
