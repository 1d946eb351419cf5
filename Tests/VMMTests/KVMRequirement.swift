@_spi(ExitPath) import KVM
import Testing

// The KVM gate (kvmUsable, kvmSkipReason), the tags, waits and scratch images.
@_exported import TestSupport
