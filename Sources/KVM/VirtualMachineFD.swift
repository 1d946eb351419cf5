import CKVM

#if canImport(Glibc)
    import Glibc
#endif

/// Where an ioeventfd listens: an I/O port or a guest-physical MMIO address.
package enum IOEventAddressSpace: Sendable, Equatable {
    case port
    case mmio
}

/// A KVM virtual machine file descriptor and the VM-wide ioctls.
package final class VirtualMachineFD: Sendable {
    /// The `/dev/kvm` this VM was created from.
    package let system: KVMSystem
    let descriptor: OwnedFileDescriptor

    init(system: KVMSystem, descriptor: OwnedFileDescriptor) {
        self.system = system
        self.descriptor = descriptor
    }

    private func ioctlValue(_ name: String, _ request: UInt, _ value: UInt) throws(KVMError) {
        _ = try retryingOnInterrupt(name) { ckvm_ioctl_value(descriptor.rawValue, request, value) }
    }

    private func ioctlPointer<T>(_ name: String, _ request: UInt, _ argument: inout T) throws(KVMError) {
        let fd = descriptor.rawValue
        // SAFETY: `argument` is the kernel structure that `request` reads or writes, passed inout
        // so the pointer is valid for the duration of the call.
        let result = withUnsafeMutablePointer(to: &argument) { ckvm_ioctl_pointer(fd, request, $0) }
        if result < 0 { throw .ioctlFailed(name: name, errno: errno) }
    }

    /// Sets the three-page region KVM uses for the real-mode TSS (Intel), and the identity-map
    /// page just below it. Both must lie in a hole that no memory slot covers.
    package func setSystemAreas(tssAddress: UInt64, identityMapAddress: UInt64) throws(KVMError) {
        try ioctlValue("KVM_SET_TSS_ADDR", CKVM_SET_TSS_ADDR, UInt(tssAddress))
        var address = identityMapAddress
        try ioctlPointer("KVM_SET_IDENTITY_MAP_ADDR", CKVM_SET_IDENTITY_MAP_ADDR, &address)
    }

    /// Creates the in-kernel PIC, IOAPIC and local APICs, and the i8254 PIT.
    package func createInterruptControllerAndTimer() throws(KVMError) {
        try system.requireCapabilities(KVMCapability.requiredForIRQChip)
        try ioctlValue("KVM_CREATE_IRQCHIP", CKVM_CREATE_IRQCHIP, 0)
        var pit = kvm_pit_config()
        pit.flags = CKVM_PIT_SPEAKER_DUMMY
        try ioctlPointer("KVM_CREATE_PIT2", CKVM_CREATE_PIT2, &pit)
    }

    /// Maps `size` bytes of this process at `hostAddress` into the guest at `guestAddress`.
    /// - Important: the host memory must stay mapped as long as the VM exists.
    package func setUserMemoryRegion(
        slot: UInt32, guestAddress: UInt64, size: UInt64, hostAddress: UInt, readOnly: Bool = false
    ) throws(KVMError) {
        var region = kvm_userspace_memory_region(
            slot: slot, flags: readOnly ? CKVM_MEM_READONLY : 0, guest_phys_addr: guestAddress,
            memory_size: size, userspace_addr: UInt64(hostAddress))
        try ioctlPointer("KVM_SET_USER_MEMORY_REGION", CKVM_SET_USER_MEMORY_REGION, &region)
    }

    /// Makes guest writes of `length` bytes to `address` signal `eventFD` inside the kernel
    /// instead of exiting to user space. With `dataMatch`, only writes of that value do.
    package func registerIOEvent(
        eventFD: Int32, space: IOEventAddressSpace, address: UInt64, length: UInt32, dataMatch: UInt64? = nil
    ) throws(KVMError) {
        try ioevent(
            eventFD: eventFD, space: space, address: address, length: length, dataMatch: dataMatch, assign: true)
    }

    /// Removes a registration made by `registerIOEvent` with the same arguments.
    package func unregisterIOEvent(
        eventFD: Int32, space: IOEventAddressSpace, address: UInt64, length: UInt32, dataMatch: UInt64? = nil
    ) throws(KVMError) {
        try ioevent(
            eventFD: eventFD, space: space, address: address, length: length, dataMatch: dataMatch, assign: false)
    }

    private func ioevent(
        eventFD: Int32, space: IOEventAddressSpace, address: UInt64, length: UInt32, dataMatch: UInt64?, assign: Bool
    ) throws(KVMError) {
        var request = kvm_ioeventfd()
        request.addr = address
        request.len = length
        request.fd = eventFD
        if space == .port { request.flags |= CKVM_IOEVENTFD_FLAG_PIO }
        if let dataMatch {
            request.flags |= CKVM_IOEVENTFD_FLAG_DATAMATCH
            request.datamatch = dataMatch
        }
        if !assign { request.flags |= CKVM_IOEVENTFD_FLAG_DEASSIGN }
        try ioctlPointer(assign ? "KVM_IOEVENTFD" : "KVM_IOEVENTFD (deassign)", CKVM_IOEVENTFD, &request)
    }

    /// Makes a write to `eventFD` raise interrupt line `gsi` of the in-kernel irqchip.
    package func registerIRQEvent(eventFD: Int32, gsi: UInt32) throws(KVMError) {
        var request = kvm_irqfd()
        request.fd = UInt32(bitPattern: eventFD)
        request.gsi = gsi
        try ioctlPointer("KVM_IRQFD", CKVM_IRQFD, &request)
    }

    /// Creates vCPU `index` (also its APIC id) and maps its `kvm_run` structure.
    package func makeVCPU(index: Int) throws(KVMError) -> VCPUFD {
        let fd = try retryingOnInterrupt("KVM_CREATE_VCPU") {
            ckvm_ioctl_value(descriptor.rawValue, CKVM_CREATE_VCPU, UInt(index))
        }
        let owned = OwnedFileDescriptor(taking: fd)
        let size = system.vcpuMappingSize
        // SAFETY: mapping the vCPU fd with the size KVM_GET_VCPU_MMAP_SIZE reported is how KVM
        // shares kvm_run; the result is checked against MAP_FAILED before use.
        let mapping = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let mapping, mapping != MAP_FAILED else {
            throw .systemCallFailed(name: "mmap of vCPU \(index)'s kvm_run", errno: errno)
        }
        return VCPUFD(index: index, descriptor: owned, run: mapping, mappingSize: size)
    }
}
