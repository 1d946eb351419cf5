@_spi(ExitPath) import Devices
import EventLoop
@_spi(ExitPath) import KVM
import Synchronization
import Threads

/// A machine's vCPUs: their runners (each one's exit loop and counters), the gate they park at
/// while the machine is paused, their threads, and the eventfd each thread signals as it ends.
final class VCPUManager: Sendable {
    let runners: [VCPURunner]
    /// Where the vCPU threads park while the machine is paused.
    let pauseGate = PauseGate()
    /// Signalled by each vCPU thread as it ends (the monitor counts them).
    let ended: EventFD
    private let startedThreads = Mutex<[OSThread]>([])

    /// Creates the configured vCPUs on `vm` (CPUID, local interrupt pins) with the boot vCPU's
    /// initial registers from `boot`; their exits go to `bus`.
    init(
        _ configuration: VirtualMachineConfiguration, vm: VirtualMachineFD, bus: DeviceBus, system: KVMSystem,
        boot: GuestBoot
    ) throws {
        let supported = try system.supportedCPUID()
        let vcpus = try (0..<configuration.vcpuCount).map { index throws(KVMError) in try vm.makeVCPU(index: index) }
        let topology = CPUIDTopology(
            vcpuCount: configuration.vcpuCount,
            tscDeadlineTimer: system.capabilityValue(.tscDeadlineTimer) > 0,
            tscFrequencyKHz: vcpus.first?.tscFrequencyKHz())
        var runners: [VCPURunner] = []
        for vcpu in vcpus {
            try vcpu.setCPUID(topology.entries(from: supported, vcpuIndex: vcpu.index))
            if configuration.inKernelIRQChip { try vcpu.configureLocalInterruptPins() }
            if vcpu.index == 0 {
                let (general, special) = boot.initialRegisters(base: try vcpu.specialRegisters())
                try vcpu.setSpecialRegisters(special)
                try vcpu.setGeneralRegisters(general)
            }
            runners.append(VCPURunner(vcpu: vcpu, bus: bus, pauseGate: pauseGate))
        }
        self.runners = runners
        ended = try EventFD()
    }

    /// The vCPU threads started so far, in vCPU order.
    var threads: [OSThread] { startedThreads.withLock { $0 } }

    /// Starts one thread per vCPU running `body`. Each is published as it starts, so that a vCPU
    /// that ends the run early kicks the ones started after it too (`stopAll`).
    func startThreads(_ body: @escaping @Sendable (VCPURunner) -> Void) throws(ThreadError) {
        for runner in runners {
            let thread = try OSThread(name: "vcpu\(runner.vcpu.index)") { body(runner) }
            startedThreads.withLock { $0.append(thread) }
        }
    }

    /// Every vCPU leaves KVM_RUN for good (parked ones too).
    func stopAll() {
        for runner in runners { runner.requestStop() }
        pauseGate.release()
        for thread in threads { thread.kick() }
    }

    /// Parks every vCPU outside KVM_RUN (a finished one counts as parked); false when they did
    /// not all park within `timeoutMilliseconds` (the caller then releases them).
    func park(timeoutMilliseconds: Int) -> Bool {
        pauseGate.request()
        for runner in runners { runner.requestPause() }
        for thread in threads { thread.kick() }
        let runners = self.runners
        return PauseGate.waitUntil(timeoutMilliseconds: timeoutMilliseconds) {
            pauseGate.parkedCount + runners.filter { $0.hasFinished.load(ordering: .acquiring) }.count >= runners.count
        }
    }

    /// Lets parked vCPUs go on.
    func release() {
        pauseGate.release()
    }

    /// Per-vCPU exit counts (live; final once the threads ended).
    var exitCounts: [VCPUExitCounts] { runners.map(\.exitCounts) }

    /// Each vCPU thread's CPU time so far (zeros before the threads exist).
    var cpuNanoseconds: [UInt64] {
        let threads = self.threads
        return runners.indices.map { $0 < threads.count ? threads[$0].cpuNanoseconds : 0 }
    }
}
