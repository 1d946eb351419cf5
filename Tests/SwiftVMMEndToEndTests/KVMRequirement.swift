import Foundation

/// Tests that boot guests need read/write access to /dev/kvm; elsewhere they are skipped and say so.
let kvmUsable = FileManager.default.isWritableFile(atPath: "/dev/kvm")
