@_spi(ExitPath) import Devices
@_spi(ExitPath) import KVM
import Testing

@testable import VMM

/// The exit dispatch as a pure function of (exit, bus), with synthetic exits: no /dev/kvm.
@Suite struct ExitDispatchTests {
    /// Records the answers the dispatch gives, in place of a vCPU's kvm_run page.
    final class RecordedCompletion: ExitCompletion {
        var portInValues: [(element: Int, value: UInt32)] = []
        var mmioReadValue: UInt64?
        var repeatedOut: [UInt32] = []

        func portOutValue(element: Int) -> UInt32? { element < repeatedOut.count ? repeatedOut[element] : nil }
        func completePortIn(dataOffset: Int, size: Int, element: Int, value: UInt32) {
            portInValues.append((element, value))
        }
        func completeMMIORead(size: Int, value: UInt64) { mmioReadValue = value }
    }

    let portProbe = ExitProbe(readValue: 0x1234_5678)
    let mmioProbe = ExitProbe(readValue: 0xfeed_face_cafe_beef)
    let bus: DeviceBus

    init() throws {
        var builder = DeviceBusBuilder()
        try builder.mapPorts(base: 0x80, length: 4, slot: builder.add(.probe(portProbe)), name: "port probe")
        try builder.mapMMIO(base: 0xd000_0000, length: 0x1000, slot: builder.add(.probe(mmioProbe)), name: "mmio probe")
        try builder.mapPorts(base: 0xf4, length: 4, slot: builder.add(.debugExit(DebugExitPort())), name: "debug exit")
        bus = try builder.build()
    }

    private func handle(_ exit: VCPUExit, _ completion: RecordedCompletion = RecordedCompletion()) -> (
        ExitAction, VCPUExitCounts
    ) {
        let counters = VCPUExitCounters()
        let action = ExitDispatch.handle(exit, bus: bus, completion: completion, counts: counters)
        return (action, counters.snapshot(now: 0))
    }

    @Test func portAndMMIOAccessesReachTheirDeviceAndResume() {
        let completion = RecordedCompletion()
        #expect(handle(.portOut(port: 0x81, size: 1, count: 1, value: 7), completion).0 == .resume)
        #expect(portProbe.writes == 1 && portProbe.lastWrittenValue == 7)
        #expect(portProbe.lastWriteLocation.offset == 1)
        #expect(handle(.portIn(port: 0x80, size: 4, count: 1, dataOffset: 0), completion).0 == .resume)
        #expect(completion.portInValues.map(\.value) == [0x1234_5678])
        let (action, counts) = handle(.mmioRead(address: 0xd000_0008, size: 8), completion)
        #expect(action == .resume && counts.mmioRead == 1)
        #expect(completion.mmioReadValue == 0xfeed_face_cafe_beef)
        #expect(handle(.mmioWrite(address: 0xd000_0010, size: 4, value: 9)).0 == .resume)
        #expect(mmioProbe.writes == 1)
    }

    @Test func repeatedPortAccessesGoElementByElement() {
        let completion = RecordedCompletion()
        completion.repeatedOut = [1, 2, 3]
        #expect(handle(.portOut(port: 0x80, size: 1, count: 3, value: 0), completion).0 == .resume)
        #expect(portProbe.writes == 3 && portProbe.lastWrittenValue == 3)
        #expect(handle(.portIn(port: 0x80, size: 2, count: 4, dataOffset: 0), completion).0 == .resume)
        #expect(completion.portInValues.map(\.element) == [0, 1, 2, 3])
    }

    @Test func unmappedAccessesAreAbsorbed() {
        let completion = RecordedCompletion()
        #expect(handle(.portOut(port: 0x3000, size: 1, count: 1, value: 1)).0 == .resume)
        #expect(handle(.mmioRead(address: 0x9_0000_0000, size: 4), completion).0 == .resume)
        #expect(completion.mmioReadValue != nil, "an unmapped read still completes")
    }

    @Test func theDebugExitPortEndsTheRunWithTheGuestsStatus() {
        #expect(handle(.portOut(port: 0xf4, size: 1, count: 1, value: 5)).0 == .stop(.request(.guestExit(status: 5))))
    }

    @Test(arguments: [
        (VCPUExit.halt, VCPUStop.halted),
        (.shutdown, .tripleFault),
        (.systemEvent(.shutdown), .request(.powerOff)),
        (.systemEvent(.reset), .request(.reset)),
    ])
    func systemExitsEndTheRun(exit: VCPUExit, stop: VCPUStop) {
        #expect(handle(exit).0 == .stop(stop))
    }

    @Test(arguments: [
        VCPUExit.systemEvent(.crash), .systemEvent(.other(type: 99)), .internalError(suberror: 1, firstData: 0x10),
        .failEntry(hardwareReason: 0x21, cpu: 1), .exception(number: 6, errorCode: 0), .unhandled(reason: 77),
        .malformed(reason: 2),
    ])
    func failuresEndTheRunWithAReason(exit: VCPUExit) {
        guard case .stop(.failure(let reason)) = handle(exit).0 else {
            Issue.record("\(exit) should end the run with a failure")
            return
        }
        #expect(!reason.isEmpty)
    }

    @Test func interruptionsAreLeftToTheLoop() {
        let (action, counts) = handle(.interrupted)
        #expect(action == .interrupted)
        #expect(counts.total == 0)
    }
}
