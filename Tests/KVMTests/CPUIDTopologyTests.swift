import Testing

@_spi(ExitPath) @testable import KVM

/// A supported-CPUID list shaped like the one KVM returns on an AMD EPYC host.
private let supported: [CPUIDEntry] = [
    CPUIDEntry(function: 0x0, eax: 0x1c, ebx: 0x6874_7541),
    CPUIDEntry(function: 0x1, eax: 0x830f10, ebx: 0x0000_0800, ecx: 0x7ed8_320b, edx: 0x178b_fbff),
    CPUIDEntry(function: 0x4, index: 0, flags: 1, eax: 0x121, ebx: 0x1c0003f, ecx: 0x3f),
    CPUIDEntry(function: 0x4, index: 3, flags: 1, eax: 0x163, ebx: 0x3c0003f, ecx: 0x3fff),
    CPUIDEntry(function: 0xb, index: 0, flags: 1, eax: 1, ebx: 2, ecx: 0x100, edx: 7),
    CPUIDEntry(function: 0x4000_0000, eax: 0x4000_0001, ebx: 0x4b4d_564b, ecx: 0x564b_4d56, edx: 0x4d),
    CPUIDEntry(function: 0x4000_0001, eax: 0x0100_07fb),
    CPUIDEntry(function: 0x8000_0001, ecx: 0x0000_0002),
    CPUIDEntry(function: 0x8000_0008, eax: 0x3030, ecx: 0x0000_703f),
    CPUIDEntry(function: 0x8000_001e, eax: 9, ebx: 0x0105, ecx: 0x0301),
]

private func leaf(_ entries: [CPUIDEntry], _ function: UInt32, _ index: UInt32 = 0) -> CPUIDEntry? {
    entries.first { $0.function == function && $0.index == index }
}

@Suite struct CPUIDTopologyTests {
    @Test(arguments: [1, 2, 3, 4, 8])
    func leaf1CarriesAPICIDAndProcessorCount(vcpuCount: Int) throws {
        let topology = CPUIDTopology(vcpuCount: vcpuCount, tscDeadlineTimer: true, tscFrequencyKHz: 2_000_000)
        for index in 0..<vcpuCount {
            let entries = topology.entries(from: supported, vcpuIndex: index)
            let one = try #require(leaf(entries, 0x1))
            #expect(one.ebx >> 24 == UInt32(index), "initial APIC id")
            let addressable = (one.ebx >> 16) & 0xff
            #expect(addressable >= UInt32(vcpuCount) && addressable.nonzeroBitCount == 1, "power of two ≥ count")
            #expect(one.ebx & 0xffff == 0x0800, "CLFLUSH size and brand index kept")
            #expect(one.ecx & (1 << 31) != 0, "hypervisor bit")
            #expect(one.ecx & (1 << 24) != 0, "TSC-deadline")
            #expect((one.edx & (1 << 28) != 0) == (vcpuCount > 1), "HTT only with more than one vCPU")
        }
    }

    @Test func tscDeadlineBitFollowsTheCapability() throws {
        let topology = CPUIDTopology(vcpuCount: 1, tscDeadlineTimer: false, tscFrequencyKHz: nil)
        let one = try #require(leaf(topology.entries(from: supported, vcpuIndex: 0), 0x1))
        #expect(one.ecx & (1 << 24) == 0)
    }

    @Test func extendedTopologyLeafDescribesOneThreadPerCore() throws {
        // KVM on AMD reports only subleaf 0 of leaf 0xB, with zeros: all three are synthesized.
        let topology = CPUIDTopology(vcpuCount: 4, tscDeadlineTimer: true, tscFrequencyKHz: nil)
        let entries = topology.entries(from: supported, vcpuIndex: 3)
        let thread = try #require(leaf(entries, 0xb, 0))
        let core = try #require(leaf(entries, 0xb, 1))
        let invalid = try #require(leaf(entries, 0xb, 2))
        #expect(thread.eax == 0 && thread.ebx == 1 && thread.ecx == 0x100 && thread.edx == 3)
        #expect(core.eax == 2 && core.ebx == 4 && core.ecx == 0x201 && core.edx == 3)
        #expect(invalid.ecx & 0xff00 == 0 && invalid.edx == 3)
        #expect(entries.filter { $0.function == 0xb }.count == 3)
        #expect(entries.filter { $0.function == 0xb }.allSatisfy { $0.indexIsSignificant })
        #expect(!entries.contains { $0.function == 0x1f }, "leaf 0x1F only where the maximum basic leaf reaches it")
    }

    @Test func hypervisorLeavesCarryKVMSignatureAndTSCFrequency() throws {
        let topology = CPUIDTopology(vcpuCount: 2, tscDeadlineTimer: true, tscFrequencyKHz: 2_994_374)
        let entries = topology.entries(from: supported, vcpuIndex: 0)
        let base = try #require(leaf(entries, 0x4000_0000))
        #expect(base.eax == 0x4000_0010)
        let signature = [base.ebx, base.ecx, base.edx].flatMap { word in
            (0..<4).map { UInt8((word >> ($0 * 8)) & 0xff) }
        }
        #expect(signature == Array("KVMKVMKVM".utf8) + [0, 0, 0])
        #expect(leaf(entries, 0x4000_0001)?.eax == 0x0100_07fb, "kvmclock features kept")
        let frequency = try #require(leaf(entries, 0x4000_0010))
        #expect(frequency.eax == 2_994_374)
        #expect(frequency.ebx == CPUIDTopology.apicBusFrequencyKHz)
    }

    @Test func noTSCLeafWhenTheFrequencyIsUnknown() {
        let topology = CPUIDTopology(vcpuCount: 1, tscDeadlineTimer: true, tscFrequencyKHz: nil)
        #expect(leaf(topology.entries(from: supported, vcpuIndex: 0), 0x4000_0010) == nil)
    }

    @Test func amdLeavesDescribeTheCoreCount() throws {
        let topology = CPUIDTopology(vcpuCount: 3, tscDeadlineTimer: true, tscFrequencyKHz: nil)
        let entries = topology.entries(from: supported, vcpuIndex: 2)
        let sizes = try #require(leaf(entries, 0x8000_0008))
        #expect(sizes.ecx & 0xff == 2, "NC = cores - 1")
        #expect((sizes.ecx >> 12) & 0xf == 2, "APIC id core bits")
        #expect(sizes.eax == 0x3030, "address sizes kept")
        let extended = try #require(leaf(entries, 0x8000_001e))
        #expect(extended.eax == 2 && extended.ebx & 0xff == 2 && (extended.ebx >> 8) & 0xff == 0)
        #expect(try #require(leaf(entries, 0x8000_0001)).ecx & 2 != 0, "CmpLegacy with several cores")
        let single = CPUIDTopology(vcpuCount: 1, tscDeadlineTimer: true, tscFrequencyKHz: nil)
        #expect(try #require(leaf(single.entries(from: supported, vcpuIndex: 0), 0x8000_0001)).ecx & 2 == 0)
    }

    @Test func otherLeavesPassThroughUnchanged() {
        let topology = CPUIDTopology(vcpuCount: 2, tscDeadlineTimer: true, tscFrequencyKHz: nil)
        #expect(leaf(topology.entries(from: supported, vcpuIndex: 1), 0x0) == supported[0])
    }
}
