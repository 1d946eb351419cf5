import Dispatch
import Foundation
import Testing
import VMM

/// Hand-assembled guests run through the library's real vCPU loop and bus.
///
/// Guest conventions: code at 0x8000; RBX and RSI hold the addresses of two exit probes (A is
/// read, B is written); the guest ends with `mov al, 0; out 0xf4, al` (debug-exit status 0).
private enum Guest {
    static let end: [UInt8] = [0xb0, 0x00, 0xe6, 0xf4]
    static let probeA: UInt64 = 0x10_0000
    static let probeB: UInt64 = 0x10_1000
    static let portA: UInt64 = 0x520
    static let portB: UInt16 = 0x521
    static let readValue: UInt64 = 0x1122_3344_5566_7788

    static func configuration(_ code: [UInt8], mode: RawCodeBoot.Mode = .long64User, probes: [ExitProbeConfiguration])
        -> VirtualMachineConfiguration
    {
        VirtualMachineConfiguration(
            memoryMiB: 1,
            rawCode: RawCodeBoot(code: code, mode: mode, registers: .init(rbx: probeA, rsi: probeB)),
            console: .none, inKernelIRQChip: false, probes: probes)
    }

    static func mask(_ width: Int) -> UInt64 { width == 8 ? .max : (UInt64(1) << (8 * width)) - 1 }
}

@Suite(.enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm), .serialized)
struct TinyGuestTests {
    /// in (width) from port A, out (same width) to port B.
    @Test(arguments: [1, 2, 4])
    func portInAndOutCarryValuesOfEveryWidth(width: Int) throws {
        let inInstruction: [UInt8] = width == 1 ? [0xec] : width == 2 ? [0x66, 0xed] : [0xed]
        let outInstruction: [UInt8] = width == 1 ? [0xee] : width == 2 ? [0x66, 0xef] : [0xef]
        let code: [UInt8] =
            [0x66, 0xba, UInt8(Guest.portA & 0xff), UInt8(Guest.portA >> 8)] + inInstruction  // mov dx, portA; in
            + [0x66, 0xba, UInt8(Guest.portB & 0xff), UInt8(Guest.portB >> 8)] + outInstruction + Guest.end
        let machine = try Machine(
            configuration: Guest.configuration(
                code,
                probes: [
                    ExitProbeConfiguration(space: .port, address: Guest.portA, length: 1, readValue: Guest.readValue),
                    ExitProbeConfiguration(space: .port, address: UInt64(Guest.portB), length: 1),
                ]))
        #expect(try machine.run() == .guestStatus(0))
        let (a, b) = (machine.statistics.probes[0], machine.statistics.probes[1])
        #expect(a.reads == 1 && a.writes == 0)
        #expect(b.writes == 1 && b.lastWriteSize == width)
        #expect(b.lastWrittenValue == Guest.readValue & Guest.mask(width))
        #expect(machine.statistics.exitCounts[0].portIn == 1 && machine.statistics.exitCounts[0].portOut == 2)
    }

    /// A read (width) from MMIO probe A, written back (same width) to MMIO probe B.
    @Test(arguments: [1, 2, 4, 8])
    func mmioReadAndWriteCarryValuesOfEveryWidth(width: Int) throws {
        let read: [UInt8] = [[0x8a, 0x03], [0x66, 0x8b, 0x03], [0x8b, 0x03], [0x48, 0x8b, 0x03]][
            [1, 2, 4, 8].firstIndex(of: width)!]
        let write: [UInt8] = [[0x88, 0x06], [0x66, 0x89, 0x06], [0x89, 0x06], [0x48, 0x89, 0x06]][
            [1, 2, 4, 8].firstIndex(of: width)!]
        let machine = try Machine(
            configuration: Guest.configuration(
                read + write + Guest.end,
                probes: [
                    ExitProbeConfiguration(space: .mmio, address: Guest.probeA, length: 8, readValue: Guest.readValue),
                    ExitProbeConfiguration(space: .mmio, address: Guest.probeB, length: 8),
                ]))
        #expect(try machine.run() == .guestStatus(0))
        let (a, b) = (machine.statistics.probes[0], machine.statistics.probes[1])
        #expect(a.reads == 1)
        #expect(b.writes == 1 && b.lastWriteSize == width && b.lastWriteOffset == 0)
        #expect(b.lastWrittenValue == Guest.readValue & Guest.mask(width))
        #expect(machine.statistics.exitCounts[0].mmioRead == 1 && machine.statistics.exitCounts[0].mmioWrite == 1)
    }

    @Test func mmioWriteOffsetInsideTheRangeIsReported() throws {
        // mov dword [rsi+5], 0xcafef00d
        let code: [UInt8] = [0xc7, 0x46, 0x05, 0x0d, 0xf0, 0xfe, 0xca] + Guest.end
        let machine = try Machine(
            configuration: Guest.configuration(
                code, probes: [ExitProbeConfiguration(space: .mmio, address: Guest.probeB, length: 16)]))
        #expect(try machine.run() == .guestStatus(0))
        #expect(
            machine.statistics.probes[0]
                == ExitProbeStatistics(
                    writes: 1, reads: 0, lastWrittenValue: 0xcafe_f00d, lastWriteOffset: 5, lastWriteSize: 4))
    }

    @Test func unclaimedPortsReadAllOnes() throws {
        // in al, 0x70 (nothing there); out 0xf4, al → the guest status is what it read.
        let machine = try Machine(configuration: Guest.configuration([0xe4, 0x70, 0xe6, 0xf4], probes: []))
        #expect(try machine.run() == .guestStatus(0xff))
    }

    @Test func debugExitStatusEndsTheRunInRealModeToo() throws {
        let machine = try Machine(
            configuration: Guest.configuration([0xb0, 0x2a, 0xe6, 0xf4], mode: .real16, probes: []))
        #expect(try machine.run() == .guestStatus(42))
        #expect(MachineExit.guestStatus(42).exitStatus == 106)
    }

    @Test func haltWithoutIRQChipEndsTheRun() throws {
        let machine = try Machine(configuration: Guest.configuration([0xf4], mode: .real16, probes: []))
        #expect(try machine.run() == .halted(vcpu: 0))
    }

    @Test func tripleFaultEndsTheRunWithARegisterDump() throws {
        // At CPL 3, HLT raises #GP; with no IDT that becomes a triple fault.
        let machine = try Machine(configuration: Guest.configuration([0xf4], probes: []))
        let exit = try machine.run()
        guard case .tripleFault(let vcpu, let registers) = exit else {
            Issue.record("expected a triple fault, got \(exit)")
            return
        }
        #expect(vcpu == 0)
        #expect(registers.contains("rip=0x0000000000008000"), "the faulting instruction")
        #expect(registers.contains("cr3=0x0000000000001000"))
        #expect(exit.exitStatus == 4)
    }

    @Test(arguments: [RawCodeBoot.Mode.long64User, .real16])
    func stopRequestEndsASpinningGuest(mode: RawCodeBoot.Mode) async throws {
        let machine = try Machine(configuration: Guest.configuration([0xeb, 0xfe], mode: mode, probes: []))  // jmp $
        try machine.start()
        #expect(machine.state == .running)
        try await Task.sleep(for: .milliseconds(200))
        #expect(machine.state == .running, "a spinning guest keeps running")
        let requested = DispatchTime.now()
        try machine.stop()
        let exit = try await machine.waitUntilStopped()
        let elapsedMilliseconds = (DispatchTime.now().uptimeNanoseconds - requested.uptimeNanoseconds) / 1_000_000
        #expect(exit == .stopped)
        #expect(machine.state == .stopped(.stopped))
        #expect(elapsedMilliseconds < 2000, "the kick takes the vCPU out of KVM_RUN promptly")
        #expect(exit.exitStatus == 7)
    }

    @Test func stopBeforeTheVCPUEntersTheGuestStillEndsIt() throws {
        let machine = try Machine(configuration: Guest.configuration([0xeb, 0xfe], probes: []))
        try machine.start()
        try machine.stop()
        try machine.stop()
        #expect(machine.waitForExit() == .stopped)
    }

    @Test func stateUpdatesEndWithTheExit() async throws {
        let machine = try Machine(configuration: Guest.configuration([0xb0, 0x03, 0xe6, 0xf4], probes: []))
        let updates = machine.stateUpdates()
        try machine.start()
        var seen: [MachineState] = []
        for await state in updates { seen.append(state) }
        #expect(seen.first == .created || seen.first == .running)
        #expect(seen.last == .stopped(.guestStatus(3)))
        #expect(throws: MachineError.self, "a machine starts once") { try machine.start() }
    }

    /// Machines awaited only through the async API release their monitor thread (join or
    /// detach in deinit): otherwise each leaves a joinable thread and its 8 MiB stack mapped.
    @Test func machinesAwaitedAsynchronouslyDoNotLeakThreadStacks() async throws {
        func runOne() async throws {
            let machine = try Machine(configuration: Guest.configuration([0xb0, 0x03, 0xe6, 0xf4], probes: []))
            try machine.start()
            _ = try await machine.waitUntilStopped()
        }
        for _ in 0..<5 { try await runOne() }
        try await Task.sleep(for: .milliseconds(100))
        let before = try mappingCount()
        for _ in 0..<60 { try await runOne() }
        try await Task.sleep(for: .milliseconds(100))
        let growth = try mappingCount() - before
        #expect(growth < 20, "/proc/self/maps grew by \(growth) mappings over 60 machines")
    }

    /// Lines of /proc/self/maps: a leaked thread stack adds its stack and its guard page. Read to
    /// its end with FileHandle: String(contentsOfFile:) stops after the first ~4 KiB of a /proc
    /// file (its size reads as 0), which made this count a constant.
    private func mappingCount() throws -> Int {
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/maps"))
        defer { try? handle.close() }
        return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").count
    }

    @Test func inKernelProbesAbsorbWritesWithoutExits() throws {
        // mov ecx, 1000; loop: out dx, al (port 0x20, ioeventfd); mov [rbx], al (MMIO ioeventfd); dec ecx; jnz loop
        let code: [UInt8] =
            [0xb9, 0xe8, 0x03, 0x00, 0x00, 0x66, 0xba, 0x20, 0x00, 0xee, 0x88, 0x03, 0xff, 0xc9, 0x75, 0xf9] + Guest.end
        let machine = try Machine(
            configuration: Guest.configuration(
                code,
                probes: [
                    ExitProbeConfiguration(space: .mmio, address: Guest.probeA, length: 1, inKernel: true),
                    ExitProbeConfiguration(space: .port, address: 0x20, length: 1, inKernel: true),
                ]))
        #expect(try machine.run() == .guestStatus(0))
        #expect(machine.statistics.exitCounts[0].total == 1, "only the debug-exit write reached user space")
        #expect(machine.statistics.probes.allSatisfy { $0.writes == 0 })
    }
}

@Suite(.enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm), .serialized)
struct VCPUSetupTests {
    /// CPUID in real mode (CPL 0, so KVM answers from the table SwiftVMM set; on PVM hosts a
    /// CPL-3 CPUID is not intercepted and reports the host's values): leaf 1 EBX → port 0x510,
    /// leaf 0x40000000 EBX → port 0x511.
    @Test(arguments: [1, 2, 3])
    func cpuidReportsTopologyAndKVMSignature(vcpus: Int) throws {
        let code: [UInt8] =
            [0x66, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2]  // mov eax, 1; cpuid
            + [0x66, 0x89, 0xd8, 0xba, 0x10, 0x05, 0x66, 0xef]  // mov eax, ebx; mov dx, 0x510; out dx, eax
            + [0x66, 0xb8, 0x00, 0x00, 0x00, 0x40, 0x0f, 0xa2]  // mov eax, 0x40000000; cpuid
            + [0x66, 0x89, 0xd8, 0xba, 0x11, 0x05, 0x66, 0xef]  // mov eax, ebx; mov dx, 0x511; out dx, eax
            + Guest.end
        var configuration = Guest.configuration(
            code, mode: .real16,
            probes: [
                ExitProbeConfiguration(space: .port, address: 0x510, length: 1),
                ExitProbeConfiguration(space: .port, address: 0x511, length: 1),
            ])
        configuration.vcpuCount = vcpus
        configuration.inKernelIRQChip = true  // other vCPUs wait for INIT/SIPI in the in-kernel APIC
        let machine = try Machine(configuration: configuration)
        #expect(try machine.run() == .guestStatus(0))
        let leaf1EBX = machine.statistics.probes[0].lastWrittenValue
        #expect(leaf1EBX >> 24 == 0, "vCPU 0 has APIC id 0")
        #expect((leaf1EBX >> 16) & 0xff == [1: 1, 2: 2, 3: 4][vcpus], "addressable logical processors")
        #expect(machine.statistics.probes[1].lastWrittenValue == 0x4b4d_564b, "KVMK")
        #expect(machine.statistics.exitCounts.count == vcpus)
    }
}

@Suite(.enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct KernelOwnedRangeTests {
    @Test func probesCannotSitOnPortsTheInKernelIRQChipOwns() {
        for port: UInt64 in [0x20, 0x40, 0x61, 0xa1, 0x4d0] {
            var configuration = Guest.configuration(
                [0xf4], mode: .real16, probes: [ExitProbeConfiguration(space: .port, address: port)])
            configuration.inKernelIRQChip = true
            #expect(throws: MachineError.self, "port 0x\(String(port, radix: 16))") {
                try Machine(configuration: configuration)
            }
        }
        var configuration = Guest.configuration(
            [0xf4], probes: [ExitProbeConfiguration(space: .mmio, address: 0xfee0_0010, length: 4)])
        configuration.inKernelIRQChip = true
        #expect(throws: MachineError.self, "local APIC window") { try Machine(configuration: configuration) }
        configuration.inKernelIRQChip = false
        #expect(throws: Never.self, "without the irqchip the window is free") {
            try Machine(configuration: configuration)
        }
    }
}

/// The platform's power registers and the i8042 reset, driven by a tiny guest.
@Suite(.enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm), .serialized)
struct PowerRegisterTests {
    /// mov dx, port; mov al, value; out dx, al; then spin (the write must end the run).
    private func run(port: UInt16, value: UInt8) throws -> MachineExit {
        let code: [UInt8] = [0x66, 0xba, UInt8(port & 0xff), UInt8(port >> 8), 0xb0, value, 0xee, 0xeb, 0xfe]
        return try Machine(configuration: Guest.configuration(code, probes: [])).run()
    }

    @Test func sleepControlS5PowersOff() throws {
        #expect(try run(port: 0x600, value: 0x34) == .poweredOff)
        #expect(MachineExit.poweredOff.exitStatus == 0)
    }

    @Test func resetRegisterAndI8042ResetEndWithTheResetStatus() throws {
        #expect(try run(port: 0x602, value: 1) == .reset)
        #expect(try run(port: 0x64, value: 0xfe) == .reset)
        #expect(MachineExit.reset.exitStatus == 3)
    }
}
