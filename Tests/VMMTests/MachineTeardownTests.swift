@_spi(ExitPath) import KVM
import Testing

@testable import VMM

/// A machine that ran and was released leaves nothing behind: every object that owns a
/// descriptor (VM, vCPUs, guest memory, eventfds, epoll) is deallocated — their deinits close
/// and unmap — and its threads have been joined. Checked with weak references, so other tests
/// running at the same time cannot disturb it.
@Suite(.enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct MachineTeardownTests {
    @Test func everyOwningObjectIsReleasedWithTheMachine() throws {
        weak var resources: MachineResources?
        weak var vm: VirtualMachineFD?
        weak var vcpu: VCPUFD?
        weak var ioThread: IOThread?
        weak var machineReference: Machine?
        do {
            let machine = try Machine(
                configuration: VirtualMachineConfiguration(
                    vcpuCount: 2, commandLine: "fw.test=rng fw.exit=0", console: .none, entropyDevice: true))
            #expect(try machine.run() == .guestStatus(0))
            resources = machine.runtime.resources
            vm = machine.runtime.resources.vm
            vcpu = machine.runtime.resources.vcpus.runners.first?.vcpu
            ioThread = machine.runtime.resources.devices.ioThread
            machineReference = machine
            #expect(resources != nil && vm != nil && vcpu != nil && ioThread != nil)
        }
        #expect(machineReference == nil)
        #expect(resources == nil, "machine resources released")
        #expect(vm == nil, "VM descriptor closed")
        #expect(vcpu == nil, "vCPU descriptors closed and kvm_run unmapped")
        #expect(ioThread == nil, "I/O thread and its epoll set gone")
    }
}
