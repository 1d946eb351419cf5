@_spi(ExitPath) import KVM
import Testing

// The KVM gate (kvmUsable, kvmSkipReason), the tags and the polling wait.
@_exported import TestSupport
